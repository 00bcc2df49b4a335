"""A promise done after its due date is `kept_late` with `kept_on` (CONTRACT: promises.status), not `kept`."""

from __future__ import annotations

from datetime import date

import pytest
from sqlite_utils import Database

from ingest.derived.journal import add_note, rebuild_journal
from ingest.outputs.calendar import build_calendar
from ingest.outputs.humanize import Humanizer

TODAY = date(2026, 3, 20)


def _case(db: Database, promised_at: str, due_on: str, done_at: str) -> dict:
    """A promise by phone, then the provider's note confirming the refund was made."""
    add_note(
        db,
        provider="free-mobile",
        channel="phone",
        at=promised_at,
        agent="Julie",
        text="Le conseiller s'engage à rembourser le double prélèvement.",
        promise="Remboursement de 13,49 € sous 3 jours ouvrés",
        due_on=due_on,
    )
    add_note(
        db, provider="free-mobile", channel="phone", at=done_at, agent="Marc",
        text="Le remboursement a été effectué.",
    )  # fmt: skip
    rebuild_journal(db, TODAY)
    return dict(next(db.query("select status, due_on, kept_on from promises")))


def test_promise_kept_after_its_due_date_is_kept_late(db: Database) -> None:
    promise = _case(db, "2026-03-02T09:00:00+00:00", "2026-03-05", "2026-03-12T10:00:00+00:00")
    assert promise == {"status": "kept_late", "due_on": "2026-03-05", "kept_on": "2026-03-12"}


def test_promise_kept_by_its_due_date_is_kept(db: Database) -> None:
    promise = _case(db, "2026-03-02T09:00:00+00:00", "2026-03-05", "2026-03-05T10:00:00+00:00")
    assert promise == {"status": "kept", "due_on": "2026-03-05", "kept_on": "2026-03-05"}


def test_a_confirmation_the_day_after_reports_a_promise_kept_on_time(db: Database) -> None:
    promise = _case(db, "2026-03-02T09:00:00+00:00", "2026-03-05", "2026-03-06T08:00:00+00:00")
    assert promise == {"status": "kept", "due_on": "2026-03-05", "kept_on": "2026-03-06"}


def test_a_promise_kept_late_is_no_reminder_in_the_calendar(db: Database) -> None:
    _case(db, "2026-03-02T09:00:00+00:00", "2026-03-05", "2026-03-12T10:00:00+00:00")
    assert b"Promise due" not in build_calendar(db)


@pytest.mark.parametrize(("language", "label"), [("en", "kept late"), ("fr", "tenue en retard")])
def test_kept_late_reads_as_words(language: str, label: str) -> None:
    assert Humanizer(language=language).promise_status("kept_late") == label
