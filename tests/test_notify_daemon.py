"""The daemon's reminders, for real: `subtrail poll` (daemon mode, a real Dovecot account) over the
bundled sample with today pinned, posting Apprise `json://` notifications to a local HTTP server.

A renewal in 7 days, a promise overdue and a charge after a cancellation each arrive once; the
daemon killed (SIGKILL, no clean stop) and started again sends none of them twice. And
`subtrail notify` is one pass whether `--once` is given or not (the contract's command).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.config import load_config, parse_config
from ingest.outputs.notify import notifier_for
from ingest.pipeline.importer import import_paths
from ingest.store.schema import open_db
from tests.conftest import REPO, SAMPLE
from tests.dovecot import Dovecot, make_message
from tests.poll_helpers import account_for, toml_for

pytest_plugins = ["tests.dovecot"]

TODAY = "2026-12-07"  # a Monday: Netflix renews on the 14th; Spotify's refund was due on the 2nd
SECRET = "s3cr3t-daemon-token"
RENEWAL, PROMISE, CHARGE = "Netflix renews in 7 days", "promise overdue", "after the cancellation"


@pytest.fixture(scope="module")
def sample_db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config(str(SAMPLE / "subtrail.toml"))
    path = tmp_path_factory.mktemp("notify-daemon") / "sample.db"
    db = open_db(path)
    import_paths(db, [str(SAMPLE / "mailbox")], identity=config.identity, workers=1, progress=False)
    db.close()
    csvs = [str(p) for p in sorted((SAMPLE / "bank").glob("*.csv"))]
    result = CliRunner().invoke(cli, ["bank", "import", *csvs, "--db", str(path)])
    assert result.exit_code == 0, result.output
    return path


class Receiver(BaseHTTPRequestHandler):
    posts: list[dict] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("Content-Length") or 0)
        with Receiver.lock:
            Receiver.posts.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict]]]:
    Receiver.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], Receiver.posts
    server.shutdown()
    server.server_close()


def _db_copy(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)  # the WAL's content too
    return target


def _notify_section(port: int, digest: bool = False) -> str:
    lines = [
        "[notify]",
        f'urls = ["json://alice:${{NOTIFY_SECRET}}@127.0.0.1:{port}/hook"]',
        "days_before = [7, 1]",
    ]
    if digest:
        lines.append('weekly_digest = "monday 08:00"')
    return "\n".join(lines) + "\n"


def _wait(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def _titles(posts: list[dict]) -> list[str]:
    with Receiver.lock:
        return [p["title"] for p in posts]


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
    db = _db_copy(sample_db_path, tmp_path / "subtrail.db")
    config = toml_for(tmp_path / "subtrail.toml", db, account_for(server, user, folders=["INBOX"]))
    base = config.read_text()
    config.write_text(base + _notify_section(port))
    log = tmp_path / "daemon.log"

    first = _daemon(config, log)
    try:
        wanted = (RENEWAL, PROMISE, CHARGE)
        arrived = _wait(lambda: all(any(w in t for t in _titles(posts)) for w in wanted), timeout=60)
        assert arrived, (_titles(posts), log.read_text()[-3000:])
        assert _wait(lambda: sqlite3.connect(db).execute(
            "select count(*) from message_locations where folder = 'INBOX' and account = 'test'"
        ).fetchone()[0] == 1, timeout=30), "the daemon polled the account"  # fmt: skip
        time.sleep(1.5)  # any second send would come now (a pass is a minute apart, a race is not)
    finally:
        _kill(first)
    sent = _titles(posts)
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
        assert _wait(lambda: len(_titles(posts)) > len(sent), timeout=60), log.read_text()[-3000:]
        time.sleep(1.5)
    finally:
        _kill(second)
    again = _titles(posts)
    assert again[: len(sent)] == sent and len(again) == len(sent) + 1, again
    assert again[-1].startswith("subtrail: your week (Dec 7, 2026)")
    keys = [r[0] for r in sqlite3.connect(db).execute("select key from notifications order by key")]
    assert len(keys) == len(again) and len(set(keys)) == len(keys)
    assert SECRET not in log.read_text()


def _notify(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NOTIFY_SECRET": SECRET, "SUBTRAIL_TODAY": TODAY}
    return subprocess.run(
        [sys.executable, "-m", "ingest", "notify", "--config", str(config), *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=60,
    )  # fmt: skip


def test_notify_is_one_pass_with_or_without_once(
    sample_db_path: Path, tmp_path: Path, receiver: tuple[int, list[dict]]
) -> None:
    """The contract's `subtrail notify [--once]`: always one pass, then exit; `--once` is the same."""
    port, posts = receiver
    db = _db_copy(sample_db_path, tmp_path / "subtrail.db")
    config = tmp_path / "subtrail.toml"
    config.write_text(f'db = "{db}"\n' + _notify_section(port))
    plain = _notify(config)
    assert plain.returncode == 0, plain.stderr
    sent = _titles(posts)
    assert any(RENEWAL in t for t in sent) and f"{len(sent)} sent, 0 failed, 0 sent before" in plain.stderr
    once = _notify(config, "--once")
    assert once.returncode == 0, once.stderr
    assert _titles(posts) == sent and f"0 sent, 0 failed, {len(sent)} sent before" in once.stderr
    help_text = CliRunner().invoke(cli, ["notify", "--help"]).output
    assert "--once" in help_text and "always one pass" in " ".join(help_text.split())


def test_the_daemon_judges_reminders_in_the_configured_timezone() -> None:
    """The digest's "monday 08:00" and the day a reminder is judged on are the person's, not the server's."""
    config = parse_config({"timezone": "Pacific/Kiritimati", "notify": {"urls": ["json://127.0.0.1/x"]}})
    notifier = notifier_for("unused.db", config)
    assert str(notifier.tz) == "Pacific/Kiritimati" and notifier.settings.urls == ["json://127.0.0.1/x"]
