"""The evidence store: raw bytes, message rows, locations, errors.

Deduplication is by the sha256 of the raw bytes: the same bytes seen twice are
stored once, with one more `message_locations` row at most. Different bytes of one
message (CRLF and LF, delivery headers: `extractors.mail.copies`) are each stored, and
linked: a copy's `canonical_sha256` names the first one stored, the only one whose
facts the derived tables count. The writes here run
inside the caller's transaction (`ingest.pipeline.run` holds one per chunk, with the
derived facts of the chunk's messages), except `save_raw_batch`, the poller's raw-first
path, whose `checkpoint` (the poller's `sync_state`) shares its own transaction: a crash
loses nothing and stores nothing twice.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import NamedTuple

from sqlite_utils import Database

from extractors import Extraction, Promise, SupportFacts, TicketToken
from extractors.mail.copies import content_key
from extractors.mail.parse import ParsedMessage, sha256_of


def now_iso() -> str:
    """Now, as the database keeps every timestamp: ISO-8601 UTC to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def today() -> date:
    """The day every "as of today" judgement uses: `SUBTRAIL_TODAY` (YYYY-MM-DD) when set, so tests,
    benchmarks and a person asking "what did it say on the 3rd?" get results that do not move."""
    pinned = os.environ.get("SUBTRAIL_TODAY", "").strip()
    return date.fromisoformat(pinned) if pinned else date.today()


@dataclass
class Location:
    account: str
    folder: str
    uidvalidity: int | None = None
    uid: int | None = None
    internal_date: str | None = None
    path: str | None = None
    flags: str | None = None


class Job(NamedTuple):
    """A message to store or to prepare, and where it was seen. `sha256` is given when the caller
    read the bytes back from the store (parse queue, reprocess), so they are not hashed again."""

    raw: bytes
    location: Location
    sha256: str | None = None


@dataclass
class Prepared:
    """A message ready to store: its bytes parsed and analysed, and where it was seen."""

    parsed: ParsedMessage
    extraction: Extraction
    location: Location
    extra_errors: list[tuple[str, str]] = field(default_factory=list)  # (stage, error)
    copy_of: str | None = None  # another raw copy of this message was stored first: its sha256
    # `extractors.mail.copies.content_key` of the raw bytes, when a worker hashed it (else the writer does)
    content_key: str | None = None


@dataclass
class BatchResult:
    new: int = 0
    duplicates: int = 0
    errors: int = 0
    new_shas: list[str] = field(default_factory=list)


class Written(NamedTuple):
    """What writing one prepared chunk did: the messages new to the store (the ones whose
    facts the batch steps write), how many were stored already, how many had a problem."""

    fresh: list[Prepared]
    duplicates: int = 0
    errors: int = 0


# The columns of `messages` its full-text index (`messages_fts`, kept by triggers) holds.
SEARCHED_COLUMNS = ("subject", "from_name", "from_addr", "body_text")

# Columns of `message_row` that describe the stored bytes, not what the parser and extractors made of them.
_STORED_FACTS = frozenset({"sha256", "size", "stored_at"})


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


_SUPPORT_FIELD_ORDER = tuple(spec.name for spec in dataclasses.fields(SupportFacts))
_SUPPORT_FIELDS = frozenset(_SUPPORT_FIELD_ORDER)


def support_facts_json(facts: SupportFacts) -> str:
    """`support_facts.facts`: users' SQL and saved queries read this JSON, so its keys stay as they are
    (a token's `is_global` is stored as `global`)."""
    data: dict[str, object] = {name: getattr(facts, name) for name in _SUPPORT_FIELD_ORDER}
    data["refs"] = [{"system": r.system, "value": r.value, "global": r.is_global} for r in facts.refs]
    data["promises"] = [{"text": p.text, "due_on": p.due_on} for p in facts.promises]
    # Not `dataclasses.asdict`: its deep copy of every field was most of the writer's time on support mail.
    return json.dumps(data, ensure_ascii=False)


def support_facts_from_json(text: str) -> SupportFacts:
    """The reverse of `support_facts_json`. A row an older version wrote for a reply (threading keys
    and `partial` only) loads with the other facts at their defaults."""
    data = json.loads(text)
    data["refs"] = [
        TicketToken(system=r["system"], value=r["value"], is_global=bool(r.get("global")))
        for r in data["refs"]
    ]
    if "promises" in data:
        data["promises"] = [Promise(text=p["text"], due_on=p.get("due_on")) for p in data["promises"]]
    if not data.keys() <= _SUPPORT_FIELDS:
        data = {key: value for key, value in data.items() if key in _SUPPORT_FIELDS}
    return SupportFacts(**data)


def insert_rows(db: Database, table: str, rows: list[dict[str, object]], conflict: str = "abort") -> None:
    """Insert rows that all have the same keys and only SQL values (str, int, float, bytes, None).

    The hot path of every import: sqlite-utils' `insert_all` inspects every value of every row
    (JSON-encoding lists and dicts), which cost as much CPU as SQLite's own insert. Rows go in
    multi-row INSERTs of a fixed size, so SQLite's statement cache keeps the compiled statement.
    """
    if not rows:
        return
    columns = list(rows[0])
    head = f"insert or {conflict} into [{table}] ({', '.join(f'[{c}]' for c in columns)}) values "
    one = f"({', '.join('?' * len(columns))})"
    per_statement = max(1, min(_ROWS_PER_INSERT, _MAX_VARIABLES // len(columns)))
    for start in range(0, len(rows), per_statement):
        part = rows[start : start + per_statement]
        db.conn.execute(head + ", ".join([one] * len(part)), [row[c] for row in part for c in columns])


_ROWS_PER_INSERT = 100
_MAX_VARIABLES = 32_000  # SQLite's limit is 32,766 bound values a statement (since 3.32)


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


def _store_raw(db: Database, items: list[tuple[str, bytes, Location]], stored_at: str) -> list[int]:
    """Raw bytes and locations; the indexes of `items` whose bytes were not stored before
    (the first of each sha256 in the batch). Runs inside the caller's transaction."""
    existing = known_shas(db, (sha for sha, _, _ in items))
    fresh: list[int] = []
    seen_now: set[str] = set()
    for index, (sha, _, _) in enumerate(items):
        if sha not in existing and sha not in seen_now:
            seen_now.add(sha)
            fresh.append(index)
    db.conn.executemany(
        "insert or ignore into raw_messages (sha256, raw) values (?, ?)",
        ((items[i][0], items[i][1]) for i in fresh),
    )
    db.conn.executemany(
        """insert or ignore into message_locations
           (sha256, account, folder, uidvalidity, uid, internal_date, path, flags, first_seen_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (
            (
                sha,
                loc.account,
                loc.folder,
                loc.uidvalidity,
                loc.uid,
                loc.internal_date,
                loc.path,
                loc.flags,
                stored_at,
            )
            for sha, _, loc in items
        ),
    )
    return fresh


def _canonical_by_key(db: Database, keys: Iterable[str]) -> dict[str, str]:
    """content_key -> the sha256 of the first copy stored with it, for the keys already stored."""
    wanted = list(dict.fromkeys(keys))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            db.execute(
                "select content_key, canonical_sha256 from messages "
                f"where content_key in ({','.join('?' * len(chunk))}) and canonical_sha256 = sha256",
                chunk,
            ).fetchall()
        )
    return found


def link_copies(db: Database, fresh: list[Prepared]) -> list[str]:
    """Set `copy_of` on the messages another copy of which was stored first (before, or earlier in
    `fresh`); their content keys, in order. Runs inside the caller's transaction."""
    keys = [p.content_key or content_key(p.parsed.raw) for p in fresh]
    canonical = _canonical_by_key(db, keys)
    for item, key in zip(fresh, keys, strict=True):
        first = canonical.setdefault(key, item.parsed.sha256)
        item.copy_of = first if first != item.parsed.sha256 else None
    return keys


def copies_of_stored(db: Database, shas: Iterable[str]) -> dict[str, str]:
    """sha256 -> the canonical copy's sha256, for the stored messages among `shas` that are copies."""
    wanted = list(dict.fromkeys(shas))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        found.update(
            db.execute(
                "select sha256, canonical_sha256 from messages "
                f"where sha256 in ({','.join('?' * len(chunk))}) and canonical_sha256 != sha256",
                chunk,
            ).fetchall()
        )
    return found


def store_parsed(db: Database, fresh: list[Prepared], stored_at: str) -> int:
    """Message rows (copies linked) and parse/extract problems of messages whose raw bytes are
    stored; the number of messages with a problem. Runs inside the caller's transaction."""
    keys = link_copies(db, fresh)
    rows = [
        {
            **message_row(p.parsed, p.extraction, stored_at),
            "content_key": key,
            "canonical_sha256": p.copy_of or p.parsed.sha256,
        }
        for p, key in zip(fresh, keys, strict=True)
    ]
    if rows:
        insert_rows(db, "messages", rows, conflict="ignore")
    with_problems = 0
    for item in fresh:
        problems = [("parse", problem) for problem in item.parsed.problems] + item.extra_errors
        for stage, error in problems:
            record_error(db, stage, error, item.parsed.sha256, item.location.path or item.location.folder)
        with_problems += bool(problems)
    return with_problems


def save_parsed(db: Database, batch: list[Prepared]) -> Written:
    """Raw bytes, locations and message rows of a parsed chunk (`subtrail import`): the bytes
    already stored get one more location only. Runs inside the caller's transaction."""
    stored_at = now_iso()
    fresh_at = _store_raw(db, [(p.parsed.sha256, p.parsed.raw, p.location) for p in batch], stored_at)
    fresh = [batch[i] for i in fresh_at]
    return Written(fresh, len(batch) - len(fresh), store_parsed(db, fresh, stored_at))


def update_processed(db: Database, batch: list[Prepared]) -> Written:
    """Rewrite what parsing and extraction put in the stored messages' rows (`subtrail reprocess`):
    every `message_row` column but the facts of the bytes. Parse problems were recorded when
    the message was first stored; only extractor failures are news. In the caller's transaction."""
    copies = copies_of_stored(db, (item.parsed.sha256 for item in batch))
    for item in batch:
        item.copy_of = copies.get(item.parsed.sha256)
    rows = [message_row(item.parsed, item.extraction, "") for item in batch]
    if rows:
        columns = [c for c in rows[0] if c not in _STORED_FACTS]
        # The searched columns apart: writing them, even unchanged, re-indexes the row (the FTS trigger deletes
        # and re-inserts its whole body), which was most of a reprocess's writing. Unchanged rows are not written.
        searched = [c for c in columns if c in SEARCHED_COLUMNS]
        for part in (searched, [c for c in columns if c not in searched]):
            assignments = ", ".join(f"[{c}] = :{c}" for c in part)
            changed = " or ".join(f"[{c}] is not :{c}" for c in part)
            db.conn.executemany(
                f"update messages set {assignments} where sha256 = :sha256 and ({changed})", rows
            )
    with_problems = 0
    for item in batch:
        for stage, error in item.extra_errors:
            record_error(db, stage, error, item.parsed.sha256, "reprocess")
        with_problems += bool(item.extra_errors)
    return Written(batch, 0, with_problems)


def save_raw_batch(
    db: Database,
    batch: list[Job],
    checkpoint: Callable[[Database], None] | None = None,
) -> BatchResult:
    """Store raw bytes only, queued in `parse_queue`, with the checkpoint in the same transaction.

    The poller's path: the evidence is safe as fast as it arrives (as a mail mirror would
    write it), and `ingest.pipeline.queue` parses, extracts and indexes it right after. A crash in
    between leaves the queue to drain on the next start; nothing is lost or stored twice.
    """
    stored_at = now_iso()
    items = [(job.sha256 or sha256_of(job.raw), job.raw, job.location) for job in batch]
    with db.atomic():
        fresh_at = _store_raw(db, items, stored_at)
        db.conn.executemany(
            "insert or ignore into parse_queue (sha256, queued_at) values (?, ?)",
            ((items[i][0], stored_at) for i in fresh_at),
        )
        if checkpoint:
            checkpoint(db)
    return BatchResult(len(fresh_at), len(items) - len(fresh_at), 0, [items[i][0] for i in fresh_at])
