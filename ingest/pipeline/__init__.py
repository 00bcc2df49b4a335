"""The one path every message takes: parse -> extract -> store -> derive.

Sources (offline import, IMAP poller) produce raw bytes plus a location;
`prepare` turns them into a `Prepared` (pure, safe in a worker process),
`store.save_batch` writes a batch atomically and calls `on_new` inside the same
transaction, and `refresh_derived` rebuilds what is computed across messages
(the subscription inventory, the support journal) once a run has stored its batches.

Derived steps register themselves in `DERIVERS`; each is a function of the
database that is deterministic and idempotent, so `subtrail reprocess` can
simply clear and re-run them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database

import extractors
from extractors import Extraction, Identity
from extractors.mail.parse import ParsedMessage, parse_message
from ingest.store import Location, Prepared

# Called inside the batch transaction with the newly stored messages.
BatchHook = Callable[[Database, list[Prepared]], None]
BATCH_HOOKS: list[BatchHook] = []
# Called by `subtrail reprocess` before re-running: clear what the hooks and derivers build.
RESETTERS: list[Callable[[Database], None]] = []
# Called after a run (import / poll pass / reprocess) to rebuild cross-message tables.
DERIVERS: list[Callable[[Database], None]] = []


def analyse(parsed: ParsedMessage, identity: Identity) -> tuple[Extraction, list[tuple[str, str]]]:
    """Run the extractors; an extractor crash is an `ingest_errors` row, not a lost message."""
    try:
        return extractors.extract(parsed, identity), []
    except Exception as exc:  # a bug in one extractor must not stop the import
        fallback = Extraction(direction=extractors.direction_of(parsed, identity))
        return fallback, [("extract", f"{type(exc).__name__}: {exc}")]


def prepare(raw: bytes, location: Location, identity: Identity, sha256: str | None = None) -> Prepared:
    parsed = parse_message(raw, sha256)
    extraction, errors = analyse(parsed, identity)
    return Prepared(parsed=parsed, extraction=extraction, location=location, extra_errors=errors)


def on_new(db: Database, batch: list[Prepared]) -> None:
    for hook in BATCH_HOOKS:
        hook(db, batch)


def refresh_derived(db: Database) -> None:
    for derive in DERIVERS:
        with db.atomic():
            derive(db)


# Provider knowledge (data/providers/*.toml) is kept in step after every run.
from ingest.derived.knowledge import derive_providers  # noqa: E402

DERIVERS.append(derive_providers)

# Subscription events (batch hook) and the inventory (deriver) register themselves.
# The customer-service journal: support facts stored per batch, tickets rebuilt after every run.
from ingest.derived import inventory, journal  # noqa: E402, F401

BATCH_HOOKS.append(journal.store_support_facts)
RESETTERS.append(journal.reset_journal)
DERIVERS.append(journal.rebuild_journal)
# The user's corrections, laid over the rebuilt inventory (before the bank reads it).
from ingest.derived.corrections import apply_corrections  # noqa: E402

DERIVERS.append(apply_corrections)

# Bank statements: recurring charges re-linked to the inventory (reads `subscriptions`: keep it after that).
from ingest.bank.reconcile import refresh as refresh_bank  # noqa: E402

DERIVERS.append(refresh_bank)
