"""`subtrail import`: offline sources through the pipeline into the store.

Sources are read in chunks bounded in count and bytes, parsed in worker
processes (`ingest.pipeline.pool`), and each chunk is stored in one transaction, so
memory stays flat whatever the size of the mbox and a killed import can simply
be run again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlite_utils import Database

from extractors import Identity
from ingest import pipeline
from ingest.pipeline.pool import prepare_chunks
from ingest.pipeline.progress import ProgressLine
from ingest.pipeline.sources import RawMail, SourceProblem, iter_sources
from ingest.store import Job, Location, known_shas, record_error, save_batch

CHUNK_MESSAGES = 400
CHUNK_BYTES = 32 * 1024 * 1024


@dataclass
class ImportSummary:
    seen: int = 0
    new: int = 0
    duplicates: int = 0
    errors: int = 0
    seconds: float = 0.0
    error_sources: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.seen / self.seconds if self.seconds else 0.0


def import_paths(
    db: Database,
    paths: Iterable[str],
    identity: Identity | None = None,
    workers: int | None = None,
    progress: bool | None = None,
) -> ImportSummary:
    """Import every message under `paths`; returns counts. Safe to re-run and to kill at any point."""
    identity = identity or Identity()
    bar = ProgressLine(progress)
    summary = ImportSummary()
    started = time.monotonic()

    def jobs() -> Iterator[list[Job]]:
        chunk: list[Job] = []
        size = 0
        for item in iter_sources(paths):
            if isinstance(item, SourceProblem):
                with db.atomic():
                    record_error(db, "source", item.error, None, item.path)
                summary.errors += 1
                summary.error_sources.append(f"{item.path}: {item.error}")
                continue
            chunk.append(Job(item.raw, _location(item)))
            size += len(item.raw)
            if len(chunk) >= CHUNK_MESSAGES or size >= CHUNK_BYTES:
                yield chunk
                chunk, size = [], 0
        if chunk:
            yield chunk

    try:
        for prepared in prepare_chunks(jobs(), identity, workers, known=lambda shas: known_shas(db, shas)):
            result = save_batch(db, prepared, on_new=pipeline.on_new)
            summary.seen += len(prepared)
            summary.new += result.new
            summary.duplicates += result.duplicates
            summary.errors += result.errors
            bar.write(
                f"{summary.seen} messages: {summary.new} new, {summary.duplicates} already stored, "
                f"{summary.errors} with errors, {bar.rate(summary.seen):,.0f} msg/s"
            )
    finally:
        bar.close()
    pipeline.refresh_derived(db)
    summary.seconds = time.monotonic() - started
    return summary


def _location(mail: RawMail) -> Location:
    return Location(account=mail.account, folder=mail.folder, path=mail.path, uid=mail.index)
