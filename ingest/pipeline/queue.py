"""Drain `parse_queue`: parse, extract and index messages whose raw bytes are already stored.

The poller stores what it downloads raw first (`store.save_raw_batch`), so the evidence is
safe at the pace of the network, like a mail mirror; this second step turns it into message
rows, search index entries and subscription/support facts. It runs right after each poll
pass, and again at the start of the next one if a crash or a stop left work behind.
Each chunk's rows and the removal of its queue entries share one transaction: a crash
mid-way redoes at most that chunk, and never stores a message twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from sqlite_utils import Database

from extractors import Identity
from ingest import pipeline
from ingest.pipeline.pool import prepare_chunks
from ingest.pipeline.progress import ProgressLine
from ingest.store import Job, Location, now_iso, store_parsed

CHUNK = 250  # messages per transaction
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
) -> DrainSummary:
    """Process every queued message, oldest first; stops between chunks when `stop` is set."""
    summary = DrainSummary()
    total = queued_count(db)
    if not total or (stop is not None and stop.is_set()):
        summary.stopped = bool(total)
        return summary
    started = time.monotonic()
    with _DRAINING:
        pool_size = workers if total >= POOL_THRESHOLD else 1
        if pool_size != 1:
            _warm_up(identity)
        line = ProgressLine(progress)
        try:
            for prepared in prepare_chunks(_queued_jobs(db), identity, pool_size):
                with db.atomic():
                    summary.errors += store_parsed(db, prepared, now_iso(), pipeline.on_new)
                    db.conn.executemany(
                        "delete from parse_queue where sha256 = ?", ((p.parsed.sha256,) for p in prepared)
                    )
                summary.messages += len(prepared)
                line.write(
                    f"processing: {summary.messages}/{total} messages, {line.rate(summary.messages):,.0f} msg/s"
                )
                if stop is not None and stop.is_set():
                    summary.stopped = True
                    break
        finally:
            line.close()
    summary.seconds = time.monotonic() - started
    return summary


def _queued_jobs(db: Database) -> Iterator[list[Job]]:
    """Chunks of (raw, where it was first seen, sha256), in queue order. Keyset paging on the queue's
    rowid: the pool works one chunk ahead, so the next chunk is read before this one is deleted."""
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
        yield [
            Job(raw, Location(account=account or "", folder=folder or "", path=path), sha)
            for _, sha, raw, account, folder, path in rows
        ]


_WARM_MESSAGE = (
    b"From: Billing <billing@netflix.com>\r\nTo: me@example.org\r\nSubject: Your receipt\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <warm-up@subtrail>\r\n\r\n"
    b"Thank you for your payment of 13,49 EUR.\r\n"
)


@lru_cache(maxsize=1)
def _warm_up(identity: Identity) -> None:
    """Run the extractors once in this process before the parser pool forks, so the data they
    load lazily (provider registry, compiled patterns) is shared by the workers, not copied
    into each: about 20 MB less at peak with two workers (bench/bench_imap.py)."""
    pipeline.prepare(_WARM_MESSAGE, Location(account="", folder=""), identity)
