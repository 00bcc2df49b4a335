"""Exposure of the Datasette server: loopback only without auth; with auth, *every* URL is closed.

Instead of a fixed list, the URLs are discovered from the running instance (logged in): every
table and view as HTML, JSON and CSV, a row page of each, every canned query, the raw blob, the
plugin routes and Datasette's own `/-/` pages. Without the password each must answer 401/403
(or redirect to a login) and leak nothing. Writes are tried through every door Datasette has.
The instance runs in-process (`ds.client`), like Datasette's own tests; `tests/test_serve.py`
covers the same over a real `subtrail serve` process for a fixed list.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlite_utils import Database

from ingest.store.schema import open_db
from ingest.web.serve import HASH_ENV, AuthConfig, ServeError, build_datasette, check_exposure, load_metadata
from tests.serve_helpers import Seeded, seed

USER, PASSWORD = "alice", "correct horse battery staple"
SECRET_ENV = {"DATASETTE_SECRET": "s" * 48}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Seeded]]:
    path = tmp_path_factory.mktemp("exposure") / "subtrail.db"
    db = open_db(path)
    facts = seed(db)
    db.close()
    yield path, facts


@pytest.fixture(scope="module")
def auth() -> Iterator[AuthConfig]:
    """The config `subtrail serve` builds; the plugin reads the hash from the environment."""
    from datasette_auth_passwords.utils import hash_password

    # Few iterations: each test builds its own instance, which checks each credential once.
    config = AuthConfig(username=USER, password_hash=hash_password(PASSWORD, iterations=1000))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(HASH_ENV, config.password_hash)
        yield config


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


LOGGED_IN = _basic(USER, PASSWORD)


async def _requests(
    ds: Any, calls: list[tuple[str, str, dict[str, str], dict[str, str] | None]]
) -> list[Any]:
    await ds.invoke_startup()
    out = []
    for method, path, headers, data in calls:
        if method == "GET":
            out.append(await ds.client.get(path, headers=headers))
        else:
            out.append(await ds.client.post(path, headers=headers, data=data))
    return out


def requests(ds: Any, calls: list[tuple[str, str, dict[str, str], dict[str, str] | None]]) -> list[Any]:
    """Run the calls in one event loop (Datasette's executor is bound to the loop it started in)."""
    return asyncio.run(_requests(ds, calls))


def discover(ds: Any, seeded: Seeded) -> list[str]:
    """Every URL the instance serves for this database, as a logged-in user would find them."""
    (index,) = requests(ds, [("GET", "/subtrail.json", LOGGED_IN, None)])
    assert index.status_code == 200, index.text[:500]
    info = index.json()
    tables = [t["name"] for t in info["tables"]] + [v["name"] for v in info.get("views", [])]
    queries = [q["name"] for q in info.get("queries", [])]
    assert {"messages", "raw_messages", "subscriptions", "tickets", "ingest_errors"} <= set(tables)
    assert queries, "no canned query found"
    urls = [
        "/",
        "/.json",
        "/subtrail",
        "/subtrail.json",
        "/subtrail.db",
        "/subtrail.json?sql=select+subject+from+messages",
        "/subtrail.csv?sql=select+subject+from+messages",
        "/subtrail?sql=select+subject+from+messages",
        f"/subtrail/raw_messages/{seeded.receipt_sha}.blob?_blob_column=raw",
        f"/subtrail/raw_messages/{seeded.receipt_sha}",
        f"/subtrail/raw_messages/{seeded.receipt_sha}.json",
        f"/evidence/{seeded.receipt_sha}.eml",
        "/calendar.ics",
        "/dossier/netflix",
        "/dossier/netflix.md",
        "/dossier/canal-plus",
    ]
    urls += [f"/-/{page}" for page in ("metadata", "versions", "plugins", "settings", "databases", "threads")]
    urls += [
        f"/-/{page}.json" for page in ("metadata", "versions", "plugins", "settings", "databases", "actor")
    ]
    urls += [
        "/-/permissions",
        "/-/allow-debug",
        "/-/messages",
        "/-/patterns",
        "/-/dashboards",
        "/-/dashboards/subtrail",
    ]
    for table in tables:
        base = f"/subtrail/{table}"
        urls += [
            base,
            f"{base}.json",
            f"{base}.csv",
            f"{base}.csv?_stream=on",
            f"{base}.json?_shape=array&_size=1",
        ]
    for query in queries:
        base = f"/subtrail/{query}"
        urls += [base, f"{base}.json", f"{base}.csv"]
    return urls


@pytest.fixture(scope="module")
def urls(seeded: tuple[Path, Seeded], auth: AuthConfig) -> list[str]:
    return discover(build_datasette(seeded[0], auth=auth), seeded[1])


# Things that must never appear in an answer to a stranger: names, amounts, subjects, hashes.
def _leaks(seeded: Seeded) -> list[str]:
    return ["Julie", "13,49", "DOS-12345", "Votre facture", seeded.receipt_sha, "alice.martin"]


@pytest.mark.parametrize(
    "headers",
    [{}, _basic(USER, "wrong"), _basic("mallory", PASSWORD), _basic(USER, ""), {"Authorization": "Bearer x"}],
    ids=["no-credentials", "wrong-password", "wrong-user", "empty-password", "bearer-token"],
)
def test_every_url_closed_without_the_password(
    seeded: tuple[Path, Seeded], auth: AuthConfig, urls: list[str], headers: dict[str, str]
) -> None:
    ds = build_datasette(seeded[0], auth=auth)
    responses = requests(ds, [("GET", url, headers, None) for url in urls])
    for url, response in zip(urls, responses, strict=True):
        redirect_to_login = response.status_code in (302, 303) and "login" in response.headers.get(
            "location", ""
        )
        assert response.status_code in (401, 403) or redirect_to_login, (url, response.status_code)
        for secret in _leaks(seeded[1]):
            assert secret not in response.text, (url, secret)


def test_the_sweep_reaches_real_pages_when_logged_in(
    seeded: tuple[Path, Seeded], auth: AuthConfig, urls: list[str]
) -> None:
    """The URL list is worth something: logged in, nearly all of it answers 200."""
    ds = build_datasette(seeded[0], auth=auth)
    responses = requests(ds, [("GET", url, LOGGED_IN, None) for url in urls])
    answered = {url: r.status_code for url, r in zip(urls, responses, strict=True)}
    ok = [url for url, code in answered.items() if code == 200]
    assert len(ok) >= 0.9 * len(urls), {u: c for u, c in answered.items() if c != 200}
    assert f"/subtrail/raw_messages/{seeded[1].receipt_sha}.blob?_blob_column=raw" in ok
    blob = responses[urls.index(f"/subtrail/raw_messages/{seeded[1].receipt_sha}.blob?_blob_column=raw")]
    assert blob.content == seeded[1].receipt_raw
    assert answered["/subtrail.db"] in (403, 404)  # no whole-database download, even logged in


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "127.8.9.10", "::1", "localhost"], ids=["v4", "v4-range", "v6", "localhost"]
)
def test_loopback_served_without_auth(host: str) -> None:
    assert check_exposure(host, env={}) is None


@pytest.mark.parametrize(
    "host",
    [
        "0.0.0.0",
        "::",
        "192.168.1.20",
        "10.0.0.1",
        "fe80::1",
        "::ffff:127.0.0.1",  # IPv4-mapped: binds the IPv6 stack, not loopback-only everywhere
        "example.org",
        "localhost.example.org",
        "127.0.0.1.nip.io",
        "0",
        "",
    ],
)
def test_anything_else_refused_without_auth(host: str) -> None:
    with pytest.raises(ServeError):
        check_exposure(host, env={})


def test_exposed_host_needs_a_secret_too(auth: AuthConfig) -> None:
    with pytest.raises(ServeError, match="DATASETTE_SECRET"):
        check_exposure("0.0.0.0", env={"SUBTRAIL_PASSWORD_HASH": auth.password_hash})
    env = {"SUBTRAIL_PASSWORD_HASH": auth.password_hash, "SUBTRAIL_USERNAME": USER, **SECRET_ENV}
    assert check_exposure("0.0.0.0", env=env) == auth


# --- writes -----------------------------------------------------------------------------------


def _state(path: Path) -> tuple[list[Any], dict[str, int]]:
    with Database(path) as db:
        schema = db.execute("select type, name, sql from sqlite_master order by name").fetchall()
        counts = {name: db[name].count for name in db.table_names()}
    return schema, counts


WRITES = [
    "delete from messages",
    "replace into providers (slug, name) values ('evil', 'Evil')",
    "create table pwned (x)",
    "drop table raw_messages",
    "update raw_messages set raw = x'00'",
    "vacuum into '{tmp}/copy.db'",
    "attach database '{tmp}/side.db' as side",
    "pragma writable_schema = 1",
    "pragma journal_mode = delete",
    "select load_extension('/tmp/evil')",
    "with x as (select 1) delete from messages",
    "select 1; delete from messages",
    "/* comment */ delete from messages",
    "explain delete from messages",
]


def test_no_canned_query_writes() -> None:
    queries = load_metadata()["databases"]["subtrail"].get("queries") or {}
    assert queries
    for name, query in queries.items():
        assert not (isinstance(query, dict) and query.get("write")), name


def test_nothing_writes_through_the_http_surface(
    seeded: tuple[Path, Seeded], auth: AuthConfig, urls: list[str], tmp_path: Path
) -> None:
    path = seeded[0]
    before = _state(path)
    ds = build_datasette(path, auth=auth)
    queries = [
        u for u in urls if u.count("/") == 2 and not u.startswith("/-/") and "." not in u.split("/")[-1]
    ]
    calls: list[tuple[str, str, dict[str, str], dict[str, str] | None]] = []
    for sql in WRITES:
        sql = sql.format(tmp=tmp_path)
        for fmt in ("json", "csv"):
            calls.append(("GET", f"/subtrail.{fmt}?{httpx.QueryParams({'sql': sql})}", LOGGED_IN, None))
        calls.append(("POST", "/subtrail", LOGGED_IN, {"sql": sql}))
    for url in queries:  # canned queries and tables answering a POST
        calls.append(("POST", url, LOGGED_IN, {"sql": "delete from messages"}))
    for table in ("messages", "raw_messages"):
        for action in ("insert", "upsert", "drop", "delete"):
            calls.append(("POST", f"/subtrail/{table}/-/{action}", LOGGED_IN, {"rows": "[]"}))
    calls.append(("POST", "/subtrail/-/create", LOGGED_IN, {"table": "pwned"}))
    responses = requests(ds, calls)
    for (_, url, _, _), response in zip(calls, responses, strict=True):
        if url.startswith("/subtrail.json"):  # CSV reports an error as 200 + text; JSON must say it
            assert response.status_code >= 400 or response.json().get("ok") is False, url
    assert _state(path) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["json", "csv", "csv&_stream=on", "html"])
def test_sql_time_limit_on_every_format(seeded: tuple[Path, Seeded], fmt: str) -> None:
    ds = build_datasette(seeded[0])
    assert ds.setting("sql_time_limit_ms") <= 5000
    sql = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    ext, _, extra = fmt.partition("&")
    path = f"/subtrail{'' if ext == 'html' else '.' + ext}?{httpx.QueryParams({'sql': sql})}"
    path += f"&{extra}" if extra else ""
    started = time.monotonic()
    (response,) = requests(ds, [("GET", path, {}, None)])
    elapsed = time.monotonic() - started
    assert elapsed < ds.setting("sql_time_limit_ms") / 1000 + 10
    assert (
        response.status_code >= 400 or "interrupted" in response.text.lower() or "too long" in response.text
    )
