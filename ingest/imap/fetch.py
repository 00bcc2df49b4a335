"""`UID FETCH` and its answer: one parser for the metadata pass and the body pass.

The data items of a FETCH response come in no particular order (RFC 3501 §7.4.2, RFC 9051
§7.5.2) and their names in any case; servers add items nobody asked for (CONDSTORE's
`MODSEQ`, Gmail's `X-GM-MSGID`, `X-GM-THRID`, `X-GM-LABELS`) and send unsolicited FETCH
responses (flag changes) in the middle of ours. So each response is read whole, its items
by name, and matched to a message by its `UID` item wherever that sits:

    * 12 FETCH (RFC822.SIZE 4242 BODY[HEADER.FIELDS (FROM TO ...)] {311}
    <311 bytes of headers> UID 12)

The command goes through imaplib and is read here rather than by imapclient's parser: that
one walks every byte of each response line in Python, and the server echoes the whole
header-field list for every message, which made the metadata FETCH cost more than the
bodies in `relevant` mode. Literals are never scanned (imaplib hands them over whole).

imaplib gives a FETCH answer as a flat list: for each response, one `(text, literal)` tuple
per literal it carries, then the text after the last literal (or just the text when it has
none). A response that cannot be read (unbalanced parentheses, no UID) is left out: its
message is then "not answered", which the caller asks again and records, never skips.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.datetime_util import parse_to_datetime
from imapclient.exceptions import IMAPClientError

log = logging.getLogger("subtrail.poll")
steps = logging.getLogger("subtrail.imap")  # the conversation's steps, at DEBUG (`poll -v`)

Value = bytes | None | list["Value"]  # an atom, string or literal; NIL; a parenthesised list

# One token: "(", ")", a quoted string, an atom, or a stray byte (the response is unreadable).
# An atom may carry a [section] (with spaces and parentheses: BODY[HEADER.FIELDS (FROM TO)])
# and a <partial>; NIL is an atom here too. An empty quoted string is told apart from no
# match by the other groups being empty too: `""` is the only case with every group empty.
_TOKEN = re.compile(
    rb'[ \t\r\n]*(?:(\()|(\))|"((?:[^"\\\r\n]|\\.)*)"|((?:[^\x00-\x20()"{\[\x7f]|\[[^\]]*\])+)|(\S))'
)
_LITERAL_MARK = re.compile(rb"\{\d+\}[ \t\r\n]*$")
_ESCAPED = re.compile(rb"\\(.)")
# Items that may change between two responses for the same message (flag updates), unlike content.
_STATE_ITEMS = frozenset({b"FLAGS", b"MODSEQ", b"X-GM-LABELS"})


class Malformed(ValueError):
    """One FETCH response that cannot be read."""


@dataclass
class Answers:
    """What a FETCH returned, by UID. `conflicting`: UIDs the server answered twice with different
    content (e.g. one message answered under another's UID); their answers are not trusted."""

    by_uid: dict[int, dict[bytes, Value]] = field(default_factory=dict)
    conflicting: set[int] = field(default_factory=set)
    unreadable: int = 0

    def get(self, uid: int) -> dict[bytes, Value] | None:
        return None if uid in self.conflicting else self.by_uid.get(uid)

    def add(self, items: dict[bytes, Value]) -> None:
        uid = _int(items.get(b"UID"))
        if uid is None:  # an unsolicited FETCH (flag change) without UID: not an answer
            return
        known = self.by_uid.setdefault(uid, {})
        for name, value in items.items():
            if name in known and known[name] != value and name not in _STATE_ITEMS:
                self.conflicting.add(uid)
            known[name] = value


def uid_set(uids: Iterable[int]) -> str:
    """`1:250,300,302:310`: a sorted UID list as ranges, to keep the command line short."""
    ranges: list[str] = []
    start = previous = None
    for uid in sorted(set(uids)):
        if previous is not None and uid == previous + 1:
            previous = uid
            continue
        if start is not None:
            ranges.append(f"{start}:{previous}" if previous != start else str(start))
        start = previous = uid
    if start is not None:
        ranges.append(f"{start}:{previous}" if previous != start else str(start))
    return ",".join(ranges)


def uid_fetch(client: IMAPClient, uids: Iterable[int], items: str) -> Answers:
    """`UID FETCH uids items`, answers by UID. A `NO` (some messages expunged meanwhile) still
    yields what came: the missing ones are the caller's to ask again. `BAD` raises."""
    wanted = list(uids)
    typ, data = client._imap.uid("FETCH", uid_set(wanted), items)
    if typ not in ("OK", "NO"):  # the data is mail: never quoted in an error
        raise IMAPClientError(f"FETCH failed ({typ})")
    if typ == "NO":
        log.warning("server answered FETCH with NO; what it did not send is asked again")
    answers = parse_fetch(data)
    if steps.isEnabledFor(logging.DEBUG):
        steps.debug(
            "imap fetch uids=%d range=%s items=%s answers=%d account=%s",
            len(wanted), f"{min(wanted)}:{max(wanted)}" if wanted else "-", items,
            len(answers.by_uid), getattr(client, "label", ""),
        )  # fmt: skip
    return answers


def parse_fetch(data: list[object]) -> Answers:
    """Every readable response of an imaplib FETCH answer, items by upper-cased name."""
    answers = Answers()
    for parts in _responses(data):
        try:
            answers.add(_items(parts))
        except Malformed as exc:
            answers.unreadable += 1
            log.warning("unreadable FETCH response skipped (%s)", exc)  # the reason, never the content
    return answers


def _responses(data: list[object]) -> Iterator[list[tuple[bytes, bytes | None]]]:
    """Group imaplib's flat list into responses of (text, literal or None) parts."""
    parts: list[tuple[bytes, bytes | None]] = []
    for element in data:
        if isinstance(element, tuple) and len(element) == 2 and isinstance(element[0], bytes):
            literal = element[1] if isinstance(element[1], bytes) else b""
            parts.append((_LITERAL_MARK.sub(b"", element[0]), literal))
        elif isinstance(element, bytes):
            parts.append((element, None))
            yield parts
            parts = []
    if parts:
        yield parts


def _items(parts: list[tuple[bytes, bytes | None]]) -> dict[bytes, Value]:
    """`12 (NAME value NAME value ...)` -> {NAME: value}."""
    values = _values(parts)
    if len(values) != 2 or _int(values[0]) is None or not isinstance(values[1], list):
        raise Malformed("not a message number and a list of items")
    listed = values[1]
    if len(listed) % 2:
        raise Malformed("an item without a value")
    items: dict[bytes, Value] = {}
    for name, value in zip(listed[::2], listed[1::2], strict=True):
        if not isinstance(name, bytes):
            raise Malformed("an item name that is not an atom")
        items[name.upper()] = value
    return items


def _values(parts: list[tuple[bytes, bytes | None]]) -> list[Value]:
    stack: list[list[Value]] = [[]]
    for text, literal in parts:
        for opened, closed, quoted, atom, stray in _TOKEN.findall(text):
            if atom:
                stack[-1].append(None if len(atom) == 3 and atom.upper() == b"NIL" else atom)
            elif opened:
                inner: list[Value] = []
                stack[-1].append(inner)
                stack.append(inner)
            elif closed:
                if len(stack) == 1:
                    raise Malformed("unbalanced ')'")
                stack.pop()
            elif stray:
                raise Malformed(f"unexpected byte {stray!r}")
            else:
                stack[-1].append(_ESCAPED.sub(rb"\1", quoted) if b"\\" in quoted else quoted)
        if literal is not None:
            stack[-1].append(literal)
    if len(stack) != 1:
        raise Malformed("unbalanced '('")
    return stack[0]


# --- reading items ----------------------------------------------------------------------


def size_of(items: dict[bytes, Value]) -> int | None:
    return _int(items.get(b"RFC822.SIZE"))


def header_block(items: dict[bytes, Value]) -> bytes | None:
    """The `BODY[HEADER.FIELDS (...)]` block, whatever spelling of the field list the server echoes.

    None when absent or NIL: a message without those fields has an empty block (the blank
    line), while NIL is what Dovecot answers for a message expunged by another session
    (with `RFC822.SIZE 0`), so it must not be judged as a message without headers."""
    for name, value in items.items():
        if name.startswith(b"BODY[HEADER"):
            return value if isinstance(value, bytes) else None
    return None


def body_of(items: dict[bytes, Value]) -> bytes | None:
    value = items.get(b"BODY[]")
    return value if isinstance(value, bytes) else None


def internal_date(items: dict[bytes, Value]) -> str | None:
    """INTERNALDATE as ISO-8601 UTC, None if absent or unreadable."""
    value = items.get(b"INTERNALDATE")
    if not isinstance(value, bytes):
        return None
    try:
        when: datetime = parse_to_datetime(value, normalise=False)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.astimezone()
    return when.astimezone(UTC).isoformat(timespec="seconds")


def flags_of(items: dict[bytes, Value]) -> str | None:
    value = items.get(b"FLAGS")
    if not isinstance(value, list):
        return None
    return " ".join(f.decode("utf-8", "replace") for f in value if isinstance(f, bytes)) or None


def _int(value: Value | object) -> int | None:
    if isinstance(value, bytes) and value.isdigit():
        return int(value)
    return None
