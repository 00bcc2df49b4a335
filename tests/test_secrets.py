"""A known IMAP password never leaves the login: not in a log line, an error or exception text,
a database byte (rows, WAL) or an export — whatever the server answers, even when it echoes
the password back in its refusal. `poll`, `check` and `serve --poll` run as real commands
against the scripted server of `tests/fakeimap.py`; their whole output is searched.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakeimap import HANG_UP, FakeImap
from tests.serve_helpers import free_port, subtrail_command

PASSWORD = "Canary-Pa55w0rd-7f3a9c"
PASSWORD_ENV = "SUBTRAIL_SECRET_TEST_PW"
LEAKS = [
    PASSWORD.encode(),
    base64.b64encode(PASSWORD.encode()),
    base64.b64encode(b"\0alice\0" + PASSWORD.encode()),  # AUTHENTICATE PLAIN
    PASSWORD.encode("utf-16-le"),
]
ECHO = PASSWORD.encode()

SERVERS: dict[str, dict[str, Any]] = {
    "accepts": {},
    "refuses, echoing the password": {
        "script": {"LOGIN": b"TAG NO [AUTHENTICATIONFAILED] bad password " + ECHO + b"\r\n"}
    },
    "BAD, echoing the quoted password": {
        "script": {"LOGIN": b'TAG BAD syntax error near "' + ECHO + b'"\r\n'}
    },
    "BYE echoing, then hang-up": {"script": {"LOGIN": b"* BYE " + ECHO + b"\r\n" + HANG_UP}},
    "hang-up after login": {"script": {"LIST": HANG_UP}},
}


def leaked(data: bytes) -> list[bytes]:
    return [form for form in LEAKS if form in data]


def write_config(workdir: Path, server: FakeImap, **extra: str) -> Path:
    lines = [
        'db = "data/subtrail.db"',
        "[identity]",
        'addresses = ["alice@example.org"]',
        "[[accounts]]",
        'name = "fake"',
        'host = "127.0.0.1"',
        f"port = {server.port}",
        'security = "none"',
        'username = "alice"',
        'fetch = "all"',
        "timeout = 2",
    ]
    lines += [f'{key} = "{value}"' for key, value in extra.items()] or [f'password_env = "{PASSWORD_ENV}"']
    config = workdir / "subtrail.toml"
    config.write_text("\n".join(lines) + "\n")
    return config


def run(workdir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, PASSWORD_ENV: PASSWORD, "HOME": str(workdir)}
    return subprocess.run(
        subtrail_command(*args, "--config", str(workdir / "subtrail.toml")),
        cwd=workdir,
        env=env,
        capture_output=True,
        timeout=120,
    )


def scan_data_dir(workdir: Path) -> list[tuple[str, bytes]]:
    """Every byte the commands left behind: database, WAL, exports — and the logs."""
    found = []
    for path in workdir.rglob("*"):
        if path.is_file() and path.name != "subtrail.toml" and not path.name.endswith(".py"):
            found += [(str(path.relative_to(workdir)), form) for form in leaked(path.read_bytes())]
    return found


def export_everything(workdir: Path) -> None:
    (workdir / "data" / "out").mkdir(parents=True, exist_ok=True)
    for args in (
        ("export", "evidence", "--format", "zip", "-o", "data/out/evidence.zip"),
        ("export", "evidence", "--format", "csv", "-o", "data/out/evidence.csv"),
        ("export", "calendar", "-o", "data/out/calendar.ics"),
    ):
        result = run(workdir, *args)
        assert result.returncode == 0, result.stderr[-2000:]


@pytest.mark.parametrize("server_kind", SERVERS)
def test_poll_and_check_never_show_the_password(tmp_path: Path, server_kind: str) -> None:
    with FakeImap(**SERVERS[server_kind]) as server:
        write_config(tmp_path, server)
        outputs = [run(tmp_path, "poll", "--once", "-v"), run(tmp_path, "check")]
        if server_kind == "accepts":
            assert outputs[0].returncode == 0, outputs[0].stderr[-2000:]
        else:
            assert outputs[0].returncode == 1 and b"fake" in outputs[0].stderr
    assert PASSWORD.encode() in server.wire  # it was really sent, so its absence below means something
    for result in outputs:
        assert leaked(result.stdout + result.stderr) == [], (result.args, result.stderr[-2000:])
        assert b"Traceback" not in result.stderr
    export_everything(tmp_path)
    assert scan_data_dir(tmp_path) == []


def test_password_command_output_stays_private(tmp_path: Path) -> None:
    """A password command that prints the secret, and one that fails after printing it."""
    script = tmp_path / "pw.py"
    script.write_text(f"import sys\nprint({PASSWORD!r})\nsys.stderr.write({PASSWORD!r})\n")
    failing = tmp_path / "pw_fail.py"
    failing.write_text(f"import sys\nprint({PASSWORD!r})\nsys.stderr.write({PASSWORD!r})\nsys.exit(3)\n")
    with FakeImap() as server:
        outputs = []
        for command in (script, failing):
            write_config(tmp_path, server, password_command=f"{sys.executable} {command}")
            outputs += [run(tmp_path, "poll", "--once", "-v"), run(tmp_path, "check")]
    assert outputs[0].returncode == 0 and outputs[2].returncode in (1, 2)
    for result in outputs:
        assert leaked(result.stdout + result.stderr) == [], result.stderr[-2000:]
    assert scan_data_dir(tmp_path) == []


@pytest.fixture
def serving(tmp_path: Path) -> Iterator[tuple[Path, str, FakeImap, subprocess.Popen[bytes]]]:
    """`subtrail serve --poll` with Datasette auth on, the poller logging in with the password."""
    from datasette_auth_passwords.utils import hash_password

    with FakeImap() as server:
        write_config(tmp_path, server)
        port = free_port()
        env = {
            **os.environ,
            PASSWORD_ENV: PASSWORD,
            "HOME": str(tmp_path),
            "SUBTRAIL_PASSWORD_HASH": hash_password("datasette-login", iterations=1000),
            "SUBTRAIL_USERNAME": "alice",
            "DATASETTE_SECRET": "d" * 48,
        }
        log = (tmp_path / "serve.log").open("wb")
        proc = subprocess.Popen(
            subtrail_command(
                "serve",
                "--poll",
                "--interval",
                "1",
                "--port",
                str(port),
                "--config",
                str(tmp_path / "subtrail.toml"),
            ),
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{url}/robots.txt", timeout=1)
                    break
                except httpx.HTTPError:
                    assert proc.poll() is None and time.monotonic() < deadline, "serve did not start"
                    time.sleep(0.2)
            yield tmp_path, url, server, proc
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            log.close()


def test_serve_with_poll_never_shows_the_password(
    serving: tuple[Path, str, FakeImap, subprocess.Popen[bytes]],
) -> None:
    workdir, url, server, proc = serving
    deadline = time.monotonic() + 30
    while PASSWORD.encode() not in server.wire:  # the poller logged in
        assert time.monotonic() < deadline, "the poller never logged in"
        time.sleep(0.2)
    pages = [
        "/",
        "/subtrail/messages",
        "/subtrail/ingest_errors.json",
        "/-/settings.json",
        "/-/metadata.json",
    ]
    for page in pages:
        wrong = httpx.get(
            f"{url}{page}", auth=("alice", PASSWORD), timeout=10
        )  # the IMAP password is not the login
        assert wrong.status_code == 401 and not leaked(wrong.content)
        right = httpx.get(f"{url}{page}", auth=("alice", "datasette-login"), timeout=10)
        assert right.status_code == 200 and not leaked(right.content), page
    sql = httpx.get(
        f"{url}/subtrail.json",
        params={"sql": "select * from sync_state"},
        auth=("alice", "datasette-login"),
        timeout=10,
    )
    assert sql.status_code == 200 and not leaked(sql.content)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    export_everything(workdir)
    assert scan_data_dir(workdir) == []  # serve.log included
    for path in workdir.rglob("*"):  # nor the Datasette login's password, which only exists hashed
        assert not path.is_file() or b"datasette-login" not in path.read_bytes(), path
    assert (workdir / "serve.log").stat().st_size > 0


def test_a_new_database_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    """The mailbox is private: the database, its WAL and shared-memory files are mode 0600."""
    import stat

    from ingest.store.schema import open_db

    db = open_db(tmp_path / "data" / "subtrail.db")
    db["raw_messages"].insert({"sha256": "0" * 64, "raw": b"x"})
    files = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert files == ["subtrail.db", "subtrail.db-shm", "subtrail.db-wal"]  # checked while open
    for path in (tmp_path / "data").iterdir():
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, (path.name, oct(path.stat().st_mode))
    db.close()
