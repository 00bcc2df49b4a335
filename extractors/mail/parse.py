"""Raw bytes -> ParsedMessage: a pure function, no database, no network.

Parsing never raises for bad input. Whatever could not be understood is listed
in `ParsedMessage.problems` so the store can record it in `ingest_errors` while
the raw bytes are kept untouched. The tree is the stdlib `email` parser's (compat32
policy: it is the fastest and the most forgiving with broken mail; see docs/design.md),
built by `fastparse` for well-formed mail (4x faster) and by the stdlib for the rest.
"""

from __future__ import annotations

import email
import email.header
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC
from email.message import Message
from functools import lru_cache

from extractors.mail import fastmime, fastparse
from extractors.mail.html import html_to_text

fastmime.install()

MAX_BODY_CHARS = 1_000_000  # body_text beyond this is cut: it feeds FTS and extractors, not evidence
MAX_PARTS_WALKED = 2_000  # a MIME bomb must not cost minutes; the raw bytes stay complete anyway
MAX_HEADER_CHARS = 65_536  # RFC 2047 decoding is quadratic: a 1 MB header of encoded words took 5 s
MAX_PARSE_BYTES = 32 * 1024 * 1024  # the stdlib parser holds ~8x the bytes it reads: 1.5 GB for 200 MB
MAX_HTML_CHARS = 1_000_000  # HTML -> text costs ~5 s and 250 MB per million characters at worst


@dataclass
class Attachment:
    filename: str | None
    content_type: str
    size: int


@dataclass
class ParsedMessage:
    """What the rest of subtrail knows about one message, besides its raw bytes."""

    sha256: str
    raw: bytes
    message_id: str | None = None
    date: str | None = None  # ISO-8601 UTC
    from_addr: str | None = None
    from_name: str | None = None
    to_addrs: list[str] = field(default_factory=list)
    cc_addrs: list[str] = field(default_factory=list)
    reply_to: str | None = None
    subject: str = ""
    body_text: str = ""
    body_html: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # decoded, lower-case names, first value wins
    problems: list[str] = field(default_factory=list)

    @property
    def from_domain(self) -> str | None:
        if self.from_addr and "@" in self.from_addr:
            return self.from_addr.rsplit("@", 1)[1].lower()
        return None


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse_message(raw: bytes, sha256: str | None = None) -> ParsedMessage:
    """Parse `raw` into a ParsedMessage, collecting problems instead of raising."""
    parsed = ParsedMessage(sha256=sha256 or sha256_of(raw), raw=raw)
    if len(raw) > MAX_PARSE_BYTES:  # headers and text parts come first; the rest is attachments
        parsed.problems.append(
            f"parse: message of {len(raw)} bytes, only the first {MAX_PARSE_BYTES} read (all stored)"
        )
        raw = raw[:MAX_PARSE_BYTES]
    try:
        msg = fastparse.message_from_bytes(raw)
        if msg is None:  # not plain well-formed MIME: the stdlib's own parser
            msg = email.message_from_bytes(raw)
    except Exception as exc:  # the stdlib parser is lenient, but not infallible
        # e.g. RecursionError on thousands of nested multiparts: keep at least the headers.
        parsed.problems.append(f"parse: {type(exc).__name__}: {exc}")
        try:
            _read_headers(email.message_from_bytes(raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]), parsed)
        except Exception as exc2:
            parsed.problems.append(f"headers: {type(exc2).__name__}: {exc2}")
        return parsed
    try:
        _read_headers(msg, parsed)
    except Exception as exc:
        parsed.problems.append(f"headers: {type(exc).__name__}: {exc}")
    try:
        _read_body(msg, parsed)
    except RecursionError:
        parsed.problems.append("body: MIME structure nested too deeply")
    except Exception as exc:
        parsed.problems.append(f"body: {type(exc).__name__}: {exc}")
    _collect_defects(msg, parsed)
    return parsed


def _collect_defects(msg: Message, parsed: ParsedMessage) -> None:
    """MIME defects found while parsing and decoding, each kind named once."""
    kinds: list[str] = []
    for count, part in enumerate(msg.walk()):
        if count > MAX_PARTS_WALKED:
            break
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            if name not in kinds:
                kinds.append(name)
    parsed.problems.extend(f"mime defect: {name}" for name in kinds[:10])


# --- headers ---------------------------------------------------------------

HELPDESK_HEADER_PREFIXES = ("x-zendesk-", "x-freshdesk-", "x-helpscout-", "x-intercom-", "x-gorgias-",
                            "x-kayako-", "x-kustomer-", "x-zoho-desk", "x-front-", "x-helpshift-")  # fmt: skip
_WANTED = (
    "message-id",
    "date",
    "from",
    "to",
    "cc",
    "reply-to",
    "subject",
    "in-reply-to",
    "references",
    "sender",
    "return-path",
    "list-unsubscribe",
    "list-id",
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "precedence",
    "authentication-results",
    "dkim-signature",
    "x-mailer",
    "content-language",
)


def decode_header(value: object) -> str:
    """Decode an RFC 2047 header to text; unknown charsets and bad bytes degrade, never raise."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        value = str(value)
    text = str(value)
    if "=?" not in text:
        return _clean(text)
    # Unfold first (RFC 5322: drop the line break, keep the space): the stdlib decodes line by line and
    # strips each line's leading space, which glued "Rejet de votre" to a folded "=?UTF-8?Q?pr=C3=A9l...".
    text = _FOLD.sub("", text)
    try:
        chunks = email.header.decode_header(text)
    except Exception:  # one malformed encoded word must not leave the others undecoded
        return _clean(_decode_word_by_word(text))
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        out.append(decode_bytes(chunk, charset))
    # decode_header keeps the whitespace between encoded words only where it was meaningful
    return _clean("".join(out))


_FOLD = re.compile(r"\r?\n(?=[ \t])")
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[qQbB]\?[^?\s]*\?=")
_BETWEEN_WORDS = re.compile(r"(?<=\?=)[ \t\r\n]+(?==\?)")


def _decode_word_by_word(text: str) -> str:
    def one(match: re.Match[str]) -> str:
        try:
            return decode_header(match.group(0))
        except Exception:
            return match.group(0)

    return _ENCODED_WORD.sub(one, _BETWEEN_WORDS.sub("", text))


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset -> text, falling back to UTF-8 then Latin-1 (never fails)."""
    return _decode_with(data, charset)[0]


def _decode_with(data: bytes, charset: str | None) -> tuple[str, str]:
    """`decode_bytes`, and the name of the codec that decoded."""
    for candidate in (charset, "utf-8", "cp1252"):
        if not candidate:
            continue
        codec = _charset_alias(candidate)
        try:
            return data.decode(codec), codec
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return data.decode("latin-1"), "latin-1"


# Codecs that decode each byte below 0x80 to that code point and never make one below 0x80 of other
# bytes (UTF-8 rejects overlong forms): through them, the text has a `_CTRL` character exactly where
# the bytes have a `_CTRL_BYTES` byte, and the bytes are checked without encoding the text again.
_ASCII_SAFE = frozenset({"utf-8", "ascii", "cp1252", "latin-1"})


def _charset_alias(charset: str) -> str:
    charset = charset.strip().strip('"').lower()
    # Mail user agents label Windows-1252 text as Latin-1 all the time; cp1252 is a superset.
    return {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "utf-8"}.get(
        charset, charset
    )


_CTRL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """One line of header text: unfolded, a folding tab read as the space it stands for."""
    if text.isascii() and text.isprintable():  # the usual case: no line break, tab or control character
        return text.strip()
    text = _FOLD.sub("", text).replace("\t", " ").replace("\r", "").replace("\n", " ")
    return _CTRL.sub("", text).strip()


def _read_headers(msg: Message, parsed: ParsedMessage) -> None:
    # Address headers are split into addresses *before* RFC 2047 decoding: an encoded display
    # name may decode to "Netflix <billing@netflix.com>" and must not become the address.
    undecoded: dict[str, str] = {}
    fields = fastmime.fields_of(msg)
    for name in _WANTED:
        if name in fields:
            raw_value = fields[name]
            if isinstance(raw_value, email.header.Header):
                raw_value = _header_bytes_to_text(raw_value)
            text = str(raw_value)[:MAX_HEADER_CHARS]
            if name in ("from", "to", "cc", "reply-to"):
                undecoded[name] = _clean(text)
            parsed.headers[name] = decode_header(text)[:10_000]
    for name in fields:  # a help desk's own stamp (X-Zendesk-*, X-Freshdesk-*...): the journal reads it
        if name.startswith(HELPDESK_HEADER_PREFIXES):
            parsed.headers[name] = decode_header(str(fields[name])[:MAX_HEADER_CHARS])[:1_000]
    parsed.message_id = _first_msgid(parsed.headers.get("message-id", "")) or None
    if not parsed.message_id:
        parsed.problems.append("headers: no Message-ID")
    parsed.subject = parsed.headers.get("subject", "")[:2_000]
    name, addr = _one_address(undecoded.get("from", ""))
    parsed.from_name, parsed.from_addr = name or None, addr or None
    if not addr:
        parsed.problems.append("headers: no usable From address")
    parsed.to_addrs = _addresses(undecoded.get("to", ""))
    parsed.cc_addrs = _addresses(undecoded.get("cc", ""))
    reply_to = _addresses(undecoded.get("reply-to", ""))
    parsed.reply_to = reply_to[0] if reply_to else None
    parsed.in_reply_to = _first_msgid(parsed.headers.get("in-reply-to", "")) or None
    parsed.references = _MSGID.findall(parsed.headers.get("references", ""))[:200]
    parsed.date = _parse_date(parsed.headers.get("date"))
    if parsed.date is None:
        parsed.problems.append("headers: missing or unreadable Date")


def _header_bytes_to_text(header: email.header.Header) -> str:
    """compat32 wraps 8-bit headers in a Header object with unknown-8bit chunks; recover them as UTF-8."""
    parts: list[str] = []
    for chunk, charset in email.header.decode_header(header):
        parts.append(
            chunk if isinstance(chunk, str) else decode_bytes(chunk, str(charset) if charset else None)
        )
    return "".join(parts)


_MSGID = re.compile(r"<[^<>\s]{1,900}>")


def _first_msgid(value: str) -> str:
    match = _MSGID.search(value)
    if match:
        return match.group(0)
    value = value.strip()
    return f"<{value}>" if value and " " not in value and len(value) < 900 else ""


_CACHED_ADDRESS_CHARS = 512  # the owner's and each sender's address header recur in every message


def _getaddresses(value: str) -> tuple[tuple[str, str], ...]:
    """(name, address) pairs of an undecoded address header; short values come from a cache
    (the stdlib's address parser is a tenth of `parse_message`, and a mailbox repeats them)."""
    if len(value) <= _CACHED_ADDRESS_CHARS:
        return _cached_addresses(value)
    return _parse_addresses(value)


@lru_cache(maxsize=4096)
def _cached_addresses(value: str) -> tuple[tuple[str, str], ...]:
    return _parse_addresses(value)


def _parse_addresses(value: str) -> tuple[tuple[str, str], ...]:
    """`email.utils.getaddresses` recurses on nested comments: `(a(a(a...` raised RecursionError."""
    try:
        return tuple(email.utils.getaddresses([value]))
    except Exception:
        return ()


_ANGLE_ADDR = re.compile(r"<([^<>\s@]+@[^<>\s@]+)>")


def _one_address(value: str) -> tuple[str, str]:
    """(display name decoded, address) of the first mailbox in an undecoded address header."""
    pairs = _getaddresses(value)
    for name, addr in pairs:
        if "@" in addr:
            return decode_header(name), addr.strip().lower()
    found = _ANGLE_ADDR.findall(value)
    if found:  # an unclosed quote or comment (often invalid 8-bit text) swallowed the mailbox
        return "", found[-1].strip().lower()
    return (decode_header(pairs[0][0]) if pairs else ""), ""


def _addresses(value: str) -> list[str]:
    if not value:
        return []
    return [addr.strip().lower() for _, addr in _getaddresses(value) if "@" in addr][:500]


def _parse_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        dt = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:  # RFC 5322 "-0000": unknown zone, read as UTC
        dt = dt.replace(tzinfo=UTC)
    try:
        return dt.astimezone(UTC).isoformat(timespec="seconds")
    except (OverflowError, ValueError):
        return None


# --- body ------------------------------------------------------------------


def _read_body(msg: Message, parsed: ParsedMessage) -> None:
    plain: str | None = None
    plain_clean = False  # `plain` provably holds no `_CTRL` character
    html: str | None = None
    walked = 0
    for part in msg.walk():
        walked += 1
        if walked > MAX_PARTS_WALKED:
            parsed.problems.append(f"body: more than {MAX_PARTS_WALKED} MIME parts, the rest not read")
            break
        if part.is_multipart():
            continue
        fields = fastmime.fields_of(part)  # a part's headers are read six times or more
        ctype = fastmime.content_type_of(part, fields)
        disposition = str(fields.get("content-disposition") or "").lower()  # a Header when 8-bit
        filename = _part_filename(part, fields)
        is_attachment = "attachment" in disposition or (
            filename is not None and not ctype.startswith("text/")
        )
        if is_attachment or not ctype.startswith("text/"):
            payload = part.get_payload(decode=False)
            size = len(payload) if isinstance(payload, str) else 0
            parsed.attachments.append(Attachment(filename, ctype, size))
            continue
        if ctype == "text/plain" and plain is None:
            plain, plain_clean = _part_text(part, fields, parsed, check_controls=True)
        elif ctype == "text/html" and html is None:
            html = _part_text(part, fields, parsed)[0]
    if html is not None:
        if len(html) > MAX_HTML_CHARS:
            parsed.problems.append(f"body: HTML longer than {MAX_HTML_CHARS} characters, cut before reading")
            html = html[:MAX_HTML_CHARS]
        parsed.body_html = html
    clean = plain_clean  # the body is `plain`, less some `\r`s and a tail: it gains no control character
    if plain and not plain.isspace():  # `plain.strip()` is not empty, without copying the text
        text = plain
    elif html is not None:
        text, clean = html_to_text(html), False
    else:
        text = plain or ""
    if "\r" in text:  # a scan for one character is 30x cheaper than a `replace` that finds nothing
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if len(text) > MAX_BODY_CHARS:
        parsed.problems.append(f"body: text longer than {MAX_BODY_CHARS} characters, cut for indexing")
        text = text[:MAX_BODY_CHARS]
    parsed.body_text = text if clean else _without_controls(text)


# The bytes `_CTRL` matches: in UTF-8 they only ever stand for themselves.
_CTRL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Every byte to itself but those, which become "\n" (not one of them): a translation leaves bytes
# unchanged exactly when they hold none (and costs 9 instructions a byte, deleting them 13).
_FLAG_CTRL = bytes(0x0A if byte in _CTRL_BYTES else byte for byte in range(256))


def _has_control_bytes(data: bytes) -> bool:
    return data.translate(_FLAG_CTRL) != data


def _without_controls(text: str) -> str:
    """`_CTRL.sub("", text)`; the regex scans non-ASCII text at ~15 ns a character, so a body is first
    checked for control characters as UTF-8 bytes (4x cheaper) and usually has none."""
    if not _has_control_bytes(text.encode("utf-8", "surrogatepass")):
        return text
    return _CTRL.sub("", text)


def _part_filename(part: Message, fields: fastmime.Fields) -> str | None:
    """`get_filename()` decoded; None at once when neither header can hold a `filename`/`name` parameter
    (the parameter parser costs more than the rest of a text part's reading)."""
    if not any(
        value is not None and "name" in str(value).lower()
        for value in (fields.get("content-disposition"), fields.get("content-type"))
    ):
        return None
    try:
        name = part.get_filename()
    except Exception:
        return None
    return decode_header(name)[:500] if name else None


def _content_charset(part: Message, fields: fastmime.Fields) -> str | None:
    """`part.get_content_charset()`, through a cache of Content-Type values (a mailbox repeats a few)."""
    value = fields.get("content-type")
    if isinstance(value, str) and len(value) <= _CACHED_CTYPE_CHARS:
        return _charset_of_ctype(value)
    return part.get_content_charset()


_CACHED_CTYPE_CHARS = 512


@lru_cache(maxsize=1024)
def _charset_of_ctype(value: str) -> str | None:
    """The charset parameter of a Content-Type value, as `Message.get_content_charset` reads it."""
    holder = Message()
    holder["Content-Type"] = value
    return holder.get_content_charset()


def _part_text(
    part: Message, fields: fastmime.Fields, parsed: ParsedMessage, check_controls: bool = False
) -> tuple[str, bool]:
    """The part's text, and (`check_controls`) True when it provably holds no `_CTRL` character."""
    try:
        data = fastmime.decoded_payload(part, fields)
    except Exception as exc:
        parsed.problems.append(f"body: undecodable transfer encoding ({type(exc).__name__})")
        payload = part.get_payload()
        return (payload if isinstance(payload, str) else ""), False
    if not isinstance(data, bytes):
        return "", True
    charset = _content_charset(part, fields)
    if charset:
        try:
            "".encode(_charset_alias(charset))
        except LookupError:
            parsed.problems.append(f"body: unknown charset {charset[:40]!r}, read as UTF-8")
    text, codec = _decode_with(data, charset)
    clean = check_controls and codec in _ASCII_SAFE and not _has_control_bytes(data)
    return text, clean
