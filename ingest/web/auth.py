"""HTTP basic auth over every URL, checking each distinct credential's password hash once.

The password hash is pbkdf2 with hundreds of thousands of rounds (`datasette hash-password`): a
few hundred ms per check, by design. datasette-auth-passwords checks it on every request (twice:
once to let the request in, once to name the actor), on the event loop, so every page of a
logged-in user paid it and anyone sending wrong passwords stalled the server for everyone.

Here a credential, once checked, is remembered by its HMAC-SHA256 under a random key made for
this process: the cache holds neither the password nor anything that could be tested against a
guess outside this process, and a different password is a different key. Both outcomes are
remembered (the hash cannot change while the process runs), in separate bounded LRU caches so
a flood of wrong guesses never pushes the right login out. A check that must run goes to a
thread, one at a time, so the event loop keeps serving logged-in users meanwhile. The actor
goes into the ASGI scope for `actor_from_request`: no second check.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import Request, Response
from datasette_auth_passwords.utils import verify_password

PLUGIN = "subtrail-auth"  # its config: {"username": ..., "password_hash": {"$env": ...}}
SCOPE_KEY = "subtrail.actor"
CHALLENGE = 'Basic realm="subtrail", charset="UTF-8"'
ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class BasicAuth:
    """One account's basic-auth check; `remembered` bounds each cache (accepted, refused)."""

    def __init__(self, username: str, password_hash: str, remembered: int = 256) -> None:
        self.username = username
        self.password_hash = password_hash
        self._key = secrets.token_bytes(32)
        self._remembered = remembered
        self._accepted: OrderedDict[bytes, None] = OrderedDict()
        self._refused: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()  # the caches (event loop and check thread)
        self._checking = threading.Lock()  # one key derivation at a time

    def fingerprint(self, token: bytes) -> bytes:
        return hmac.new(self._key, token, "sha256").digest()

    async def actor(self, authorization: bytes) -> dict[str, str] | None:
        """The actor for an `Authorization` header value, or None to answer 401."""
        scheme, _, token = authorization.partition(b" ")
        token = token.strip()
        if scheme.lower() != b"basic" or not token:
            return None
        key = self.fingerprint(token)
        known = self._known(key)
        if known is None:
            known = await asyncio.to_thread(self._check, key, token)
        return {"id": self.username} if known else None

    def _known(self, key: bytes) -> bool | None:
        with self._lock:
            for cache, outcome in ((self._accepted, True), (self._refused, False)):
                if key in cache:
                    cache.move_to_end(key)
                    return outcome
        return None

    def _check(self, key: bytes, token: bytes) -> bool:
        with self._checking:
            known = self._known(key)  # checked meanwhile by a request with the same credential
            if known is not None:
                return known
            credentials = _decode(token)
            ok = False
            if credentials is not None:
                username, password = credentials
                same_user = hmac.compare_digest(username.encode(), self.username.encode())
                ok = verify_password(password, self.password_hash) and same_user  # always derive
            self._remember(key, ok)
            return ok

    def _remember(self, key: bytes, ok: bool) -> None:
        cache = self._accepted if ok else self._refused
        with self._lock:
            cache[key] = None
            while len(cache) > self._remembered:
                cache.popitem(last=False)

    def sizes(self) -> tuple[int, int]:
        with self._lock:
            return len(self._accepted), len(self._refused)

    def keys(self) -> list[bytes]:
        with self._lock:
            return [*self._accepted, *self._refused]


def _decode(token: bytes) -> tuple[str, str] | None:
    """`user:password` from base64 of UTF-8 (RFC 7617 with charset="UTF-8"), or None if garbled."""
    try:
        decoded = base64.b64decode(token, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


def _authorization(scope: dict[str, Any]) -> bytes:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"authorization":
            return bytes(value)
    return b""


@hookimpl
def asgi_wrapper(datasette: Any) -> Callable[[ASGIApp], ASGIApp]:
    """Every HTTP request needs the login when the config names one; the rest passes through."""
    config = datasette.plugin_config(PLUGIN) or {}
    if not config.get("password_hash"):
        return lambda app: app
    checker = BasicAuth(config["username"], config["password_hash"])

    def wrap(app: ASGIApp) -> ASGIApp:
        async def require_login(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            actor = await checker.actor(_authorization(scope))
            if actor is None:
                response = Response.text(
                    "401 Authorization Required", status=401, headers={"www-authenticate": CHALLENGE}
                )
                await response.asgi_send(send)
                return
            await app({**scope, SCOPE_KEY: actor}, receive, send)

        return require_login

    return wrap


@hookimpl
def actor_from_request(datasette: Any, request: Request) -> dict[str, str] | None:
    return request.scope.get(SCOPE_KEY)
