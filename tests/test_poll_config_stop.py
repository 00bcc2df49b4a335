"""The daemon and configuration problems, against a real Dovecot (issue #14): a problem no retry can fix
stops it at once with one clear line (exit 2); a login the server refuses is reported and retried with a
slow backoff; the start line counts accounts, not connections."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.imap.errors import ConfigProblem
from ingest.imap.poller import DaemonSettings, run_daemon
from ingest.store.schema import open_db
from tests.dovecot import Dovecot, make_message
from tests.poll_helpers import account_for, config_for, stored_count, toml_for

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot

Mailbox = tuple[Dovecot, str, str]


def _daemon_thread(db_path: Path, config: object, stop: threading.Event, **settings: float) -> tuple[
    threading.Thread, list[object]
]:  # fmt: skip
    result: list[object] = []
    options = {"interval": 3600.0, "backoff_base": 0.2, "backoff_cap": 1.0, **settings}

    def run() -> None:
        result.append(run_daemon(str(db_path), config, stop, DaemonSettings(**options)))  # type: ignore[arg-type]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def _password_prints_nothing(account: dict[str, Any]) -> dict[str, Any]:
    """The account with its password from a command that prints nothing: a problem no retry can fix."""
    del account["password_env"]
    account["password_command"] = "true"
    return account


def test_daemon_stops_at_once_on_a_password_source_that_gives_nothing(
    mailbox: Mailbox, tmp_path: Path, db_path: Path
) -> None:
    server, user, _ = mailbox
    account = _password_prints_nothing(account_for(server, user))
    config = toml_for(tmp_path / "subtrail.toml", db_path, account)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", "poll", "--config", str(config)], capture_output=True, timeout=60
    )
    assert proc.returncode == 2, proc.stderr
    assert time.monotonic() - started < 30  # not retried hourly: stopped
    last = proc.stderr.decode().strip().splitlines()[-1]
    assert last.startswith("subtrail: error: account 'test': password_command printed nothing")
    assert "the daemon stopped" in last
    status = Database(db_path).execute("select status from poll_runs where account = 'test'").fetchall()
    assert status == [("config_error",)]


def test_a_config_problem_in_one_account_stops_the_whole_daemon(mailbox: Mailbox, db_path: Path) -> None:
    server, user, _ = mailbox
    other, _ = server.add_user()
    server.seed(user, "INBOX", [make_message(1)])
    broken = _password_prints_nothing(account_for(server, other, name="broken"))
    open_db(db_path).close()
    stop = threading.Event()
    thread, result = _daemon_thread(db_path, config_for(account_for(server, user), broken), stop)
    thread.join(timeout=30)
    assert not thread.is_alive(), "a configuration problem must stop the daemon"
    assert isinstance(result[0], ConfigProblem) and "password_command printed nothing" in str(result[0])


def test_a_refused_login_is_retried_with_a_growing_wait(
    mailbox: Mailbox, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, user, _ = mailbox
    account = account_for(server, user)
    os.environ[account["password_env"]] = "not-the-password"
    open_db(db_path).close()
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="subtrail")
    thread, result = _daemon_thread(
        db_path, config_for(account), stop, permanent_first=0.2, permanent_retry=30
    )
    deadline = time.monotonic() + 40
    waits: list[float] = []
    while len(waits) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
        waits = [float(w) for w in re.findall(r"next try in ([\d.]+)s", caplog.text)]
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive() and result == [None]  # a refusal is not a configuration problem
    assert len(waits) >= 3, caplog.text
    assert waits[0] <= 0.2 and waits[0] <= waits[1] <= waits[2]
    assert "refused the login" in caplog.text and "attempt 2" in caplog.text
    assert "not-the-password" not in caplog.text


def test_daemon_start_line_counts_accounts(
    mailbox: Mailbox, db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(1)])
    open_db(db_path).close()
    caplog.set_level(logging.INFO, logger="subtrail")
    stop = threading.Event()
    thread, _ = _daemon_thread(db_path, config_for(account_for(server, user)), stop)
    deadline = time.monotonic() + 20
    while stored_count(db_path) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=15)
    started = [r.getMessage() for r in caplog.records if r.getMessage().startswith("daemon started")]
    assert len(started) == 1 and "accounts=1 connections=2" in started[0]  # INBOX and Sent


def test_check_with_a_password_command_that_prints_nothing_exits_2(
    mailbox: Mailbox, tmp_path: Path, db_path: Path
) -> None:
    server, user, _ = mailbox
    account = _password_prints_nothing(account_for(server, user))
    config = toml_for(tmp_path / "subtrail.toml", db_path, account)
    result = CliRunner().invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "FAIL account 'test': password_command printed nothing" in result.output
