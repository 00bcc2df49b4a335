"""`build_calendar`: the .ics feed is valid, complete and byte-stable for the same data."""

from __future__ import annotations

import datetime as dt

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
    assert found[f"renewal-{netflix}-2026-03-11@subtrail"] == "Renewal: Netflix (Standard) — 13.49 EUR"
    assert any(s.startswith("Trial ends: Spotify (Premium)") for s in found.values())
    assert any(s.startswith("Service ends: Canal+") for s in found.values())
    assert sum(s.startswith("Promise due: canal-plus") for s in found.values()) == 2
    renewal = next(
        e for e in Calendar.from_ical(build_calendar(db)).walk("VEVENT") if "Netflix" in e["SUMMARY"]
    )
    assert renewal.decoded("DTSTART") == dt.date(2026, 3, 11)
    assert renewal.walk("VALARM")[0].decoded("TRIGGER") == dt.timedelta(days=-3)


def test_same_data_same_bytes_and_uids_survive_new_rows(db: Database) -> None:
    seed(db, today=dt.date(2026, 3, 1))
    first = build_calendar(db)
    assert build_calendar(db) == first
    db["subscriptions"].insert({"provider": "zzz", "status": "active", "next_renewal_on": "2026-01-01"})
    db["subscriptions"].insert({"provider": "bad", "status": "active", "next_renewal_on": "not a date"})
    after = events(build_calendar(db))
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
