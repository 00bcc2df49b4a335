"""`subtrail verify`: a database altered after the fact shows up (evidence integrity)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from extractors import Identity
from ingest.cli import cli
from ingest.pipeline.importer import import_paths
from ingest.store.schema import open_db
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled sample imported once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("verify") / "sample.db"
    db = open_db(path)
    identity = Identity(frozenset({"alice.martin@example.org", "alice@example.org"}))
    import_paths(db, [str(SAMPLE / "mailbox")], identity=identity, workers=1, progress=False)
    assert db["raw_messages"].count > 20 and db["ticket_messages"].count and db["subscription_events"].count
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return path


@pytest.fixture
def copy(sample_db: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy.db"
    target.write_bytes(sample_db.read_bytes())
    return target


def verify(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", "--db", str(path)])
    return result.exit_code, result.output


def test_untouched_database_verifies(copy: Path) -> None:
    code, output = verify(copy)
    assert code == 0, output
    assert "MISMATCH" not in output and ", 0 problems" in output


def _one_sha(db: Database, sql: str = "select sha256 from raw_messages order by sha256 limit 1") -> str:
    return db.execute(sql).fetchone()[0]


def _flip_byte(db: Database, sha: str) -> None:
    raw = bytearray(db.execute("select raw from raw_messages where sha256 = ?", [sha]).fetchone()[0])
    raw[len(raw) // 2] ^= 0x01
    db.execute("update raw_messages set raw = ? where sha256 = ?", [bytes(raw), sha])


TAMPERING: dict[str, tuple[Callable[[Database, str], None], str]] = {
    "one bit flipped": (_flip_byte, "modified"),
    "bytes appended": (
        lambda db, sha: db.execute("update raw_messages set raw = raw || x'20' where sha256 = ?", [sha]),
        "modified",
    ),
    "truncated": (
        lambda db, sha: db.execute(
            "update raw_messages set raw = substr(raw, 1, 10) where sha256 = ?", [sha]
        ),
        "modified",
    ),
    "stored as text": (
        lambda db, sha: db.execute("update raw_messages set raw = 'forged' where sha256 = ?", [sha]),
        "modified",
    ),
    "raw emptied": (
        lambda db, sha: db.execute("update raw_messages set raw = null where sha256 = ?", [sha]),
        "raw bytes missing",
    ),
    "raw row deleted": (
        lambda db, sha: db.execute("delete from raw_messages where sha256 = ?", [sha]),
        "message row without raw bytes",
    ),
    "message deleted from both tables": (
        lambda db, sha: [
            db.execute(f"delete from {table} where sha256 = ?", [sha])
            for table in ("raw_messages", "messages")
        ],
        "referenced by message_locations",
    ),
}


@pytest.mark.parametrize("how", TAMPERING)
def test_tampering_detected(copy: Path, how: str) -> None:
    tamper, expected = TAMPERING[how]
    with Database(copy) as db:
        sha = _one_sha(db)
        with db.conn:
            tamper(db, sha)
    code, output = verify(copy)
    assert code == 1
    mismatches = [line for line in output.splitlines() if line.startswith("MISMATCH")]
    assert mismatches and all(sha in line for line in mismatches), output
    assert expected in mismatches[0]


@pytest.mark.parametrize(
    ("table", "column"), [("subscription_events", "message_sha256"), ("ticket_messages", "message_sha256")]
)
def test_deleted_evidence_behind_a_fact_detected(copy: Path, table: str, column: str) -> None:
    """Removing the message that proves a subscription event or a journal entry shows up too."""
    with Database(copy) as db:
        sha = _one_sha(db, f"select {column} from {table} where {column} is not null limit 1")
        with db.conn:
            for name in ("raw_messages", "messages", "message_locations"):
                db.execute(f"delete from {name} where sha256 = ?", [sha])
    code, output = verify(copy)
    assert code == 1 and f"{sha}: referenced by {table}" in output, output


def test_every_row_is_checked(copy: Path) -> None:
    with Database(copy) as db:
        total = db["raw_messages"].count
        shas = [r[0] for r in db.execute("select sha256 from raw_messages order by sha256 desc limit 3")]
        with db.conn:
            for sha in shas:
                _flip_byte(db, sha)
    code, output = verify(copy)
    assert code == 1 and f"{total} raw messages checked, 3 problems" in output
    assert {sha for sha in shas if sha in output} == set(shas)
