"""Shared fixtures: a fresh on-disk database, the bundled sample, the repo root."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.store.schema import open_db

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = REPO / "data" / "sample"
# The day the sample's tests are written for: the statuses an import stores (a promise overdue, a
# subscription lapsed) are judged as of it, not as of the day the suite runs.
SAMPLE_TODAY = "2026-11-27"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "subtrail.db"


@pytest.fixture
def db(db_path: Path) -> Database:
    database = open_db(db_path)
    yield database
    database.close()


def import_sample(path: Path, *, bank: bool = True) -> Path:
    """The bundled sample mailbox imported into `path`, then (`bank`) its bank statements through
    `subtrail bank import`, as a person runs them. Judged as of `SUBTRAIL_TODAY` when the caller pins
    it, else as of `SAMPLE_TODAY`."""
    from click.testing import CliRunner

    from ingest.cli import cli
    from ingest.config import load_config
    from ingest.pipeline.importer import import_paths

    config = load_config(str(SAMPLE / "subtrail.toml"))
    with pytest.MonkeyPatch.context() as pinned:
        pinned.setenv("SUBTRAIL_TODAY", os.environ.get("SUBTRAIL_TODAY", SAMPLE_TODAY))
        db = open_db(path)
        try:
            import_paths(db, [str(SAMPLE / "mailbox")], identity=config.identity, workers=1, progress=False)
        finally:
            db.close()
        if bank:
            csvs = [str(p) for p in sorted((SAMPLE / "bank").glob("*.csv"))]
            result = CliRunner().invoke(cli, ["bank", "import", *csvs, "--db", str(path)])
            assert result.exit_code == 0, result.output
    return path


def copy_db(source: Path, target: Path) -> Path:
    """A copy of a database to write into, through SQLite's backup API: the WAL's content too."""
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


@pytest.fixture(scope="session")
def sample_db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample mailbox and bank statements, imported once for the session: read it only; a test
    that writes works on `copy_db(sample_db_path, tmp_path / ...)`."""
    return import_sample(tmp_path_factory.mktemp("sample") / "subtrail.db")


@pytest.fixture(autouse=True)
def no_rates_from_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the real ECB from a test: `status` fetches rates once a day when online otherwise
    (tests/test_fx_fetch.py serves them from a local HTTP server)."""
    monkeypatch.setenv("SUBTRAIL_ECB_URL", "off")
