"""Prompt, clean stops of `subtrail poll`, run for real: SIGTERM ends it within 2 s even while it
waits for a greeting or for a FETCH that stalled (the account's timeout is 60 s), committed
batches stay and nothing is half-written; an unset password variable is a configuration error."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.imap.poller import poll_once
from ingest.imap.sync import BATCH_MESSAGES
from tests.dovecot import Dovecot, make_message
from tests.imap_proxy import Faults, RewritingProxy
from tests.poll_helpers import account_for, config_for, count, stored_count, stored_uids, toml_for, wait_until

pytest_plugins = ["tests.dovecot"]

STOP_WITHIN = 2.0  # seconds from SIGTERM to exit


def subtrail(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def terminate(proc: subprocess.Popen[bytes]) -> tuple[float, bytes]:
    """SIGTERM, then (seconds until the process exited, its stderr)."""
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return time.monotonic() - sent, err


class SilentServer:
    """A listening socket that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.accepted = threading.Event()
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.conns.append(conn)
            self.accepted.set()

    def close(self) -> None:
        self.listener.close()
        for conn in self.conns:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def silent_account(server: SilentServer, env: str = "SUBTRAIL_TEST_SILENT_PW") -> dict[str, object]:
    import os

    os.environ[env] = "not-a-real-password"
    return {"name": "quiet", "host": "127.0.0.1", "port": server.port, "security": "none",
            "username": "alice", "password_env": env, "fetch": "all", "timeout": 60}  # fmt: skip


@pytest.mark.parametrize("once", [True, False], ids=["once", "daemon"])
def test_sigterm_while_waiting_for_a_greeting(
    silent: SilentServer, tmp_path: Path, db_path: Path, once: bool
) -> None:
    config = toml_for(tmp_path / "subtrail.toml", db_path, silent_account(silent))
    proc = subtrail("poll", *(["--once"] if once else []), "--config", str(config))
    assert silent.accepted.wait(30), "poll never connected"
    time.sleep(0.3)  # well inside the greeting wait (60 s)
    seconds, err = terminate(proc)
    assert seconds < STOP_WITHIN, (seconds, err.decode()[-2000:])
    assert proc.returncode == 0, err.decode()[-2000:]  # a stop is not a failure
    assert b"stopping on signal=SIGTERM" in err
    if not once:
        assert b"daemon started accounts=1 connections=2 " in err  # accounts, not connections
        assert b"daemon stopped" in err
    db = Database(db_path)
    assert count(db, "select count(*) from ingest_errors") == 0  # nothing recorded as failed


def test_a_silent_server_is_reported_as_such(silent: SilentServer, db: Database) -> None:
    account = {**silent_account(silent), "timeout": 0.5}
    summary = poll_once(db, config_for(account), retry_delay=0.01)
    assert summary.exit_status == 1
    assert "no IMAP greeting within 0.5 s" in str(summary.accounts[0].error)


Mailbox = tuple[Dovecot, str, str]


@pytest.mark.dovecot
def test_sigterm_during_a_stalled_fetch_keeps_the_committed_batches(
    mailbox: Mailbox, tmp_path: Path, db_path: Path
) -> None:
    """The server stalls in the middle of the second body FETCH: SIGTERM ends the run within 2 s,
    the first batch is stored with its checkpoint, nothing of the second; the next run finishes."""
    server, user, _ = mailbox
    total = 2 * BATCH_MESSAGES + 100
    server.seed(user, "INBOX", (make_message(i, padding=500) for i in range(total)))
    stall = Faults(only={"body"}, stall_after=BATCH_MESSAGES + 10)
    with RewritingProxy(server.port, stall) as proxy:
        account = account_for(server, user, port=proxy.port, folders=["INBOX"], timeout=60)
        config = toml_for(tmp_path / "subtrail.toml", db_path, account)
        proc = subtrail("poll", "--once", "--workers", "1", "--config", str(config))
        assert wait_until(lambda: proxy.stats.stalled and stored_count(db_path, "raw_messages") > 0, 60)
        time.sleep(0.3)
        seconds, err = terminate(proc)
    assert seconds < STOP_WITHIN, (seconds, err.decode()[-2000:])
    assert proc.returncode == 0, err.decode()[-2000:]
    db = Database(db_path)
    assert count(db, "select count(*) from raw_messages") == BATCH_MESSAGES  # whole batches only
    assert stored_uids(db, "test", "INBOX") == list(range(1, BATCH_MESSAGES + 1))
    assert db.execute("select last_uid from sync_state where folder = 'INBOX'").fetchone() == (
        BATCH_MESSAGES,
    )
    assert db.execute("select status from poll_runs where folder = 'INBOX'").fetchone() == ("stopped",)
    assert count(db, "select count(*) from ingest_errors") == 0
    db.close()

    summary = poll_once(Database(db_path), config_for(account_for(server, user, folders=["INBOX"])))
    assert summary.exit_status == 0
    db = Database(db_path)
    assert stored_uids(db, "test", "INBOX") == list(range(1, total + 1))
    assert count(db, "select count(*) from messages") == count(
        db, "select count(distinct sha256) from raw_messages"
    )
    assert count(db, "select count(*) from messages") == total


@pytest.mark.parametrize("once", [True, False], ids=["once", "daemon"])
def test_an_unset_password_variable_is_a_configuration_error(
    silent: SilentServer, tmp_path: Path, db_path: Path, once: bool
) -> None:
    account = {**silent_account(silent), "password_env": "SUBTRAIL_TEST_NEVER_SET_PW"}
    config = toml_for(tmp_path / "subtrail.toml", db_path, account)
    proc = subtrail("poll", *(["--once"] if once else []), "--config", str(config))
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert err.decode().strip().splitlines() == [
        "subtrail: error: account 'quiet': environment variable SUBTRAIL_TEST_NEVER_SET_PW is not set"
    ]
    assert not silent.accepted.is_set()  # said before any connection
