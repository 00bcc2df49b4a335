"""One currency for totals: what a foreign-currency subscription costs in the main currency.

Order of preference, never a silent 1:1:
1. the bank debit matched to the subscription (`recurring_charges.subscription_id`) when it
   is in the main currency — what the user really pays, card fees included;
2. the ECB euro reference rates, from the rates file shipped with subtrail
   (`data/eurofxref.csv`, the ECB's own CSV format, its date shown beside every total);
3. otherwise "not converted": left out of the total, and the page says so.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from ingest.outputs.humanize import decimal_to_minor, minor_to_decimal

RATES_FILE = Path(__file__).resolve().parent / "data" / "eurofxref.csv"


@dataclass(frozen=True)
class Rates:
    """ECB reference rates: units of each currency for one euro, as published on `day`."""

    day: date
    per_euro: dict[str, Decimal]

    def convert(self, amount_minor: int, source: str, target: str) -> int | None:
        """`amount_minor` in `source` expressed in `target` (through the euro), or None if a rate is missing."""
        if source == target:
            return amount_minor
        per_euro = {**self.per_euro, "EUR": Decimal(1)}
        if source not in per_euro or target not in per_euro:
            return None
        euros = minor_to_decimal(amount_minor, source) / per_euro[source]
        return decimal_to_minor(euros * per_euro[target], target)


def parse_ecb_csv(text: str) -> Rates:
    """The ECB's `eurofxref.csv`: a header `Date, USD, JPY, ...` and one line `30 October 2026, 1.1172, ...`."""
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines()) if row]
    header, values = rows[0], rows[1]
    day = datetime.strptime(values[0], "%d %B %Y").date()
    per_euro = {
        code: Decimal(value)
        for code, value in zip(header[1:], values[1:], strict=False)
        if code and value and value != "N/A"
    }
    return Rates(day=day, per_euro=per_euro)


@functools.cache
def shipped_rates(path: Path = RATES_FILE) -> Rates | None:
    try:
        return parse_ecb_csv(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Converted:
    """An amount in the main currency and how it was obtained: `same`, `bank`, `ecb` or `none`."""

    amount_minor: int | None
    how: str
    rate_day: date | None = None


def to_main(
    amount_minor: int | None,
    currency: str | None,
    main: str,
    bank_amount_minor: int | None = None,
    bank_currency: str | None = None,
    rates: Rates | None = None,
) -> Converted:
    if amount_minor is None or not currency:
        return Converted(None, "none")
    if currency == main:
        return Converted(amount_minor, "same")
    if bank_amount_minor is not None and bank_currency == main:
        return Converted(abs(bank_amount_minor), "bank")
    if rates is not None and (value := rates.convert(amount_minor, currency, main)) is not None:
        return Converted(value, "ecb", rates.day)
    return Converted(None, "none")
