"""Old evidence (issue #14, defect 9): a subscription whose newest mail is older than two billing
periods (13 months for yearly) with no end seen is `unknown` with `last_seen_on`, never projected
forward into a renewal "next month"."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from ingest.derived.inventory import fold
from ingest.store import today

AS_OF = date(2026, 11, 26)


def charge(on: str, period: str = "P1M", **extra: Any) -> dict[str, Any]:
    event = dict.fromkeys(
        ("service_name", "plan", "platform", "currency", "next_renewal_on", "trial_ends_on", "ends_on")
    )
    event.update(event_type="charge", occurred_on=on, message_date=f"{on}T09:00:00+00:00",
                 billing_period=period, amount_minor=999, currency="EUR")  # fmt: skip
    event.update(extra)
    return event


def test_a_2023_charge_alone_is_unknown_not_renewing_next_month() -> None:
    row = fold([charge("2023-03-14")], AS_OF)
    assert (row["status"], row["last_seen_on"], row["next_renewal_on"]) == ("unknown", "2023-03-14", None)


@pytest.mark.parametrize(
    ("last", "period", "status"),
    [
        ("2026-10-01", "P1M", "active"),  # one period ago: the next charge is simply due
        ("2026-09-27", "P1M", "active"),  # just under two periods
        ("2026-09-25", "P1M", "unknown"),  # two monthly periods and more without news
        ("2025-11-01", "P1Y", "active"),  # yearly: under 13 months
        ("2025-10-20", "P1Y", "unknown"),  # yearly: over 13 months
    ],
)
def test_stale_after_two_periods_or_thirteen_months(last: str, period: str, status: str) -> None:
    row = fold([charge(last, period)], AS_OF)
    assert row["status"] == status
    if status == "unknown":
        assert row["next_renewal_on"] is None and row["last_seen_on"] == last
    else:
        assert row["next_renewal_on"] >= AS_OF.isoformat()


def test_an_end_seen_is_not_unknown() -> None:
    cancelled = charge("2023-03-14", event_type="cancellation_confirmed", ends_on="2023-04-14")
    assert fold([charge("2023-02-14"), cancelled], AS_OF)["status"] == "expired"


def test_today_is_pinned_by_subtrail_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBTRAIL_TODAY", "2031-02-03")
    assert today() == date(2031, 2, 3)
    monkeypatch.delenv("SUBTRAIL_TODAY")
    assert today() == date.today()
