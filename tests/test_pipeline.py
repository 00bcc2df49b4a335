"""The pipeline's shape: a worker imports nothing derived, the rebuild steps are one ordered
tuple that callers pass, and the one loop's chunks and reprocess's row rewrite."""

from __future__ import annotations

import ast
import json
import subprocess
import sys

from sqlite_utils import Database

from extractors import Extraction, Identity
from extractors.mail.parse import ParsedMessage
from ingest.bank.reconcile import refresh as refresh_bank
from ingest.derived.corrections import apply_corrections
from ingest.derived.inventory import rebuild_subscriptions, record_events
from ingest.derived.journal import rebuild_journal, reset_journal, store_support_facts
from ingest.derived.knowledge import derive_providers
from ingest.derived.support_events import record_support_events
from ingest.pipeline import run
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from ingest.pipeline.steps import STEPS, Step
from ingest.store import Job, Location, Prepared, message_row
from tests.conftest import REPO, SAMPLE

ME = Identity(frozenset({"alice.martin@example.org"}))
INBOX = SAMPLE / "mailbox" / "inbox"


def test_a_worker_imports_nothing_derived() -> None:
    """`prepare` is all a parser process needs: importing it must not pull in the derived tables."""
    code = "import json, sys, ingest.pipeline; print(json.dumps(sorted(m for m in sys.modules if 'ingest' in m)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert json.loads(loaded) == ["ingest", "ingest.pipeline", "ingest.store"]


def test_derived_tables_do_not_import_the_pipeline() -> None:
    """They only define functions; `ingest.pipeline.steps` is the one place that orders them."""
    for path in [*(REPO / "ingest" / "derived").glob("*.py"), REPO / "ingest" / "bank" / "reconcile.py"]:
        for node in ast.walk(ast.parse(path.read_text())):
            modules = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            assert not any(m == "ingest.pipeline" or m.startswith("ingest.pipeline.") for m in modules), path
            assert not (isinstance(node, ast.ImportFrom) and node.module == "ingest" and
                        any(a.name == "pipeline" for a in node.names)), path  # fmt: skip


def test_the_rebuild_order_is_the_tuple() -> None:
    """Batch facts, then rebuilds, each top to bottom; the support replies' events read the journal and feed
    the inventory; corrections lie over the rebuilt inventory, and the bank reads `subscriptions` as
    corrected, so after both."""
    assert [s.on_batch for s in STEPS if s.on_batch] == [store_support_facts, record_events]
    assert [s.derive for s in STEPS if s.derive] == [
        derive_providers, rebuild_journal, record_support_events, rebuild_subscriptions, apply_corrections,
        refresh_bank,
    ]  # fmt: skip
    assert [s.reset for s in STEPS if s.reset] == [reset_journal]


def test_steps_passed_by_the_caller_are_the_ones_that_run(db: Database) -> None:
    calls: list[str] = []

    def hook(_db: Database, batch: list[Prepared]) -> None:
        calls.append(f"batch {len(batch)}")

    def derive(_db: Database) -> None:
        calls.append("derive")

    def reset(_db: Database) -> None:
        calls.append("reset")

    steps = (Step("recorder", on_batch=hook, derive=derive, reset=reset),)
    files = sorted(INBOX.glob("*.eml"))[:3]
    import_paths(db, [str(f) for f in files], ME, workers=1, progress=False, steps=steps)
    assert calls == ["batch 3", "derive"]
    assert db["subscription_events"].count == 0 and db["tickets"].count == 0  # the default steps did not run
    import_paths(db, [str(f) for f in files], ME, workers=1, progress=False, steps=steps)
    assert calls[2:] == ["derive"]  # nothing new: no batch facts, the rebuild all the same
    calls.clear()
    reprocess_all(db, ME, workers=1, steps=steps)
    assert calls == ["reset", "batch 3", "derive"]


def test_chunks_are_bounded_in_count_and_bytes(monkeypatch) -> None:
    monkeypatch.setattr(run, "CHUNK_MESSAGES", 3)
    monkeypatch.setattr(run, "CHUNK_BYTES", 100)
    here = Location(account="", folder="")
    sizes = [10, 10, 10, 10, 95, 200, 10]
    chunks = list(run.chunked(Job(b"x" * n, here) for n in sizes))
    assert [[len(job.raw) for job in chunk] for chunk in chunks] == [[10, 10, 10], [10, 95], [200], [10]]


def test_reprocess_rewrites_every_column_the_parser_fills(db: Database) -> None:
    """Reprocess takes its columns from `message_row`: damage every one of them (but the facts of
    the stored bytes) and one reprocess puts back exactly what the import wrote."""
    import_paths(db, [str(INBOX)], ME, workers=1, progress=False)
    row = message_row(ParsedMessage(sha256="", raw=b""), Extraction(), "")
    columns = [c for c in row if c not in ("sha256", "size", "stored_at")]
    query = f"select sha256, size, stored_at, {', '.join(f'[{c}]' for c in columns)} from messages order by sha256"
    before = db.execute(query).fetchall()
    db.execute(f"update messages set {', '.join(f'[{c}] = null' for c in columns)}")
    db.conn.commit()
    reprocess_all(db, ME, workers=1)
    assert db.execute(query).fetchall() == before


def test_the_loop_writes_with_a_chunk_sized_page_cache_and_memory_journals_and_gives_them_back(
    db: Database,
) -> None:
    """A chunk's transaction fits the page cache while the loop writes (SQLite's 2 MB default spilled
    pages to the WAL and wrote them twice), and its statement journals stay in memory (SQLite spilled
    them to temporary files); after it, the connection has its own settings again, so the daemon's
    long-lived connections keep the small cache and sort on disk."""
    from ingest.store import save_parsed

    names = ("cache_size", "temp_store")
    before = [db.execute(f"PRAGMA {name}").fetchone()[0] for name in names]
    seen: list[list[int]] = []

    def write(db: Database, batch: list[Prepared]):  # type: ignore[no-untyped-def]
        seen.append([db.execute(f"PRAGMA {name}").fetchone()[0] for name in names])
        return save_parsed(db, batch)

    jobs = [
        Job(b"From: a@b.example\r\nSubject: %d\r\n\r\nbody" % i, Location("t", "INBOX", uid=i))
        for i in range(3)
    ]
    tally = run.run_jobs(db, jobs, Identity(), write, workers=1)
    assert tally.new == 3
    assert seen == [[-run.CHUNK_PAGE_CACHE_KB, 2]]  # 2: MEMORY
    assert before[0] != -run.CHUNK_PAGE_CACHE_KB and before[1] != 2
    assert [db.execute(f"PRAGMA {name}").fetchone()[0] for name in names] == before
