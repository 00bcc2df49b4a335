"""Datasette over the subtrail database, safe by default.

The database is served mutable (WAL) so the poller can write while Datasette
reads; Datasette opens the file with `mode=ro`, so neither arbitrary SQL nor a
canned query can write. It is always mounted as `subtrail` whatever the file is
called, so URLs, saved queries and the dashboard config stay the same.

Exposure: loopback by default. Any other address needs password auth
(`ingest.web.auth`, HTTP basic auth over every URL: pages, JSON, CSV, blobs,
the `.eml` and `.ics` routes) with a hashed password from the environment
(made by datasette-auth-passwords' `datasette hash-password`) and a fixed
`DATASETTE_SECRET`.
"""

from __future__ import annotations

import copy
import errno
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingest.config import Display, is_loopback

# The repository's top-level datasette-metadata.yml, reached through a link in this package so
# that a wheel carries it as package data (setuptools copies the file the link points to).
DEFAULT_METADATA = Path(__file__).resolve().parent / "datasette-metadata.yml"
DB_NAME = "subtrail"
HASH_ENV = "SUBTRAIL_PASSWORD_HASH"
USER_ENV = "SUBTRAIL_USERNAME"
DEFAULT_USER = "subtrail"
SECRET_ENV = "DATASETTE_SECRET"
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 2000,  # a runaway query cannot hold a worker for long
    "facet_time_limit_ms": 200,
    "default_page_size": 50,
    "truncate_cells_html": 300,  # table pages show the start of each body; the row page has it all
    "max_returned_rows": 5000,
    "allow_download": False,  # the whole database is the user's private mail
    "suggest_facets": False,  # saves a query per column on every table page
    "num_sql_threads": 3,
}
# Keys of a canned query that only subtrail reads (stripped before Datasette sees them):
# `requires`: tables/views the SQL needs; `fallback_sql`: used when one is missing.
QUERY_EXTENSION_KEYS = ("requires", "fallback_sql")
_HASH_RE = re.compile(r"^pbkdf2_sha256\$\d+\$[^$]+\$[^$]+$")


class ServeError(Exception):
    """The server cannot start as asked; the message says what to change."""


@dataclass(frozen=True)
class AuthConfig:
    """Password auth read from the environment; the hash never goes to disk or logs."""

    username: str
    password_hash: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AuthConfig | None:
        env = os.environ if env is None else env
        password_hash = env.get(HASH_ENV, "").strip()
        if not password_hash:
            return None
        if not _HASH_RE.match(password_hash):
            raise ServeError(f"{HASH_ENV} is not a password hash; make one with `datasette hash-password`")
        username = env.get(USER_ENV, "").strip() or DEFAULT_USER
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", username):
            raise ServeError(f"{USER_ENV} may only hold letters, digits, '.', '_' and '-'")
        return cls(username=username, password_hash=password_hash)


def check_exposure(host: str, env: Mapping[str, str] | None = None) -> AuthConfig | None:
    """The auth to use for `host`, or ServeError when binding there would expose the mail."""
    env = os.environ if env is None else env
    auth = AuthConfig.from_env(env)
    if is_loopback(host):
        return auth
    if auth is None:
        raise ServeError(
            f"refusing to serve on {host}: set {HASH_ENV} (from `datasette hash-password`) "
            f"and {SECRET_ENV} to expose the database beyond this machine"
        )
    if not env.get(SECRET_ENV, "").strip():
        raise ServeError(f"refusing to serve on {host}: set {SECRET_ENV} to a long random value")
    return auth


def load_metadata(path: str | Path | None = None) -> dict[str, Any]:
    path = Path(path) if path else DEFAULT_METADATA
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def existing_names(db_path: str | Path) -> set[str]:
    """Tables and views in the database, read without writing anything."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return {
            row[0] for row in conn.execute("select name from sqlite_master where type in ('table','view')")
        }
    finally:
        conn.close()


def resolve_queries(metadata: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """Pick each canned query's SQL for this database: its own if what it `requires` exists,
    else its `fallback_sql` (written against the contract tables), else leave it out."""
    metadata = copy.deepcopy(metadata)
    for database in (metadata.get("databases") or {}).values():
        queries = database.get("queries") or {}
        for name in list(queries):
            query = queries[name]
            if not isinstance(query, dict):
                continue
            required = set(query.get("requires") or [])
            if not required <= names:
                if query.get("fallback_sql"):
                    query["sql"] = query["fallback_sql"]
                else:
                    del queries[name]
                    continue
            for key in QUERY_EXTENSION_KEYS:
                query.pop(key, None)
    return metadata


def with_auth(metadata: dict[str, Any], auth: AuthConfig | None) -> dict[str, Any]:
    """Add our basic-auth config (`ingest.web.auth`: a login on every request; the hash stays in the
    environment, so /-/metadata never shows it) and an instance `allow`."""
    if auth is None:
        return metadata
    from ingest.web.auth import PLUGIN

    metadata = copy.deepcopy(metadata)
    plugins = metadata.setdefault("plugins", {})
    plugins[PLUGIN] = {"username": auth.username, "password_hash": {"$env": HASH_ENV}}
    metadata["allow"] = {"id": auth.username}
    return metadata


def _plugin_modules() -> list[tuple[str, Any]]:
    """Our Datasette plugins: the core one, basic auth, sort mistakes as 400s, the pages and their drafts, and the
    dossier page when that module is installed."""
    from ingest.web import auth, bad_sort, draft_pages, pages
    from ingest.web import plugin as datasette_plugin

    modules: list[tuple[str, Any]] = [
        ("subtrail", datasette_plugin),
        ("subtrail-auth", auth),
        ("subtrail-bad-sort", bad_sort),
        ("subtrail-pages", pages),
        ("subtrail-drafts", draft_pages),
    ]
    try:
        from ingest.web import dossier_route
    except ImportError:  # the dossier is optional for serving
        return modules
    return [*modules, ("subtrail-dossier", dossier_route)]


def _drop_markdown_cells(pm: Any) -> None:
    """Keep datasette-render-markdown (datasette-dashboards needs its template helpers) but not
    its `render_cell`: none of our columns is Markdown, and it costs a config look-up per cell —
    about a third of the time of a page of a few hundred rows."""
    plugin = pm.get_plugin("render_markdown")
    if plugin is None or not hasattr(plugin, "render_cell"):
        return
    pm.unregister(plugin)
    shim = type(
        "MarkdownWithoutCells",
        (),
        {
            name: staticmethod(getattr(plugin, name))
            for name in ("extra_template_vars", "prepare_jinja2_environment")
            if hasattr(plugin, name)
        },
    )
    pm.register(shim, name="render_markdown")


def with_display(
    metadata: dict[str, Any],
    display: Display | None,
    auth: AuthConfig | None,
    drafts: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The pages' settings (language, time zone, currency, whether a login exists, and for the
    drafts the user's templates folder and own addresses) as our plugin config."""
    metadata = copy.deepcopy(metadata)
    config = metadata.setdefault("plugins", {}).setdefault("subtrail", {})
    if display is not None:
        config.update(language=display.language, timezone=display.timezone, currency=display.currency)
    if drafts:
        config["drafts"] = drafts
    config["auth"] = auth is not None
    return metadata


def _without_password_plugin(pm: Any) -> None:
    """datasette-auth-passwords (installed for `datasette hash-password`) is not what serves: it
    re-checks the password hash on every request and offers a "Log in" form that basic auth makes
    pointless; `ingest.web.auth` does the login instead."""
    plugin = pm.get_plugin("auth_passwords")
    if plugin is not None:
        pm.unregister(plugin)


def build_datasette(
    db_path: str | Path,
    metadata_path: str | Path | None = None,
    auth: AuthConfig | None = None,
    display: Display | None = None,
    drafts: dict[str, Any] | None = None,
) -> Any:
    """A configured Datasette instance (not yet serving) with the subtrail plugins registered.

    `drafts`: `{"templates": folder, "addresses": [...]}` for the draft pages (`draft_pages`)."""
    from datasette.app import Datasette
    from datasette.database import Database
    from datasette.plugins import pm

    for name, module in _plugin_modules():
        if not pm.is_registered(module):
            pm.register(module, name=name)
    _drop_markdown_cells(pm)
    _without_password_plugin(pm)
    metadata = resolve_queries(load_metadata(metadata_path), existing_names(db_path))
    metadata = with_display(with_auth(metadata, auth), display, auth, drafts)
    ds = Datasette(
        files=[],
        metadata=metadata,
        settings=SETTINGS,
        secret=os.environ.get(SECRET_ENV) or None,
    )
    ds.remove_database("_memory")
    ds.add_database(Database(ds, path=str(db_path), is_mutable=True), name=DB_NAME)
    return ds


def run_server(
    db_path: str | Path,
    host: str = "127.0.0.1",
    port: int = 8001,
    metadata_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    poller: Callable[[threading.Event], None] | None = None,
    display: Display | None = None,
    drafts: dict[str, Any] | None = None,
) -> None:
    """Serve until interrupted. Raises ServeError before binding if the exposure is unsafe.

    `poller(stop)` (the IMAP daemon, for `--poll`) runs in a thread beside the server;
    when the server stops, `stop` is set and the poller finishes its current batch.
    """
    import uvicorn

    auth = check_exposure(host, env)
    ds = build_datasette(db_path, metadata_path, auth, display, drafts)
    listening = listen_socket(host, port)  # before "serving on": a busy port is an error, not a promise
    port = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    sys.stderr.write(
        f"subtrail: serving {db_path} on http://{shown}:{port}/"
        f"{' (password required)' if auth else ''}{' and polling IMAP' if poller else ''}\n"
    )
    sys.stderr.flush()
    stop = threading.Event()
    # uvicorn shuts down on SIGINT/SIGTERM, then re-raises the signal to the handler it found:
    # ours, which only sets `stop`, so the poller can commit its batch before a clean exit (0).
    previous = _catch_stop_signals(stop)
    thread = None
    if poller is not None:
        thread = threading.Thread(target=poller, args=(stop,), name="subtrail-poller", daemon=True)
        thread.start()
    server = uvicorn.Server(
        uvicorn.Config(ds.app(), host=host, port=port, log_level="warning", lifespan="on")
    )
    try:
        server.run(sockets=[listening])
    finally:
        listening.close()
        stop.set()
        if thread is not None:
            thread.join(timeout=120)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:  # uvicorn said why on stderr; a failed start is a runtime failure
        sys.exit(1)


def listen_socket(host: str, port: int) -> socket.socket:
    """The bound server socket, or a `ServeError` in one line (a port in use, an address not ours)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not the default 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets that say
    # they are TCP, and with Nagle on every page written in two parts waited 40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use (another `subtrail serve`?): "
                "stop it or choose another with --port"
            ) from None
        raise ServeError(f"cannot listen on {host}:{port} ({exc.strerror or exc})") from None
    return sock


def _catch_stop_signals(stop: threading.Event) -> dict[int, Any]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
