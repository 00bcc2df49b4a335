"""`subtrail serve --poll`: one process serves Datasette and keeps the database current from IMAP."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.dovecot import Dovecot, make_message
from tests.poll_helpers import account_for, toml_for
from tests.serve_helpers import running_server, subtrail_command

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot


def wait_for_subject(base: str, subject: str, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    subjects: list[str] = []
    while time.monotonic() < deadline:
        rows = httpx.get(
            f"{base}/subtrail/messages.json", params={"_shape": "array", "_col": "subject"}
        ).json()
        subjects = [row["subject"] for row in rows]
        if subject in subjects:
            return subjects
        time.sleep(0.3)
    raise AssertionError(f"{subject!r} never showed up; saw {subjects}")


def test_serve_with_poll_shows_new_mail(mailbox: tuple[Dovecot, str, str], tmp_path: Path) -> None:
    server, user, _password = mailbox
    server.seed(user, "INBOX", [make_message(1, subject="Already there")])
    db = tmp_path / "live.db"
    config = toml_for(tmp_path / "subtrail.toml", db, account_for(server, user, folders=["INBOX"]))
    with running_server(db, extra_args=("--config", str(config), "--poll", "--interval", "5")) as base:
        wait_for_subject(base, "Already there")
        # Let the poller reach IDLE: a message appended between its first pass and its EXAMINE is
        # only seen at the next change (a poller race, reported), which is not what this test is about.
        time.sleep(2)
        server.append(user, "INBOX", make_message(2, subject="Arrived while serving"))
        subjects = wait_for_subject(base, "Arrived while serving")
    assert sorted(subjects) == ["Already there", "Arrived while serving"]


def test_poll_without_accounts_is_refused(tmp_path: Path) -> None:
    import subprocess

    config = tmp_path / "subtrail.toml"
    config.write_text('[identity]\naddresses = ["alice@example.org"]\n')
    result = subprocess.run(
        subtrail_command("serve", "--config", str(config), "--db", str(tmp_path / "x.db"), "--poll"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "no [[accounts]]" in result.stderr
