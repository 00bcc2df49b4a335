"""`subtrail reprocess`: re-run parsing and every extractor over the stored raw bytes.

What the batch steps built is cleared (each step's `reset`) and rebuilt from the messages
in a stable order through the one loop (`ingest.pipeline.run`), so the result depends only
on the stored evidence and the code: running it twice changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from extractors import Identity
from ingest.pipeline import run
from ingest.pipeline.queue import drain
from ingest.pipeline.steps import STEPS, Step, refresh_derived, reset_derived
from ingest.store import Job, Location, update_processed


@dataclass
class ReprocessSummary:
    messages: int = 0
    errors: int = 0
    seconds: float = 0.0


def reprocess_all(
    db: Database,
    identity: Identity | None = None,
    workers: int | None = None,
    steps: Sequence[Step] = STEPS,
) -> ReprocessSummary:
    identity = identity or Identity()
    started = time.monotonic()
    # Messages the poller stored but did not process yet get their rows first.
    drain(db, identity, workers=workers, steps=steps)
    reset_derived(db, steps)
    tally = run.run_jobs(
        db, _stored_jobs(db), identity, update_processed, steps=steps, workers=workers, copy_keys=False
    )
    refresh_derived(db, steps)
    return ReprocessSummary(tally.messages, tally.errors, time.monotonic() - started)


def _stored_jobs(db: Database) -> Iterator[Job]:
    """Every stored message's bytes, in sha256 order (keyset paging: one page in memory)."""
    last = ""
    while True:
        rows = db.execute(
            "select sha256, raw from raw_messages where sha256 > ? order by sha256 limit ?",
            [last, run.CHUNK_MESSAGES],
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        for sha, raw in rows:
            yield Job(raw, Location(account="", folder=""), sha)
