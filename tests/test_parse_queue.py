"""Raw bytes first, processing after: `store.save_raw_batch` and `parse_queue.drain`.

The poller stores what it downloads raw (with its checkpoint) and processes it in a second
step; these tests hold the two steps to what a one-step store guaranteed: every message
processed exactly once, problems recorded, derived facts built, nothing lost on a failure.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlite_utils import Database

from extractors import Identity
from extractors.mail.parse import sha256_of
from ingest.outputs.status import build_status, render_status
from ingest.pipeline import queue as parse_queue
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from ingest.store import Job, Location, save_raw_batch
from ingest.store.schema import open_db
from ingest.store.verify import verify_store
from tests.conftest import FIXTURES, SAMPLE

INBOX = SAMPLE / "mailbox" / "inbox"
ME = Identity(frozenset({"alice.martin@example.org"}))


def imap(uid: int, folder: str = "INBOX") -> Location:
    return Location(account="acct", folder=folder, uidvalidity=7, uid=uid)


def sample_jobs() -> list[Job]:
    return [Job(path.read_bytes(), imap(uid)) for uid, path in enumerate(sorted(INBOX.glob("*.eml")), 1)]


def test_raw_batch_stores_bytes_locations_and_queue_with_the_checkpoint(db: Database) -> None:
    raw = (INBOX / "sub-netflix-fr-receipt-nov.eml").read_bytes()
    marks: list[int] = []
    saved = save_raw_batch(
        db,
        [Job(raw, imap(1)), Job(raw, imap(2)), Job(raw, imap(5, "Archive"))],  # the same bytes three times
        checkpoint=lambda d: marks.append(d["parse_queue"].count),
    )
    assert (saved.new, saved.duplicates, saved.new_shas) == (1, 2, [sha256_of(raw)])
    assert marks == [1]  # the checkpoint ran inside the transaction, after the queue row
    assert db.execute("select raw from raw_messages").fetchone()[0] == raw
    assert db["message_locations"].count == 3 and db["parse_queue"].count == 1
    assert db["messages"].count == 0  # not processed yet
    again = save_raw_batch(db, [Job(raw, imap(1))])
    assert (again.new, again.duplicates) == (0, 1)
    assert db["message_locations"].count == 3 and db["parse_queue"].count == 1


def test_a_failing_checkpoint_stores_nothing(db: Database) -> None:
    def broken(_: Database) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_raw_batch(db, sample_jobs()[:3], checkpoint=broken)
    for table in ("raw_messages", "message_locations", "parse_queue"):
        assert db[table].count == 0, table


def test_drain_processes_every_queued_message_once(db: Database) -> None:
    jobs = sample_jobs()
    save_raw_batch(db, jobs)
    done = parse_queue.drain(db, ME)
    assert (done.messages, done.stopped) == (len(jobs), False)
    assert db["parse_queue"].count == 0
    assert db["messages"].count == db["raw_messages"].count == len(jobs)
    row = db.execute(
        "select subject, provider, kind from messages where sha256 = ?",
        [sha256_of((INBOX / "sub-netflix-fr-receipt-nov.eml").read_bytes())],
    ).fetchone()
    assert row[1] == "netflix" and row[2] == "receipt" and row[0]
    events = db["subscription_events"].count
    assert events > 0  # the batch hooks ran on the processed messages
    assert (
        db.execute("select count(*) from messages_fts where messages_fts match 'netflix'").fetchone()[0] > 0
    )
    assert parse_queue.drain(db, ME).messages == 0  # nothing left: a second drain does nothing
    assert (db["messages"].count, db["subscription_events"].count) == (len(jobs), events)
    assert not verify_store(db).problems


def test_drain_in_worker_processes_matches_in_process(db: Database, tmp_path: Path, monkeypatch) -> None:
    jobs = sample_jobs()
    save_raw_batch(db, jobs)
    parse_queue.drain(db, ME, workers=1)
    pooled = open_db(tmp_path / "pooled.db")
    save_raw_batch(pooled, jobs)
    monkeypatch.setattr(parse_queue, "POOL_THRESHOLD", 1)
    monkeypatch.setattr(parse_queue, "CHUNK", 7)  # several chunks, one in flight in the pool
    assert parse_queue.drain(pooled, ME, workers=2).messages == len(jobs)
    columns = "sha256, subject, from_addr, body_text, kind, provider, direction"
    query = f"select {columns} from messages order by sha256"
    assert db.execute(query).fetchall() == pooled.execute(query).fetchall()


def test_problems_are_recorded_with_where_the_message_was_seen(db: Database) -> None:
    raw = (FIXTURES / "hostile" / "mime-malformed.eml").read_bytes()
    save_raw_batch(db, [Job(raw, imap(3))])
    parse_queue.drain(db, ME)
    errors = db.execute(
        "select stage, source from ingest_errors where sha256 = ?", [sha256_of(raw)]
    ).fetchall()
    assert errors and all(source == "INBOX" for _, source in errors)
    assert db["messages"].count == 1  # the message row exists all the same


def test_a_set_stop_leaves_the_queue_for_the_next_run(db: Database) -> None:
    jobs = sample_jobs()
    save_raw_batch(db, jobs)
    stop = threading.Event()
    stop.set()
    done = parse_queue.drain(db, ME, stop=stop)
    assert (done.messages, done.stopped) == (0, True)
    assert db["parse_queue"].count == len(jobs)
    status = render_status(build_status(db))
    assert f"{len(jobs)} stored messages not processed yet" in status
    assert not verify_store(db).problems  # queued is not a defect


def test_a_stop_between_chunks_commits_whole_chunks(db: Database, monkeypatch) -> None:
    jobs = sample_jobs()
    save_raw_batch(db, jobs)
    monkeypatch.setattr(parse_queue, "CHUNK", 5)
    stop = threading.Event()
    original = parse_queue.store_parsed

    def store_then_stop(*args, **kwargs):  # the signal arrives while the first chunk is stored
        stop.set()
        return original(*args, **kwargs)

    monkeypatch.setattr(parse_queue, "store_parsed", store_then_stop)
    done = parse_queue.drain(db, ME, workers=1, stop=stop)
    assert (done.messages, done.stopped) == (5, True)
    assert db["messages"].count == 5 and db["parse_queue"].count == len(jobs) - 5
    assert parse_queue.drain(db, ME).messages == len(jobs) - 5


def test_reprocess_and_verify_know_about_the_queue(db: Database) -> None:
    jobs = sample_jobs()
    save_raw_batch(db, jobs)
    summary = reprocess_all(db, ME, workers=1)
    assert summary.messages == len(jobs)
    assert db["messages"].count == len(jobs) and db["parse_queue"].count == 0
    db.execute("delete from messages where id = (select min(id) from messages)")
    problems = verify_store(db).problems
    assert len(problems) == 1 and "never processed" in problems[0]


def test_import_of_bytes_the_poller_queued_does_not_process_them_twice(db: Database) -> None:
    path = INBOX / "sub-netflix-fr-receipt-nov.eml"
    save_raw_batch(db, [Job(path.read_bytes(), imap(1))])
    import_paths(db, [str(path)], ME, workers=1, progress=False)
    assert db["messages"].count == 0 and db["parse_queue"].count == 1  # the file was a duplicate
    parse_queue.drain(db, ME)
    assert db["messages"].count == 1 and db["message_locations"].count == 2
