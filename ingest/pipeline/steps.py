"""What is derived from the stored messages, as one ordered tuple: `STEPS`.

Each step is one derived table's part in a run. `on_batch` writes per-message facts
inside each chunk's transaction (so a crash never leaves a message without its facts);
`derive` rebuilds a cross-message table once a run has stored its chunks; `reset` clears
what `on_batch` wrote before `subtrail reprocess` writes it again. Every function is
deterministic and idempotent, so reprocessing is: reset, re-run, derive.

The order is the tuple's: batch facts run top to bottom, and so do the rebuilds (a step
reads the tables the steps above it built). Callers that want other steps (a benchmark
timing the rebuild apart, a test counting rebuilds) pass their own tuple.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlite_utils import Database

from ingest.bank.reconcile import refresh as refresh_bank
from ingest.derived.corrections import apply_corrections
from ingest.derived.inventory import rebuild_subscriptions, record_events
from ingest.derived.journal import rebuild_journal, reset_journal, store_support_facts
from ingest.derived.knowledge import derive_providers
from ingest.derived.support_events import record_support_events
from ingest.store import Prepared

BatchHook = Callable[[Database, list[Prepared]], None]
TableStep = Callable[[Database], None]


@dataclass(frozen=True)
class Step:
    name: str
    on_batch: BatchHook | None = None  # inside each chunk's transaction, with the chunk's new messages
    derive: TableStep | None = None  # after a run (import, poll pass, reprocess), in its own transaction
    reset: TableStep | None = None  # before `subtrail reprocess` re-runs every message


STEPS: tuple[Step, ...] = (
    # Provider knowledge (extractors/providers/*.toml) kept in step with the files.
    Step("providers", derive=derive_providers),
    # Support facts per message; tickets, promises and statuses rebuilt from them.
    Step("journal", on_batch=store_support_facts, derive=rebuild_journal, reset=reset_journal),
    # What the providers' support replies confirm (a cancellation, a refund...), as events: reads the journal.
    Step("support events", derive=record_support_events),
    # One event per fact in `subscription_events`; the inventory folded from them (support replies' too).
    # Nothing to reset: reprocessing a message replaces its events in place.
    Step("subscriptions", on_batch=record_events, derive=rebuild_subscriptions),
    # The user's corrections, laid over the rebuilt inventory (before the bank reads it).
    Step("corrections", derive=apply_corrections),
    # Recurring bank charges re-linked to the inventory: reads `subscriptions`, so after it.
    Step("bank", derive=refresh_bank),
)


def on_new(db: Database, batch: list[Prepared], steps: Sequence[Step] = STEPS) -> None:
    """The batch facts of newly stored (or reprocessed) messages; runs in the caller's transaction.
    Another raw copy of a message stored first has no facts of its own: they are counted once."""
    batch = [item for item in batch if item.copy_of is None]
    if not batch:
        return
    for step in steps:
        if step.on_batch is not None:
            step.on_batch(db, batch)


def refresh_derived(db: Database, steps: Sequence[Step] = STEPS) -> None:
    """Rebuild the cross-message tables, each in its own transaction."""
    for step in steps:
        if step.derive is not None:
            with db.atomic():
                step.derive(db)


def reset_derived(db: Database, steps: Sequence[Step] = STEPS) -> None:
    """Clear what the batch facts built, in one transaction, before every message is run again."""
    with db.atomic():
        for step in steps:
            if step.reset is not None:
                step.reset(db)
