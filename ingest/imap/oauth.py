"""OAuth2 for IMAP (XOAUTH2): Gmail through google-auth, Microsoft 365 through msal.

The account's `[accounts.oauth]` table names the provider and the app registration:

    provider = "google"                 # or "microsoft"
    client_id = "1234-abc.apps.googleusercontent.com"
    client_secret_env = "SUBTRAIL_OAUTH_SECRET"   # Google "desktop app" secret (not needed for Microsoft)
    tenant = "common"                   # Microsoft: your tenant id, or "common" / "consumers"
    token_file = "data/oauth-perso.json"

`subtrail oauth ACCOUNT` does the one-time consent (Google: a browser and a loopback
redirect; Microsoft: a device code) and writes the refresh token to `token_file` (mode
0600, never the database). Each login then gets a fresh access token; when the provider
rotates the refresh token (Microsoft always does), the new one replaces the old in the same
file, atomically, so a crash never leaves the account without a valid token.
The `oauth` extra installs the libraries: `pip install 'subtrail[oauth]'`.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import os
import secrets
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from ingest.config import Account
from ingest.imap.errors import AuthError, ConfigProblem

GOOGLE_SCOPES = ["https://mail.google.com/"]
GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
MICROSOFT_SCOPES = ["https://outlook.office.com/IMAP.AccessAsUser.All"]
EXPIRY_MARGIN = 120  # seconds: refresh a token this long before it expires


def _settings(account: Account) -> dict[str, Any]:
    oauth = account.oauth
    provider = oauth.get("provider")
    if provider not in ("google", "microsoft"):
        raise ConfigProblem(f"account {account.name!r}: oauth.provider must be 'google' or 'microsoft'")
    if not oauth.get("client_id"):
        raise ConfigProblem(f"account {account.name!r}: oauth.client_id is required")
    return oauth


def token_path(account: Account) -> Path:
    return Path(account.oauth.get("token_file") or f"data/oauth-{account.name}.json")


def load_tokens(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return {}


def save_tokens(path: Path, data: dict[str, Any]) -> None:
    """Write atomically with mode 0600: a rotated refresh token must never be half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def cached_access_token(tokens: dict[str, Any], now: float | None = None) -> str | None:
    """The stored access token if it is still good for `EXPIRY_MARGIN` seconds."""
    now = time.time() if now is None else now
    token, expires = tokens.get("access_token"), tokens.get("expires_at", 0)
    return token if token and float(expires) - EXPIRY_MARGIN > now else None


def access_token(account: Account) -> str:
    """A valid access token for `account`, refreshing (and saving a rotated refresh token) if needed."""
    oauth = _settings(account)
    path = token_path(account)
    tokens = load_tokens(path)
    cached = cached_access_token(tokens)
    if cached:
        return cached
    if oauth["provider"] == "google":
        return _google_refresh(account, oauth, path, tokens)
    return _microsoft_refresh(account, oauth, path, tokens)


def _client_secret(account: Account, oauth: dict[str, Any]) -> str | None:
    env = oauth.get("client_secret_env")
    if env:
        value = os.environ.get(env)
        if not value:
            raise ConfigProblem(f"account {account.name!r}: environment variable {env} is not set")
        return value
    return oauth.get("client_secret")


def _not_authorized(account: Account) -> AuthError:
    return AuthError(
        f"account {account.name!r}: no usable OAuth2 refresh token; run `subtrail oauth {account.name}`"
    )


def _google_refresh(account: Account, oauth: dict[str, Any], path: Path, tokens: dict[str, Any]) -> str:
    if not tokens.get("refresh_token"):
        raise _not_authorized(account)
    try:
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.requests import Request
        from google.oauth2.credentials import Credentials
    except ImportError:
        raise AuthError("OAuth2 for Google needs the oauth extra: pip install 'subtrail[oauth]'") from None
    creds = Credentials(
        token=None,
        refresh_token=tokens["refresh_token"],
        client_id=oauth["client_id"],
        client_secret=_client_secret(account, oauth),
        token_uri=oauth.get("token_uri", GOOGLE_TOKEN_URI),
        scopes=GOOGLE_SCOPES,
    )
    try:
        creds.refresh(Request())
    except GoogleAuthError as exc:
        raise AuthError(
            f"account {account.name!r}: Google refused the refresh token ({type(exc).__name__}); "
            f"run `subtrail oauth {account.name}`"
        ) from None
    expires_at = creds.expiry.timestamp() if creds.expiry else time.time() + 3000
    tokens.update(
        access_token=creds.token,
        expires_at=expires_at,
        refresh_token=creds.refresh_token or tokens["refresh_token"],
    )
    save_tokens(path, tokens)
    return str(creds.token)


def _msal_app(account: Account, oauth: dict[str, Any], tokens: dict[str, Any]) -> Any:
    try:
        import msal
    except ImportError:
        raise AuthError("OAuth2 for Microsoft needs the oauth extra: pip install 'subtrail[oauth]'") from None
    cache = msal.SerializableTokenCache()
    if tokens.get("msal_cache"):
        cache.deserialize(tokens["msal_cache"])
    authority = f"https://login.microsoftonline.com/{oauth.get('tenant', 'common')}"
    return msal.PublicClientApplication(oauth["client_id"], authority=authority, token_cache=cache), cache


def _microsoft_refresh(account: Account, oauth: dict[str, Any], path: Path, tokens: dict[str, Any]) -> str:
    app, cache = _msal_app(account, oauth, tokens)
    accounts = app.get_accounts(username=account.username) or app.get_accounts()
    result = app.acquire_token_silent(MICROSOFT_SCOPES, account=accounts[0]) if accounts else None
    if not result or "access_token" not in result:
        raise _not_authorized(account)
    _save_microsoft(path, tokens, cache, result)
    return str(result["access_token"])


def _save_microsoft(path: Path, tokens: dict[str, Any], cache: Any, result: dict[str, Any]) -> None:
    tokens.update(
        access_token=result["access_token"],
        expires_at=time.time() + int(result.get("expires_in", 3000)),
        msal_cache=cache.serialize(),  # holds the rotated refresh token
    )
    save_tokens(path, tokens)


def authorize(account: Account, say: Any = print) -> Path:
    """One-time consent; stores the refresh token in `token_file` and returns its path."""
    oauth = _settings(account)
    path = token_path(account)
    if oauth["provider"] == "microsoft":
        app, cache = _msal_app(account, oauth, {})
        flow = app.initiate_device_flow(scopes=MICROSOFT_SCOPES)
        if "user_code" not in flow:
            raise AuthError(
                f"account {account.name!r}: Microsoft refused the device flow ({flow.get('error')})"
            )
        say(flow["message"])
        result = app.acquire_token_by_device_flow(flow)
        if "access_token" not in result:
            raise AuthError(f"account {account.name!r}: consent failed ({result.get('error')})")
        _save_microsoft(path, {}, cache, result)
        return path
    _google_consent(account, oauth, path, say)
    return path


def _google_consent(account: Account, oauth: dict[str, Any], path: Path, say: Any) -> None:
    """Installed-app flow: browser consent, redirect to a one-shot loopback server, PKCE."""
    verifier = secrets.token_urlsafe(64)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(16)
    received: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query))
            if query.get("state") == state:
                received.update(query)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"subtrail: authorization received, you can close this tab.")

        def log_message(self, *args: Any) -> None:  # the URL carries the code: keep it out of logs
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    redirect = f"http://127.0.0.1:{server.server_port}/"
    params = {
        "client_id": oauth["client_id"], "redirect_uri": redirect, "response_type": "code",
        "scope": " ".join(GOOGLE_SCOPES), "access_type": "offline", "prompt": "consent",
        "code_challenge": challenge, "code_challenge_method": "S256", "state": state,
        "login_hint": account.username,
    }  # fmt: skip
    say(
        f"Open this address in a browser and allow access:\n{GOOGLE_AUTH_URI}?{urllib.parse.urlencode(params)}"
    )
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    thread.join(timeout=600)
    server.server_close()
    if "code" not in received:
        raise AuthError(
            f"account {account.name!r}: no authorization received ({received.get('error', 'timeout')})"
        )
    body = urllib.parse.urlencode(
        {
            "code": received["code"],
            "client_id": oauth["client_id"],
            "client_secret": _client_secret(account, oauth) or "",
            "redirect_uri": redirect,
            "grant_type": "authorization_code",
            "code_verifier": verifier,
        }  # fmt: skip
    ).encode()
    request = urllib.request.Request(oauth.get("token_uri", GOOGLE_TOKEN_URI), data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            data = json.loads(response.read())
    except OSError as exc:
        raise AuthError(f"account {account.name!r}: token exchange failed ({type(exc).__name__})") from None
    if "refresh_token" not in data:
        raise AuthError(f"account {account.name!r}: Google returned no refresh token")
    save_tokens(
        path,
        {
            "refresh_token": data["refresh_token"],
            "access_token": data.get("access_token"),
            "expires_at": time.time() + int(data.get("expires_in", 0)),
        },
    )
