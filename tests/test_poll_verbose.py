"""`subtrail poll -v` logs the IMAP conversation's steps, never a secret (issue #14), against a real Dovecot:
connect, TLS, login as the user, the folders selected, search counts, fetch batches, logout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dovecot import SENT, Dovecot, make_message
from tests.poll_helpers import ME, account_for, toml_for

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot

PASSWORD = "Verbose-S3cret-Passw0rd"


def _poll(config: Path, *flags: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", "poll", "--once", *flags, "--config", str(config)],
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stderr.decode()


def _steps(log: str, user: str) -> list[str]:
    """The first line of each expected step, in the order they appear."""
    needles = [
        "imap connecting",
        "imap TLS",
        f"imap login as {user}",
        "imap logged in",
        "imap select folder=INBOX",
        "imap search",
        "imap fetch",
        "imap logout",
    ]
    found = {needle: log.find(needle) for needle in needles}
    missing = [needle for needle, at in found.items() if at < 0]
    assert not missing, f"missing {missing} in:\n{log}"
    return sorted(found, key=found.__getitem__)


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_verbose_poll_logs_the_imap_steps_and_never_the_password(
    dovecot: Dovecot, dovecot_tls: Dovecot, tmp_path: Path, tls: bool
) -> None:
    server = dovecot_tls if tls else dovecot
    user, _ = server.add_user(password=PASSWORD)
    server.seed(user, "INBOX", [make_message(i) for i in range(3)])
    server.seed(user, SENT, [make_message(100, sender=ME, to="help@netflix.com")])
    config = toml_for(tmp_path / "subtrail.toml", tmp_path / "subtrail.db", account_for(server, user))

    log = _poll(config, "-v")

    steps = _steps(log, user)
    assert steps[:4] == ["imap connecting", "imap TLS", f"imap login as {user}", "imap logged in"]
    assert steps[-1] == "imap logout"
    assert "imap search" in log and "found=3" in log  # the search count of INBOX's new UIDs
    assert "imap fetch uids=3" in log  # one batch of three
    if not tls:
        assert "imap TLS none (loopback plain text)" in log
    assert PASSWORD not in log
    assert os.environ[account_for(server, user)["password_env"]] == PASSWORD
    assert "Subject" not in log and "Your receipt" not in log  # no mail content either


def test_without_verbose_the_steps_stay_out_of_the_log(dovecot: Dovecot, tmp_path: Path) -> None:
    user, _ = dovecot.add_user(password=PASSWORD)
    dovecot.seed(user, "INBOX", [make_message(1)])
    config = toml_for(tmp_path / "subtrail.toml", tmp_path / "subtrail.db", account_for(dovecot, user))
    log = _poll(config)
    assert "imap login as" not in log and "synced account=test folder=INBOX" in log


def test_verbose_refused_login_names_the_user_never_the_password(dovecot: Dovecot, tmp_path: Path) -> None:
    user, _ = dovecot.add_user(password=PASSWORD)
    account = account_for(dovecot, user)
    wrong = "Wr0ng-" + PASSWORD
    os.environ[account["password_env"]] = wrong
    config = toml_for(tmp_path / "subtrail.toml", tmp_path / "subtrail.db", account)
    proc = subprocess.run(
        [sys.executable, "-m", "ingest", "poll", "--once", "-v", "--config", str(config)],
        capture_output=True,
        timeout=120,
    )
    log = proc.stderr.decode()
    assert proc.returncode == 1, log
    assert f"imap login as {user}" in log and "refused the login" in log
    assert wrong not in log and PASSWORD not in log and "imap logged in" not in log
