"""`datasette-metadata.yml` describes everything a user sees in Datasette.

The sample mailbox and the sample bank statement are imported into a fresh
database; every table and view Datasette shows (not the hidden ones, not FTS
shadow tables) must have a description, and so must every one of its columns.
Metadata that names a table, column, facet or sort that does not exist fails
too (a typo or a rename would otherwise go unnoticed). Canned queries must only
use tables and views an empty `open_db` database has.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingest.bank.reconcile import refresh
from ingest.bank.statements import read_statement
from ingest.bank.store import save_transactions
from ingest.config import load_config
from ingest.pipeline.importer import import_paths
from ingest.store.schema import open_db
from tests.conftest import REPO, SAMPLE

METADATA: dict[str, Any] = yaml.safe_load((REPO / "datasette-metadata.yml").read_text(encoding="utf-8"))
DATABASE: dict[str, Any] = METADATA["databases"]["subtrail"]
TABLES: dict[str, dict[str, Any]] = DATABASE["tables"]
QUERIES: dict[str, dict[str, Any]] = DATABASE.get("queries") or {}


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample mailbox and bank statement, imported as `subtrail import` + `bank import` do."""
    path = tmp_path_factory.mktemp("metadata") / "sample.db"
    db = open_db(path)
    try:
        config = load_config(str(SAMPLE / "subtrail.toml"))
        import_paths(db, [str(SAMPLE / "mailbox")], identity=config.identity, progress=False)
        statements = sorted((SAMPLE / "bank").glob("*.csv"))
        assert statements, "no sample bank statement"
        with db.atomic():
            for statement in statements:
                save_transactions(db, read_statement(statement).transactions)
            refresh(db)
        assert db.execute("select count(*) from subscriptions").fetchone()[0]
        assert db.execute("select count(*) from recurring_charges").fetchone()[0]
    finally:
        db.close()
    return path


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("metadata") / "empty.db"
    open_db(path).close()
    return path


def _shapes(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (type, columns) for every table and view, FTS tables and their shadow tables left out."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(
            "select name, type, sql from sqlite_master where type in ('table', 'view')"
        ).fetchall()
        fts = [
            name
            for name, _, sql in rows
            if re.search(r"virtual\s+table.*using\s+fts", sql or "", re.I | re.S)
        ]
        return {
            name: (kind, [c[1] for c in conn.execute(f"pragma table_info([{name}])")])
            for name, kind, _ in rows
            if not any(name == f or name.startswith(f"{f}_") for f in fts)
        }
    finally:
        conn.close()


def _hidden(name: str) -> bool:
    return bool((TABLES.get(name) or {}).get("hidden"))


def test_every_visible_table_view_and_column_is_described(sample_db: Path) -> None:
    shapes = _shapes(sample_db)
    assert {"bank_unknown_recurring", "needs_review", "pending_bodies"} <= set(shapes)
    problems = []
    for name, (kind, columns) in sorted(shapes.items()):
        if _hidden(name):
            continue
        entry = TABLES.get(name) or {}
        if not str(entry.get("description") or "").strip():
            problems.append(f"{kind} {name}: no description")
        described = entry.get("columns") or {}
        problems += [
            f"{kind} {name}: column {column} has no description"
            for column in columns
            if not str(described.get(column) or "").strip()
        ]
    assert not problems, "datasette-metadata.yml is missing:\n" + "\n".join(problems)


def test_internal_tables_are_hidden(sample_db: Path) -> None:
    names = set(_shapes(sample_db))
    internal = {n for n in names if n.startswith("_")}
    assert "_sqlite_migrations" in internal
    assert all(_hidden(n) for n in internal), sorted(n for n in internal if not _hidden(n))
    assert _hidden("messages_fts")  # Datasette hides the shadow tables (messages_fts_*) by this prefix


def _facet_columns(facets: list[Any]) -> list[str]:
    out = []
    for facet in facets:
        out += list(facet.values()) if isinstance(facet, dict) else [facet]
    return out


def test_metadata_names_only_what_exists(sample_db: Path) -> None:
    """Entries, columns, facets, sorts and label columns all name something in the database."""
    shapes = _shapes(sample_db)
    conn = sqlite3.connect(sample_db)
    try:
        every = {r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view')")}
    finally:
        conn.close()
    problems = []
    for name, entry in TABLES.items():
        if name not in every:
            problems.append(f"{name}: no such table or view")
            continue
        if name not in shapes:
            continue  # FTS: only `hidden` is expected here
        columns = set(shapes[name][1])
        named = list(entry.get("columns") or {}) + _facet_columns(entry.get("facets") or [])
        named += [entry[key] for key in ("sort", "sort_desc", "label_column") if key in entry]
        problems += [f"{name}: no column {column!r}" for column in named if column not in columns]
        if "fts_table" in entry and entry["fts_table"] not in every:
            problems.append(f"{name}: no FTS table {entry['fts_table']!r}")
    assert not problems, "\n".join(problems)


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def _referenced(conn: sqlite3.Connection, sql: str) -> set[str]:
    """The tables and views `sql` reads, as SQLite resolves them while compiling it.

    Compiling fails on a name that does not exist. The authorizer then reports each column read
    with its table, and the view (or CTE) it was read through, if any.
    """
    tables: set[str] = set()
    through: set[str] = set()

    def authorizer(
        action: int, arg1: str | None, arg2: str | None, dbname: str | None, source: str | None
    ) -> int:
        if action == sqlite3.SQLITE_READ and arg1:
            tables.add(arg1)
            if source:
                through.add(source)
        return sqlite3.SQLITE_OK

    params = {p: "" for p in re.findall(r"(?<![:\w]):(\w+)", _strip_literals(sql))}
    conn.set_authorizer(authorizer)
    try:
        conn.execute(f"explain {sql}", params)
    finally:
        conn.set_authorizer(None)
    views = {r[0] for r in conn.execute("select name from sqlite_master where type = 'view'")}
    return tables | (through & views)


def _query_sql() -> list[Any]:
    """Every canned query's SQL (and fallback), and the dashboard charts' queries."""
    out = []
    for name, query in QUERIES.items():
        required = list(query.get("requires") or [])
        for key in ("sql", "fallback_sql"):
            if query.get(key):
                out.append(pytest.param(f"{name}.{key}", query[key], required, id=f"{name}.{key}"))
    for dashboard in ((METADATA.get("plugins") or {}).get("datasette-dashboards") or {}).values():
        for chart, spec in (dashboard.get("charts") or {}).items():
            if spec.get("query"):
                out.append(pytest.param(f"chart {chart}", spec["query"], [], id=f"chart.{chart}"))
    return out


@pytest.mark.parametrize(("name", "sql", "required"), _query_sql())
def test_canned_query_uses_only_what_an_empty_database_has(
    empty_db: Path, name: str, sql: str, required: list[str]
) -> None:
    conn = sqlite3.connect(empty_db)
    try:
        existing = {
            r[0] for r in conn.execute("select name from sqlite_master where type in ('table', 'view')")
        }
        assert set(required) <= existing, f"{name}: requires {sorted(set(required) - existing)}"
        try:
            used = _referenced(conn, sql)
        except sqlite3.OperationalError as exc:
            pytest.fail(f"{name}: {exc}")
        assert used, f"{name}: reads no table?"
        assert used <= existing, f"{name}: {sorted(used - existing)}"
    finally:
        conn.close()


def test_sample_database_is_the_schema(sample_db: Path, empty_db: Path) -> None:
    """What the test checks is what `open_db` creates: no table or view comes only from an import."""
    assert set(_shapes(sample_db)) == set(_shapes(empty_db))
