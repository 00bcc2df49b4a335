"""Offline import: CPython's e-mail corpus, Maildir, mbox, bad input, idempotence, crash safety."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from bench.mailgen import generate, write_maildir, write_mbox
from ingest.cli import cli
from ingest.pipeline.importer import import_paths
from ingest.store.schema import open_db
from tests.conftest import FIXTURES, REPO

CPYTHON_CORPUS = Path(__import__("test").__file__).parent / "test_email" / "data"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(db: Database) -> dict[str, bytes]:
    return {row["sha256"]: row["raw"] for row in db.query("select sha256, raw from raw_messages")}


def assert_consistent(db: Database) -> None:
    """Every message row has its raw bytes, every raw has a row, and the bytes hash to their key."""
    raws = stored(db)
    rows = {r["sha256"] for r in db.query("select sha256 from messages")}
    assert rows == set(raws)
    assert all(sha(raw) == key for key, raw in raws.items())
    dupes = db.execute("select count(*) - count(distinct sha256) from messages").fetchone()[0]
    assert dupes == 0


@pytest.mark.skipif(not CPYTHON_CORPUS.is_dir(), reason="CPython's test package is not installed")
def test_cpython_corpus_every_message_stored_byte_exact(db: Database) -> None:
    files = sorted(CPYTHON_CORPUS.glob("msg_*.txt"))
    assert len(files) >= 40
    summary = import_paths(db, [str(f) for f in files], workers=2)
    raws = stored(db)
    for path in files:
        assert sha(path.read_bytes()) in raws, f"{path.name} missing"
    assert summary.seen == len(files)
    assert summary.errors > 0  # the corpus is full of defects: recorded, not raised
    assert db.table("ingest_errors").count > 0
    assert_consistent(db)
    again = import_paths(db, [str(f) for f in files], workers=1)
    assert again.new == 0 and again.duplicates == len(files)
    assert db.table("messages").count == len(raws)


def test_maildir_and_mbox(tmp_path: Path, db: Database) -> None:
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 60, seed=1)
    (maildir / "tmp" / "half-delivered").write_bytes(b"From: x@y.z\r\n\r\npartial")
    mbox = tmp_path / "all.mbox"
    write_mbox(mbox, 40, seed=2)
    summary = import_paths(db, [str(maildir), str(mbox)], workers=2)
    assert summary.new == 100 and summary.errors == 0
    raws = stored(db)
    for raw in generate(60, seed=1):
        assert sha(raw) in raws  # Maildir files are stored exactly as on disk
    for raw in generate(40, seed=2):
        as_in_mbox = raw.replace(b"\r\n", b"\n").replace(b"\nFrom ", b"\n>From ")
        assert sha(as_in_mbox) in raws  # mbox: the bytes between separators
    assert not any(b"partial" in raw for raw in raws.values())  # tmp/ is never read
    locations = db.execute("select count(*), count(distinct folder) from message_locations").fetchone()
    assert locations == (100, 2)
    assert_consistent(db)


def test_same_bytes_in_two_places_stored_once(tmp_path: Path, db: Database) -> None:
    raw = next(generate(1))
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "m.eml").write_bytes(raw)
    import_paths(db, [str(tmp_path / "a"), str(tmp_path / "b")], workers=1)
    import_paths(db, [str(tmp_path / "a")], workers=1)
    assert db.table("messages").count == 1
    assert db.table("message_locations").count == 2


def test_parsed_columns(db: Database) -> None:
    import_paths(db, [str(FIXTURES / "import")], workers=1)
    rows = {r["subject"]: r for r in db.query("select * from messages")}
    eight_bit = rows["Résiliation de votre abonnement"]
    assert eight_bit["from_name"] == "François" and eight_bit["from_addr"] == "francois@example.fr"
    assert eight_bit["date"] == "2026-03-03T08:00:00+00:00"
    html = rows["html only"]
    assert "Total : 13,49 €" in html["body_text"] and "alert" not in html["body_text"]
    assert html["has_html"] == 1
    assert "Café crème" in rows["Café"]["body_text"]  # unknown charset: decoded as UTF-8/cp1252
    # FTS over subject, sender and body
    hits = db.execute("select count(*) from messages_fts where messages_fts match 'crème'").fetchone()[0]
    assert hits == 1


@pytest.mark.parametrize(
    ("name", "error_fragment"),
    [
        ("unknown-charset.eml", "unknown charset"),
        ("no-message-id-no-date.eml", "no Message-ID"),
        ("no-message-id-no-date.eml", "unreadable Date"),
        ("truncated.eml", "defect"),
        ("bad-base64.eml", "defect"),
        ("notes.pdf", "not an e-mail message"),
        ("README.md", "not an e-mail message"),
    ],
)
def test_bad_input_is_recorded_and_raw_kept(db: Database, name: str, error_fragment: str) -> None:
    path = FIXTURES / "import" / name
    summary = import_paths(db, [str(path)], workers=1)
    assert summary.errors == 1
    errors = [r["error"] for r in db.query("select error from ingest_errors")]
    assert any(error_fragment in e for e in errors), errors
    if path.suffix == ".eml":
        assert sha(path.read_bytes()) in stored(db)
    else:
        assert db.table("messages").count == 0
        assert db.execute("select sha256 from ingest_errors").fetchone()[0] is None


def test_reimport_records_errors_once(db: Database) -> None:
    import_paths(db, [str(FIXTURES / "import")], workers=1)
    first = db.table("ingest_errors").count
    import_paths(db, [str(FIXTURES / "import")], workers=1)
    assert db.table("ingest_errors").count == first


def test_huge_attachment_and_many_parts(tmp_path: Path, db: Database) -> None:
    from email.message import EmailMessage

    big = EmailMessage()
    big["From"], big["To"], big["Subject"] = "a@example.com", "alice@example.org", "50 MB attachment"
    big["Message-ID"], big["Date"] = "<big@example.com>", "Mon, 2 Mar 2026 10:00:00 +0000"
    big.set_content("see attachment")
    big.add_attachment(
        os.urandom(50 * 1024 * 1024), maintype="application", subtype="octet-stream", filename="x.bin"
    )
    parts = [b"--B\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(10_000)]
    many = (
        b"From: b@example.com\r\nSubject: 10000 parts\r\nMessage-ID: <many@example.com>\r\n"
        b"Date: Mon, 2 Mar 2026 10:00:00 +0000\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        + b"".join(parts)
        + b"--B--\r\n"
    )
    (tmp_path / "big.eml").write_bytes(big.as_bytes())
    (tmp_path / "many.eml").write_bytes(many)
    import_paths(db, [str(tmp_path)], workers=1)
    raws = stored(db)
    assert sha((tmp_path / "big.eml").read_bytes()) in raws
    assert sha(many) in raws
    errors = [r["error"] for r in db.query("select error from ingest_errors")]
    assert any("MIME parts" in e for e in errors)  # walked up to the limit, then said so
    row = db.execute("select attachments from messages where subject = '50 MB attachment'").fetchone()
    assert "x.bin" in row[0]


def test_cli_exit_status_and_summary(tmp_path: Path) -> None:
    runner = CliRunner()
    db_file = str(tmp_path / "x.db")
    ok = tmp_path / "ok"
    write_maildir(ok, 5)
    result = runner.invoke(cli, ["import", str(ok), "--db", db_file, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "5 new, 0 already stored, 0 with errors" in result.output
    result = runner.invoke(cli, ["import", str(FIXTURES / "import"), "--db", db_file, "--workers", "1"])
    assert result.exit_code == 1
    result = runner.invoke(
        cli, ["import", str(ok), "--db", db_file, "--config", str(tmp_path / "missing.toml")]
    )
    assert result.exit_code == 2 and "not found" in result.output


def test_killed_import_resumes_without_loss_or_duplicate(tmp_path: Path) -> None:
    """SIGKILL in the middle of an import, then run it again: a complete database, nothing twice."""
    maildir = tmp_path / "Maildir"
    write_maildir(maildir, 3000, seed=3)
    db_file = tmp_path / "kill.db"
    cmd = [sys.executable, "-m", "ingest", "import", str(maildir), "--db", str(db_file), "--workers", "2"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 60
    count = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
        if db_file.exists():
            try:
                count = Database(db_file).execute("select count(*) from messages").fetchone()[0]
            except Exception:
                continue
            if count >= 400:
                break
    assert proc.poll() is None, "import finished before it could be killed; make the mailbox bigger"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = open_db(db_file)
    assert 0 < partial.table("messages").count < 3000
    assert_consistent(partial)
    partial.close()
    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    db = open_db(db_file)
    assert db.table("messages").count == 3000
    assert db.table("raw_messages").count == 3000
    assert_consistent(db)


def test_init_writes_config_and_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    config = (tmp_path / "home" / "subtrail.toml").read_text()
    assert "[identity]" in config and "password_env" in config
    assert (tmp_path / "home" / "data" / "subtrail.db").exists()
    again = CliRunner().invoke(cli, ["init", str(tmp_path / "home")])
    assert "already exists" in again.output


def test_schema_is_idempotent_and_in_wal(db_path: Path) -> None:
    first = open_db(db_path)
    schema = first.schema
    first.close()
    second = open_db(db_path)
    assert second.schema == schema
    assert second.journal_mode == "wal"
    applied = [r["name"] for r in second.query("select name from _sqlite_migrations")]
    assert "0001_initial" in applied


def test_redundant_message_indexes_are_dropped_and_their_lookups_still_indexed(db_path: Path) -> None:
    """A database from before 0004 had `messages(kind)` and `messages(provider)` beside the composite
    indexes that start with those columns: the migration drops them, and the lookups they served
    (Datasette's kind= and provider= filters) still read an index, not the table."""
    db = open_db(db_path)
    db.execute("create index idx_messages_kind on messages (kind)")
    db.execute("create index idx_messages_provider on messages (provider)")
    db.execute("delete from _sqlite_migrations where name = '0004_drop_redundant_indexes'")
    db.close()
    db = open_db(db_path)
    names = {r[0] for r in db.execute("select name from sqlite_master where type = 'index'")}
    assert not names & {"idx_messages_kind", "idx_messages_provider"}
    for column in ("kind", "provider"):
        plan = " ".join(
            str(r[-1])
            for r in db.execute(f"explain query plan select count(*) from messages where {column} = 'x'")
        )
        assert "USING COVERING INDEX idx_messages_" in plan, plan
