"""The daemon's reminders, for real: `subtrail poll` (daemon mode, a real Dovecot account) over the
bundled sample with today pinned, posting Apprise `json://` notifications to a local HTTP server.

A renewal in 7 days, a promise overdue and a charge after a cancellation each arrive once; the
daemon killed (SIGKILL, no clean stop) and started again sends none of them twice. And
`subtrail notify` is one pass whether `--once` is given or not (the contract's command).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.config import parse_config
from ingest.outputs.notify import notifier_for
from tests.conftest import REPO, copy_db
from tests.dovecot import Dovecot, make_message
from tests.poll_helpers import account_for, toml_for, wait_until
from tests.webhook import run_notify, titles

pytest_plugins = ["tests.dovecot", "tests.webhook"]

TODAY = "2026-12-07"  # a Monday: Netflix renews on the 14th; Spotify's refund was due on the 2nd
SECRET = "s3cr3t-daemon-token"
RENEWAL, PROMISE, CHARGE = "Netflix renews in 7 days", "promise overdue", "after the cancellation"


def _notify_section(port: int, digest: bool = False) -> str:
    lines = [
        "[notify]",
        f'urls = ["json://alice:${{NOTIFY_SECRET}}@127.0.0.1:{port}/hook"]',
        "days_before = [7, 1]",
    ]
    if digest:
        lines.append('weekly_digest = "monday 08:00"')
    return "\n".join(lines) + "\n"


def _daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "NOTIFY_SECRET": SECRET, "SUBTRAIL_TODAY": TODAY}
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", "poll", "--interval", "3600", "--config", str(config)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=log.open("ab"),
    )  # fmt: skip


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=20)


@pytest.mark.dovecot
def test_daemon_sends_each_reminder_once_across_a_kill_and_restart(
    mailbox: tuple[Dovecot, str, str], sample_db_path: Path, tmp_path: Path, receiver: tuple[int, list[dict]]
) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(1)])  # the account works: the daemon polls for real
    port, posts = receiver
    db = copy_db(sample_db_path, tmp_path / "subtrail.db")
    config = toml_for(tmp_path / "subtrail.toml", db, account_for(server, user, folders=["INBOX"]))
    base = config.read_text()
    config.write_text(base + _notify_section(port))
    log = tmp_path / "daemon.log"

    first = _daemon(config, log)
    try:
        wanted = (RENEWAL, PROMISE, CHARGE)
        arrived = wait_until(
            lambda: all(any(w in t for t in titles(posts)) for w in wanted), timeout=60, every=0.1
        )
        assert arrived, (titles(posts), log.read_text()[-3000:])
        assert wait_until(lambda: sqlite3.connect(db).execute(
            "select count(*) from message_locations where folder = 'INBOX' and account = 'test'"
        ).fetchone()[0] == 1, timeout=30, every=0.1), "the daemon polled the account"  # fmt: skip
        time.sleep(1.5)  # any second send would come now (a pass is a minute apart, a race is not)
    finally:
        _kill(first)
    sent = titles(posts)
    for words in (RENEWAL, PROMISE):
        assert sum(words in t for t in sent) == 1, (words, sent)
    assert "613377" in next(t for t in sent if PROMISE in t)
    charges = [t for t in sent if CHARGE in t]  # Deezer's, and Spotify's debit after Nov 3's cancellation
    assert (
        len(charges) == 2 and any("Deezer" in t for t in charges) and any("Spotify" in t for t in charges)
    ), sent
    assert len(sent) == len(set(sent)), "nothing twice"
    netflix = next(p for p in posts if RENEWAL in p["title"])
    assert "https://www.netflix.com/cancelplan" in netflix["message"]

    # Restarted after a kill, with the weekly digest now configured: the digest shows a pass ran,
    # and it is the only new post.
    config.write_text(base + _notify_section(port, digest=True))
    second = _daemon(config, log)
    try:
        digest_sent = wait_until(lambda: len(titles(posts)) > len(sent), timeout=60, every=0.1)
        assert digest_sent, log.read_text()[-3000:]
        time.sleep(1.5)
    finally:
        _kill(second)
    again = titles(posts)
    assert again[: len(sent)] == sent and len(again) == len(sent) + 1, again
    assert again[-1].startswith("subtrail: your week (Dec 7, 2026)")
    keys = [r[0] for r in sqlite3.connect(db).execute("select key from notifications order by key")]
    assert len(keys) == len(again) and len(set(keys)) == len(keys)
    assert SECRET not in log.read_text()


def _notify(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_notify(config, *args, secret=SECRET, today=TODAY, timeout=60)


def test_notify_is_one_pass_with_or_without_once(
    sample_db_path: Path, tmp_path: Path, receiver: tuple[int, list[dict]]
) -> None:
    """The contract's `subtrail notify [--once]`: always one pass, then exit; `--once` is the same."""
    port, posts = receiver
    db = copy_db(sample_db_path, tmp_path / "subtrail.db")
    config = tmp_path / "subtrail.toml"
    config.write_text(f'db = "{db}"\n' + _notify_section(port))
    plain = _notify(config)
    assert plain.returncode == 0, plain.stderr
    sent = titles(posts)
    assert any(RENEWAL in t for t in sent) and f"{len(sent)} sent, 0 failed, 0 sent before" in plain.stderr
    once = _notify(config, "--once")
    assert once.returncode == 0, once.stderr
    assert titles(posts) == sent and f"0 sent, 0 failed, {len(sent)} sent before" in once.stderr
    help_text = CliRunner().invoke(cli, ["notify", "--help"]).output
    assert "--once" in help_text and "always one pass" in " ".join(help_text.split())


def test_the_daemon_judges_reminders_in_the_configured_timezone() -> None:
    """The digest's "monday 08:00" and the day a reminder is judged on are the person's, not the server's."""
    config = parse_config({"timezone": "Pacific/Kiritimati", "notify": {"urls": ["json://127.0.0.1/x"]}})
    notifier = notifier_for("unused.db", config)
    assert str(notifier.tz) == "Pacific/Kiritimati" and notifier.settings.urls == ["json://127.0.0.1/x"]
