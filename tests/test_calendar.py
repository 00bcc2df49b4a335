"""`build_calendar`: the .ics feed is valid, complete and byte-stable for the same data."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlite_utils import Database

from ingest.outputs.calendar import build_calendar, format_money
from tests.serve_helpers import seed


def events(data: bytes) -> dict[str, str]:
    return {str(e["UID"]): str(e["SUMMARY"]) for e in Calendar.from_ical(data).walk("VEVENT")}


def test_empty_database_gives_an_empty_valid_calendar(db: Database) -> None:
    data = build_calendar(db)
    assert Calendar.from_ical(data).walk("VEVENT") == []
    assert b"BEGIN:VCALENDAR" in data and b"PRODID:-//subtrail//" in data


def test_reminders_for_renewals_trials_service_ends_and_promises(db: Database) -> None:
    today = dt.date(2026, 3, 1)
    seed(db, today=today)
    found = events(build_calendar(db))
    netflix = db.execute("select id from subscriptions where provider = 'netflix'").fetchone()[0]
    assert found[f"renewal-{netflix}@subtrail"] == "Renewal: Netflix — €13.49"  # the name `status` says
    assert any(s.startswith("Trial ends: Spotify — ") for s in found.values())
    assert any(s.startswith("Service ends: Canal+") for s in found.values())
    assert sum(s.startswith("Promise due: Canal+") for s in found.values()) == 2  # its name, not its slug
    renewal = next(
        e for e in Calendar.from_ical(build_calendar(db)).walk("VEVENT") if "Netflix" in e["SUMMARY"]
    )
    assert renewal.decoded("DTSTART") == dt.date(2026, 3, 11)
    assert renewal.walk("VALARM")[0].decoded("TRIGGER") == dt.timedelta(days=-3)


def test_same_data_same_bytes_and_uids_survive_new_rows(db: Database) -> None:
    seed(db, today=dt.date(2026, 3, 1))
    first = build_calendar(db, now=NOW)
    assert build_calendar(db, now=NOW) == first
    db["subscriptions"].insert({"provider": "zzz", "status": "active", "next_renewal_on": "2026-01-01"})
    db["subscriptions"].insert({"provider": "bad", "status": "active", "next_renewal_on": "not a date"})
    after = events(build_calendar(db, now=NOW))
    assert set(events(first)) < set(after)  # old UIDs unchanged, one new event, the bad date skipped
    assert len(after) == len(events(first)) + 1


def test_cancelled_subscriptions_do_not_remind_renewals(db: Database) -> None:
    db["subscriptions"].insert(
        {
            "provider": "x",
            "status": "cancelled",
            "next_renewal_on": "2026-05-01",
            "trial_ends_on": "2026-04-01",
        }
    )
    assert events(build_calendar(db)) == {}


def test_format_money() -> None:
    assert format_money(1349, "EUR") == "13.49 EUR"
    assert format_money(1200, "JPY") == "1200 JPY"
    assert format_money(1234, "KWD") == "1.234 KWD"
    assert format_money(None, "EUR") == ""


# --- renewals recur, the export is stamped, promises remind, names once ---------------------------------

NOW = dt.datetime(2026, 3, 1, 10, 2, 33, tzinfo=dt.UTC)


def _vevents(db: Database) -> dict[str, Any]:
    return {str(e["UID"]): e for e in Calendar.from_ical(build_calendar(db, now=NOW)).walk("VEVENT")}


def _renewal(db: Database, **row: Any) -> Any:
    sub_id = db["subscriptions"].insert({"status": "active", **row}).last_pk
    return _vevents(db).get(f"renewal-{sub_id}@subtrail")


def _occurrences(event: Any, count: int) -> list[dt.date]:
    """The series a calendar client shows, expanded from the parsed-back RRULE by dateutil."""
    start = event.decoded("DTSTART")
    rule = rrulestr(event["RRULE"].to_ical().decode(), dtstart=dt.datetime.combine(start, dt.time()))
    return [d.date() for d in rule[:count]] if count else [d.date() for d in rule]


@pytest.mark.parametrize(
    ("period", "rrule", "second"),
    [
        ("P1M", {"FREQ": ["MONTHLY"], "INTERVAL": [1]}, dt.date(2026, 4, 10)),
        ("P3M", {"FREQ": ["MONTHLY"], "INTERVAL": [3]}, dt.date(2026, 6, 10)),
        ("P1Y", {"FREQ": ["YEARLY"], "INTERVAL": [1]}, dt.date(2027, 3, 10)),
        ("P1W", {"FREQ": ["WEEKLY"], "INTERVAL": [1]}, dt.date(2026, 3, 17)),
        ("P4W", {"FREQ": ["WEEKLY"], "INTERVAL": [4]}, dt.date(2026, 4, 7)),
    ],
)
def test_renewals_recur_by_the_billing_period(
    db: Database, period: str, rrule: dict, second: dt.date
) -> None:
    event = _renewal(db, provider="netflix", billing_period=period, next_renewal_on="2026-03-10")
    assert {k: v for k, v in event["RRULE"].items() if k in ("FREQ", "INTERVAL")} == rrule
    assert _occurrences(event, 2) == [dt.date(2026, 3, 10), second]
    assert "UNTIL" not in event["RRULE"]


def test_month_end_renewals_fall_on_the_last_day_as_the_inventory_projects(db: Database) -> None:
    event = _renewal(db, provider="netflix", billing_period="P1M", next_renewal_on="2026-01-31")
    assert _occurrences(event, 4) == [
        dt.date(2026, 1, 31), dt.date(2026, 2, 28), dt.date(2026, 3, 31), dt.date(2026, 4, 30),
    ]  # fmt: skip


def test_a_renewal_series_stops_at_the_end_of_the_subscription(db: Database) -> None:
    event = _renewal(
        db, provider="edf", billing_period="P1M", next_renewal_on="2026-03-10", ends_on="2026-06-30"
    )
    assert event["RRULE"]["UNTIL"] == [dt.date(2026, 6, 30)]
    assert _occurrences(event, 0) == [dt.date(2026, m, 10) for m in (3, 4, 5, 6)]


def test_an_unreadable_period_is_one_renewal(db: Database) -> None:
    event = _renewal(db, provider="x", billing_period=None, next_renewal_on="2026-03-10")
    assert "RRULE" not in event and event.decoded("DTSTART") == dt.date(2026, 3, 10)


def test_old_evidence_gets_no_renewal(db: Database) -> None:
    for status in ("unknown", "expired", "cancelled"):
        db["subscriptions"].insert({"provider": f"old-{status}", "status": status, "billing_period": "P1M",
                                    "next_renewal_on": "2026-04-01"})  # fmt: skip
    assert not [uid for uid in _vevents(db) if uid.startswith("renewal-")]


def test_dtstamp_is_the_export_time(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(db, today=dt.date(2026, 3, 1))
    stamps = {e.decoded("DTSTAMP") for e in _vevents(db).values()}
    assert stamps == {NOW}
    monkeypatch.setenv("SUBTRAIL_TODAY", "2026-03-05")  # pinned, as tests and benchmarks do
    pinned = {e.decoded("DTSTAMP") for e in Calendar.from_ical(build_calendar(db)).walk("VEVENT")}
    assert pinned == {dt.datetime(2026, 3, 5, tzinfo=dt.UTC)}


def test_promise_due_dates_carry_a_reminder(db: Database) -> None:
    seed(db, today=dt.date(2026, 3, 1))
    promises = [e for e in _vevents(db).values() if str(e["SUMMARY"]).startswith("Promise due")]
    assert promises
    for event in promises:
        [alarm] = event.walk("VALARM")
        assert alarm.decoded("TRIGGER") == dt.timedelta(hours=9)  # the morning of the due day
        assert str(alarm["ACTION"]) == "DISPLAY"


@pytest.mark.parametrize(
    ("provider_name", "service", "plan", "label"),
    [
        ("OpenAI (ChatGPT Plus)", "ChatGPT", "ChatGPT Plus", "ChatGPT"),
        ("OpenAI (ChatGPT Plus)", "ChatGPT", None, "ChatGPT"),
        ("Deezer", "Deezer", "Deezer Premium", "Deezer"),
        ("Netflix", "Netflix", "Standard", "Netflix"),
        ("Le Monde", None, "Le Monde Intégral", "Le Monde"),
    ],
)
def test_the_summary_names_it_as_status_does_and_the_plan_is_in_the_description(
    db: Database, provider_name: str | None, service: str | None, plan: str | None, label: str
) -> None:
    db["providers"].insert({"slug": "p", "name": provider_name})
    event = _renewal(db, provider="p", service_name=service, plan=plan, amount_minor=2000, currency="USD",
                     billing_period="P1M", next_renewal_on="2026-03-10")  # fmt: skip
    assert str(event["SUMMARY"]) == f"Renewal: {label} — ${20:.2f}"
    assert str(event["DESCRIPTION"]).startswith(f"{label} renews")
    assert (f"\nPlan: {plan}" in str(event["DESCRIPTION"])) == bool(plan)
