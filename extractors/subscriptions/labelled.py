"""Labelled fields: what the words beside a value say it is, in French and English.

Receipts from senders nobody configured still lay their facts out the same way: a
label and its value on one line ("Total : 8,39 €", "Subtotal   $4.00"), or — once an
HTML table is turned into text — the label cell on the line above its value cell.
A small lexicon of roles reads the label: the total charged (TTC, "Total", "Montant
prélevé", "Amount paid") as opposed to a subtotal, a tax line, an estimate, a deposit
or a regularisation; a suffix after the amount ("€ TTC", "€ HT") says the same.
The same pairs name the plan ("Formule", "Offre", "Plan", "Tier"), the account ("Compte",
"Sign-in ID") and until when it is paid ("paid up until", "Valable jusqu'au": the next
charge). Per-provider files then only override what is special.

Role patterns are lowercase and run on lowered text (positions unchanged); `plan_of` and
`account_of` read the original text, whose case they keep.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from extractors.text import lowered

if TYPE_CHECKING:
    from extractors.money import Money

# Order matters: the first role whose pattern matches the label wins ("sous-total" before "total").
LABEL_ROLES: list[tuple[str, re.Pattern[str]]] = [
    # "Total (VAT included)", "Montant TTC": a tax said to be included names the total;
    # "includes VAT 20%:" names the tax itself
    ("total", re.compile(
        r"\bttc\b|(?:vat|tva|tax(?:es)?|taxe) (?:incl|inclus|compris)|\btotal\b.{0,20}\bincl"
    )),
    ("subtotal", re.compile(
        r"sous[- ]?total|sub[- ]?total|\bht\b|hors taxes?|montant (?:net|hors)|net amount|before tax|"
        r"excl(?:\.|uding)? (?:vat|tax)|prix unitaire|unit price"
    )),
    ("tax", re.compile(r"\btva\b|\bvat\b|\btax(?:es)?\b|\bgst\b|\bsales tax\b|\btaxe\b|dont\b")),
    ("deposit", re.compile(r"dépôt de garantie|\bcaution\b|\bdeposit\b|\bacompte\b")),
    ("regularisation", re.compile(
        r"régularisation|regularisation|regularization|true[- ]?up|clôture|closing (?:bill|invoice)|"
        r"final (?:bill|invoice)|frais de non[- ]restitution|non[- ]return fee|frais de résiliation"
    )),
    ("estimate", re.compile(r"estimation|estimée?|estimated|prévisionnel|projected|forecast")),
    ("discount", re.compile(r"remise|réduction|discount|promo|coupon|crédit|credit\b")),
    ("total", re.compile(
        r"\btotal\b|\bttc\b|montant (?:prélevé|payé|débité|réglé|total|à payer|de votre échéance)|net à payer|"
        r"\bà payer\b|amount (?:paid|charged|due)|grand total|order total|total charged|you paid|vous avez payé|"
        r"prélevé|débité|charged"
    )),
]  # fmt: skip
_SUFFIX_ROLES: list[tuple[str, re.Pattern[str]]] = [
    ("total", re.compile(r"^\s*(?:eur|usd|chf|gbp)?\s*(?:\(?ttc|incl(?:\.|uding|udes)? (?:vat|tax)|tva incluse|\(vat included)")),
    ("subtotal", re.compile(r"^\s*(?:eur|usd|chf|gbp)?\s*(?:\(?ht\b|hors taxes|excl(?:\.|uding)? (?:vat|tax)|\+ ?(?:vat|tva))")),
]  # fmt: skip
# Roles whose amount is never the price of the subscription.
NOT_THE_PRICE = frozenset({"subtotal", "tax", "deposit", "regularisation", "estimate", "discount"})
# A bill the subject names as one-off (a regularisation, a closing bill, a deposit): no price in it.
ONE_OFF_BILL = re.compile(
    r"régularisation|regularisation|regularization|facture de clôture|closing (?:bill|invoice)|"
    r"final (?:bill|invoice)|facture de résiliation|dépôt de garantie|\bdeposit\b"
)
# ...of which a regularisation settles a running contract: it proves the contract runs, never its price.
REGULARISATION_BILL = re.compile(r"régularisation|regularisation|regularization|true[- ]?up")


@dataclass(frozen=True)
class Field:
    """One label/value pair: the label's words, the value's text and where the value starts."""

    label: str
    value: str
    start: int

    @property
    def role(self) -> str | None:
        return role_of_label(self.label)


@functools.lru_cache(maxsize=1024)
def role_of_label(label: str) -> str | None:
    """The role of a label's words, or None. Cached: a mailbox writes the same few labels ("Total TTC",
    "Montant", "Sous-total") over and over, and each costs up to eight searches."""
    for role, pattern in LABEL_ROLES:
        if pattern.search(label):
            return role
    return None


def label_before(text: str, position: int) -> str:
    """The label of the value at `position`: the start of its line, else (a table cell) the line above."""
    line_start = text.rfind("\n", 0, position) + 1
    label = text[line_start:position].strip(" \t:|-–")
    if label:
        return label[-40:]  # in a sentence, the words nearest the amount
    above_end = line_start - 1
    while above_end > 0 and text[above_end - 1] in "\n \t":
        above_end -= 1
    above_start = text.rfind("\n", 0, above_end) + 1
    above = text[above_start:above_end].strip(" \t:|")
    return above if len(above) <= 60 else ""


def amount_role(text: str, money: Money) -> str | None:
    """What an amount is, from the words after it ("€ TTC", "€ HT"), else from its label."""
    after = text[money.end : money.end + 24]
    for role, pattern in _SUFFIX_ROLES:
        if pattern.search(after):
            return role
    return role_of_label(label_before(text, money.start))


_FIELD_LINE = re.compile(r"^[ \t]*([^\n:]{2,60}?)[ \t]*(?:[:|][ \t]*|[ \t]{2,})(\S[^\n]*)$", re.MULTILINE)


def fields(text: str) -> list[Field]:
    """Every "Label : value" and "Label    value" line, in order."""
    return [Field(m.group(1).strip(), m.group(2).strip(), m.start(2)) for m in _FIELD_LINE.finditer(text)]


def pick_charged(text: str, money: list[Money]) -> Money | None:
    """The total charged among `money`: an amount labelled as the total, else None."""
    for m in money:
        if amount_role(text, m) == "total":
            return m
    return None


def price_candidates(text: str, money: list[Money]) -> list[Money]:
    """`money` without the amounts whose label says they are not what is charged (subtotal, tax, deposit...)."""
    return [m for m in money if amount_role(text, m) not in NOT_THE_PRICE]


# A label naming the plan: "Formule : Ultimate", "Plan: Pro (monthly)", "Offre : Essentiel – 9,99 €/mois".
PLAN_LABEL = re.compile(
    r"^(?:votre |ton |ta |your )?(?:formule|offre|plan|forfait|tier|niveau|subscription plan|membership (?:level|tier))$"
)
_PLAN_CUT = re.compile(
    r"\s*(?:[(–—,;|/]| - |\d+[,.]\d{2}|[€$£]|\b(?:eur|usd|chf|gbp)\b|\bpar mois\b|\bper month\b).*$",
    re.IGNORECASE,
)
_NOT_A_PLAN = re.compile(r"^(?:prix|price|montant|amount|total|qty|quantité|quantity|date|période|period)\b")
# Words before a date saying until when it is paid: for a renewing subscription, the next charge.
PAID_UNTIL = re.compile(
    r"paid (?:up )?(?:until|through|to)|valable jusqu'(?:au|à)|valide jusqu'(?:au|à)|valid (?:until|through|to)|"
    r"(?:actif|active|couvert|covered) (?:jusqu'au|until|through)"
)


_CELL_ROW = re.compile(r"^[ \t]*([A-ZÀ-Ý][\w'’]+(?: [\w'’]+)??) ([A-Z0-9À-Ý][^\n]{0,40})$", re.MULTILINE)


def _cell_pairs(text: str) -> list[Field]:
    """Label cell / value cell: an HTML table row turned into text is the label alone on its line above
    the value, or "Formule Pro Famille" on one line (a capitalised value after a capitalised label)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    stacked = [Field(label.rstrip(" :"), value, 0) for label, value in zip(lines, lines[1:], strict=False)]
    return [*stacked, *(Field(m.group(1), m.group(2), m.start(2)) for m in _CELL_ROW.finditer(text))]


@functools.lru_cache(maxsize=4)
def _pairs(text: str) -> tuple[Field, ...]:
    """Every label/value pair of `text`, lines then table cells: `plan_of` and `account_of` read the same."""
    return (*fields(text), *_cell_pairs(text))


# Every label `PLAN_LABEL` accepts holds one of these: without them in the text, no pair need be cut out.
_PLAN_WORDS = ("formule", "offre", "plan", "forfait", "tier", "niveau", "membership")


def plan_of(text: str, low: str | None = None) -> str | None:
    """The plan a labelled line or table cell names (the first), its price and period cut off; `text`
    keeps its case, `low` is `lowered(text)` when the caller has it already."""
    low = lowered(text) if low is None else low
    if not any(word in low for word in _PLAN_WORDS):
        return None
    for found in _pairs(text):
        if not PLAN_LABEL.match(found.label.lower()):
            continue
        value = _PLAN_CUT.sub("", found.value).strip(" .:-")
        if 2 <= len(value) <= 40 and "@" not in value and not _NOT_A_PLAN.match(value.lower()):
            return value
    return None


# A label naming the account: "Compte : x@y", "Your account: x@y", "Apple Account", "Sign-in ID".
ACCOUNT_LABEL = re.compile(
    r"^(?:votre |your |ton )?(?:compte|account|identifiant|sign-in id|login|apple account|google account|"
    r"apple id|adresse e-?mail|e-?mail address|e-?mail|courriel)(?: [\w.+-]+)?$"
)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def account_of(text: str) -> list[str]:
    """The e-mail addresses labelled lines or table cells name as the account, in order (lowercase)."""
    if "@" not in text:  # every account is an address
        return []
    found = []
    for field in _pairs(text):
        label = field.label.lower().strip()
        if ACCOUNT_LABEL.match(label) or ACCOUNT_LABEL.match(label.rsplit(" ", 1)[-1]):
            match = _EMAIL.search(field.value)
            if match:
                found.append(match.group(0).lower())
    return found
