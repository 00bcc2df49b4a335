"""Parse and extract in a pool of worker processes, one chunk ahead of the writer.

Parsing is CPU-bound and dominates ingestion, SQLite writes are cheap, so the
parent keeps one chunk in flight in the pool while it stores the previous one.
Only one chunk is ever queued, so memory is bounded by chunk size, not input size.
A worker that dies or hangs costs a slower chunk (redone in-process), never a message.
Messages whose bytes are already stored are not parsed again: a re-import costs
a hash and a lookup per message.
"""

from __future__ import annotations

import copyreg
import dataclasses
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from functools import lru_cache
from multiprocessing.pool import AsyncResult, Pool

from extractors import Extraction, Identity
from extractors.mail.copies import content_key
from extractors.mail.parse import Attachment, ParsedMessage, sha256_of
from extractors.model import EventFact, Promise, SupportFacts, TicketToken
from ingest import pipeline
from ingest.store import Job, Location, Prepared

WORKER_TIMEOUT = 600  # seconds for one chunk; past that the chunk is redone in-process
WATCH_INTERVAL = 0.2  # seconds between checks that every worker is still alive
KnownFilter = Callable[[list[str]], set[str]]


def _pickle_as_fields(cls: type) -> None:
    """Pickle `cls` as its class and its field values, rebuilt by calling the class.

    Every result crosses the pool's pipe: pickle's default for a dataclass (a dict of attribute
    names per object, set back one by one) cost the single writer process 28 us a message to load;
    this costs 10 (and the workers 1.5 more to dump)."""
    fields = dataclasses.fields(cls)
    assert all(field.init for field in fields), f"{cls.__name__}: a field __init__ does not take"
    names = tuple(field.name for field in fields)
    copyreg.pickle(cls, lambda obj: (cls, tuple(getattr(obj, name) for name in names)))


# What a prepared message is made of (`Prepared` and everything it holds).
for _piped in (
    Prepared, Location, ParsedMessage, Attachment, Extraction, EventFact, SupportFacts, TicketToken, Promise
):  # fmt: skip
    _pickle_as_fields(_piped)


def _prepare_in_worker(args: tuple[bytes, Location, Identity, str, bool]) -> Prepared:
    raw, location, identity, sha256, copy_key = args
    prepared = pipeline.prepare(raw, location, identity, sha256)
    if copy_key:  # hashed here so the single writer process does not (reprocess links no copies: no key)
        prepared.content_key = content_key(raw)
    prepared.parsed.raw = b""  # the parent still holds the bytes; don't send them back
    prepared.parsed.headers = {}  # read by the extractors only, never stored: not worth pickling twice
    if prepared.parsed.body_html is not None:
        prepared.parsed.body_html = ""  # the store only needs to know there was HTML
    return prepared


def prepare_safely(raw: bytes, location: Location, identity: Identity, sha256: str | None = None) -> Prepared:
    """Whatever happens while parsing, the raw bytes are kept and the failure is recorded."""
    try:
        return pipeline.prepare(raw, location, identity, sha256)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # MemoryError, RecursionError deep in a library, ...
        parsed = ParsedMessage(
            sha256=sha256 or sha256_of(raw), raw=raw, problems=[f"parse: {type(exc).__name__}"]
        )
        return Prepared(parsed=parsed, extraction=Extraction(), location=location)


def _worker_start() -> None:
    """Workers take the default signal dispositions back.

    Forked workers inherit the parent's Python handlers: with `poll`'s graceful-stop handler,
    a worker ignored the SIGTERM that `Pool.terminate()` sends, and one blocked on the task
    queue's lock (held by terminate itself) hung the parent forever. Ctrl-C reaches the whole
    process group: workers ignore it and the parent decides.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


class _QuietPool(Pool):
    """A `multiprocessing.Pool` whose worker-handler thread sleeps until a worker exits or the pool changes.

    CPython's handler also wakes whenever a result waits in the pipe (the result queue's reader is
    one of its sentinels, for `maxtasksperchild`), so it spun 3-4 times a message: 0.07 ms of the
    writer process's CPU a message, beside the writer. Without `maxtasksperchild` (not used here)
    a worker only leaves by dying, which its own sentinel reports; close, terminate and a drained
    result cache go through the pool's change notifier, which stays.
    """

    def _get_sentinels(self) -> list[object]:
        return [self._change_notifier._reader]  # type: ignore[attr-defined]


_WARM_MESSAGE = (
    b"From: Billing <billing@netflix.com>\r\nTo: me@example.org\r\nSubject: Your receipt\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMessage-ID: <warm-up@subtrail>\r\n\r\n"
    b"Thank you for your payment of 13,49 EUR.\r\n"
)


@lru_cache(maxsize=1)
def _warm_up(identity: Identity) -> None:
    """Run the extractors once in this process before the parser pool forks, so the data they
    load lazily (provider registry, compiled patterns) is loaded once and shared by the workers,
    not loaded again in each: about 20 MB less at peak with two workers (bench/bench_imap.py)."""
    pipeline.prepare(_WARM_MESSAGE, Location(account="", folder=""), identity)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class _Chunk:
    """One chunk in flight: its jobs, their hashes, which are already stored, and the pool's answer."""

    def __init__(self, jobs: list[Job], known: KnownFilter | None) -> None:
        self.jobs = jobs
        self.shas = [job.sha256 or sha256_of(job.raw) for job in jobs]
        self.known = known(self.shas) if known else set()
        self.todo = [i for i, sha in enumerate(self.shas) if sha not in self.known]
        self.result: AsyncResult[list[Prepared]] | None = None
        self.pool: Pool | None = None
        self.workers: frozenset[int] = frozenset()

    def submit(self, pool: Pool, identity: Identity, copy_keys: bool) -> None:
        args = [(self.jobs[i][0], self.jobs[i][1], identity, self.shas[i], copy_keys) for i in self.todo]
        self.pool, self.workers = pool, _live_workers(pool)
        self.result = pool.map_async(_prepare_in_worker, args, chunksize=16)

    def _wait(self) -> list[Prepared] | None:
        """The pool's answer, or None when a worker died (the pool silently loses the tasks a dead
        worker held: waiting would cost the whole WORKER_TIMEOUT) or the chunk took too long."""
        assert self.result is not None and self.pool is not None
        deadline = time.monotonic() + WORKER_TIMEOUT
        while not self.result.ready():
            if time.monotonic() > deadline or not self.workers <= _live_workers(self.pool):
                return None
            self.result.wait(WATCH_INTERVAL)
        try:
            return self.result.get(timeout=0)
        except Exception:
            return None

    def collect(self, identity: Identity) -> list[Prepared]:
        done: list[Prepared] | None = None
        if self.result is not None:
            done = self._wait()  # None: a worker died or hung: redo here, one message at a time
        if done is None:
            done = [
                prepare_safely(self.jobs[i][0], self.jobs[i][1], identity, self.shas[i]) for i in self.todo
            ]
        by_index = dict(zip(self.todo, done, strict=True))
        out: list[Prepared] = []
        for i, job in enumerate(self.jobs):
            item = by_index.get(i)
            if item is None:  # stored already: only its location will be recorded
                item = Prepared(ParsedMessage(sha256=self.shas[i], raw=job.raw), Extraction(), job.location)
            item.parsed.raw = job.raw
            out.append(item)
        return out


def _live_workers(pool: Pool) -> frozenset[int]:
    """Pids of the pool's live worker processes (`Pool._pool`, unchanged since Python 3.2)."""
    return frozenset(p.pid for p in pool._pool if p.exitcode is None and p.pid is not None)  # type: ignore[attr-defined]


def prepare_chunks(
    chunks: Iterable[list[Job]],
    identity: Identity,
    workers: int | None = None,
    known: KnownFilter | None = None,
    copy_keys: bool = True,
) -> Iterator[list[Prepared]]:
    """Yield each chunk prepared, in order, keeping the next chunk busy in the pool meanwhile.

    `known(shas)` returns the hashes already stored; those messages are not parsed. `copy_keys`:
    the workers hash each message's `content_key` for the writer (whoever links copies).
    """
    workers = workers or default_workers()
    pool: Pool | None = None
    if workers > 1:
        _warm_up(identity)
        pool = _QuietPool(workers, _worker_start, context=multiprocessing.get_context("fork"))
    try:
        pending: _Chunk | None = None
        for jobs in chunks:
            chunk = _Chunk(jobs, known)
            if pool is not None:
                chunk.submit(pool, identity, copy_keys)
            if pending is not None:
                yield pending.collect(identity)
            pending = chunk
        if pending is not None:
            yield pending.collect(identity)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
