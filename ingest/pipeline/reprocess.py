"""`subtrail reprocess`: re-run parsing and every extractor over the stored raw bytes.

Derived tables are cleared (by the `pipeline.RESETTERS` each feature registers)
and rebuilt from the messages in a stable order, so the result depends only on
the stored evidence and the code: running it twice changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from sqlite_utils import Database

from extractors import Identity
from ingest import pipeline
from ingest.pipeline.pool import prepare_chunks
from ingest.pipeline.queue import drain
from ingest.store import Job, Location, message_row, record_error

CHUNK = 400
_REFRESHED = (
    "message_id", "date", "from_addr", "from_name", "to_addrs", "cc_addrs", "reply_to", "subject",
    "body_text", "in_reply_to", "references", "has_html", "attachments", "kind", "provider",
    "direction", "suspicious",
)  # fmt: skip


@dataclass
class ReprocessSummary:
    messages: int = 0
    errors: int = 0
    seconds: float = 0.0


def reprocess_all(
    db: Database, identity: Identity | None = None, workers: int | None = None
) -> ReprocessSummary:
    identity = identity or Identity()
    summary = ReprocessSummary()
    started = time.monotonic()
    drain(db, identity, workers=workers)  # messages the poller stored but did not process yet get their rows
    with db.atomic():
        for reset in pipeline.RESETTERS:
            reset(db)

    def jobs() -> Iterator[list[Job]]:
        last = ""
        while True:
            rows = db.execute(
                "select sha256, raw from raw_messages where sha256 > ? order by sha256 limit ?", [last, CHUNK]
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [Job(raw, Location(account="", folder=""), sha) for sha, raw in rows]

    assignments = ", ".join(f"[{c}] = :{c}" for c in _REFRESHED)
    for prepared in prepare_chunks(jobs(), identity, workers):
        with db.atomic():
            for item in prepared:
                row = message_row(item.parsed, item.extraction, "")
                db.execute(f"update messages set {assignments} where sha256 = :sha256", row)
                # Parse problems were recorded at import; only extractor failures are news here.
                for stage, error in item.extra_errors:
                    record_error(db, stage, error, item.parsed.sha256, "reprocess")
                summary.errors += bool(item.extra_errors)
            pipeline.on_new(db, prepared)
        summary.messages += len(prepared)
    pipeline.refresh_derived(db)
    summary.seconds = time.monotonic() - started
    return summary
