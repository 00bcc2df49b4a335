"""Password auth costs one key derivation per credential, not one per request.

A pbkdf2 hash of 480,000 rounds (what `datasette hash-password` makes) takes a few hundred ms to
check. Checked on every request, each page of a logged-in user pays it and a stranger sending
wrong passwords stalls the whole server. Over a real `subtrail serve`: logged-in requests come
at the speed of the page, wrong ones are still refused, malformed ones are a 401 (not a 500),
and a logged-in user is not held up by someone guessing. In-process: the key derivation runs
once for repeated requests, and the cache of checked credentials is bounded and holds no password.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from datasette_auth_passwords.utils import hash_password

from ingest.store.schema import open_db
from ingest.web.serve import HASH_ENV, AuthConfig, build_datasette
from tests.serve_helpers import running_server, seed

USER, PASSWORD = "alice", "correct horse battery staple"
ROUNDS = 480_000  # datasette hash-password's default: the real cost


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("auth") / "subtrail.db"
    db = open_db(path)
    seed(db)
    db.close()
    return path


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD, iterations=ROUNDS)


@pytest.fixture(scope="module")
def kdf_seconds(password_hash: str) -> float:
    """What one check of the password costs on this machine now (the best of three)."""
    from datasette_auth_passwords.utils import verify_password

    times = []
    for _ in range(3):
        started = time.perf_counter()
        assert verify_password(PASSWORD, password_hash)
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.fixture(scope="module")
def served(db_path: Path, password_hash: str) -> Iterator[str]:
    env = {HASH_ENV: password_hash, "SUBTRAIL_USERNAME": USER, "DATASETTE_SECRET": "s" * 48}
    with running_server(db_path, env=env, host="0.0.0.0", auth=(USER, PASSWORD)) as url:
        yield url


@pytest.mark.parametrize(
    "credentials",
    [(USER, "wrong"), ("mallory", PASSWORD), (USER, PASSWORD + " "), (USER, ""), (USER.upper(), PASSWORD)],
    ids=["wrong-password", "wrong-user", "password-plus-space", "empty-password", "user-case"],
)
def test_a_checked_login_lets_no_other_credential_in(served: str, credentials: tuple[str, str]) -> None:
    assert httpx.get(f"{served}/robots.txt", auth=(USER, PASSWORD), timeout=60).status_code == 200
    for _ in range(2):  # refused again once its refusal is remembered
        response = httpx.get(f"{served}/subtrail/messages.json", auth=credentials, timeout=60)
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic ")
        assert "Julie" not in response.text


@pytest.mark.parametrize(
    "header",
    [
        b"Basic !!!not base64!!!",
        b"Basic " + base64.b64encode(b"\xff\xfe:\xff"),
        b"Basic " + base64.b64encode(b"no colon at all"),
        b"Basic ====",
        b"Basic",
        b"basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode())[:-2],
        b"Digest username=alice",
    ],
    ids=["not-base64", "not-utf8", "no-colon", "padding-only", "bare-scheme", "truncated", "other-scheme"],
)
def test_malformed_basic_credentials_are_a_401_not_a_500(served: str, header: bytes) -> None:
    response = httpx.get(f"{served}/subtrail/messages", headers={"authorization": header}, timeout=60)
    assert response.status_code == 401


def test_guessing_passwords_does_not_hold_up_a_logged_in_user(served: str, kdf_seconds: float) -> None:
    """Two clients keep sending wrong passwords; each costs a full check, but off the event loop,
    so a logged-in user's requests still answer at once."""
    stop = threading.Event()

    def stranger(n: int) -> None:
        with httpx.Client(timeout=120) as client:
            i = 0
            while not stop.is_set():
                i += 1
                client.get(f"{served}/robots.txt", auth=(USER, f"guess {n}-{i}"))

    threads = [threading.Thread(target=stranger, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2 * kdf_seconds)
        times = []
        with httpx.Client(auth=(USER, PASSWORD), timeout=60) as client:
            for _ in range(10):
                started = time.perf_counter()
                assert client.get(f"{served}/robots.txt").status_code == 200
                times.append(time.perf_counter() - started)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert statistics.median(times) < kdf_seconds, (times, kdf_seconds)  # was several checks long


def test_a_non_ascii_password_logs_in(db_path: Path) -> None:
    """The 401 says `charset="UTF-8"`, so a browser sends a French password as UTF-8."""
    password = "mot de passe é à ç €"
    config = AuthConfig(username=USER, password_hash=hash_password(password, iterations=1000))
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HASH_ENV, config.password_hash)
        (response,) = _in_process(build_datasette(db_path, auth=config), [f"Basic {token}"])
    assert response.status_code == 200


def _in_process(ds: Any, headers: list[str], path: str = "/subtrail/messages.json") -> list[Any]:
    async def run() -> list[Any]:
        await ds.invoke_startup()
        return [await ds.client.get(path, headers={"Authorization": h}) for h in headers]

    return asyncio.run(run())


def test_the_password_is_derived_once_for_repeated_requests(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = AuthConfig(username=USER, password_hash=hash_password(PASSWORD, iterations=1000))
    monkeypatch.setenv(HASH_ENV, config.password_hash)
    calls = []
    real = hashlib.pbkdf2_hmac

    def counted(*args: Any, **kwargs: Any) -> bytes:
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counted)
    token = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    wrong = "Basic " + base64.b64encode(f"{USER}:nope".encode()).decode()
    responses = _in_process(build_datasette(db_path, auth=config), [token] * 10 + [wrong] * 3)
    assert [r.status_code for r in responses] == [200] * 10 + [401] * 3
    assert len(calls) == 2, "one check for the right password, one for the wrong one"


def test_the_credential_cache_is_bounded_and_holds_no_password() -> None:
    from ingest.web.auth import BasicAuth

    checker = BasicAuth(USER, hash_password(PASSWORD, iterations=1000), remembered=8)

    def check(password: str) -> Any:
        token = base64.b64encode(f"{USER}:{password}".encode())
        return asyncio.run(checker.actor(b"Basic " + token))

    for i in range(50):
        assert check(f"wrong {i}") is None
    assert check(PASSWORD) == {"id": USER}
    assert checker.sizes() == (1, 8)
    for key in checker.keys():
        assert PASSWORD.encode() not in key and base64.b64encode(PASSWORD.encode()) not in key
        assert len(key) == 32  # an HMAC-SHA256 of the credentials, keyed by this process
    for i in range(50):  # a flood of wrong guesses does not push the right login out
        check(f"other {i}")
    assert checker.sizes() == (1, 8)
    assert BasicAuth(USER, checker.password_hash).fingerprint(b"x") != checker.fingerprint(b"x")
