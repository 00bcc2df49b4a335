"""Billing periods (ISO-8601 durations) as calendar steps and as a monthly cost.

Shared by the inventory rebuild and the user's corrections, which both need the next
renewal and the monthly amount of a price.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta

_DURATION = re.compile(r"^P(\d+)([DWMY])$")
_PER_MONTH = {"D": 365.25 / 12, "W": 52 / 12, "M": 1.0, "Y": 1 / 12}


def add_period(day: date, period: str | None, times: int = 1) -> date | None:
    """`day` + an ISO-8601 duration (P1W, P4W, P1M, P3M, P1Y); month ends clamp (31 Jan + P1M = 28 Feb)."""
    match = _DURATION.match(period or "")
    if not match:
        return None
    count, unit = int(match.group(1)) * times, match.group(2)
    if unit == "D":
        return day + timedelta(days=count)
    if unit == "W":
        return day + timedelta(weeks=count)
    months = count * (12 if unit == "Y" else 1)
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def monthly_minor(amount_minor: int | None, period: str | None) -> int | None:
    """What a subscription costs per month, for totals: 69,90 €/an -> 583."""
    match = _DURATION.match(period or "")
    if amount_minor is None or not match:
        return None
    per_month = _PER_MONTH[match.group(2)] / int(match.group(1))
    return int(amount_minor * per_month + 0.5)  # half up, as a person rounds (582.5 -> 583)


def per_month(period: str | None) -> float | None:
    """How many charges of `period` fall in an average month (P1Y -> 1/12, P4W -> 1.08...)."""
    match = _DURATION.match(period or "")
    if not match:
        return None
    return _PER_MONTH[match.group(2)] / int(match.group(1))
