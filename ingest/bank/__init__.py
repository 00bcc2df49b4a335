"""Bank statements: import (CSV, OFX), merchant labels, recurring charges, reconciliation.

A bank statement misses no subscription: mail does (receipts turned off, paper
bills, old addresses). The readers here are pure functions of a file that
return `Transaction`s; `store.save_statement` writes them idempotently (each line once, when
one account is exported in two formats too; `accounts` tells which files are one account) and
`reconcile.refresh` (a pipeline deriver) rebuilds `recurring_charges` and
links them to the mail-derived inventory.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace


class BankError(Exception):
    """A statement that cannot be read as a whole (unknown format, no table found, bad --columns)."""


@dataclass(frozen=True)
class Transaction:
    """One statement line. `key` identifies it across overlapping statements (see `content_keys`)."""

    account: str
    booked_on: str  # YYYY-MM-DD
    label: str
    amount_minor: int  # negative = debit
    currency: str
    source: str
    key: str = ""
    fitid: str | None = None
    line: int | None = None
    account_number: str | None = None  # as the file gives it (IBAN, ACCTID): what identifies the account


def clean_label(label: str) -> str:
    """Collapse whitespace (CSV exports wrap long labels over several lines)."""
    return re.sub(r"\s+", " ", label).strip()


def content_keys(txns: Iterable[Transaction], prefix: str) -> list[Transaction]:
    """Give each line a key from its content plus its rank among identical lines of the same day.

    Two coffees at the same price on the same day are two transactions, so the
    content alone is not enough; the rank is. A statement that overlaps an
    earlier one repeats whole days, so the same line gets the same key again.
    """
    seen: Counter[tuple[str, str, int, str, str]] = Counter()
    out = []
    for t in txns:
        ident = (t.account, t.booked_on, t.amount_minor, t.currency, t.label.upper())
        seen[ident] += 1
        key = f"{prefix}|{t.account}|{t.booked_on}|{t.amount_minor}|{t.currency}|{t.label.upper()}|{seen[ident]}"
        out.append(replace(t, key=key))
    return out
