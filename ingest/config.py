"""`subtrail.toml`: where the database is, who I am, which IMAP accounts to poll.

Passwords are never in the file: each account names where to get one
(`password_env`, `password_command`, or the system keyring). A bad file raises
`ConfigError` with a one-line message naming the problem (exit status 2).
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import shlex
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from extractors import Identity
from ingest.outputs.humanize import available_languages, is_timezone, system_language, system_timezone

DEFAULT_CONFIG = "subtrail.toml"
# What `subtrail init` writes in [identity] (CONFIG_TEMPLATE): never a real user's address.
PLACEHOLDER_ADDRESSES = frozenset({"me@example.org"})
DEFAULT_DB = "data/subtrail.db"
SECURITY_MODES = ("ssl", "starttls", "none")
FETCH_MODES = ("relevant", "all")


def is_loopback(host: str) -> bool:
    """True for addresses that never leave this machine (where plain text and no auth are acceptable)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConfigError(Exception):
    """The configuration cannot be used as written; the message says what to fix."""


def refuse_unknown(
    data: dict[str, Any], known: set[str] | frozenset[str], where: str, table: str = ""
) -> None:
    """Raise `ConfigError` for the first key of `data` not in `known`, naming the closest known key.

    A misspelt key silently ignored is a setting the user believes in and does not have
    (`[identiy]` left every message inbound), so every table of the file is checked."""
    unknown = sorted(set(data) - set(known))
    if not unknown:
        return
    key = unknown[0]
    place = f" in {table}" if table else ""
    close = difflib.get_close_matches(key.lower(), sorted(known), n=1, cutoff=0.5)
    if close:
        hint = f"did you mean `{close[0]}`?"
    else:
        hint = "known keys: " + ", ".join(f"`{k}`" for k in sorted(known))
    raise ConfigError(f"{where}: unknown key `{key}`{place} ({hint})")


@dataclass
class Account:
    name: str
    host: str
    username: str
    port: int = 993
    security: str = "ssl"
    folders: list[str] = field(default_factory=list)  # empty: INBOX and the \\Sent special-use folder
    fetch: str = "relevant"
    password_env: str | None = None
    password_command: str | None = None
    password_keyring: bool = False  # keyring service "subtrail", user = account name
    auth: str = "password"  # password | xoauth2
    oauth: dict[str, Any] = field(default_factory=dict)
    tls_ca_file: str | None = None  # trust this CA (e.g. a self-hosted server) besides the system store
    tls_fingerprint: str | None = None  # sha256 of the server certificate: pin it (self-signed servers)
    timeout: float = 60.0
    idle_connections: int = 4  # daemon: at most this many connections, each IDLE on one folder

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)

    def check_password_env(self) -> None:
        """Raise `ConfigError` (exit 2) when `password_env` names an unset variable: a mistake in
        the setup, to say before any connection, not a server failure to record and retry.
        (A password command or the keyring is asked only at login: it may prompt or be slow.)"""
        if self.auth == "password" and self.password_env and not os.environ.get(self.password_env):
            raise ConfigError(f"account {self.name!r}: environment variable {self.password_env} is not set")

    def password(self) -> str:
        """The secret from env, command or keyring. Errors name the source, never the value."""
        if self.password_env:
            self.check_password_env()
            return os.environ[self.password_env]
        if self.password_command:
            try:
                out = subprocess.run(
                    shlex.split(self.password_command), capture_output=True, check=True, timeout=60
                ).stdout
            except (OSError, subprocess.SubprocessError) as exc:
                raise ConfigError(
                    f"account {self.name!r}: password_command failed ({type(exc).__name__})"
                ) from None
            value = out.decode("utf-8", "replace").splitlines()[0] if out.strip() else ""
            if not value:
                raise ConfigError(f"account {self.name!r}: password_command printed nothing")
            return value
        if self.password_keyring:
            import keyring

            value = keyring.get_password("subtrail", self.name)
            if not value:
                raise ConfigError(f"account {self.name!r}: no password in the keyring (service 'subtrail')")
            return value
        raise ConfigError(f"account {self.name!r}: set password_env, password_command or keyring = true")


@dataclass(frozen=True)
class Display:
    """How times, money and words are shown to a person (the database keeps UTC, minor units, codes)."""

    timezone: str
    language: str
    currency: str = "EUR"


# Top-level settings that say how things are shown; each defaults to the system's choice.
DISPLAY_KEYS = ("timezone", "language", "currency")


def _display(data: dict[str, Any], where: str) -> Display:
    timezone = data.get("timezone", system_timezone())
    if not isinstance(timezone, str) or not is_timezone(timezone):
        raise ConfigError(f'{where}: timezone must be an IANA zone name such as "Europe/Paris"')
    language = data.get("language", system_language())
    languages = available_languages()
    if language not in languages:
        raise ConfigError(f"{where}: language must be one of {' | '.join(languages)}")
    currency = data.get("currency", "EUR")
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError(f'{where}: currency must be an ISO-4217 code such as "EUR"')
    return Display(timezone=timezone, language=language, currency=currency)


@dataclass
class Notify:
    """`[notify]`: where reminders go (Apprise URLs) and when."""

    urls: list[str] = field(default_factory=list)  # "$VAR" / "${VAR}" parts are read from the environment
    days_before: list[int] = field(default_factory=lambda: [7, 1])
    weekly_digest: str | None = None  # "monday 08:00", local time


_NOTIFY_KEYS = frozenset({"urls", "days_before", "weekly_digest"})
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _notify(data: Any, where: str) -> Notify:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: [notify] must be a table")
    refuse_unknown(data, _NOTIFY_KEYS, where, "[notify]")
    urls = data.get("urls", [])
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(u, str) and u.strip() for u in urls):
        raise ConfigError(f"{where}: [notify] urls must be a list of Apprise URLs")
    days = data.get("days_before", [7, 1])
    if not isinstance(days, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 365 for d in days
    ):
        raise ConfigError(f"{where}: [notify] days_before must be a list of day counts from 0 to 365")
    digest = data.get("weekly_digest")
    if digest is not None and (not isinstance(digest, str) or parse_weekly(digest) is None):
        raise ConfigError(f'{where}: [notify] weekly_digest must look like "monday 08:00"')
    return Notify(
        urls=[u.strip() for u in urls], days_before=sorted(set(days), reverse=True), weekly_digest=digest
    )


def parse_weekly(value: str) -> tuple[int, int, int] | None:
    """ "monday 08:00" -> (weekday 0-6, hour, minute); None if it is not that shape."""
    parts = value.strip().lower().split()
    if len(parts) != 2 or parts[0] not in _WEEKDAYS:
        return None
    hour, _, minute = parts[1].partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        return None
    return _WEEKDAYS.index(parts[0]), int(hour), int(minute)


@dataclass
class Config:
    path: Path | None
    db: str = DEFAULT_DB
    identity: Identity = field(default_factory=Identity)
    accounts: list[Account] = field(default_factory=list)
    notify: Notify = field(default_factory=Notify)
    raw: dict[str, Any] = field(default_factory=dict)
    display: Display = field(default_factory=lambda: _display({}, "config"))

    def check_identity(self) -> None:
        """Raise `ConfigError` while `[identity] addresses` still holds the address `subtrail init` wrote:
        every message would read as inbound and the user's own mails would drop out of the journal."""
        placeholders = sorted(self.identity.addresses & PLACEHOLDER_ADDRESSES)
        if placeholders:
            where = str(self.path) if self.path else "config"
            raise ConfigError(
                f"{where}: [identity] addresses still holds {placeholders[0]}, the example written by "
                "`subtrail init`: put your own e-mail addresses there"
            )


def load_config(path: str | None, must_exist: bool = False) -> Config:
    """Read the config at `path` (or $SUBTRAIL_CONFIG, or ./subtrail.toml); a missing default is empty."""
    explicit = path or os.environ.get("SUBTRAIL_CONFIG")
    cfg_path = Path(explicit or DEFAULT_CONFIG)
    if not cfg_path.exists():
        if explicit or must_exist:
            raise ConfigError(f"config file {cfg_path} not found (create one with `subtrail init`)")
        return Config(path=None)
    try:
        data = tomllib.loads(cfg_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{cfg_path}: not valid TOML ({exc})") from None
    return parse_config(data, cfg_path)


# Every key the file may hold, table by table (`refuse_unknown`).
TOP_LEVEL_KEYS = frozenset({"db", *DISPLAY_KEYS, "identity", "accounts", "notify"})
IDENTITY_KEYS = frozenset({"addresses"})
OAUTH_KEYS = frozenset(
    {"provider", "client_id", "client_secret", "client_secret_env", "token_file", "token_uri", "tenant"}
)


def parse_config(data: dict[str, Any], path: Path | None = None) -> Config:
    where = str(path) if path else "config"
    refuse_unknown(data, TOP_LEVEL_KEYS, where)
    db = data.get("db", DEFAULT_DB)
    if not isinstance(db, str):
        raise ConfigError(f"{where}: db must be a path string")
    if path is not None and not Path(db).is_absolute():
        db = str(path.parent / db) if path.parent != Path(".") else db
    identity_data = data.get("identity", {})
    if isinstance(identity_data, dict):
        refuse_unknown(identity_data, IDENTITY_KEYS, where, "[identity]")
    addresses = identity_data.get("addresses", []) if isinstance(identity_data, dict) else None
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise ConfigError(f"{where}: [identity] addresses must be a list of e-mail addresses")
    accounts = [_account(a, i, where) for i, a in enumerate(data.get("accounts", []))]
    names = [a.name for a in accounts]
    if len(set(names)) != len(names):
        raise ConfigError(f"{where}: two [[accounts]] share the same name")
    return Config(
        path=path,
        db=db,
        identity=Identity(frozenset(a.strip().lower() for a in addresses)),
        accounts=accounts,
        notify=_notify(data.get("notify", {}), where),
        raw=data,
        display=_display(data, where),
    )


_ACCOUNT_KEYS = {
    "name", "host", "port", "security", "username", "password_env", "password_command", "keyring",
    "folders", "fetch", "auth", "oauth", "tls_ca_file", "tls_fingerprint", "timeout", "idle_connections",
}  # fmt: skip


def _account(data: Any, index: int, where: str) -> Account:
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: [[accounts]] entry {index + 1} is not a table")
    name = data.get("name") or f"account{index + 1}"
    label = f"{where}: account {name!r}"
    refuse_unknown(data, _ACCOUNT_KEYS, label)
    oauth = data.get("oauth", {})
    if not isinstance(oauth, dict):
        raise ConfigError(f"{label}: [accounts.oauth] must be a table")
    refuse_unknown(oauth, OAUTH_KEYS, label, "[accounts.oauth]")
    for key in ("host", "username"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise ConfigError(f"{label}: {key} is required")
    security = data.get("security", "ssl")
    if security not in SECURITY_MODES:
        raise ConfigError(f"{label}: security must be one of {', '.join(SECURITY_MODES)}")
    fetch = data.get("fetch", "relevant")
    if fetch not in FETCH_MODES:
        raise ConfigError(f"{label}: fetch must be 'relevant' or 'all'")
    port = data.get("port", 993 if security == "ssl" else 143)
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{label}: port must be a number from 1 to 65535")
    folders = data.get("folders", [])
    if not isinstance(folders, list) or not all(isinstance(f, str) for f in folders):
        raise ConfigError(f"{label}: folders must be a list of folder names")
    idle_connections = data.get("idle_connections", 4)
    if (
        not isinstance(idle_connections, int)
        or isinstance(idle_connections, bool)
        or not 1 <= idle_connections <= 20
    ):
        raise ConfigError(f"{label}: idle_connections must be a number from 1 to 20")
    auth = data.get("auth", "password")
    if auth not in ("password", "xoauth2"):
        raise ConfigError(f"{label}: auth must be 'password' or 'xoauth2'")
    account = Account(
        name=name,
        host=data["host"],
        username=data["username"],
        port=port,
        security=security,
        folders=folders,
        fetch=fetch,
        password_env=data.get("password_env"),
        password_command=data.get("password_command"),
        password_keyring=bool(data.get("keyring", False)),
        auth=auth,
        oauth=dict(data.get("oauth", {})),
        tls_ca_file=data.get("tls_ca_file"),
        tls_fingerprint=data.get("tls_fingerprint"),
        timeout=float(data.get("timeout", 60.0)),
        idle_connections=idle_connections,
    )
    if security == "none" and not account.is_loopback:
        raise ConfigError(
            f'{label}: security = "none" sends the password in clear; refused for {account.host}'
        )
    if auth == "password" and not (
        account.password_env or account.password_command or account.password_keyring
    ):
        raise ConfigError(f"{label}: set password_env, password_command or keyring = true")
    return account


CONFIG_TEMPLATE = """\
# subtrail configuration. Passwords are never written here: see password_env,
# password_command and keyring below.

# Where the database lives (relative to this file).
db = "data/subtrail.db"

# How things are shown to you (pages, dossier, exports); each defaults to the system's setting.
# timezone = "Europe/Paris"
# language = "fr"                     # fr | en
# currency = "EUR"                    # totals are shown in this currency

[identity]
# Your own addresses: mail from these is "outbound" (you wrote it).
addresses = ["me@example.org"]

# One [[accounts]] block per IMAP mailbox to poll with `subtrail poll`.
# [[accounts]]
# name = "perso"
# host = "imap.example.org"
# port = 993
# security = "ssl"                    # ssl | starttls | none (none only on loopback)
# username = "me@example.org"
# password_env = "SUBTRAIL_PASSWORD"  # or password_command = "pass show mail", or keyring = true
# folders = ["INBOX", "Sent"]         # default: INBOX and the folder flagged \\Sent
# fetch = "relevant"                  # relevant: bodies of receipts/support mail only; all: every body
# idle_connections = 4                # daemon: one IDLE connection per folder, at most this many

# Reminders (`subtrail notify`, and the daemon): any Apprise URL (ntfy, mailto, Telegram, Signal, Matrix...).
# A secret can come from the environment: "tgram://${TELEGRAM_TOKEN}/12345".
# [notify]
# urls = ["ntfy://ntfy.sh/my-topic"]
# days_before = [7, 1]                # renewals and trial ends, this many days ahead
# weekly_digest = "monday 08:00"      # local time
"""
