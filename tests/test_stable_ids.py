"""Ids that stay put (issue #14, defect 4): a note or a mail dated earlier than every ticket used to
renumber them all (ticket #3 became #4), so printed ids and `ticket_timeline?ticket=` links moved."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.derived.journal import add_note
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from ingest.pipeline.steps import refresh_derived
from tests.conftest import SAMPLE
from tests.test_inventory import IDENTITY


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBTRAIL_TODAY", "2026-11-26")


def _ticket_members(db: Database) -> dict[int, set[str]]:
    members: dict[int, set[str]] = {}
    for ticket_id, sha, note_id in db.execute(
        "select ticket_id, message_sha256, manual_note_id from ticket_messages"
    ):
        members.setdefault(ticket_id, set()).add(sha or f"note:{note_id}")
    return members


def _subscription_ids(db: Database) -> dict[str, int]:
    return dict(db.execute("select natural_key, id from subscriptions").fetchall())


def _older_mail(tmp_path: Path) -> Path:
    """A support mail of mine sent years before the sample: it opens the oldest ticket of all."""
    raw = (
        b"From: Alice Martin <alice.martin@example.org>\nTo: support@spotify.com\n"
        b"Date: Mon, 06 Jan 2020 09:00:00 +0100\nSubject: Question about my invoice\n"
        b"Message-ID: <older-1@example.org>\nContent-Type: text/plain; charset=utf-8\n\n"
        b"Hello,\n\nI was charged twice for my Spotify Premium subscription, please refund one charge.\n\nAlice\n"
    )
    path = tmp_path / "older" / "older.eml"
    path.parent.mkdir()
    path.write_bytes(raw)
    return path.parent


def test_older_mail_and_notes_leave_every_id_in_place(db: Database, tmp_path: Path) -> None:
    import_paths(db, [str(SAMPLE / "mailbox")], IDENTITY, workers=1, progress=False)
    tickets, subscriptions = _ticket_members(db), _subscription_ids(db)
    assert len(tickets) >= 2

    add_note(db, provider="free", channel="phone", at="2019-03-01T10:00:00+00:00",
             text="Appel au service client : question sur ma facture.")  # fmt: skip
    import_paths(db, [str(_older_mail(tmp_path))], IDENTITY, workers=1, progress=False)
    refresh_derived(db)
    reprocess_all(db, IDENTITY, workers=1)

    after = _ticket_members(db)
    assert len(after) == len(tickets) + 2  # the older mail and the note each opened a ticket
    for ticket_id, members in tickets.items():
        assert members <= after[ticket_id], f"ticket {ticket_id} moved"
    assert {k: v for k, v in _subscription_ids(db).items() if k in subscriptions} == subscriptions
    assert max(after) == max(tickets) + 2  # the new tickets got new ids, none reused
