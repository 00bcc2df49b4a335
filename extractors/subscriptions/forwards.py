"""Forwarded receipts: the inner message read as what it is.

People forward receipts to another of their addresses (an expense tracker, a
partner). Every mail client writes the forwarded headers as a block of
"Label: value" lines in the body — Gmail after "---------- Forwarded message
---------", Apple Mail after "Begin forwarded message:" / "Début du message
réexpédié :", Thunderbird after "-------- Message transféré --------", Outlook with
no marker at all ("De : … Envoyé : … À : … Objet : …"). Whatever the client, the
block is the same shape, so it is found by its shape: a `From`/`De` line followed,
within a few lines, by a `Subject`/`Objet` or a date line. The inner message then
has the original sender, date, recipient and subject; its headers cannot be
checked, so whoever reads it lowers its confidence.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING

from extractors.dates import parse_date

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage

CONFIDENCE_CAP = 0.8  # the inner headers are text the forwarder could have typed

_FORWARD_SUBJECT = re.compile(r"^\s*(?:\[[^\]]*\]\s*)*(?:fwd?|tr|wg|rv|enc)\s*:\s*", re.IGNORECASE)
_LABELS = {
    "from": "from", "de": "from", "von": "from",
    "to": "to", "à": "to", "a": "to", "pour": "to",
    "cc": "cc",
    "subject": "subject", "objet": "subject", "sujet": "subject",
    "date": "date", "sent": "date", "envoyé": "date", "envoyé le": "date",
}  # fmt: skip
_HEADER_LINE = re.compile(
    r"^[ \t>*]*(from|de|von|to|à|a|pour|cc|subject|objet|sujet|date|sent|envoyé(?: le)?)[ \t*]*:[ \t*]*(.*)$",
    re.IGNORECASE,
)
_TIME_TAIL = re.compile(r"\s*(?:à|at|um)?\s*\d{1,2}[:h]\d{2}.*$", re.IGNORECASE)
# "mar. 3 nov. 2026": Gmail's French weekday abbreviation would read as March
_WEEKDAY = re.compile(
    r"^\s*(?:lun(?:di)?|mar(?:di)?|mer(?:credi)?|jeu(?:di)?|ven(?:dredi)?|sam(?:edi)?|dim(?:anche)?|mon(?:day)?|"
    r"tue(?:s|sday)?|wed(?:nesday)?|thu(?:rs?|rsday)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)\b\.?,?\s+"
    r"(?=\d{1,2}\.?\s+[^\W\d]{3}|[^\W\d]{3})",  # a day and a month follow: "Mar 3, 2026" stays March
    re.IGNORECASE,
)


def is_forward(parsed: ParsedMessage) -> bool:
    return bool(_FORWARD_SUBJECT.match(parsed.subject))


def _header_block(lines: list[str]) -> tuple[dict[str, str], int] | None:
    """The first block of forwarded headers: (label -> value, index of the line after it).

    A block is consecutive header lines (Thunderbird starts with the subject, Outlook
    with the sender) naming a sender address and a subject or a date.
    """
    index = 0
    while index < min(len(lines), 80):
        found: dict[str, str] = {}
        while index < len(lines) and (match := _HEADER_LINE.match(lines[index])):
            found.setdefault(_LABELS[match.group(1).lower()], match.group(2).strip())
            index += 1
        if "@" in found.get("from", "") and ("subject" in found or "date" in found):
            return found, index
        index += 1
    return None


def _sent_on(value: str, ref: date | None) -> str | None:
    """The day of a forwarded Date/Sent line, in whichever language the client wrote it."""
    day = None
    value = _WEEKDAY.sub("", value)
    for text in (value, _TIME_TAIL.sub("", value)):
        day = day or parse_date(text, "en", ref) or parse_date(text, "fr", ref)
    return f"{day.isoformat()}T12:00:00+00:00" if day else None


def inner_message(parsed: ParsedMessage) -> ParsedMessage | None:
    """The forwarded message inside `parsed`, or None when it forwards nothing recognisable."""
    lines = parsed.body_text.replace("\u00a0", " ").replace("\u202f", " ").splitlines()
    block = _header_block(lines)
    if block is None:
        return None
    headers, after = block
    name, addr = parseaddr(headers["from"])
    if "@" not in addr:
        return None
    sent = date.fromisoformat(parsed.date[:10]) if parsed.date else None
    body = "\n".join(lines[after:]).strip("\n")
    recipients = [a for _, a in getaddresses([headers.get("to", "")]) if "@" in a]
    return replace(
        parsed,
        message_id=parsed.message_id,
        date=_sent_on(headers.get("date", ""), sent) or parsed.date,
        from_addr=addr.lower(),
        from_name=name or None,
        to_addrs=recipients or parsed.to_addrs,
        cc_addrs=[],
        reply_to=None,
        subject=headers.get("subject", _FORWARD_SUBJECT.sub("", parsed.subject)),
        body_text=body,
        body_html=None,  # the forward's HTML wraps the forwarder's note too
        in_reply_to=None,
        references=[],
        headers={},  # nothing of the inner headers can be checked
    )
