"""The stdlib parser's tree, built without its line-by-line generator, for well-formed mail.

`email.feedparser` hands every body line through a generator, a pushback buffer and a stack
of end-of-part predicates: about 1 µs a line, 0.23 ms for a 15 KB receipt, most of parsing.
`message_from_bytes` here cuts the same lines (one `readlines`), finds the boundary lines among
the few that start with `--`, and joins each part's lines at once. Header blocks go through
feedparser's own `_parse_headers`, so headers, their defects and the envelope line are the
stdlib's. Whenever the stdlib would take a path this module does not copy (a defect in the MIME
structure, `message/*` parts, digests, a missing boundary, deep nesting) it returns None and
the caller parses with the stdlib: the tree is the same either way, which
`tests/test_fastparse.py` checks on the corpora and on generated structures.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from email._policybase import compat32
from email.feedparser import FeedParser
from email.message import Message
from io import StringIO
from itertools import compress, repeat

from extractors.mail.fastmime import BoundaryMatcher

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
    text = raw.decode("ascii", "surrogateescape")
    lines = StringIO(text, newline="").readlines()
    try:
        return _Tree(lines).root()
    except Exception:  # _Fallback, or anything odd: the stdlib parses it as it always did
        return None


class _Tree:
    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.dashes = list(compress(range(len(lines)), map(str.startswith, lines, repeat("--"))))

    def root(self) -> Message:
        return self.part(0, (), 0)[0]

    def stop_at(self, start: int, stops: tuple[BoundaryMatcher, ...]) -> int:
        """The first line at or after `start` that ends the current part (any enclosing boundary)."""
        if stops:
            dashes = self.dashes
            for k in range(bisect_left(dashes, start), len(dashes)):
                line = self.lines[dashes[k]]
                if any(stop.match(line) for stop in stops):
                    return dashes[k]
        return len(self.lines)

    def part(self, start: int, stops: tuple[BoundaryMatcher, ...], depth: int) -> tuple[Message, int, bool]:
        """Parse one (sub)message from line `start`: it, the line where it ended, whether multipart.

        Inside a multipart (`stops`), a leaf's last line ending goes to the boundary after it."""
        if depth > MAX_DEPTH:
            raise _Fallback
        lines = self.lines
        end = self.stop_at(start, stops)
        msg = Message(policy=compat32)
        i = start
        while i < end:
            line = lines[i]
            if not _HEADER.match(line):
                if line[0] not in "\r\n":  # MissingHeaderBodySeparatorDefect
                    raise _Fallback
                break
            i += 1
        headers = lines[start:i]
        if i < end:
            i += 1  # the blank line after the headers
        if headers:
            _parse_headers(_HeaderParser(msg), headers)
        ctype = msg.get_content_type()
        maintype = ctype.split("/")[0]
        if maintype == "message":
            raise _Fallback  # message/rfc822, message/delivery-status: nested parsing
        if maintype == "multipart":
            return msg, self.multipart(msg, ctype, i, stops, depth), True
        if stops and i < end:
            body = lines[i:end]
            body[-1] = _without_eol(body[-1])
            msg._payload = "".join(body)  # type: ignore[attr-defined]  # as set_payload(str)
        else:
            msg._payload = "".join(lines[i:end])  # type: ignore[attr-defined]
        return msg, end, False

    def multipart(
        self, msg: Message, ctype: str, i: int, stops: tuple[BoundaryMatcher, ...], depth: int
    ) -> int:
        """The parts of `msg` from line `i`, as feedparser's multipart loop reads them."""
        if ctype == "multipart/digest":
            raise _Fallback  # its parts default to message/rfc822
        boundary = msg.get_boundary()
        if boundary is None:
            raise _Fallback  # NoBoundaryInMultipartDefect
        if str(msg.get("content-transfer-encoding", "8bit")).lower() not in ("7bit", "8bit", "binary"):
            raise _Fallback  # InvalidMultipartContentTransferEncodingDefect
        lines = self.lines
        here = BoundaryMatcher("--" + boundary)
        inner = (*stops, here)
        outer_end = self.stop_at(i, stops)
        preamble: list[str] | None = []
        close_linesep: str | None = None
        closed = False
        while i < outer_end:
            # Between parts only boundary lines are met; before the first, the preamble.
            line = lines[i]
            mo = here.match(line)
            if mo is None:
                if preamble is None:
                    raise _Fallback
                preamble.append(line)
                i += 1
                continue
            if mo.group("end"):
                closed, close_linesep = True, mo.group("linesep")
                i += 1
                break
            if preamble is not None:
                if preamble:
                    preamble[-1] = _without_eol(preamble[-1])
                    msg.preamble = "".join(preamble)
                preamble = None
            i += 1
            while i < outer_end and here.match(lines[i]):  # repeated boundary lines
                i += 1
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
        if preamble is not None:
            raise _Fallback  # StartBoundaryNotFoundDefect
        if not closed:
            raise _Fallback  # CloseBoundaryNotFoundDefect
        # feedparser also cuts a line ending at the epilogue's start, which never applies: a close
        # boundary without a line ending is the last line of all.
        msg.epilogue = "".join(([""] if close_linesep else []) + lines[i:outer_end])
        return outer_end


def _without_eol(text: str) -> str:
    """`text` less one final line ending, as feedparser's `NLCRE_eol` substitution cuts it."""
    if text.endswith("\r\n"):
        return text[:-2]
    if text.endswith(("\r", "\n")):
        return text[:-1]
    return text
