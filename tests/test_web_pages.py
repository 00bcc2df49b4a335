"""The pages a person uses, in headless Chromium, in French and in English, on the bundled sample.

Two real `subtrail serve` processes (a French config in Europe/Paris, an English one in
America/New_York) over the sample mailbox and bank statement. Every page is opened at
1,400 and 390 px wide with no console error, money and times are checked as a person
reads them, and a correction made through the form survives `subtrail reprocess`.
Screenshots go to `artifacts/web/` (gitignored).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from ingest.outputs.humanize import Humanizer
from tests.chromium import CHROMIUM, open_page, persistent_context
from tests.conftest import REPO, SAMPLE
from tests.serve_helpers import make_sample_db, running_server, subtrail_command

ARTIFACTS = REPO / "artifacts" / "web"
ZONES = {"fr": "Europe/Paris", "en": "America/New_York"}
WIDTHS = (1400, 390)
PAGES = ("overview", "inventory", "journal", "case", "provider")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing"),
]


def plain(text: str) -> str:
    """Page text with the no-break spaces babel puts in money and dates made ordinary."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("web") / "sample.db"
    make_sample_db(path)
    statement = next((SAMPLE / "bank").glob("*.csv"))
    subprocess.run(subtrail_command("bank", "import", str(statement), "--db", str(path)), check=True)
    return path


@pytest.fixture(scope="module")
def sites(sample_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    configs = tmp_path_factory.mktemp("configs")
    urls: dict[str, str] = {}
    with running_server(sample_db, extra_args=("--config", str(_config(configs, "fr")))) as fr:
        urls["fr"] = fr
        with running_server(sample_db, extra_args=("--config", str(_config(configs, "en")))) as en:
            urls["en"] = en
            yield urls


def _config(folder: Path, language: str) -> Path:
    path = folder / f"{language}.toml"
    path.write_text(f'language = "{language}"\ntimezone = "{ZONES[language]}"\ncurrency = "EUR"\n')
    return path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with persistent_context(tmp_path_factory.mktemp("chromium-web")) as context:
        yield context


def shoot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def known(sample_db: Path) -> dict[str, Any]:
    with Database(sample_db) as db:
        ticket = db.execute(
            """select t.id, tm.sent_at from tickets t join ticket_messages tm on tm.ticket_id = t.id
               join promises p on p.ticket_message_id = tm.id order by t.id limit 1"""
        ).fetchone()
        netflix = db.execute(
            "select id from subscriptions where natural_key like 'netflix|%' order by id limit 1"
        ).fetchone()[0]
    return {"ticket": ticket[0], "sent_at": ticket[1], "netflix": netflix}


def paths(facts: dict[str, Any]) -> dict[str, str]:
    return {
        "overview": "/",
        "inventory": "/inventory",
        "journal": "/journal",
        "case": f"/journal/{facts['ticket']}",
        "provider": "/provider/netflix",
    }


MONEY = {"fr": re.compile(r"\d+,\d\d € / mois"), "en": re.compile(r"€\d+\.\d\d / month")}
WORDS = {
    "fr": ("Chaque mois", "Renouvellements dans les 30 jours", "Dossiers en cours"),
    "en": ("Every month", "Renewals in the next 30 days", "Open cases"),
}


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_in_both_languages(
    browser: Any, sites: dict[str, str], sample_db: Path, language: str, width: int
) -> None:
    facts = known(sample_db)
    h = Humanizer(language=language, timezone=ZONES[language])
    for name, path in paths(facts).items():
        page, errors = open_page(browser, sites[language] + path, width)
        text = plain(page.inner_text("body"))
        shoot(page, f"{language}-{name}-{width}")
        assert not errors, (path, errors)
        assert page.locator("html").get_attribute("lang") == language
        assert "Apache" not in text and "Data license" not in text and "Log in" not in text
        if name in ("overview", "inventory", "provider"):
            assert MONEY[language].search(text), (path, text[:500])
        if name == "overview":
            assert all(word in text for word in WORDS[language]), text[:800]
            assert "P1M" not in text and "awaiting_provider" not in text
        if name == "case":
            assert plain(h.datetime(facts["sent_at"])) in text, (h.datetime(facts["sent_at"]), text[:800])
            assert page.locator(".st-promise").count() >= 1
            assert page.locator('a[href^="/evidence/"]').count() >= 1
        if name == "provider":
            for link in ("/dossier/netflix", "/provider/netflix/evidence.zip", "/calendar.ics"):
                assert page.locator(f'a[href="{link}"]').count() >= 1, link
        page.close()


def test_datasette_stays_reachable(browser: Any, sites: dict[str, str]) -> None:
    page, errors = open_page(browser, sites["en"] + "/subtrail/subscriptions", 1400)
    assert "Data license" not in page.inner_text("body")
    assert page.locator('a[href="/inventory"]').count() >= 1  # the menu leads back to the pages
    assert not errors, errors
    page.close()


def test_correction_through_the_form_survives_reprocess(
    browser: Any, sites: dict[str, str], sample_db: Path
) -> None:
    sub_id = known(sample_db)["netflix"]
    page, errors = open_page(browser, sites["en"] + "/inventory", 1400)
    row = page.locator(f"#subscription-{sub_id}")
    row.locator("summary").click()
    row.locator('input[name="amount"]').fill("16,49 €")
    row.locator('select[name="category"]').select_option("streaming")
    row.locator('input[name="note"]').fill("new price announced by mail")
    with page.expect_navigation():
        row.locator('button[type="submit"]').click()
    page.wait_for_load_state("networkidle")
    row = page.locator(f"#subscription-{sub_id}")
    assert "€16.49 / month" in plain(row.inner_text())
    assert row.locator(".st-mark").count() == 1
    shoot(page, "en-inventory-corrected-1400")
    assert not errors, errors
    page.close()

    subprocess.run(subtrail_command("reprocess", "--db", str(sample_db)), check=True, capture_output=True)

    page, errors = open_page(browser, sites["fr"] + "/inventory", 1400)
    text = plain(page.locator(f"#subscription-{sub_id}").inner_text())
    assert "16,49 € / mois" in text and "streaming" in text and "new price announced by mail" in text
    assert not errors, errors
    page.close()
    with Database(sample_db) as db:
        assert (
            db.execute("select amount_minor from subscriptions where id = ?", [sub_id]).fetchone()[0] == 1649
        )


@pytest.mark.parametrize(
    ("language", "since"),
    [("fr", "Depuis nov. 2025 (premier prélèvement bancaire)"), ("en", "Since Nov 2025 (first bank debit)")],
)
def test_the_web_dossier_says_deezer_ran_since_its_first_bank_debit(
    browser: Any, sites: dict[str, str], language: str, since: str
) -> None:
    """The mails start in Sept 2026; the statement shows Deezer's debits from Nov 2025."""
    page, errors = open_page(browser, sites[language] + "/dossier/deezer", 1400)
    text = " ".join(plain(page.inner_text("body")).split())  # a table row reads "Since\tNov 2025..."
    page.close()
    assert not errors, errors
    assert since in text, text[:1500]
