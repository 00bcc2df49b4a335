"""Which statements are of the same bank account: by the number each file gives for it.

Formats name an account differently: a CSV export prints the IBAN above its table (in groups of
four), an OFX file gives BANKID, BRANCHID and ACCTID (the domestic account number, with or
without its RIB key, sometimes without leading zeros). The IBAN holds all of those (its BBAN
is bank code, branch code, account number and key for France), so a number that appears whole
in a valid IBAN's BBAN is that account. Names given on import (`--account courant`) are the
user's; the numbers are what tell two files of one account apart from two accounts.
"""

from __future__ import annotations

import re

_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}")
MIN_SIGNIFICANT = 6  # fewer digits (a card's last four, a branch code) identify no account


def compact(number: str) -> str:
    """`FR76 3000 3012 ...`, `000-5012-3456` -> upper-case letters and digits only."""
    return re.sub(r"[^0-9A-Z]", "", number.upper())


def is_iban(number: str) -> bool:
    """A well-formed IBAN whose check digits hold (ISO 13616, mod 97)."""
    number = compact(number)
    if not _IBAN.fullmatch(number):
        return False
    moved = number[4:] + number[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _significant(number: str) -> str:
    return number.lstrip("0") if number.isdigit() else number


def same_account(a: str | None, b: str | None) -> bool:
    """Whether two account numbers (IBAN, domestic number, or a name) name the same account."""
    a, b = compact(a or ""), compact(b or "")
    if not a or not b:
        return False
    if a == b:
        return True
    a_iban, b_iban = is_iban(a), is_iban(b)
    if a_iban and b_iban:
        return False  # two IBANs differ (their check digits even tell a mistyped one)
    if a_iban or b_iban:
        iban, other = (a, b) if a_iban else (b, a)
        number = _significant(other)
        return len(number) >= MIN_SIGNIFICANT and number in iban[4:]
    if a.isdigit() and b.isdigit():
        return _significant(a) == _significant(b) and len(_significant(a)) >= MIN_SIGNIFICANT
    return False
