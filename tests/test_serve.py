"""`subtrail serve` for real, over HTTP: canned queries, exports, evidence, calendar, safety.

Two servers per module: one on the bundled sample mailbox plus known rows
(`serve_helpers.seed`), one on an empty database. Every canned query must run
on both; on the sample each must find what the seeded rows put there.
"""

from __future__ import annotations

import csv
import html
import io
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from icalendar import Calendar

from ingest.outputs.calendar import build_calendar
from ingest.store.schema import TABLES, open_db
from tests.conftest import REPO
from tests.serve_helpers import (
    HOSTILE_SUBJECT,
    Seeded,
    make_sample_db,
    running_server,
    seed,
    subtrail_command,
)

METADATA = yaml.safe_load((REPO / "datasette-metadata.yml").read_text(encoding="utf-8"))
QUERIES = METADATA["databases"]["subtrail"]["queries"]
# Parameters given to every canned query; each query reads the ones it declares.
PARAMS = {"days": "30", "provider": "canal-plus", "ticket": "DOS-12345", "year": ""}

Rows = list[dict[str, Any]]
# What each canned query must find in the seeded sample: a new query needs an entry here.
EXPECT: dict[str, tuple[dict[str, str], Callable[[Rows], bool]]] = {
    "upcoming_renewals": (
        {},
        lambda r: [x["provider"] for x in r] == ["netflix"] and r[0]["amount"] == "13.49",
    ),
    "trials_ending": ({}, lambda r: [x["provider"] for x in r] == ["spotify"]),
    "monthly_spend": (
        {},
        lambda r: {(x["currency"], x["per_month"]) for x in r} >= {("EUR", "13.49"), ("USD", "4.00")},
    ),
    "yearly_spend_by_provider": (
        {},
        lambda r: sum(x["spent_minor"] for x in r if x["provider"] == "netflix") == 1199 + 1349 + 1349,
    ),
    "price_changes": (
        {"provider": "netflix"},
        lambda r: (
            {(x["seen_as"], x["previous_minor"], x["new_minor"]) for x in r}
            == {("announced", None, 1349), ("charged", 1199, 1349)}
        ),
    ),
    "cancelled_but_charged": (
        {},
        lambda r: [(x["provider"], x["amount_minor"]) for x in r] == [("canal-plus", 2699)],
    ),
    "open_tickets": (
        {},
        lambda r: any(x["ticket_ref"] == "DOS-12345" and x["waiting_for"] == "the provider" for x in r),
    ),
    "overdue_promises": ({}, lambda r: [x["text"][:13] for x in r] == ["remboursement"]),
    "provider_history": (
        {"provider": "canal-plus"},
        lambda r: {x["source"] for x in r} >= {"subscription", "journal", "promise"},
    ),
    "ticket_timeline": (
        {"ticket": "DOS-12345"},
        lambda r: [x["agent_name"] for x in r] == [None, "Julie", "Kevin"],
    ),
    "evidence": ({"provider": "", "ticket": "DOS-12345"}, lambda r: len(r) == 2),
    "review_queue": ({}, lambda r: {x["reason"] for x in r} >= {"low confidence", "extractor unsure"}),
    "data_freshness": (
        {},
        lambda r: any(
            x["account"] == "test" and x["folder"] == "INBOX" and x["last_run_status"] == "ok" for x in r
        ),
    ),
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Seeded]:
    """The bundled sample mailbox imported for real, plus the known rows."""
    path = tmp_path_factory.mktemp("sample") / "sample.db"
    return path, make_sample_db(path)


@pytest.fixture(scope="module")
def sample_url(sample: tuple[Path, Seeded]) -> Iterator[str]:
    with running_server(sample[0]) as url:
        yield url


@pytest.fixture(scope="module")
def known_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Only the known rows: the oracle for what each canned query must find."""
    path = tmp_path_factory.mktemp("known") / "known.db"
    db = open_db(path)
    seed(db)
    db.close()
    with running_server(path) as url:
        yield url


@pytest.fixture(scope="module")
def empty_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path = tmp_path_factory.mktemp("empty") / "empty.db"
    open_db(path).close()
    with running_server(path) as url:
        yield url


def query_rows(base: str, name: str, params: dict[str, str]) -> Rows:
    response = httpx.get(f"{base}/subtrail/{name}.json", params={**params, "_shape": "objects"}, timeout=10)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True, body
    return body["rows"]


def test_every_canned_query_has_an_expectation() -> None:
    assert set(QUERIES) == set(EXPECT)
    for name, query in QUERIES.items():
        assert query.get("title") and query.get("description"), name
        assert not query.get("write"), f"{name} must stay read-only"


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_canned_query_finds_the_known_rows(known_url: str, name: str) -> None:
    params, check = EXPECT[name]
    rows = query_rows(known_url, name, {**PARAMS, **params})
    assert check(rows), rows


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_canned_query_on_sample(sample_url: str, name: str) -> None:
    params = {**PARAMS, **EXPECT[name][0]}
    assert query_rows(sample_url, name, params), "the seeded rows give every query something to show"
    page = httpx.get(f"{sample_url}/subtrail/{name}", params=params, timeout=10)
    assert page.status_code == 200
    assert QUERIES[name]["title"] in html.unescape(page.text)


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_canned_query_on_empty_database(empty_url: str, name: str) -> None:
    assert query_rows(empty_url, name, PARAMS) == []
    assert query_rows(empty_url, name, {}) == []  # parameters left out


def test_canned_query_csv_streams(sample_url: str) -> None:
    response = httpx.get(
        f"{sample_url}/subtrail/provider_history.csv",
        params={"provider": "canal-plus", "_stream": "on"},
        timeout=10,
    )
    assert response.status_code == 200
    assert (
        response.headers["content-type"].startswith("text/plain") or "csv" in response.headers["content-type"]
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert rows and {"at", "source", "what", "detail"} <= set(rows[0])
    assert any(r["agent_name"] == "Julie" for r in rows)


def test_table_csv_streams_every_row(sample_url: str, sample: tuple[Path, Seeded]) -> None:
    count = open_db(sample[0]).table("messages").count
    response = httpx.get(
        f"{sample_url}/subtrail/messages.csv", params={"_stream": "on", "_size": "max"}, timeout=30
    )
    assert response.status_code == 200
    assert len(list(csv.DictReader(io.StringIO(response.text)))) == count


def test_json_table(sample_url: str) -> None:
    response = httpx.get(f"{sample_url}/subtrail/subscriptions.json", params={"_shape": "array"}, timeout=10)
    assert response.status_code == 200
    assert {"netflix", "canal-plus", "spotify", "nytimes"} <= {row["provider"] for row in response.json()}


def test_facets_on_the_inventory(sample_url: str) -> None:
    body = httpx.get(f"{sample_url}/subtrail/subscriptions.json", timeout=10).json()
    assert {"status", "provider", "platform"} <= set(body["facet_results"])


def test_eml_download_is_byte_exact(sample_url: str, sample: tuple[Path, Seeded]) -> None:
    seeded = sample[1]
    response = httpx.get(f"{sample_url}/evidence/{seeded.receipt_sha}.eml", timeout=10)
    assert response.status_code == 200
    assert response.content == seeded.receipt_raw
    assert response.headers["content-type"] == "message/rfc822"
    expected = f'attachment; filename="{seeded.receipt_date[:10]}_{seeded.receipt_sha[:12]}.eml"'
    assert response.headers["content-disposition"] == expected
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("sha", ["0" * 64, "not-a-hash", "A" * 64])
def test_eml_unknown_is_404(sample_url: str, sha: str) -> None:
    assert httpx.get(f"{sample_url}/evidence/{sha}.eml", timeout=10).status_code == 404


def test_message_rows_link_to_evidence_ticket_and_subscription(
    sample_url: str, sample: tuple[Path, Seeded]
) -> None:
    seeded = sample[1]
    page = httpx.get(
        f"{sample_url}/subtrail/messages", params={"sha256": seeded.receipt_sha}, timeout=10
    ).text
    assert f'href="/evidence/{seeded.receipt_sha}.eml"' in page
    assert f'href="/subtrail/subscriptions/{seeded.netflix_id}"' in page
    page = httpx.get(
        f"{sample_url}/subtrail/messages", params={"sha256": seeded.inbound_sha}, timeout=10
    ).text
    assert f'href="/subtrail/tickets/{seeded.ticket_id}"' in page


def test_rows_link_to_timelines_dossier_and_events(sample_url: str, sample: tuple[Path, Seeded]) -> None:
    seeded = sample[1]
    providers = httpx.get(f"{sample_url}/subtrail/providers", timeout=10).text
    assert 'href="/dossier/netflix"' in providers
    assert 'href="/subtrail/provider_history?provider=netflix"' in providers
    tickets = httpx.get(f"{sample_url}/subtrail/tickets", timeout=10).text
    assert f'href="/subtrail/ticket_timeline?ticket={seeded.ticket_id}"' in tickets
    inventory = httpx.get(f"{sample_url}/subtrail/subscriptions", timeout=10).text
    assert f'href="/subtrail/subscription_events?subscription_id={seeded.netflix_id}"' in inventory
    raw = httpx.get(
        f"{sample_url}/subtrail/raw_messages", params={"sha256": seeded.receipt_sha}, timeout=10
    ).text
    assert f'href="/evidence/{seeded.receipt_sha}.eml"' in raw
    dossier = httpx.get(f"{sample_url}/dossier/canal-plus", timeout=10)
    assert dossier.status_code == 200 and "DOS-12345" in dossier.text


def test_email_html_is_never_rendered(sample_url: str, sample: tuple[Path, Seeded]) -> None:
    assert "<script>" in HOSTILE_SUBJECT  # else this test would prove nothing
    seeded = sample[1]
    for path in (
        "/subtrail/messages",
        f"/subtrail/messages/{seeded.hostile_sha}",
        "/subtrail/evidence?provider=&ticket=",
    ):
        page = httpx.get(f"{sample_url}{path}", timeout=10).text
        assert "<script>alert(" not in page and "<img src=x" not in page, path
    page = httpx.get(
        f"{sample_url}/subtrail/messages", params={"sha256": seeded.hostile_sha}, timeout=10
    ).text
    assert "&lt;script&gt;alert(" in page  # shown, as text


def test_calendar_feed(sample_url: str, sample: tuple[Path, Seeded]) -> None:
    response = httpx.get(f"{sample_url}/calendar.ics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(response.content).walk("VEVENT")
    summaries = [str(e["SUMMARY"]) for e in events]
    assert any(s.startswith("Renewal: Netflix") and "€13.49" in s for s in summaries)
    assert any(s.startswith("Trial ends: Spotify") for s in summaries)
    assert any(s.startswith("Promise due: Canal+ (Julie)") for s in summaries)
    assert len({str(e["UID"]) for e in events}) == len(events)
    again = httpx.get(f"{sample_url}/calendar.ics", timeout=10).content
    db = open_db(sample[0])
    assert _unstamped(response.content) == _unstamped(again) == _unstamped(build_calendar(db))


def _unstamped(ics: bytes) -> bytes:
    """The feed without its DTSTAMP lines: the export time, which differs from one request to the next."""
    return b"".join(line for line in ics.splitlines(keepends=True) if not line.startswith(b"DTSTAMP:"))


def test_calendar_feed_equals_the_export(
    sample_url: str, sample: tuple[Path, Seeded], tmp_path: Path
) -> None:
    out = tmp_path / "subscriptions.ics"
    result = subprocess.run(
        subtrail_command("export", "calendar", "--db", str(sample[0]), "-o", str(out)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert _unstamped(out.read_bytes()) == _unstamped(
        httpx.get(f"{sample_url}/calendar.ics", timeout=10).content
    )


def test_robots_blocked(sample_url: str) -> None:
    response = httpx.get(f"{sample_url}/robots.txt", timeout=10)
    assert response.text == "User-agent: *\nDisallow: /\n"
    assert "noindex" in httpx.get(f"{sample_url}/", timeout=10).headers["x-robots-tag"]


def test_home_links_to_dashboard_and_dashboard_renders(sample_url: str) -> None:
    home = httpx.get(f"{sample_url}/", timeout=10).text
    assert 'href="/-/dashboards/subtrail"' in home
    dashboard = httpx.get(f"{sample_url}/-/dashboards/subtrail", timeout=10)
    assert dashboard.status_code == 200 and "Subscriptions dashboard" in dashboard.text


def test_internal_tables_hidden(sample_url: str) -> None:
    tables = httpx.get(f"{sample_url}/subtrail.json", timeout=10).json()["tables"]
    hidden = {t["name"] for t in tables if t["hidden"]}
    assert {"_sqlite_migrations", "messages_fts", "messages_fts_data"} <= hidden
    assert not {"messages", "subscriptions", "tickets"} & hidden


@pytest.mark.parametrize(
    "sql",
    [
        "delete from messages",
        "update subscriptions set status = 'x'",
        "insert into providers (slug) values ('x')",
        "select 1; delete from messages",
        "attach database '/tmp/x.db' as x",
    ],
)
def test_sql_cannot_write(sample_url: str, sample: tuple[Path, Seeded], sql: str) -> None:
    before = open_db(sample[0]).execute("select count(*) from messages").fetchone()[0]
    response = httpx.get(f"{sample_url}/subtrail.json", params={"sql": sql}, timeout=10)
    assert response.status_code >= 400 or response.json().get("ok") is False
    assert open_db(sample[0]).execute("select count(*) from messages").fetchone()[0] == before


def test_sql_time_limit(sample_url: str) -> None:
    sql = "with recursive c(x) as (select 1 union all select x + 1 from c) select count(*) from c"
    response = httpx.get(f"{sample_url}/subtrail.json", params={"sql": sql}, timeout=30)
    assert response.status_code == 400
    assert "too long" in response.text


CONTRACT_COLUMNS = {  # CONTRACT.md: the names users rely on; each needs a description
    "messages": "id sha256 message_id date from_addr from_name to_addrs subject body_text kind provider",
    "raw_messages": "sha256 raw",
    "message_locations": "sha256 account folder uidvalidity uid internal_date",
    "subscriptions": "id provider service_name plan amount_minor currency billing_period platform account_email "
    "status started_on trial_ends_on next_renewal_on cancelled_on ends_on last_charged_on",
    "subscription_events": "id subscription_id message_sha256 event_type occurred_on amount_minor currency "
    "billing_period next_renewal_on extractor confidence",
    "tickets": "id provider ticket_ref subject status opened_at last_activity_at",
    "ticket_messages": "id ticket_id message_sha256 sent_at direction channel agent_name body",
    "promises": "id ticket_message_id text due_on status",
    "sync_state": "account folder uidvalidity last_uid highestmodseq last_success_at",
    "providers": "slug name domains cancel_url cancel_steps support_url",
    "bank_transactions": "id account booked_on label amount_minor currency source recurring_charge_id",
    "recurring_charges": "id merchant provider billing_period amount_minor currency occurrences first_on last_on "
    "status subscription_id",
    "ingest_errors": "id sha256 stage error at",
}


def test_every_table_and_contract_column_is_described() -> None:
    described = METADATA["databases"]["subtrail"]["tables"]
    for table, columns in CONTRACT_COLUMNS.items():
        assert described[table].get("description"), table
        assert set(columns.split()) <= set(described[table].get("columns") or {}), table
        assert set(columns.split()) <= set(TABLES[table][0]), (
            f"{table}: contract column missing from the schema"
        )


# --- exposure -------------------------------------------------------------------------------

CLEAN_ENV = {"SUBTRAIL_PASSWORD_HASH": "", "DATASETTE_SECRET": "", "SUBTRAIL_USERNAME": ""}


def serve_exit(db_path: Path, host: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        subtrail_command("serve", "--db", str(db_path), "--host", host, "--port", "9"),
        env={**os.environ, **CLEAN_ENV, **env},
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({}, "SUBTRAIL_PASSWORD_HASH"),
        ({"SUBTRAIL_PASSWORD_HASH": "pbkdf2_sha256$480000$salt$hash"}, "DATASETTE_SECRET"),
        ({"SUBTRAIL_PASSWORD_HASH": "hunter2", "DATASETTE_SECRET": "s" * 40}, "not a password hash"),
    ],
)
def test_non_loopback_refused_without_auth(tmp_path: Path, env: dict[str, str], needle: str) -> None:
    result = serve_exit(tmp_path / "x.db", "0.0.0.0", env)
    assert result.returncode == 2
    assert needle in result.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was created


@pytest.fixture(scope="module")
def exposed_url(sample: tuple[Path, Seeded]) -> Iterator[str]:
    from datasette_auth_passwords.utils import hash_password

    env = {"SUBTRAIL_PASSWORD_HASH": hash_password("correct horse"), "DATASETTE_SECRET": "x" * 48}
    env["SUBTRAIL_USERNAME"] = "alice"
    with running_server(sample[0], env=env, host="0.0.0.0") as url:
        yield url


def protected_paths(seeded: Seeded) -> list[str]:
    return [
        "/",
        "/subtrail",
        "/subtrail.json",
        "/subtrail/messages",
        "/subtrail/messages.json",
        "/subtrail/messages.csv?_stream=on",
        f"/subtrail/raw_messages/{seeded.receipt_sha}.blob?_blob_column=raw",
        "/subtrail/upcoming_renewals.json",
        "/subtrail.json?sql=select+1",
        f"/evidence/{seeded.receipt_sha}.eml",
        "/calendar.ics",
        "/-/dashboards/subtrail",
        "/-/metadata.json",
        "/dossier/canal-plus",
    ]


def test_exposed_server_refuses_without_password(exposed_url: str, sample: tuple[Path, Seeded]) -> None:
    for path in protected_paths(sample[1]):
        for auth in (None, ("alice", "wrong"), ("bob", "correct horse")):
            response = httpx.get(f"{exposed_url}{path}", auth=auth, timeout=10)
            assert response.status_code == 401, (path, auth, response.status_code)
            assert "Julie" not in response.text and "netflix" not in response.text.lower()


def test_exposed_server_answers_with_password(exposed_url: str, sample: tuple[Path, Seeded]) -> None:
    for path in protected_paths(sample[1]):
        response = httpx.get(f"{exposed_url}{path}", auth=("alice", "correct horse"), timeout=10)
        assert response.status_code == 200, (path, response.status_code)
    eml = httpx.get(f"{exposed_url}/evidence/{sample[1].receipt_sha}.eml", auth=("alice", "correct horse"))
    assert eml.content == sample[1].receipt_raw


def test_serve_help() -> None:
    result = subprocess.run(subtrail_command("serve", "--help"), capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "--host" in result.stdout and "SUBTRAIL_PASSWORD_HASH" in result.stdout


SORT_PAYLOAD = "<script>alert('sort')</script>"


def _sort_urls(base: str) -> tuple[list[str], list[str]]:
    """Every table and view (and the canned queries) of the served database, by kind."""
    from ingest.store.schema import VIEWS

    index = httpx.get(f"{base}/subtrail.json", timeout=10).json()
    relations = [t["name"] for t in index["tables"]] + [v["name"] for v in index.get("views", [])]
    assert set(VIEWS) <= set(relations), "every view of the schema is served"
    return relations, [q["name"] for q in index.get("queries", [])]


def test_unknown_sort_on_a_view_or_table_is_a_400_not_a_500(sample_url: str) -> None:
    """`?_sort=nope` (or `_sort_desc`, or both at once) on any table or view says what is wrong,
    as a 400 in every format, and never echoes the value; canned queries ignore it."""
    from urllib.parse import quote

    from ingest.store.schema import VIEWS

    relations, queries = _sort_urls(sample_url)
    payload = quote(SORT_PAYLOAD)
    cases = [("", q) for q in ("_sort=nope", "_sort_desc=nope", "_sort=nope&_sort_desc=nope")]
    cases += [
        (ext, q) for ext in ("", ".json", ".csv") for q in (f"_sort={payload}", f"_sort_desc={payload}")
    ]
    cases += [("", f"_sort={payload}&_sort_by_desc=1")]  # the HTML form's "descending" box
    urls = [(name, f"/subtrail/{name}{ext}?{query}") for name in relations + queries for ext, query in cases]
    urls += [(view, f"/subtrail/{view}?_sort=rowid") for view in VIEWS]  # a view has no rowid
    for name, path in urls:
        response = httpx.get(f"{sample_url}{path}", timeout=10, follow_redirects=True)
        expected = 200 if name in queries else 400
        assert response.status_code == expected, (path, response.status_code, response.text[:300])
        if response.headers["content-type"].startswith("text/html"):  # query JSON echoes its args
            assert SORT_PAYLOAD not in response.text, path
        if name in relations:  # not even escaped: the error says which columns would do
            assert SORT_PAYLOAD not in response.text and "&lt;script" not in response.text, path
            assert "sort" in response.text.lower(), path
            if ".json" in path:
                assert response.json()["ok"] is False and "sort" in response.json()["error"], path


def test_a_known_sort_column_on_every_view_still_sorts(sample_url: str) -> None:
    from ingest.store.schema import VIEWS

    for name in VIEWS:
        columns = httpx.get(f"{sample_url}/subtrail/{name}.json", params={"_size": "1"}, timeout=10).json()
        refused = httpx.get(f"{sample_url}/subtrail/{name}.json", params={"_sort": "nope"}, timeout=10)
        assert f"({', '.join(columns['columns'])})" in refused.json()["error"], "the 400 lists them"
        column = columns["columns"][0]
        for arg in ("_sort", "_sort_desc"):
            response = httpx.get(f"{sample_url}/subtrail/{name}.json", params={arg: column}, timeout=10)
            assert response.status_code == 200, (name, arg, response.text[:300])
            assert response.json().get("ok") is not False and "rows" in response.json()
