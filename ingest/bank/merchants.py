"""Bank labels -> a merchant and, when we know it, the provider slug the inventory uses.

A label is the payment channel, the merchant and noise that changes every
month: "PRLV SEPA NETFLIX INTERNATIONAL B.V. ECH/140326 MDT/...",
"CB SPOTIFY P2F3A4 14/03", "PAYPAL *SPOTIFY", "FACTURE CARTE DU 140326 NETFLIX.COM
CARTE 4974XXXXXXXX1234". Grouping by merchant needs the noise gone (dates, card
numbers, SEPA references, payment references) and the channel dropped; a known
merchant also gets its provider slug(s), from the `[bank]` labels of the provider
files (`extractors.registry`). A label can name several providers (Apple bills
iCloud and Apple One the same way): reconciliation picks by amount.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from extractors.registry import BankLabel, registry


@dataclass(frozen=True)
class Merchant:
    name: str  # grouping key and display name
    providers: tuple[str, ...] = ()  # candidate slugs, most likely first
    via: str | None = None  # payment intermediary (paypal, ...) when the label shows one

    @property
    def provider(self) -> str | None:
        """The slug when the label names exactly one provider."""
        return self.providers[0] if len(self.providers) == 1 else None


# Payment channel words at the start of a label (French and English banks).
_CHANNEL = re.compile(
    r"^(?:(?:PRLV|PRELEVEMENT|PRELEV|PRLVT)(?: SEPA)?(?: EUROPEEN)?|ECHEANCE PRET|"
    r"(?:PAIEMENT|PAIE|ACHAT)(?: PAR)?(?: CARTE| CB)?|FACTURE CARTE(?: DU \d{6})?|CARTE|CB\*?\d*|"
    r"VIR(?:EMENT)?(?: SEPA)?(?: RECU| EMIS| PERMANENT| INST)?|DD|DIRECT DEBIT|CARD PAYMENT(?: TO)?|"
    r"POS|VISA|DEBIT CARD|CONTACTLESS|TPE)\b[ :*-]*"
)
# Intermediaries that put the real merchant after a star: PAYPAL *SPOTIFY, SUMUP *CAFE.
# Google Play puts the app after the star too: GOOGLE *Duolingo.
_VIA = re.compile(
    r"^(PAYPAL|GOOGLE|SUMUP|SQ|ZTL|STRIPE|LYDIA|IZETTLE|PAYPLUG)\b(?: EUROPE[A-Z .]*?)?\s*\*\s*"
)
# SEPA direct-debit fields that follow the creditor's name.
_SEPA_TAIL = re.compile(r"\b(ECH|ID EMETTEUR|MDT|REF|LIB|RUM|ICS|NPY|IDE|MOTIF|DE)[/:].*$")
_CARD_NO = re.compile(r"\bCARTE \S*\d{4}\b|\bX{2,}\d{2,4}\b|\b\d{4,}X+\d*\b|\bX\d{4}\b|\*\d{4}\b")
_DATE = re.compile(r"\b\d{1,2}[/.]\d{1,2}(?:[/.]\d{2,4})?\b|\b\d{6}\b(?= |$)")
_LEGAL = re.compile(
    r"\b(S\.?A\.?S?|SARL|S\.?C\.?A|B\.?V|LTD|LIMITED|INC|GMBH|LLC|SE|ET CIE|INTERNATIONAL|EUROPE|"
    r"FRANCE|FR|CLIENTS? PARTICULIERS?|PAYMENTS?|SERVICES)\b\.?"
)


def _ascii_upper(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()


def _is_reference(token: str) -> bool:
    """P2F3A4, 8X2Y9, 123456: tokens that mix digits in, which change from one month to the next."""
    bare = token.strip("*#.-/")
    return bool(bare) and any(c.isdigit() for c in bare) and not re.fullmatch(r"\d{1,3}", bare)


def clean(label: str) -> tuple[str, str | None]:
    """The merchant part of a label (upper-case ASCII, noise removed) and the intermediary, if any."""
    text = re.sub(r"\s+", " ", _ascii_upper(label)).strip()
    previous = None
    while previous != text:  # "CB CARTE X1234 ..." has several channel words
        previous = text
        text = _CHANNEL.sub("", text).strip()
    via = None
    if m := _VIA.match(text):
        via, text = m[1].lower(), text[m.end() :]
    elif text.startswith("PAYPAL"):  # "PAYPAL EUROPE S.A.R.L. ET CIE S.C.A": the merchant is not shown
        return "PAYPAL", "paypal"
    text = _SEPA_TAIL.sub("", text)
    text = re.sub(r"\bG\.CO/\S*|\bHTTPS?://\S*", " ", text)  # Google's "g.co/helppay#", links
    text = _CARD_NO.sub(" ", text)
    text = _DATE.sub(" ", text)
    text = re.sub(r"\*\S*", " ", text)  # AMAZON PRIME FR*2X3Y4, DROPBOX*ABC123
    tokens = [t for t in re.split(r"\s+", text) if t and not _is_reference(t)]
    text = " ".join(tokens)
    text = re.sub(r"(\w)\.(COM|FR|NET|IO|CO\.UK|DE)\b(/\S*)?", r"\1", text)  # NETFLIX.COM -> NETFLIX
    text = _LEGAL.sub(" ", text)
    text = re.sub(r"[^A-Z0-9+&' ]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    return text or _ascii_upper(label).strip(), via


def slugs_by_name() -> dict[str, tuple[str, ...]]:
    """Known merchant name -> its candidate slugs ("Apple" -> icloud, apple-one)."""
    return {label.name: label.providers for label in registry().bank_labels}


def normalise(label: str) -> Merchant:
    """The merchant behind a bank label; known providers get their display name and slugs."""
    return _normalise(label, registry().bank_labels)


@lru_cache(maxsize=65536)
def _normalise(label: str, known: tuple[BankLabel, ...]) -> Merchant:
    upper = re.sub(r"\s+", " ", _ascii_upper(label))
    cleaned, via = clean(label)
    for known_label in known:  # first match wins: services before the stores that bill them
        # the cleaned form first (so "PAYPAL *SPOTIFY" is Spotify), the raw label for names the cleaning cuts
        pattern = known_label.pattern
        if pattern.search(cleaned) or (pattern.search(upper) and not _VIA.search(upper)):
            return Merchant(name=known_label.name, providers=known_label.providers, via=via)
    return Merchant(name=cleaned, via=via)
