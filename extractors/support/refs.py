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

from extractors.dates import digit_runs
from extractors.support.needles import NeedleSet, Search

# Where a case number's own digits begin: "00918342", "9A7KQ2L" (after its short prefix, "RC-", "1-")
_NUMBER_START = r"\d[\dA-Z\-]{2,19}[\dA-Z]"
_NUMBERED: set[re.Pattern[str]] = set()  # the patterns `_numbered` made


def _numbered(words: str) -> re.Pattern[str]:
    """'<word> n° 123', '<word> #123', '<word> : AB-123' (case-insensitive)."""
    pattern = re.compile(
        rf"\b(?:{words})(?:\s+(?:de\s+support|support))?"
        r"(?:\s*(?:n\s*[°º.o]|no\.?|num(?:éro|ero)?\.?|number|#|:)\s*[:#]?|\s+is|\s*\()\s*"
        # "00918342", "RC-4417298", ENGIE's "1-9A7KQ2L": a digit first (after a short prefix), then digits,
        # capitals and dashes.
        rf"([A-Z]{{0,4}}[-]?{_NUMBER_START})\b",
        re.I,
    )
    _NUMBERED.add(pattern)
    return pattern


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
# A `_numbered` match holds its number from a digit that starts a run of `\d` (a word, "n°", "#", ":", "(" or
# spaces come before it, never a digit), and from there the number matches `_NUMBER_START`: where no digit run
# starts so, neither pattern can match. Receipts print few such numbers, so this proof spares them the keyword
# searches ("request", "case", "dossier"...), each a scan of the whole body.
_NUMBER_AT = re.compile(_NUMBER_START, re.I)


_SHORT = 200  # below this, one regex scan costs less than finding the digit runs


def _has_number_start(text: str) -> bool:
    """False when no `_numbered` pattern can match in `text` (a match at a run's start is also a `search` one)."""
    if len(text) < _SHORT:
        return _NUMBER_AT.search(text) is not None
    return any(_NUMBER_AT.match(text, start) for start in digit_runs(text))


# `_PATTERNS` rows with, for each, whether `_has_number_start` gates it and its family's needles: all of them,
# and those of the helpdesk families.
_GATED = [(*row, row[1] in _NUMBERED, _NEEDLES[row[0]]) for row in _PATTERNS]
_HELPDESK_GATED = [row for row in _GATED if row[0] in _HELPDESK_FAMILIES]


def _tokens(subject: str, body: str, helpdesk_only: bool = False) -> Iterator[tuple[str, str, bool, str]]:
    """(system, value, is_global, family) of every token in the subject then the body, in order, repeats included."""
    rows = _HELPDESK_GATED if helpdesk_only else _GATED
    for text in (subject, body):
        if not text:
            continue  # every pattern matches a character at least
        text = text.replace("\u00a0", " ").replace("\u202f", " ")
        literals = _LITERAL_SET.in_text(text)
        needles: Search | None = None  # lowered (a copy of the text) only when a family gets this far
        number_start: bool | None = None
        for family, pattern, is_global, literal, numbered, family_needles in rows:
            # The literal implies its family's needle: testing it first only skips scans that find nothing.
            if not literals.has(literal):
                continue
            if numbered:
                if number_start is None:
                    number_start = _has_number_start(text)
                if not number_start:
                    continue
            if needles is None:
                needles = _NEEDLE_SET.in_lowered(text)
            if not needles.any(family_needles):
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
    return next(_tokens(subject, body, helpdesk_only=True), None) is not None


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
