"""Helpdesk ticket references found in a subject or body, as threading keys.

Helpdesks thread replies by a token they put in the subject or the body; the same
token in my reply and in their next answer is the strongest evidence that two mails
belong to one case. Globally unique tokens (Salesforce thread ids, Zendesk encoded
ids) are keys on their own; bare case numbers ("[#8123]", "Demande n° 4521") are only
unique within one provider's helpdesk, so the journal scopes them by provider.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from extractors.support.needles import NeedleSet


def _numbered(words: str) -> re.Pattern[str]:
    """'<word> n° 123', '<word> #123', '<word> : AB-123' (case-insensitive)."""
    return re.compile(
        rf"\b(?:{words})(?:\s+(?:de\s+support|support))?"
        r"(?:\s*(?:n\s*[°º.o]|no\.?|num(?:éro|ero)?\.?|number|#|:)\s*[:#]?|\s+is|\s*\()\s*"
        # "00918342", "RC-4417298", ENGIE's "1-9A7KQ2L": a digit first (after a short prefix), then digits,
        # capitals and dashes.
        r"([A-Z]{0,4}[-]?\d[\dA-Z\-]{2,19}[\dA-Z])\b",
        re.I,
    )


# (system, pattern, global, literal): `global` tokens need no provider to be unique; `literal` is text the
# pattern (case-sensitive) cannot match without, tested on the text as written before the pattern runs.
_PATTERNS: list[tuple[str, re.Pattern[str], bool, str]] = [
    # Salesforce Email-to-Case: ref:_00Dxx1gEW._500xxYktl:ref, ref:!00Dxx01gEW.!500xx0Yktl:ref, thread::…::
    ("salesforce", re.compile(r"\bref:([_!][0-9A-Za-z]{5,}\.[_!][0-9A-Za-z]{5,}):ref\b"), True, "ref:"),
    ("salesforce", re.compile(r"\bthread::([0-9A-Za-z_\-]{10,})::"), True, "thread::"),
    # Zendesk encoded id, hidden at the foot of every notification: [DZ7JQE-5MRK]
    ("zendesk-id", re.compile(r"\[([0-9A-Z]{6}-[0-9A-Z]{4,5})\]"), True, "["),
    # Zoho Desk: [##1234##]
    ("zoho", re.compile(r"\[##\s*(\d{2,12})\s*##\]"), False, "[##"),
    # osTicket / Zammad: [Ticket#10045], [#10045] (Freshdesk)
    ("ticket", re.compile(r"\[\s*Ticket\s*#\s*:?\s*(\d{2,12})\s*\]", re.I), False, "["),
    ("freshdesk", re.compile(r"\[#(\d{2,12})\]"), False, "[#"),
    # Zendesk visible: "Request #482913", "Demande n° 482913", "Ticket #…", "Case #…", "Case Number: 000123"
    (
        "number",
        _numbered(
            r"(?:request|ticket|case)(?:\s+(?:number|id))?|incident|demande|requête|requete|dossier|réclamation|reclamation"
        ),
        False,
        "",
    ),
    # "Référence : 4410098765": a case number in a support mail, but invoices and orders print references too,
    # so on its own it does not make a mail customer service (`TicketRef.helpdesk` is False).
    ("reference", _numbered(r"référence|reference|réf\.?|ref\.?"), False, ""),
    # "[Réf. RC-4417298]": an abbreviation's dot then a space, before a prefixed code.
    ("reference", re.compile(r"\bR[ée]f\.\s+([A-Z]{1,4}-\d{3,12})\b", re.I), False, ""),
]

_SUBJECT_TAG = re.compile(
    r"\[\s*(?:##\s*\d+\s*##|#\d+|Ticket\s*#\s*\d+|[0-9A-Z]{6}-[0-9A-Z]{4,5})\s*\]|\[\s*ref:[^\s\]]+:ref\s*\]|\bref:[^\s\]]+:ref\b"
    r"|thread::[0-9A-Za-z_\-]+::",
    re.I,
)
_BRACKET_PREFIX = re.compile(r"^\[[^\]]{1,40}\]\s*")  # "[Spotify] Re: …"
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|r|tr|fwd?|aw|wg|réf|ref)\s*(?:\[\d+\])?\s*:\s*)+", re.I)


@dataclass(frozen=True)
class TicketRef:
    """One token: `system` names the helpdesk family, `value` the id as printed (normalised)."""

    system: str
    value: str
    is_global: bool
    helpdesk: bool = True  # False for a bare "Référence :", which invoices and orders print too

    def key(self, scope: str | None) -> str:
        """Threading key: global tokens stand alone, case numbers are scoped by provider/domain."""
        if self.is_global:
            return f"{self.system}:{self.value}"
        return f"number:{scope or '?'}:{self.value}"


# Literal text (lower-case) each family's pattern cannot match without: a cheap `in` test
# spares the regex a scan of long receipts that mention no ticket at all.
_NEEDLES: dict[str, tuple[str, ...]] = {
    "salesforce": ("ref:", "thread::"),
    "zendesk-id": ("[",),
    "zoho": ("[##",),
    "ticket": ("ticket",),
    "freshdesk": ("[#",),
    "number": ("request", "ticket", "case", "incident", "demande", "requ", "dossier", "clamation"),
    "reference": ("réf", "ref"),
}
_HELPDESK_FAMILIES = frozenset(family for family in _NEEDLES if family != "reference")
_NEEDLE_SET = NeedleSet(needle for needles in _NEEDLES.values() for needle in needles)
# The literals are searched as written: "[##" and "[#" only where there is a "[".
_LITERAL_SET = NeedleSet(literal for _, _, _, literal in _PATTERNS)


def _tokens(
    subject: str, body: str, families: frozenset[str] | None = None
) -> Iterator[tuple[str, str, bool, str]]:
    """(system, value, is_global, family) of every token in the subject then the body, in order, repeats included."""
    for text in (subject or "", body or ""):
        text = text.replace("\u00a0", " ").replace("\u202f", " ")
        literals, needles = _LITERAL_SET.in_text(text), _NEEDLE_SET.in_lowered(text)
        for family, pattern, is_global, literal in _PATTERNS:
            if families is not None and family not in families:
                continue
            # The literal implies its family's needle: testing it first only skips scans that find nothing.
            if not literals.has(literal) or not needles.any(_NEEDLES[family]):
                continue
            for match in pattern.finditer(text):
                value, system = match.group(1), family
                if not is_global:
                    value = value.upper()
                    # Case numbers are the same number whatever the desk calls them.
                    system = "number"
                yield system, value, is_global, family


def find_refs(subject: str, body: str) -> list[TicketRef]:
    """Every ticket token in the subject then the body, deduplicated, in order of appearance."""
    found: dict[tuple[str, str], TicketRef] = {}
    for system, value, is_global, family in _tokens(subject, body):
        if (system, value) not in found:
            found[(system, value)] = TicketRef(system, value, is_global, family != "reference")
    return list(found.values())


def may_hold_helpdesk_ref(subject: str, body: str) -> bool:
    """False when no ref of `find_refs` can be a helpdesk one (`TicketRef.helpdesk`), found without the scans
    for a bare "Référence" (what invoices print). True is no proof: a number seen first as a bare reference
    stays one, so ask `find_refs`."""
    return next(_tokens(subject, body, _HELPDESK_FAMILIES), None) is not None


def display_ref(refs: list[TicketRef]) -> str | None:
    """The reference a person quotes on the phone: a case number first, else a helpdesk token."""
    for ref in refs:
        if not ref.is_global:
            return ref.value
    return refs[0].value if refs else None


def normalise_subject(subject: str) -> str:
    """Subject without Re:/Fwd: prefixes and ticket tags, lower-cased: the weakest threading key."""
    text = _SUBJECT_TAG.sub(" ", subject or "")
    previous = None
    while previous != text:
        previous = text
        text = _REPLY_PREFIX.sub("", text).strip()
        text = _BRACKET_PREFIX.sub("", text).strip()
    for family, pattern, _, _ in _PATTERNS:
        if family in ("number", "reference"):  # "- Demande n° 45821937" is a tag, not the subject
            text = pattern.sub(" ", text)
    text = re.sub(r"[\s:\-–—|]+", " ", text).strip(" .:-").lower()
    return text
