"""The daemon against a real Dovecot: IDLE delivery, backoff while the server is down,
no retry storm on a bad password, a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from ingest.config import Config
from ingest.imap.poller import DaemonSettings, run_daemon
from ingest.imap.sync import BATCH_MESSAGES
from ingest.pipeline.queue import CHUNK
from ingest.pipeline.steps import STEPS, Step
from ingest.store.schema import open_db
from tests.dovecot import SENT, Dovecot, make_message, require_dovecot
from tests.poll_helpers import ME, account_for, config_for, count, stored_count, toml_for, wait_until

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot

Mailbox = tuple[Dovecot, str, str]


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    return wait_until(condition, timeout, every=0.05)


@contextmanager
def daemon(db_path: Path, config: Config, **settings: object) -> Iterator[threading.Event]:
    """The daemon in a thread; polls are hours apart unless a test asks otherwise."""
    stop = threading.Event()
    options: dict[str, Any] = {"interval": 3600.0, "backoff_base": 0.2, "backoff_cap": 1.0, **settings}
    thread = threading.Thread(
        target=run_daemon, args=(str(db_path), config, stop, DaemonSettings(**options)), daemon=True
    )
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=15)
        assert not thread.is_alive(), "daemon did not stop"


def test_idle_watches_sent_on_its_own_connection(mailbox: Mailbox, db_path: Path) -> None:
    """Mail I send to a provider is in the journal as fast as mail it sends me: Sent gets an
    IDLE connection of its own (polls are an hour apart here)."""
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(1)])
    open_db(db_path).close()
    with daemon(db_path, config_for(account_for(server, user))):
        assert wait_for(lambda: stored_count(db_path) == 1)
        time.sleep(0.5)  # both connections in IDLE
        server.append(user, SENT, make_message(2, sender=ME, to="help@netflix.com"))
        assert wait_for(lambda: stored_count(db_path) == 2, timeout=10)
        server.append(user, "INBOX", make_message(3))
        assert wait_for(lambda: stored_count(db_path) == 3, timeout=10)
    db = Database(db_path)
    assert count(db, "select count(*) from message_locations where folder = ?", [SENT]) == 1


def test_folders_past_the_connection_cap_are_polled(mailbox: Mailbox, db_path: Path) -> None:
    """One IDLE connection allowed: INBOX is watched, Sent is polled on the interval."""
    server, user, _ = mailbox
    open_db(db_path).close()
    with daemon(db_path, config_for(account_for(server, user, idle_connections=1)), interval=1.0):
        time.sleep(0.5)
        server.append(user, SENT, make_message(2, sender=ME, to="help@netflix.com"))
        assert wait_for(lambda: stored_count(db_path) == 1, timeout=10)


@pytest.fixture
def server_later() -> Iterator[Dovecot]:
    """A private server, configured and given a port but not started."""
    require_dovecot()
    server = Dovecot()
    yield server
    server.cleanup()


def test_idle_delivers_new_mail_without_polling(mailbox: Mailbox, db_path: Path) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(1)])
    open_db(db_path).close()
    with daemon(db_path, config_for(account_for(server, user))):
        assert wait_for(lambda: stored_count(db_path) == 1)
        time.sleep(0.3)  # let the daemon enter IDLE
        server.append(user, "INBOX", make_message(2))
        # polls are an hour apart: only IDLE can bring it in
        assert wait_for(lambda: stored_count(db_path) == 2, timeout=10)


def test_derived_tables_are_rebuilt_after_new_mail_not_on_the_delivery_path(
    mailbox: Mailbox, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(1)])
    rebuilds: list[int] = []

    def record(db: Database) -> None:
        rebuilds.append(count(db, "select count(*) from messages"))

    steps = (*(replace(step, derive=None) for step in STEPS), Step("count messages", derive=record))
    open_db(db_path).close()
    with daemon(db_path, config_for(account_for(server, user)), derive_delay=0.5, steps=steps):
        assert wait_for(lambda: rebuilds == [1])
        time.sleep(0.3)
        server.append(user, "INBOX", make_message(2))
        assert wait_for(lambda: rebuilds == [1, 2])
    assert rebuilds == [1, 2]  # nothing new at stop: no extra rebuild


def test_server_down_at_start_then_up(server_later: Dovecot, db_path: Path) -> None:
    server = server_later
    user, _ = server.add_user()
    server.seed(user, "INBOX", [make_message(i) for i in range(3)])
    open_db(db_path).close()
    config = config_for(account_for(server, user))
    with daemon(db_path, config):
        time.sleep(1.0)  # a few refused connections, backing off
        assert stored_count(db_path) == 0
        server.start()
        assert wait_for(lambda: stored_count(db_path) == 3)
    db = Database(db_path)
    unreachable = db.execute("select error from poll_runs where status = 'unreachable'").fetchall()
    assert len(unreachable) == 1  # one row per outage, not one per retry
    assert "connection refused" in unreachable[0][0]


def test_bad_password_is_not_retried_while_other_accounts_go_on(mailbox: Mailbox, db_path: Path) -> None:
    server, user, _ = mailbox
    other, _ = server.add_user()
    server.seed(user, "INBOX", [make_message(1)])
    server.seed(other, "INBOX", [make_message(2)])
    good = account_for(server, user, name="good")
    bad = account_for(server, other, name="bad")
    os.environ[bad["password_env"]] = "not-the-password"
    open_db(db_path).close()
    with daemon(db_path, config_for(bad, good), backoff_base=0.05, backoff_cap=0.05):
        assert wait_for(lambda: stored_count(db_path) == 1)
        time.sleep(3.0)  # a transient-style retry loop would log in dozens of times here
    failures = [
        line for line in server.log().splitlines() if f"user=<{other}>" in line and "auth failed" in line
    ]
    assert len(failures) == 1
    db = Database(db_path)
    status, error = db.execute("select status, error from poll_runs where account = 'bad'").fetchone()
    assert status == "auth_failed"
    assert "refused the login" in error and "not-the-password" not in error


def test_sigterm_stops_the_daemon_cleanly(mailbox: Mailbox, tmp_path: Path, db_path: Path) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(5)])
    config_file = toml_for(tmp_path / "subtrail.toml", db_path, account_for(server, user))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", "poll", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: db_path.exists() and stored_count(db_path) == 5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert b"stopping on signal=SIGTERM" in err
    assert b"daemon stopped" in err


def test_sigterm_during_a_first_sync_commits_whole_batches_only(
    mailbox: Mailbox, tmp_path: Path, db_path: Path
) -> None:
    server, user, _ = mailbox
    total = 2000
    server.seed(user, "INBOX", (make_message(i, padding=3000) for i in range(total)))
    config_file = toml_for(tmp_path / "subtrail.toml", db_path, account_for(server, user))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ingest", "poll", "--workers", "1", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: stored_count(db_path, "raw_messages") > 0, timeout=60)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    db = Database(db_path)
    stored = count(db, "select count(*) from raw_messages")
    processed = count(db, "select count(*) from messages")
    assert 0 < stored < total and stored % BATCH_MESSAGES == 0  # the batch in progress was finished
    assert db.execute("select last_uid from sync_state where folder = 'INBOX'").fetchone() == (stored,)
    assert db.execute("select status from poll_runs where folder = 'INBOX'").fetchone() == ("stopped",)
    # What was stored but not yet processed waits in the queue for the next start.
    assert processed % CHUNK == 0 and processed + count(db, "select count(*) from parse_queue") == stored
