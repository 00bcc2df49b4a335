"""The database shape, declared once and applied idempotently.

Tables and columns named in CONTRACT.md are user-facing (saved SQL and Datasette
queries depend on them): add, never rename. `ensure_db_shape` creates what is
missing and adds missing columns; changes that move data go through
`MIGRATIONS` (sqlite_utils.Migrations) so every database walks the same steps.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlite_utils import Database, Migrations

from extractors.mail.copies import content_key
from ingest.bank.views import BANK_VIEWS
from ingest.store import SEARCHED_COLUMNS

# table -> (columns, primary key). Column types are Python types sqlite-utils maps.
TABLES: dict[str, tuple[dict[str, Any], str | tuple[str, ...]]] = {
    "messages": (
        {
            "id": int,
            "sha256": str,
            "message_id": str,
            "date": str,
            "from_addr": str,
            "from_name": str,
            "to_addrs": str,
            "cc_addrs": str,
            "reply_to": str,
            "subject": str,
            "body_text": str,
            "in_reply_to": str,
            "references": str,
            "size": int,
            "has_html": int,
            "attachments": str,
            "kind": str,
            "provider": str,
            "direction": str,
            "suspicious": str,
            "stored_at": str,
            "needs_review": int,  # ingest/derived/inventory.py: extractors were unsure (see the needs_review view)
            # extractors/mail/copies.py: the hash of the normalised message, and its first stored copy (the one counted)
            "content_key": str,
            "canonical_sha256": str,
        },
        "id",
    ),
    "raw_messages": ({"sha256": str, "raw": bytes}, "sha256"),
    "message_locations": (
        {
            "id": int,
            "sha256": str,
            "account": str,
            "folder": str,
            "uidvalidity": int,
            "uid": int,
            "internal_date": str,
            "path": str,
            "flags": str,
            "first_seen_at": str,
            "gone_at": str,
        },
        "id",
    ),
    "subscriptions": (
        {
            "id": int,
            "provider": str,
            "service_name": str,
            "plan": str,
            "amount_minor": int,
            "currency": str,
            "billing_period": str,
            "platform": str,
            "billed_by": str,
            "account_email": str,
            "status": str,
            "started_on": str,
            "trial_ends_on": str,
            "next_renewal_on": str,
            "cancelled_on": str,
            "ends_on": str,
            "last_charged_on": str,
            # ingest/derived/inventory.py: `natural_key` (provider|account) keeps `id` stable across rebuilds
            "natural_key": str,
            "monthly_amount_minor": int,
            "events": int,
            "first_seen_on": str,
            "last_seen_on": str,
            # ingest/derived/corrections.py: the user's view on top of the mail's (rewritten after every rebuild)
            "category": str,
            "dismissed": int,  # 1: the user said this is not a subscription
            "corrected": str,  # JSON list of the fields a correction set
            "added_by_correction": int,  # corrections.id of the `subtrail add subscription` that made this row
            # ingest/bank/reconcile.py: the first debit of its linked recurring charges (the mails may start later)
            "first_debit_on": str,
        },
        "id",
    ),
    # ingest/derived/corrections.py: what the user stated; never cleared, applied after every rebuild
    "corrections": (
        {
            "id": int,
            "subscription_id": int,
            "field": str,
            "value": str,
            "note": str,
            "at": str,
            "source": str,
        },
        "id",
    ),
    "subscription_events": (
        {
            "id": int,
            "subscription_id": int,
            "message_sha256": str,
            "event_type": str,
            "occurred_on": str,
            "amount_minor": int,
            "currency": str,
            "billing_period": str,
            "next_renewal_on": str,
            "previous_amount_minor": int,  # a price change: the price it replaces
            "commitment_ends_on": str,  # a stated minimum term's end
            "extractor": str,
            "confidence": float,
            # ingest/derived/inventory.py: what the message says about the subscription itself
            "natural_key": str,
            "provider": str,
            "service_name": str,
            "plan": str,
            "platform": str,
            "billed_by": str,
            "account_email": str,
            "trial_ends_on": str,
            "ends_on": str,
            "message_date": str,
        },
        "id",
    ),
    "tickets": (
        {
            "id": int,
            "provider": str,
            "ticket_ref": str,
            "subject": str,
            "status": str,
            "opened_at": str,
            "last_activity_at": str,
            # ingest/derived/journal.py
            "correspondent": str,
            "resolution_requested": str,
            "messages": int,
        },
        "id",
    ),
    "ticket_messages": (
        {
            "id": int,
            "ticket_id": int,
            "message_sha256": str,
            "sent_at": str,
            "direction": str,
            "channel": str,
            "agent_name": str,
            "body": str,
            # ingest/derived/journal.py: why this exchange is in this ticket, and where a note came from
            "auto_ack": int,
            "joined_by": str,
            "requested": str,
            "manual_note_id": int,
        },
        "id",
    ),
    "promises": (
        {"id": int, "ticket_message_id": int, "text": str, "due_on": str, "status": str, "kept_on": str},
        "id",
    ),
    # ingest/derived/journal.py: per-message facts from extractors.support.collect (JSON), rebuilt by reprocess
    "support_facts": ({"sha256": str, "facts": str}, "sha256"),
    # ingest/derived/journal.py: every threading key seen in a ticket (why two mails were joined)
    "ticket_keys": (
        {"id": int, "ticket_id": int, "key": str, "kind": str, "message_sha256": str},
        "id",
    ),
    # ingest/store/ids.py: the id each ticket member / subscription key got; kept by rebuilds and reprocess
    "stable_ids": ({"kind": str, "key": str, "id": int}, ("kind", "key")),
    # ingest/derived/journal.py: calls, chats, letters noted by hand; never cleared by reprocess
    "manual_notes": (
        {
            "id": int,
            "provider": str,
            "ticket_ref": str,
            "channel": str,
            "at": str,
            "direction": str,
            "agent_name": str,
            "body": str,
            "promise_text": str,
            "due_on": str,
            "created_at": str,
        },
        "id",
    ),
    "sync_state": (
        {
            "account": str,
            "folder": str,
            "uidvalidity": int,
            "last_uid": int,
            "highestmodseq": int,
            "last_success_at": str,
            # IMAP poller (ingest/imap): the STATUS seen at the last complete pass, for the cheap check.
            "uidnext": int,
            "messages": int,
            # fetch = "relevant": the relevance rules the header-only decisions were made with
            "relevance_rules": str,
        },
        ("account", "folder"),
    ),
    # IMAP poller: one row per (account, folder) sync that did work or failed; folder null = account-level.
    "poll_runs": (
        {
            "id": int,
            "started_at": str,
            "ended_at": str,
            "account": str,
            "folder": str,
            "fetched": int,
            "skipped": int,
            "errors": int,
            "status": str,
            "error": str,
        },
        "id",
    ),
    # IMAP poller: raw bytes stored (evidence safe) but not yet parsed, extracted and indexed.
    # `ingest/queue.py` drains it right after each pass, and on the next start after a crash.
    "parse_queue": ({"sha256": str, "queued_at": str}, "sha256"),
    # IMAP poller, fetch = "relevant": headers of messages whose body was not downloaded.
    "pending_bodies": (
        {
            "account": str,
            "folder": str,
            "uidvalidity": int,
            "uid": int,
            "message_id": str,
            "from_addr": str,
            "subject": str,
            "date": str,
            "size": int,
            "seen_at": str,
            "gone_at": str,
            "body_wanted": int,  # 1: relevant, but the server returned no body; fetched again next pass
        },
        ("account", "folder", "uidvalidity", "uid"),
    ),
    "providers": (
        {
            "slug": str,
            "name": str,
            "domains": str,
            "cancel_url": str,
            "cancel_steps": str,
            "support_url": str,
            "category": str,  # streaming, telecom, energy, ...: the provider file's; a user's correction wins
            # ingest/derived/knowledge.py: loaded from the provider files (JSON text where plural)
            "platform": str,
            "platform_route": str,
            "support_channels": str,
            "notice": str,
            "legal_basis": str,
            "sources": str,
            "source_file": str,
            "loaded_digest": str,
        },
        "slug",
    ),
    "bank_transactions": (
        {
            "id": int,
            "account": str,
            "booked_on": str,
            "label": str,
            "amount_minor": int,
            "currency": str,
            "source": str,
            "recurring_charge_id": int,
            # ingest/bank: re-import key (OFX FITID, or the line's content and rank in its day)
            "txn_key": str,
            "fitid": str,
            "source_line": int,
            "merchant": str,
            "provider": str,
            "imported_at": str,
            # ingest/bank/accounts.py: the number the file gave (IBAN, OFX ACCTID), which ties formats
            "account_number": str,
        },
        "id",
    ),
    # ingest/bank/store.py: each statement file as imported, the evidence behind its lines
    "bank_statements": (
        {
            "sha256": str,
            "name": str,
            "kind": str,
            "account": str,
            "account_number": str,
            "first_on": str,
            "last_on": str,
            "lines": int,
            "raw": bytes,
            "imported_at": str,
        },
        "sha256",
    ),
    "recurring_charges": (
        {
            "id": int,
            "merchant": str,
            "provider": str,
            "billing_period": str,
            "amount_minor": int,
            "currency": str,
            "occurrences": int,
            "first_on": str,
            "last_on": str,
            "status": str,
            "subscription_id": int,
            # ingest/bank/recurring.py, reconcile.py
            "account": str,
            "series_key": str,
            "provider_candidates": str,
            "amount_changes": str,
            "next_expected_on": str,
            "active": int,
            "match_reason": str,
        },
        "id",
    ),
    # ingest/outputs/notify.py: each reminder sent once, by key (a restart or a second process never resends)
    "notifications": ({"key": str, "sent_at": str, "kind": str, "title": str}, "key"),
    "ingest_errors": (
        {"id": int, "sha256": str, "stage": str, "error": str, "at": str, "source": str},
        "id",
    ),
}

# (table, columns, unique). Expression indexes go in EXTRA_SQL.
INDEXES: list[tuple[str, list[str], bool]] = [
    ("messages", ["sha256"], True),
    ("messages", ["message_id"], False),
    ("messages", ["date"], False),
    # Datasette facets on a filtered messages page (kind=… → provider facet and back) without reading bodies;
    # each also serves what an index on its first column alone would (see 0004_drop_redundant_indexes).
    ("messages", ["kind", "provider"], False),
    ("messages", ["provider", "kind"], False),
    ("messages", ["direction"], False),  # Datasette: the direction facet (mine / theirs)
    # extractors/mail/copies.py: is this mail stored already, as other bytes?
    ("messages", ["content_key"], False),
    ("message_locations", ["sha256"], False),
    ("subscription_events", ["subscription_id"], False),
    ("subscription_events", ["message_sha256"], False),
    ("subscription_events", ["natural_key"], False),
    ("subscriptions", ["natural_key"], True),
    ("subscriptions", ["provider"], False),
    ("subscriptions", ["added_by_correction"], True),
    ("corrections", ["subscription_id"], False),
    ("ticket_messages", ["ticket_id"], False),
    ("ticket_messages", ["message_sha256"], False),
    ("ticket_keys", ["ticket_id"], False),
    ("ticket_keys", ["key"], False),
    ("tickets", ["provider"], False),
    ("promises", ["ticket_message_id"], False),
    ("ingest_errors", ["sha256"], False),
    ("bank_transactions", ["txn_key"], True),
    ("bank_transactions", ["account", "booked_on"], False),
    ("bank_transactions", ["recurring_charge_id"], False),
    ("recurring_charges", ["series_key"], True),
    ("recurring_charges", ["subscription_id"], False),
    ("message_locations", ["account", "folder", "uidvalidity", "uid"], False),
    ("poll_runs", ["account", "folder", "started_at"], False),
]

EXTRA_SQL = [
    # One row per place a message was seen; NULL uid/uidvalidity (file imports) compare equal.
    """CREATE UNIQUE INDEX IF NOT EXISTS idx_message_locations_place ON message_locations
       (sha256, account, folder, coalesce(uidvalidity, -1), coalesce(uid, -1))""",
    # Re-running an import must not pile up the same error again.
    """CREATE UNIQUE INDEX IF NOT EXISTS idx_ingest_errors_once ON ingest_errors
       (coalesce(sha256, ''), stage, error, coalesce(source, ''))""",
    # Datasette (review queue, suspicious senders): the few flagged rows without scanning every body.
    """CREATE INDEX IF NOT EXISTS idx_messages_needs_review ON messages (needs_review) WHERE needs_review = 1""",
    """CREATE INDEX IF NOT EXISTS idx_messages_suspicious ON messages (suspicious) WHERE suspicious IS NOT NULL""",
]

FTS_CONFIG: dict[str, list[str]] = {
    "messages": list(SEARCHED_COLUMNS),
}

VIEWS: dict[str, str] = {
    # ingest/derived/inventory.py: messages the extractors were unsure about, with what they guessed
    "needs_review": """
        select m.id as message_id, m.date, m.from_name, m.from_addr, m.subject, m.kind, m.provider,
               e.event_type, e.amount_minor, e.currency, e.billing_period, e.extractor, e.confidence,
               m.sha256
          from messages m left join subscription_events e on e.message_sha256 = m.sha256
         where m.needs_review = 1
         order by m.date desc""",
    # ingest/derived/inventory.py: senders pretending to be a provider (no subscription was credited)
    "suspicious_messages": """
        select id as message_id, date, from_name, from_addr, subject, suspicious as reason, sha256
          from messages where suspicious is not null and coalesce(canonical_sha256, sha256) = sha256
         order by date desc""",
    # ingest/derived/journal.py: one timeline per provider across tickets, channels, promises and subscription events
    "provider_timeline": """
        select t.provider, tm.sent_at as at, 'exchange' as entry, tm.channel, tm.direction, tm.agent_name,
               t.id as ticket_id, t.ticket_ref, t.subject, tm.body as detail, tm.message_sha256
          from ticket_messages tm join tickets t on t.id = tm.ticket_id
        union all
        select t.provider, p.due_on, 'promise due (' || p.status || ')', tm.channel, tm.direction,
               tm.agent_name, t.id, t.ticket_ref, t.subject, p.text, tm.message_sha256
          from promises p join ticket_messages tm on tm.id = p.ticket_message_id
          join tickets t on t.id = tm.ticket_id
         where p.due_on is not null
        union all
        select s.provider, e.occurred_on, e.event_type, 'email', 'inbound', null, null, null,
               s.service_name, null, e.message_sha256
          from subscription_events e join subscriptions s on s.id = e.subscription_id
        order by 1, 2""",
}

# ingest/bank/views.py: what the bank statements say about the inventory (bank_* views)
VIEWS.update(BANK_VIEWS)

MIGRATIONS = Migrations("subtrail")


@MIGRATIONS(name="0001_initial")
def _initial(db: Database) -> None:
    """The first version: the shape above is created by ensure_db_shape itself."""


@MIGRATIONS(name="0002_link_copies")
def _link_copies(db: Database) -> None:
    """Link the raw copies of one message stored before copies were recognised; the facts the later
    copies proved are dropped (the next rebuild derives the inventory and the journal without them)."""
    first: dict[str, str] = {}
    links = []
    for sha, raw in db.execute(
        "select m.sha256, r.raw from messages m join raw_messages r using (sha256) order by m.id"
    ):
        key = content_key(raw)
        links.append((key, first.setdefault(key, sha), sha))
    db.conn.executemany("update messages set content_key = ?, canonical_sha256 = ? where sha256 = ?", links)
    for table, column in (("subscription_events", "message_sha256"), ("support_facts", "sha256")):
        db.execute(
            f"delete from [{table}] where [{column}] in "
            "(select sha256 from messages where canonical_sha256 != sha256)"
        )


@MIGRATIONS(name="0003_bank_lines_once")
def _bank_lines_once(db: Database) -> None:
    """One account imported as CSV and as OFX was stored twice: keep each line once."""
    from ingest.bank.store import merge_stored_twice

    if db.table("bank_transactions").exists():
        merge_stored_twice(db)


@MIGRATIONS(name="0004_drop_redundant_indexes")
def _drop_redundant_indexes(db: Database) -> None:
    """`messages(kind)` and `messages(provider)` repeat the first column of `(kind, provider)` and
    `(provider, kind)`, which answer the same lookups: two index entries less to write per message."""
    db.execute("drop index if exists idx_messages_kind")
    db.execute("drop index if exists idx_messages_provider")


class WriterDatabase(Database):
    """A `Database` whose `atomic()` transactions take the write lock when they begin.

    sqlite-utils begins them DEFERRED: one that reads first, then writes, after another
    connection committed meanwhile gets "database is locked" at once (WAL cannot upgrade a
    stale snapshot, and the busy timeout does not apply). The daemon's threads write
    concurrently, so they wait their turn instead (`BEGIN IMMEDIATE`, up to the busy timeout).
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        if self.conn.in_transaction:  # nested: sqlite-utils' savepoint
            with super().atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.conn.rollback()
            raise
        else:
            self.conn.commit()


def connect_db(path: str | Path) -> Database:
    """A connection to an existing database, for one thread; writers wait up to 30 s for the lock."""
    db = WriterDatabase(path)
    db.execute("PRAGMA busy_timeout = 30000")
    return db


def database_problem(path: str | Path) -> str | None:
    """Why `path` is not a subtrail database to read, in one line; None when it is one.

    Opened read-only, so asking never creates the file a mistyped `--db` names.
    """
    path = Path(path)
    if not path.exists():
        return (
            f"no database at {path}: check --db (or `db` in the config), or create it with `subtrail import`"
        )
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            found = conn.execute("select 1 from sqlite_master where name = 'raw_messages'").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return f"{path} is not a SQLite database: check --db"
    if not found:
        return f"{path} is not a subtrail database (it has no raw_messages table): check --db"
    return None


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) the database at `path`, in WAL mode, with its shape applied."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # private mail: owner-only; SQLite gives -wal and -shm the same mode
        path.touch(mode=0o600)
    db = connect_db(path)
    ensure_db_shape(db)
    return db


def ensure_db_shape(db: Database) -> None:
    """Create every table, index, FTS index and view that is missing; safe to call on every start."""
    if db.journal_mode != "wal" and db.conn.execute("PRAGMA database_list").fetchone()[2]:
        db.enable_wal()
    db.execute("PRAGMA synchronous = NORMAL")
    for name, (columns, pk) in TABLES.items():
        table = db.table(name)
        if not table.exists():
            table.create(columns, pk=pk)
        else:
            missing = {c: t for c, t in columns.items() if c not in table.columns_dict}
            for column, col_type in missing.items():
                table.add_column(column, col_type)
    for name, columns, unique in INDEXES:
        db.table(name).create_index(columns, unique=unique, if_not_exists=True)
    for sql in EXTRA_SQL:
        db.execute(sql)
    for name, columns in FTS_CONFIG.items():
        if not db.table(f"{name}_fts").exists():
            db.table(name).enable_fts(columns, create_triggers=True, tokenize="unicode61 remove_diacritics 2")
        _narrow_fts_update_trigger(db, name, columns)
    for name, sql in VIEWS.items():
        db.create_view(name, sql, replace=True)
    MIGRATIONS.apply(db)


def _narrow_fts_update_trigger(db: Database, table: str, columns: list[str]) -> None:
    """Re-index a row only when an indexed column changes.

    sqlite-utils' trigger fires on any UPDATE: setting `needs_review` or `provider` on a
    message deleted and re-inserted its whole body in the search index, which doubled the
    cost of storing every message. `AFTER UPDATE OF <indexed columns>` keeps the index just
    as exact for a fraction of the writes.
    """
    trigger = f"{table}_au"
    row = db.execute(
        "select sql from sqlite_master where type = 'trigger' and name = ?", [trigger]
    ).fetchone()
    if row is None or " UPDATE OF " in row[0].upper():
        return
    cols = ", ".join(f'"{c}"' for c in columns)
    old = ", ".join(f'old."{c}"' for c in columns)
    new = ", ".join(f'new."{c}"' for c in columns)
    with db.conn:
        db.execute(f'DROP TRIGGER "{trigger}"')
        db.execute(
            f"""CREATE TRIGGER "{trigger}" AFTER UPDATE OF {cols} ON "{table}" BEGIN
  INSERT INTO "{table}_fts" ("{table}_fts", rowid, {cols}) VALUES('delete', old.rowid, {old});
  INSERT INTO "{table}_fts" (rowid, {cols}) VALUES (new.rowid, {new});
END"""
        )
