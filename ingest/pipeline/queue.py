"""Drain `parse_queue`: parse, extract and index messages whose raw bytes are already stored.

The poller stores what it downloads raw first (`store.save_raw_batch`), so the evidence is
safe at the pace of the network, like a mail mirror; this second step turns it into message
rows, search index entries and subscription/support facts. It runs right after each poll
pass, and again at the start of the next one if a crash or a stop left work behind.
The messages go through the one loop (`ingest.pipeline.run`); each chunk's rows and the
removal of its queue entries share one transaction: a crash mid-way redoes at most that
chunk, and never stores a message twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from extractors import Identity
from ingest.pipeline import run
from ingest.pipeline.steps import STEPS, Step
from ingest.store import Job, Location, Prepared, Written, now_iso, store_parsed

# Messages per transaction: the poller's download batch (`imap.sync.BATCH_MESSAGES`), so the
# queue drains in the whole batches it was filled with.
CHUNK = 250
POOL_THRESHOLD = 300  # fewer queued messages than this are parsed in-process (no pool start-up cost)

# One drain at a time in this process: the daemon's account threads share one queue.
_DRAINING = threading.Lock()


@dataclass
class DrainSummary:
    messages: int = 0
    errors: int = 0  # messages with a parse or extractor problem
    seconds: float = 0.0
    stopped: bool = False


def queued_count(db: Database) -> int:
    return int(db.execute("select count(*) from parse_queue").fetchone()[0])


def drain(
    db: Database,
    identity: Identity,
    *,
    workers: int | None = None,
    stop: threading.Event | None = None,
    progress: bool | None = None,
    steps: Sequence[Step] = STEPS,
) -> DrainSummary:
    """Process every queued message, oldest first; stops between chunks when `stop` is set.
    The cross-message rebuild is the caller's (`steps.refresh_derived`)."""
    summary = DrainSummary()
    total = queued_count(db)
    if not total or (stop is not None and stop.is_set()):
        summary.stopped = bool(total)
        return summary
    started = time.monotonic()
    with _DRAINING:
        pool_size = workers if total >= POOL_THRESHOLD else 1

        def describe(tally: run.Tally, rate: float) -> str:
            return f"processing: {tally.messages}/{total} messages, {rate:,.0f} msg/s"

        tally = run.run_jobs(
            db, _queued_jobs(db), identity, _store_and_dequeue, steps=steps, workers=pool_size,
            chunk_messages=CHUNK, stop=stop, describe=describe, progress=progress,
        )  # fmt: skip
    summary.messages, summary.errors, summary.stopped = tally.messages, tally.errors, tally.stopped
    summary.seconds = time.monotonic() - started
    return summary


def _store_and_dequeue(db: Database, prepared: list[Prepared]) -> Written:
    """A processed chunk's rows, and its queue entries gone, in the loop's one transaction."""
    errors = store_parsed(db, prepared, now_iso())
    db.conn.executemany("delete from parse_queue where sha256 = ?", ((p.parsed.sha256,) for p in prepared))
    return Written(prepared, 0, errors)


def _queued_jobs(db: Database) -> Iterator[Job]:
    """(raw, where it was first seen, sha256) of each queued message, in queue order. Keyset paging
    on the queue's rowid: the pool works one chunk ahead, so the next chunk is read before this
    one is deleted."""
    last = 0
    while True:
        rows = db.execute(
            """select q.rowid, q.sha256, r.raw, l.account, l.folder, l.path
               from parse_queue q
               join raw_messages r on r.sha256 = q.sha256
               left join message_locations l on l.id =
                   (select min(id) from message_locations where sha256 = q.sha256)
               where q.rowid > ? order by q.rowid limit ?""",
            [last, CHUNK],
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        for _, sha, raw, account, folder, path in rows:
            yield Job(raw, Location(account=account or "", folder=folder or "", path=path), sha)
