"""Shared fixtures: a fresh on-disk database, the bundled sample, the repo root."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.store.schema import open_db

REPO = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SAMPLE = REPO / "data" / "sample"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "subtrail.db"


@pytest.fixture
def db(db_path: Path) -> Database:
    database = open_db(db_path)
    yield database
    database.close()


@pytest.fixture(autouse=True)
def no_rates_from_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never the real ECB from a test: `status` fetches rates once a day when online otherwise
    (tests/test_fx_fetch.py serves them from a local HTTP server)."""
    monkeypatch.setenv("SUBTRAIL_ECB_URL", "off")
