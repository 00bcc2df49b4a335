"""Parse and extract in a pool of worker processes, one chunk ahead of the writer.

Parsing is CPU-bound and dominates ingestion, SQLite writes are cheap, so the
parent keeps one chunk in flight in the pool while it stores the previous one.
Only one chunk is ever queued, so memory is bounded by chunk size, not input size.
A worker that dies or hangs costs a slower chunk (redone in-process), never a message.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Iterable, Iterator
from multiprocessing.pool import AsyncResult

from extractors import Extraction, Identity
from ingest import pipeline
from ingest.parse import ParsedMessage, sha256_of
from ingest.store import Location, Prepared

WORKER_TIMEOUT = 600  # seconds for one chunk; past that the chunk is redone in-process
Job = tuple[bytes, Location]


def _prepare_in_worker(args: tuple[bytes, Location, Identity]) -> Prepared:
    raw, location, identity = args
    prepared = pipeline.prepare(raw, location, identity)
    prepared.parsed.raw = b""  # the parent still holds the bytes; don't send them back
    return prepared


def prepare_safely(raw: bytes, location: Location, identity: Identity) -> Prepared:
    """Whatever happens while parsing, the raw bytes are kept and the failure is recorded."""
    try:
        return pipeline.prepare(raw, location, identity)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # MemoryError, RecursionError deep in a library, ...
        parsed = ParsedMessage(sha256=sha256_of(raw), raw=raw, problems=[f"parse: {type(exc).__name__}"])
        return Prepared(parsed=parsed, extraction=Extraction(), location=location)


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


def prepare_chunks(
    chunks: Iterable[list[Job]], identity: Identity, workers: int | None = None
) -> Iterator[list[Prepared]]:
    """Yield each chunk prepared, in order, keeping the next chunk busy in the pool meanwhile."""
    workers = workers or default_workers()
    if workers <= 1:
        for chunk in chunks:
            yield [prepare_safely(raw, loc, identity) for raw, loc in chunk]
        return
    pool = multiprocessing.get_context("fork").Pool(workers)
    try:
        pending: tuple[list[Job], AsyncResult[list[Prepared]]] | None = None
        for chunk in chunks:
            job = pool.map_async(
                _prepare_in_worker, [(raw, loc, identity) for raw, loc in chunk], chunksize=16
            )
            if pending:
                yield _collect(*pending, identity)
            pending = (chunk, job)
        if pending:
            yield _collect(*pending, identity)
    finally:
        pool.terminate()
        pool.join()


def _collect(chunk: list[Job], job: AsyncResult[list[Prepared]], identity: Identity) -> list[Prepared]:
    try:
        prepared = job.get(timeout=WORKER_TIMEOUT)
    except Exception:
        return [prepare_safely(raw, loc, identity) for raw, loc in chunk]
    for (raw, _), item in zip(chunk, prepared, strict=True):
        item.parsed.raw = raw
    return prepared
