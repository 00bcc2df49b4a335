"""The evidence store: raw bytes, message rows, locations, errors — one transaction per batch.

Every source (offline import, IMAP poller) hands prepared messages to
`save_batch`. Deduplication is by the sha256 of the raw bytes: the same bytes
seen twice are stored once, with one more `message_locations` row at most.
Callers that keep a checkpoint (the poller's `sync_state`) pass a `checkpoint`
callback that runs inside the same transaction, so a crash loses nothing and
stores nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlite_utils import Database

from extractors import Extraction
from ingest.parse import ParsedMessage, now_iso


@dataclass
class Location:
    account: str
    folder: str
    uidvalidity: int | None = None
    uid: int | None = None
    internal_date: str | None = None
    path: str | None = None
    flags: str | None = None


@dataclass
class Prepared:
    """A message ready to store: its bytes parsed and analysed, and where it was seen."""

    parsed: ParsedMessage
    extraction: Extraction
    location: Location
    extra_errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, error)


@dataclass
class BatchResult:
    new: int = 0
    duplicates: int = 0
    errors: int = 0
    new_shas: list[str] = field(default_factory=list)


def message_row(parsed: ParsedMessage, extraction: Extraction, stored_at: str) -> dict[str, object]:
    return {
        "sha256": parsed.sha256,
        "message_id": parsed.message_id,
        "date": parsed.date,
        "from_addr": parsed.from_addr,
        "from_name": parsed.from_name,
        "to_addrs": ", ".join(parsed.to_addrs),
        "cc_addrs": ", ".join(parsed.cc_addrs),
        "reply_to": parsed.reply_to,
        "subject": parsed.subject,
        "body_text": parsed.body_text,
        "in_reply_to": parsed.in_reply_to,
        "references": " ".join(parsed.references),
        "size": len(parsed.raw),
        "has_html": int(parsed.body_html is not None),
        "attachments": json.dumps(
            [{"filename": a.filename, "type": a.content_type, "size": a.size} for a in parsed.attachments]
        )
        if parsed.attachments
        else None,
        "kind": extraction.kind,
        "provider": extraction.provider,
        "direction": extraction.direction,
        "suspicious": extraction.suspicious,
        "stored_at": stored_at,
    }


def known_shas(db: Database, shas: Iterable[str]) -> set[str]:
    shas = list(dict.fromkeys(shas))
    found: set[str] = set()
    for start in range(0, len(shas), 500):
        chunk = shas[start : start + 500]
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0] for r in db.execute(f"select sha256 from raw_messages where sha256 in ({marks})", chunk)
        )
    return found


def record_error(
    db: Database, stage: str, error: str, sha256: str | None = None, source: str | None = None
) -> None:
    """One `ingest_errors` row; the same problem on the same message/source is recorded once."""
    db.execute(
        "insert or ignore into ingest_errors (sha256, stage, error, at, source) values (?, ?, ?, ?, ?)",
        [sha256, stage, error[:2000], now_iso(), source],
    )


def save_batch(
    db: Database,
    batch: list[Prepared],
    on_new: Callable[[Database, list[Prepared]], None] | None = None,
    checkpoint: Callable[[Database], None] | None = None,
) -> BatchResult:
    """Store a batch atomically; `on_new` (derived facts) and `checkpoint` run in the same transaction."""
    result = BatchResult()
    stored_at = now_iso()
    with db.atomic():
        existing = known_shas(db, (p.parsed.sha256 for p in batch))
        fresh: list[Prepared] = []
        seen_now: set[str] = set()
        for item in batch:
            sha = item.parsed.sha256
            if sha in existing or sha in seen_now:
                result.duplicates += 1
            else:
                seen_now.add(sha)
                fresh.append(item)
        db.conn.executemany(
            "insert or ignore into raw_messages (sha256, raw) values (?, ?)",
            ((p.parsed.sha256, p.parsed.raw) for p in fresh),
        )
        rows = [message_row(p.parsed, p.extraction, stored_at) for p in fresh]
        if rows:
            db.table("messages").insert_all(rows, ignore=True, batch_size=200)
        db.conn.executemany(
            """insert or ignore into message_locations
               (sha256, account, folder, uidvalidity, uid, internal_date, path, flags, first_seen_at)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                (
                    p.parsed.sha256,
                    p.location.account,
                    p.location.folder,
                    p.location.uidvalidity,
                    p.location.uid,
                    p.location.internal_date,
                    p.location.path,
                    p.location.flags,
                    stored_at,
                )
                for p in batch
            ),
        )
        for item in fresh:
            problems = [("parse", problem) for problem in item.parsed.problems] + item.extra_errors
            for stage, error in problems:
                record_error(db, stage, error, item.parsed.sha256, item.location.path or item.location.folder)
            result.errors += bool(problems)
        if on_new and fresh:
            on_new(db, fresh)
        if checkpoint:
            checkpoint(db)
    result.new = len(fresh)
    result.new_shas = [p.parsed.sha256 for p in fresh]
    return result
