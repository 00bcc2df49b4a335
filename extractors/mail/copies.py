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
    """sha256 of the message with line ends, transport headers and mbox quoting normalised.

    The body is hashed through a memoryview: a 200 MB message costs at most one copy (CRLF to LF).
    """
    text = raw.replace(b"\r\n", b"\n") if b"\r" in raw else raw
    start = 0
    if text.startswith(b"From "):  # an mbox envelope line left on an exported message
        start = text.find(b"\n") + 1 or len(text)
    head_end = text.find(b"\n\n", start)
    body_start = len(text) if head_end < 0 else head_end + 2
    head = text[start : len(text) if head_end < 0 else head_end]
    fields: list[bytes] = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += b"\n" + line  # a folded header continues the field above
        elif line:
            fields.append(line)
    kept = b"\n".join(field for field in fields if _kept(field))
    end = len(text)
    while end > body_start and text[end - 1] == 0x0A:  # trailing blank lines
        end -= 1
    digest = hashlib.sha256(kept)
    digest.update(b"\n\n")
    # `>From ` is rare, and so is `>` in a body without HTML: memchr finds that 20x faster than the search
    quote = text.find(b">", body_start, end)
    if quote >= 0 and text.find(b">From ", quote, end) >= 0:  # only then is the body copied
        digest.update(_MBOX_QUOTED.sub(rb"\1", text[body_start:end]))
    else:
        digest.update(memoryview(text)[body_start:end])
    return digest.hexdigest()
