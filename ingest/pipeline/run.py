"""The one loop every message goes through: parse in the pool -> store -> batch steps.

`subtrail import`, the parse queue's drain and `subtrail reprocess` differ only in where
the raw bytes come from and how a prepared chunk is written (`Write`); the rest is here.
Jobs are cut into chunks bounded in count and bytes, so memory stays flat whatever the
size of the input; the pool parses the next chunk while this one is written; each chunk's
write and its batch steps share one transaction, so a crash or a stop redoes at most
that chunk and never stores a message twice. The cross-message rebuild
(`steps.refresh_derived`) is the caller's: the poller decides when to run it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from extractors import Identity
from ingest.pipeline.pool import KnownFilter, prepare_chunks
from ingest.pipeline.progress import ProgressLine
from ingest.pipeline.steps import STEPS, Step, on_new
from ingest.store import Job, Prepared, Written

# One transaction per chunk, of at most this many messages unless the caller says otherwise
# (the parse queue drains in the poller's download batches), and at most this many bytes.
CHUNK_MESSAGES = 400
CHUNK_BYTES = 32 * 1024 * 1024
# The writer's SQLite page cache while the loop runs (`_chunk_sized_memory`), in KiB.
CHUNK_PAGE_CACHE_KB = 16 * 1024

Write = Callable[[Database, list[Prepared]], Written]


@dataclass
class Tally:
    """What a run did so far; the progress line and the callers' summaries read it."""

    messages: int = 0  # prepared and written
    new: int = 0  # of which new to the store
    duplicates: int = 0
    errors: int = 0  # messages with a parse or extractor problem
    stopped: bool = False  # `stop` was set: the rest is left for the next run
    seconds: float = 0.0


Describe = Callable[[Tally, float], str]  # (tally, messages per second) -> the progress line's text


def chunked(jobs: Iterable[Job], messages: int | None = None) -> Iterator[list[Job]]:
    """Consecutive chunks of at most `messages` (default CHUNK_MESSAGES) jobs or CHUNK_BYTES raw
    bytes (a bigger message is a chunk of its own)."""
    messages = messages or CHUNK_MESSAGES
    chunk: list[Job] = []
    size = 0
    for job in jobs:
        chunk.append(job)
        size += len(job.raw)
        if len(chunk) >= messages or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


@contextlib.contextmanager
def _chunk_sized_memory(db: Database) -> Iterator[None]:
    """A page cache that holds a whole chunk's transaction, and statement journals in memory, while the
    loop writes; SQLite's own settings after.

    A chunk dirties ~12 MB of pages: with the default 2 MB cache, pages spilled to the WAL mid-transaction
    were written again at commit and index pages read back (bench/bench_stages.py's writer: a quarter fewer
    page writes, 40% fewer reads, -0.04 ms of CPU a message). A multi-row INSERT inside the chunk's
    transaction keeps a statement journal (the pages it changed, to undo it alone); past 64 KB SQLite
    spilled it to a temporary file: 15k of a 5,000-message import's 145k writes (`strace -c`). In memory
    it is bounded by one statement's pages. Only for the loop: the daemon's other connections keep the
    defaults (a big sort there stays on disk), and SQLite frees the extra pages when the size is set back."""
    cache = db.execute("PRAGMA cache_size").fetchone()[0]
    temp_store = db.execute("PRAGMA temp_store").fetchone()[0]
    db.execute(f"PRAGMA cache_size = {-CHUNK_PAGE_CACHE_KB}")
    db.execute("PRAGMA temp_store = MEMORY")
    try:
        yield
    finally:
        db.execute(f"PRAGMA cache_size = {int(cache)}")
        db.execute(f"PRAGMA temp_store = {int(temp_store)}")


def run_jobs(
    db: Database,
    jobs: Iterable[Job],
    identity: Identity,
    write: Write,
    *,
    steps: Sequence[Step] = STEPS,
    workers: int | None = None,
    known: KnownFilter | None = None,
    copy_keys: bool = True,
    chunk_messages: int | None = None,
    stop: threading.Event | None = None,
    describe: Describe | None = None,
    progress: bool | None = None,
) -> Tally:
    """Prepare every job in the pool and write it chunk by chunk; stops between chunks when
    `stop` is set. `known(shas)` names the messages already stored, which are not parsed again;
    `copy_keys`: the workers hash the copy keys `write` links copies by (not reprocess: it links none);
    `chunk_messages` bounds a chunk (a transaction); `describe` words the progress line (none without it)."""
    tally = Tally()
    started = time.monotonic()
    line = ProgressLine(progress if describe is not None else False)
    try:
        with _chunk_sized_memory(db):
            for prepared in prepare_chunks(
                chunked(jobs, chunk_messages), identity, workers, known, copy_keys
            ):
                with db.atomic():
                    written = write(db, prepared)
                    on_new(db, written.fresh, steps)
                tally.messages += len(prepared)
                tally.new += len(written.fresh)
                tally.duplicates += written.duplicates
                tally.errors += written.errors
                if describe is not None:
                    line.write(describe(tally, line.rate(tally.messages)))
                if stop is not None and stop.is_set():
                    tally.stopped = True
                    break
    finally:
        line.close()
    tally.seconds = time.monotonic() - started
    return tally
