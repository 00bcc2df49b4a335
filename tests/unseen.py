"""One synthetic message, extracted as the importer does: the tests of mail no provider file knows.

`mail` builds the message a sender would write (headers fixed, so only the words change from one
case to the next); `run` parses and extracts it for the person `me` (me@example.org by default).
"""

from __future__ import annotations

from email.message import EmailMessage

from extractors import Extraction, Identity, extract
from extractors.mail.parse import parse_message

ME = Identity(frozenset({"me@example.org"}))


def mail(
    sender: str,
    subject: str,
    body: str,
    to: str = "me@example.org",
    message_id: str = "<x@example>",
    subtype: str = "plain",
) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Date"], msg["Message-ID"] = "Tue, 03 Nov 2026 10:00:00 +0100", message_id
    msg.set_content(body, subtype=subtype)
    return msg.as_bytes()


def run(raw: bytes, me: Identity = ME) -> Extraction:
    return extract(parse_message(raw), me)
