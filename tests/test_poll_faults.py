"""Faults against a real Dovecot: kill -9 mid-batch, a connection cut mid-FETCH, a wrong
password among good accounts, and the password kept out of logs and the database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.imap.poller import ONCE_RETRIES, poll_once
from ingest.imap.sync import BATCH_MESSAGES
from tests.dovecot import CutProxy, Dovecot, make_message
from tests.poll_helpers import account_for, config_for, count, stored_count, stored_uids, toml_for

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot

Mailbox = tuple[Dovecot, str, str]


def assert_complete(db: Database, total: int, folder: str = "INBOX") -> None:
    """Every UID stored exactly once: nothing lost, nothing twice."""
    assert count(db, "select count(*) from messages") == total
    assert count(db, "select count(distinct sha256) from raw_messages") == total
    assert stored_uids(db, "test", folder) == list(range(1, total + 1))


def subtrail(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


@pytest.mark.slow
@pytest.mark.parametrize("stage", ["raw_messages", "messages"], ids=["mid-download", "mid-processing"])
def test_kill_9_mid_sync_then_resume_loses_and_duplicates_nothing(
    mailbox: Mailbox, tmp_path: Path, db_path: Path, stage: str
) -> None:
    """Killed while bytes are being stored, or later while the queue is being processed."""
    server, user, _ = mailbox
    total = 2000
    server.seed(user, "INBOX", (make_message(i, padding=3000) for i in range(total)))
    config_file = toml_for(tmp_path / "subtrail.toml", db_path, account_for(server, user))

    proc = subtrail("poll", "--once", "--config", str(config_file), "--workers", "1")
    deadline = time.monotonic() + 60
    while stored_count(db_path, stage) == 0 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    at_kill = stored_count(db_path)
    assert at_kill < total, "the kill must land mid-sync"
    if stage == "messages":
        assert at_kill > 0 and stored_count(db_path, "parse_queue") == total - at_kill

    again = subtrail("poll", "--once", "--config", str(config_file))
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err.decode()
    db = Database(db_path)
    assert_complete(db, total)
    assert count(db, "select count(*) from parse_queue") == 0
    assert db.execute("select last_uid from sync_state").fetchone() == (total,)


def test_after_a_crash_the_next_run_downloads_before_it_parses(
    mailbox: Mailbox, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that died before parsing left a receipt queued (bytes stored, not parsed). The next run
    downloads the new mail first, then parses: a killed drain no longer blocks the mirror. A reply
    to the queued receipt, from a stranger, still counts as in a known thread (relevant mode)."""
    from ingest.imap import poller
    from ingest.pipeline.queue import DrainSummary, drain

    server, user, _ = mailbox
    receipt = make_message(1, sender="billing@netflix.com", subject="Your Netflix membership")
    server.seed(user, "INBOX", [receipt])
    config = config_for(account_for(server, user, fetch="relevant", folders=["INBOX"]))
    monkeypatch.setattr(poller, "drain", lambda *args, **kwargs: DrainSummary())  # killed before parsing
    poll_once(db, config)
    assert (count(db, "select count(*) from parse_queue"), count(db, "select count(*) from messages")) == (
        1,
        0,
    )

    reply = make_message(2, sender="bob@friends.example", subject="Re: hello",
                         extra_headers=f"In-Reply-To: <msg1.{os.getpid()}@test.example>\r\n")  # fmt: skip
    server.append(user, "INBOX", reply)
    server.seed(user, "INBOX", [make_message(i) for i in range(10, 300)])  # and more new mail
    total = 1 + 1 + 290
    raw_at_drain: list[int] = []

    def watched_drain(db: Database, *args: object, **kwargs: object) -> DrainSummary:
        raw_at_drain.append(count(db, "select count(*) from raw_messages"))
        return drain(db, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(poller, "drain", watched_drain)
    summary = poll_once(db, config)

    assert summary.exit_status == 0
    assert raw_at_drain == [total]  # everything downloaded before the first parse
    assert count(db, "select count(*) from messages") == total
    assert "Re: hello" in {r[0] for r in db.execute("select subject from messages")}
    assert count(db, "select count(*) from pending_bodies") == 0


def test_connection_cut_mid_fetch_is_resumed(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    total = 400
    server.seed(user, "INBOX", (make_message(i, padding=4000) for i in range(total)))
    proxy = CutProxy(server.port, after_bytes=600_000)  # well inside the first BODY.PEEK[] response
    try:
        summary = poll_once(db, config_for(account_for(server, user, port=proxy.port)), progress=False)
    finally:
        proxy.close()
    assert proxy.cut_count == 1
    assert proxy.connections == 2  # the cut, then one reconnect
    assert summary.exit_status == 0
    assert_complete(db, total)


def test_repeated_cuts_keep_committed_batches_and_a_later_pass_finishes(
    mailbox: Mailbox, db: Database
) -> None:
    server, user, _ = mailbox
    total = 1500
    server.seed(user, "INBOX", (make_message(i, padding=2000) for i in range(total)))
    # every connection dies after 1 MB, inside the second batch's FETCH: each of the
    # 4 attempts commits the one batch (~650 kB) it fully received, not enough to finish
    proxy = CutProxy(server.port, after_bytes=1_000_000, cuts=100)
    try:
        first = poll_once(db, config_for(account_for(server, user, port=proxy.port)), retry_delay=0.01)
    finally:
        proxy.close()
    assert first.exit_status == 1
    assert "connection lost" in str(first.accounts[0].error)
    assert proxy.connections == 1 + ONCE_RETRIES
    assert count(db, "select count(*) from messages") == (1 + ONCE_RETRIES) * BATCH_MESSAGES
    assert db.execute("select status from poll_runs where folder is null").fetchone() == ("unreachable",)

    second = poll_once(db, config_for(account_for(server, user)))
    assert second.exit_status == 0
    assert_complete(db, total)


def test_wrong_password_fails_that_account_only(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    other, _ = server.add_user()
    server.seed(user, "INBOX", [make_message(1)])
    bad = account_for(server, other, name="bad")
    os.environ[bad["password_env"]] = "wrong-" + server.passwords[other]

    summary = poll_once(db, config_for(bad, account_for(server, user, name="good")))

    assert summary.exit_status == 1
    assert count(db, "select count(*) from messages") == 1
    status, error = db.execute("select status, error from poll_runs where account = 'bad'").fetchone()
    assert status == "auth_failed"
    assert error.startswith("account 'bad': the server refused the login")


def test_password_never_in_logs_or_database(mailbox: Mailbox, tmp_path: Path, db_path: Path) -> None:
    server, user, password = mailbox
    other, other_password = server.add_user()
    server.seed(user, "INBOX", [make_message(1), make_message(2)])
    bad = account_for(server, other, name="bad")
    wrong = "Wr0ng-" + other_password
    os.environ[bad["password_env"]] = wrong
    config_file = toml_for(tmp_path / "subtrail.toml", db_path, account_for(server, user), bad)

    proc = subtrail("poll", "--once", "-v", "--config", str(config_file))
    out, err = proc.communicate(timeout=60)
    check = subtrail("check", "--config", str(config_file))
    check_out, check_err = check.communicate(timeout=60)

    assert proc.returncode == 1 and check.returncode == 1
    assert b"refused the login" in err and b"FAIL" in check_out
    texts = [out, err, check_out, check_err]
    texts += [p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("subtrail.db")]
    for secret in (password, other_password, wrong):
        for text in texts:
            assert secret.encode() not in text
