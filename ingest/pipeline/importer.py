"""`subtrail import`: offline sources through the pipeline into the store.

The sources' messages go through the one loop (`ingest.pipeline.run`): chunks bounded
in count and bytes, parsed in worker processes, each stored in one transaction, so
memory stays flat whatever the size of the mbox and a killed import can simply be
run again. A source that cannot be read is an `ingest_errors` row, and the import goes on.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from sqlite_utils import Database

from extractors import Identity
from ingest.pipeline.run import Tally, run_jobs
from ingest.pipeline.sources import RawMail, SourceProblem, iter_sources
from ingest.pipeline.steps import STEPS, Step, refresh_derived
from ingest.store import Job, Location, known_shas, record_error, save_parsed


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
    steps: Sequence[Step] = STEPS,
) -> ImportSummary:
    """Import every message under `paths`; returns counts. Safe to re-run and to kill at any point."""
    summary = ImportSummary()
    started = time.monotonic()

    def jobs() -> Iterator[Job]:
        for item in iter_sources(paths):
            if isinstance(item, SourceProblem):
                with db.atomic():
                    record_error(db, "source", item.error, None, item.path)
                summary.error_sources.append(f"{item.path}: {item.error}")
                continue
            yield Job(item.raw, _location(item))

    def describe(tally: Tally, rate: float) -> str:
        return (
            f"{tally.messages} messages: {tally.new} new, {tally.duplicates} already stored, "
            f"{tally.errors + len(summary.error_sources)} with errors, {rate:,.0f} msg/s"
        )

    tally = run_jobs(
        db, jobs(), identity or Identity(), save_parsed, steps=steps, workers=workers,
        known=lambda shas: known_shas(db, shas), describe=describe, progress=progress,
    )  # fmt: skip
    refresh_derived(db, steps)
    summary.seen, summary.new, summary.duplicates = tally.messages, tally.new, tally.duplicates
    summary.errors = tally.errors + len(summary.error_sources)
    summary.seconds = time.monotonic() - started
    return summary


def _location(mail: RawMail) -> Location:
    return Location(account=mail.account, folder=mail.folder, path=mail.path, uid=mail.index)
