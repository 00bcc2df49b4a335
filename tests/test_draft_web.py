"""The web "draft" action: `/provider/<slug>/draft/cancel|claim` and `/journal/<id>/draft`.

A real `subtrail serve` over the bundled sample (French config, today pinned), read over HTTP
and in headless Chromium: the letter is the one `subtrail draft` writes, in the page's language,
with its facts and its placeholders, and mail text in it stays text.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlite_utils import Database

from tests.chromium import CHROMIUM, open_page, persistent_context
from tests.conftest import SAMPLE
from tests.serve_helpers import make_sample_db, running_server, subtrail_command

TODAY = "2026-12-07"  # Spotify's refund was due on the 2nd
HOSTILE = "</textarea><script>alert(1)</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, int]]]:
    folder = tmp_path_factory.mktemp("draft-web")
    path = folder / "sample.db"
    seeded = make_sample_db(path)
    statements = [str(p) for p in sorted((SAMPLE / "bank").glob("*.csv"))]
    subprocess.run(subtrail_command("bank", "import", *statements, "--db", str(path)), check=True)
    with Database(path) as db:
        spotify = db.execute("select id from tickets where ticket_ref = '613377'").fetchone()[0]
        resolved = db.execute("select id from tickets where ticket_ref = '51190342'").fetchone()[0]
        db.execute("update tickets set subject = ? where id = ?", [HOSTILE, seeded.ticket_id])
        db.conn.commit()
    config = folder / "fr.toml"
    config.write_text('language = "fr"\ntimezone = "Europe/Paris"\n')
    edited = folder / "draft_templates" / "en"  # a template the user edited, beside the config
    edited.mkdir(parents=True)
    (edited / "claim.txt.j2").write_text(
        "Subject: my own notice\n{{ provider.name }} {{ contract_number | ph('ref') }}\n"
    )
    env = {"SUBTRAIL_TODAY": TODAY}
    with running_server(path, env=env, extra_args=("--config", str(config))) as url:
        yield url, {"spotify": spotify, "hostile": seeded.ticket_id, "resolved": resolved}


def _textarea(html: str) -> str:
    start = html.index('<textarea id="st-draft-text"')
    return html[html.index(">", start) + 1 : html.index("</textarea>", start)]


def test_http_cancel_draft_in_the_page_language(site: tuple[str, dict[str, int]]) -> None:
    url, _ = site
    french = httpx.get(f"{url}/provider/free/draft/cancel")
    assert french.status_code == 200
    assert (
        french.headers["content-language"] == "fr"
        and "script-src" not in french.headers["content-security-policy"]
    )
    text = _textarea(french.text)
    assert "L224-39" in text and "https://subscribe.free.fr/login/" in text and "8 novembre 2026" in text
    assert "[numéro de contrat]" in text, "a fact not found stays a placeholder"
    english = httpx.get(f"{url}/provider/free/draft/cancel", cookies={"subtrail_lang": "en"})
    assert english.headers["content-language"] == "en"
    assert "[contract number]" in _textarea(english.text) and "November 8, 2026" in _textarea(english.text)


def test_http_claim_and_follow_up_drafts(site: tuple[str, dict[str, int]]) -> None:
    url, ids = site
    claim = _textarea(httpx.get(f"{url}/provider/deezer/draft/claim").text)
    assert "CB DEEZER 25/10" in claim and "15 décembre 2026" in claim
    page = httpx.get(f"{url}/journal/{ids['spotify']}/draft")
    assert page.status_code == 200
    follow_up = _textarea(page.text)
    assert "« You will receive a refund within 5-7 business days. »" in follow_up
    assert "Kevin" in follow_up and "[numéro de client]" in follow_up
    assert "support@spotify.com" in page.text, "the address to send it to"


def test_http_drafts_are_linked_and_unknown_ones_are_404(site: tuple[str, dict[str, int]]) -> None:
    url, ids = site
    provider = httpx.get(f"{url}/provider/deezer").text
    assert 'href="/provider/deezer/draft/claim"' in provider
    netflix = httpx.get(
        f"{url}/provider/netflix"
    ).text  # nothing to claim from Netflix: no formal notice offered
    assert 'href="/provider/netflix/draft/cancel"' in netflix and "/draft/claim" not in netflix
    assert f'href="/journal/{ids["spotify"]}/draft"' in httpx.get(f"{url}/journal/{ids['spotify']}").text
    for path in (
        "/provider/free/draft/follow-up",
        "/provider/no-such-provider/draft/cancel",
        "/journal/99999/draft",
    ):
        assert httpx.get(url + path).status_code == 404, path


def test_http_a_resolved_case_offers_no_follow_up_but_its_draft_still_answers(
    site: tuple[str, dict[str, int]],
) -> None:
    url, ids = site
    case = httpx.get(f"{url}/journal/{ids['resolved']}")
    assert case.status_code == 200 and "st-status-resolved" in case.text
    assert "/draft" not in case.text and "rédiger une relance" not in case.text
    waiting = httpx.get(f"{url}/journal/{ids['spotify']}").text  # still waiting on them: offered
    assert f'href="/journal/{ids["spotify"]}/draft"' in waiting
    typed = httpx.get(f"{url}/journal/{ids['resolved']}/draft")
    assert typed.status_code == 200 and _textarea(typed.text)


def test_http_a_provider_whose_subscriptions_all_ended_offers_no_cancellation(
    site: tuple[str, dict[str, int]],
) -> None:
    url, _ = site
    for slug in ("deezer", "disney-plus"):  # expired only
        page = httpx.get(f"{url}/provider/{slug}")
        assert page.status_code == 200, slug
        assert "/draft/cancel" not in page.text and "Rédiger une résiliation" not in page.text, slug
        typed = httpx.get(f"{url}/provider/{slug}/draft/cancel")
        assert typed.status_code == 200 and _textarea(typed.text), slug
    for slug in ("spotify", "basic-fit", "canal-plus"):  # a trial, no recent news, one still active
        assert f'href="/provider/{slug}/draft/cancel"' in httpx.get(f"{url}/provider/{slug}").text, slug


def test_http_mail_text_in_a_draft_stays_text(site: tuple[str, dict[str, int]]) -> None:
    url, ids = site
    page = httpx.get(f"{url}/journal/{ids['hostile']}/draft")
    assert page.status_code == 200
    assert "<script>" not in page.text and "&lt;/textarea&gt;&lt;script&gt;" in page.text


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with persistent_context(tmp_path_factory.mktemp("chromium-draft")) as context:
        yield context


@pytest.mark.browser
def test_browser_cancel_draft_from_the_provider_page(browser: Any, site: tuple[str, dict[str, int]]) -> None:
    url, _ = site
    page, errors = open_page(browser, f"{url}/provider/free")
    page.get_by_role("link", name="Rédiger une résiliation").click()
    page.wait_for_url("**/provider/free/draft/cancel")
    text = page.locator("#st-draft-text").input_value()
    assert "L224-39" in text and "[numéro de contrat]" in text
    assert page.locator("#st-draft-text").get_attribute("readonly") is not None
    assert errors == []


@pytest.mark.browser
def test_browser_follow_up_draft_from_the_case_page(browser: Any, site: tuple[str, dict[str, int]]) -> None:
    url, ids = site
    page, errors = open_page(browser, f"{url}/journal/{ids['spotify']}")
    page.get_by_role("link", name="rédiger une relance").click()
    page.wait_for_url(f"**/journal/{ids['spotify']}/draft")
    text = page.locator("#st-draft-text").input_value()
    assert "Kevin" in text and "2 décembre 2026" in text and "[numéro de client]" in text
    assert page.locator(".st-draft-to").inner_text() == "support@spotify.com"
    assert errors == []


def test_http_draft_uses_the_templates_beside_the_config(site: tuple[str, dict[str, int]]) -> None:
    url, _ = site
    page = httpx.get(f"{url}/provider/deezer/draft/claim", cookies={"subtrail_lang": "en"})
    assert _textarea(page.text) == "Subject: my own notice\nDeezer [ref]\n"
    assert "my own notice" in page.text.split('class="st-draft-subject">', 1)[1]


def test_a_cancellation_is_offered_only_while_a_subscription_may_still_run(tmp_path: Path) -> None:
    """What the provider page reads: any running or silent subscription, never one the user dismissed."""
    from ingest.outputs.queries import provider
    from ingest.store.schema import open_db

    db = open_db(tmp_path / "t.db")
    db["subscriptions"].insert({"id": 1, "provider": "free", "status": "expired", "dismissed": 0})

    def offered() -> bool:
        return provider(db.conn, "free", "EUR", None)["cancellable"]

    assert offered() is False
    for status in ("cancelled", "active", "trial", "payment_failed", "unknown"):
        db.execute("update subscriptions set status = ?", [status])
        assert offered() is (status != "cancelled"), status
    db.execute("update subscriptions set dismissed = 1")  # "not a subscription", said the user
    assert offered() is False
