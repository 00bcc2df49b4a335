"""Raw copies of one message: what makes two byte sequences the same mail (pure, bytes in).

The same mail reaches the store in several shapes: fetched by IMAP (CRLF), imported from a Maildir
or a Takeout mbox (LF, with `X-GM-*`/`X-Gmail-Labels`), from an mbox a client annotated (`Status`,
`X-Status`, `Content-Length`, the `From ` envelope, `>From ` quoting), after a delivery that added
`Received`/`Delivered-To`/`Return-Path`. Each copy is stored byte-exact (evidence, keyed by its own
sha256); `content_key` is the hash of the message once those differences are normalised away, and
the first copy stored with a key is the message the derived tables count (`canonical_sha256`).
"""

from __future__ import annotations

import hashlib
import re

# Headers a mail store, a mailbox format or a delivery adds: they say where a copy went, not what it says.
TRANSPORT_HEADERS = frozenset(
    {
        b"received", b"return-path", b"delivered-to", b"x-original-to",  # delivery
        b"status", b"x-status", b"content-length", b"lines", b"x-keywords", b"x-uid",  # mbox writers
        b"x-mozilla-status", b"x-mozilla-status2", b"x-mozilla-keys",  # Thunderbird's mbox
        b"x-gmail-labels",  # Takeout
    }
)  # fmt: skip
TRANSPORT_PREFIXES = (b"x-gm-",)  # Takeout: X-GM-THRID, X-GM-MSGID, X-GM-LABELS
_MBOX_QUOTED = re.compile(rb"(?m)^>+(From )")


def _kept(field: bytes) -> bool:
    name = field.split(b":", 1)[0].strip().lower()
    return name not in TRANSPORT_HEADERS and not name.startswith(TRANSPORT_PREFIXES)


def content_key(raw: bytes) -> str:
    """sha256 of the message with line ends, transport headers and mbox quoting normalised."""
    text = raw.replace(b"\r\n", b"\n") if b"\r" in raw else raw
    if text.startswith(b"From "):  # an mbox envelope line left on an exported message
        text = text.partition(b"\n")[2]
    head, _, body = text.partition(b"\n\n")
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line  # a folded header continues the field above
        elif line:
            fields.append(line)
    kept = b"\n".join(field for field in fields if _kept(field))
    if b">From " in body:  # rare: skip the regex scan of every other body
        body = _MBOX_QUOTED.sub(rb"\1", body)
    digest = hashlib.sha256(kept)
    digest.update(b"\n\n")
    digest.update(body.rstrip(b"\n"))
    return digest.hexdigest()
