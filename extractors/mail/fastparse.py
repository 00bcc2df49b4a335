"""The stdlib parser's tree, built without its line-by-line generator, for well-formed mail.

`email.feedparser` hands every body line through a generator, a pushback buffer and a stack
of end-of-part predicates: about 1 µs a line, 0.23 ms for a 15 KB receipt, most of parsing.
`message_from_bytes` here reads the decoded text by offsets: only header lines and boundary
lines are cut out (boundaries found with `str.find`), and each part's payload is one slice.
Plain header blocks are stored as feedparser's `_parse_headers` stores them; any other block (an
envelope line, a defect) goes through that function itself, so headers, their defects and the
envelope line are the stdlib's. Whenever the stdlib would take a path this module does not copy
(a defect in the MIME structure, `message/*` parts, digests, a missing boundary, deep nesting)
it returns None and the caller parses with the stdlib: the tree is the same either way, which
`tests/test_fastparse.py` checks on the corpora and on generated structures.
"""

from __future__ import annotations

import re
from email._policybase import compat32
from email.feedparser import FeedParser
from email.message import Message

from extractors.mail.fastmime import (
    BoundaryMatch,
    BoundaryMatcher,
    Fields,
    boundary_of,
    content_type_of,
    first_values,
)

_HEADER = re.compile(r"^(From |[\041-\071\073-\176]*:|[\t ])")  # feedparser.headerRE
MAX_DEPTH = 40  # deeper nesting goes to the stdlib, which reports it (RecursionError) as before


class _Fallback(Exception):
    """The stdlib would do something this module does not copy: parse with it instead."""


class _HeaderInput:
    """What `FeedParser._parse_headers` may call on its input: only the pushback of a 'From ' line
    ending a header block, which this module leaves to the stdlib."""

    @staticmethod
    def unreadline(line: str) -> None:
        raise _Fallback


class _HeaderParser:
    """The `self` `FeedParser._parse_headers` needs: the message being filled, the policy, the input."""

    __slots__ = ("_cur", "_input", "policy")

    def __init__(self, msg: Message) -> None:
        self._cur = msg
        self._input = _HeaderInput
        self.policy = compat32


_parse_headers = FeedParser._parse_headers


def message_from_bytes(raw: bytes) -> Message | None:
    """`email.message_from_bytes(raw)` (compat32) for well-formed mail, or None: then use the stdlib."""
    try:
        return _Tree(raw.decode("ascii", "surrogateescape")).root()
    except Exception:  # _Fallback, or anything odd: the stdlib parses it as it always did
        return None


# One line as `StringIO(text, newline="").readlines()` cuts it (what feedparser reads): up to and
# including the first "\r\n", "\r" or "\n". Empty only at the end of the text.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)?")


class _Stop:
    """A boundary the current part ends at, found with `str.find` in the whole text.

    The body is never cut into lines: only header lines and boundary lines are read, so a part
    costs a few `find`s instead of a Python step per line. The last match is kept, as searches
    only move forward, so a part after part does not rescan the text up to an outer boundary."""

    __slots__ = ("matcher", "_from", "_found")

    def __init__(self, matcher: BoundaryMatcher) -> None:
        self.matcher = matcher
        self._from = -1
        self._found = -1

    def first_line(self, text: str, start: int) -> int:
        """Where the first line at or after line start `start` that is this boundary begins, or len(text)."""
        if self._from <= start <= self._found:
            return self._found
        separator, match = self.matcher.separator, self.matcher.match
        at = text.find(separator, start)
        while at >= 0:
            if (at == 0 or text[at - 1] in "\r\n") and match(_LINE.match(text, at).group()):  # type: ignore[union-attr]
                break
            at = text.find(separator, at + 1)
        self._from, self._found = start, at if at >= 0 else len(text)
        return self._found


# A plain header field of a text without "\r": `Name: value` with its folded lines, each line ending "\n".
# A line it matches is one `_HEADER` matches (not a "From " line: a name has no space) and one
# `_store_plain_fields` stores as it stores this match: the name, the value without its leading
# spaces and tabs nor its last line ending.
_LF_FIELD = re.compile(r"([\041-\071\073-\176]+):[ \t]*([^\n]*(?:\n[ \t][^\n]*)*)\n")


class _Tree:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lf_only = "\r" not in text  # every line ends with "\n": header blocks are read field by field

    def root(self) -> Message:
        return self.part(0, (), 0)[0]

    def stop_at(self, start: int, stops: tuple[_Stop, ...]) -> int:
        """The first line at or after `start` that ends the current part (any enclosing boundary)."""
        return min((stop.first_line(self.text, start) for stop in stops), default=len(self.text))

    def line_end(self, start: int) -> int:
        """Where the line starting at `start` ends (after its line ending)."""
        return _LINE.match(self.text, start).end()  # type: ignore[union-attr]

    def boundary_line(self, stop: _Stop, start: int) -> BoundaryMatch:
        """The match of the boundary line at `start`; a part ends only there, anything else is odd."""
        mo = stop.matcher.match(self.text[start : self.line_end(start)])
        if mo is None:
            raise _Fallback
        return mo

    def part(self, start: int, stops: tuple[_Stop, ...], depth: int) -> tuple[Message, int, bool]:
        """Parse one (sub)message from offset `start`: it, the offset where it ended, whether multipart.

        Inside a multipart (`stops`), a leaf's last line ending goes to the boundary after it."""
        if depth > MAX_DEPTH:
            raise _Fallback
        text = self.text
        end = self.stop_at(start, stops)
        msg = Message(policy=compat32)
        i = self.plain_lf_headers(msg, start, end) if self.lf_only else -1
        if i < 0:  # the general way, line by line
            headers: list[str] = []
            i = start
            while i < end:
                line = _LINE.match(text, i).group()  # type: ignore[union-attr]
                i += len(line)
                if not _HEADER.match(line):
                    if line[0] not in "\r\n":  # MissingHeaderBodySeparatorDefect
                        raise _Fallback
                    break  # the blank line after the headers
                headers.append(line)
            if headers and not _store_plain_fields(msg, headers):
                _parse_headers(_HeaderParser(msg), headers)
        fields = first_values(msg)
        msg._first_values = fields  # type: ignore[attr-defined]  # read again by parse_message: see `fields_of`
        ctype = content_type_of(msg, fields)
        maintype = ctype.split("/")[0]
        if maintype == "message":
            raise _Fallback  # message/rfc822, message/delivery-status: nested parsing
        if maintype == "multipart":
            return msg, self.multipart(msg, ctype, fields, i, stops, depth), True
        body = text[i:end]
        msg._payload = _without_eol(body) if stops else body  # type: ignore[attr-defined]  # as set_payload(str)
        return msg, end, False

    def plain_lf_headers(self, msg: Message, start: int, end: int) -> int:
        """Store the header block at `start` when it is plain fields (`_LF_FIELD`) then a blank line
        before `end`, as the line loop and `_store_plain_fields` would: the offset after the blank
        line. -1, storing nothing, for anything else (the line loop reads it)."""
        text, match = self.text, _LF_FIELD.match
        fields: list[tuple[str, str]] = []
        i = start
        while (mo := match(text, i, end)) is not None:
            fields.append(mo.group(1, 2))
            i = mo.end()
        if i >= end or text[i] != "\n":
            return -1
        msg._headers.extend(fields)  # type: ignore[attr-defined]  # as set_raw, one field at a time
        return i + 1

    def multipart(
        self, msg: Message, ctype: str, fields: Fields, i: int, stops: tuple[_Stop, ...], depth: int
    ) -> int:
        """The parts of `msg` from offset `i`, as feedparser's multipart loop reads them."""
        if ctype == "multipart/digest":
            raise _Fallback  # its parts default to message/rfc822
        boundary = boundary_of(msg, fields)
        if boundary is None:
            raise _Fallback  # NoBoundaryInMultipartDefect
        if str(fields.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            raise _Fallback  # InvalidMultipartContentTransferEncodingDefect
        text = self.text
        here = _Stop(BoundaryMatcher("--" + boundary))
        inner = (*stops, here)
        outer_end = self.stop_at(i, stops)
        first = here.first_line(text, i)
        if first >= outer_end or self.boundary_line(here, first).group("end"):
            raise _Fallback  # StartBoundaryNotFoundDefect
        if first > i:
            msg.preamble = _without_eol(text[i:first])
        i = first
        while i < outer_end:
            # Between parts only boundary lines are met.
            mo = self.boundary_line(here, i)
            i = self.line_end(i)
            if mo.group("end"):
                # feedparser also cuts a line ending at the epilogue's start, which never applies: a
                # close boundary without a line ending is the last line of all.
                msg.epilogue = text[i:outer_end]
                return outer_end
            while i < outer_end and here.first_line(text, i) == i:  # repeated boundary lines
                i = self.line_end(i)
            if i >= outer_end:
                raise _Fallback  # the end right after a boundary: feedparser pushes back ''
            child, i, nested = self.part(i, inner, depth + 1)  # a leaf's last line ending is cut
            msg.attach(child)
            if nested:
                epilogue = child.epilogue
                if epilogue == "":
                    child.epilogue = None
                elif epilogue is not None:
                    child.epilogue = _without_eol(epilogue)
        raise _Fallback  # CloseBoundaryNotFoundDefect


def _store_plain_fields(msg: Message, lines: list[str]) -> bool:
    """What `FeedParser._parse_headers` stores for a block of plain `Name: value` fields (with
    folded lines), without its per-line steps; False, storing nothing, for anything it reports
    or treats apart (a 'From ' line, a field without a name, a first line folded): then it runs."""
    fields: list[tuple[str, str]] = []
    name = ""
    value: list[str] = []
    for line in lines:
        if line[0] in " \t":
            if not name:
                return False  # FirstHeaderLineIsContinuationDefect
            value.append(line)
            continue
        colon = line.find(":")
        if colon <= 0 or line.startswith("From "):
            return False  # the envelope, a misplaced one, InvalidHeaderDefect
        if name:
            fields.append((name, "".join(value).rstrip("\r\n")))
        name, value = line[:colon], [line[colon + 1 :].lstrip(" \t")]  # as compat32.header_source_parse
    if name:
        fields.append((name, "".join(value).rstrip("\r\n")))
    msg._headers.extend(fields)  # type: ignore[attr-defined]  # as set_raw, one field at a time
    return True


def _without_eol(text: str) -> str:
    """`text` less one final line ending, as feedparser's `NLCRE_eol` substitution cuts it."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\r", "\n")):
        return text[:-1]
    return text
