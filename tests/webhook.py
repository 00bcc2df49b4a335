"""A local HTTP server standing for a notification service: Apprise `json://` URLs post to it.

Use it from a test module with ``pytest_plugins = ["tests.webhook"]``: the ``receiver`` fixture
gives its port and the list of posts (decoded JSON) as they arrive; ``titles`` reads that list
under the lock the server threads append under. ``run_notify`` runs `subtrail notify` in its own
process, with the secret a config's URL names and the day pinned.

PYTEST_DONT_REWRITE (helpers, not tests: test modules import it before pytest registers it.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import REPO


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


def titles(posts: list[dict]) -> list[str]:
    """The titles posted so far, read while no server thread is appending."""
    with Receiver.lock:
        return [p["title"] for p in posts]


def run_notify(
    config: Path, *args: str, secret: str, today: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`subtrail notify --config CONFIG ARGS` with $NOTIFY_SECRET and $SUBTRAIL_TODAY set."""
    env = {**os.environ, "NOTIFY_SECRET": secret, "SUBTRAIL_TODAY": today}
    return subprocess.run(
        [sys.executable, "-m", "ingest", "notify", "--config", str(config), *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout,
    )  # fmt: skip
