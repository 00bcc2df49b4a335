"""The Datasette UI in headless Chromium: the pages people use render, with no console errors.

Drives Debian's `/usr/bin/chromium` through Playwright (never a downloaded browser).
Screenshots go to `artifacts/` (gitignored) so a person can look at what the test saw.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.chromium import CHROMIUM, persistent_context
from tests.conftest import REPO
from tests.serve_helpers import Seeded, make_sample_db, running_server

ARTIFACTS = REPO / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"
    ),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seeded, Path]]:
    path = tmp_path_factory.mktemp("browser") / "sample.db"
    seeded = make_sample_db(path)
    with running_server(path) as url:
        yield url, seeded, path


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    with persistent_context(profile, viewport={"width": 1280, "height": 900}) as context:
        yield context


def visit(browser: Any, url: str, shot: str, wait_for: str | None = None) -> tuple[Any, list[str]]:
    """Open `url`, wait for the network to settle, screenshot it; returns the page and its errors."""
    page = browser.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: errors.append(f"request failed: {req.url} {req.failure}"))
    page.on(
        "response", lambda res: errors.append(f"HTTP {res.status}: {res.url}") if res.status >= 400 else None
    )
    page.goto(url, wait_until="networkidle")
    if wait_for:
        page.wait_for_selector(wait_for, timeout=15000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)
    return page, errors


def test_home_page(browser: Any, site: tuple[str, Seeded, Path]) -> None:
    page, errors = visit(browser, f"{site[0]}/", "home")
    text = page.inner_text("body")
    assert "subscription inventory" in text and "customer-service journal" in text
    assert page.locator('a[href="/-/dashboards/subtrail"]').count() == 1
    assert not errors, errors
    page.close()


def test_inventory(browser: Any, site: tuple[str, Seeded, Path]) -> None:
    page, errors = visit(browser, f"{site[0]}/subtrail/subscriptions", "inventory")
    text = page.inner_text("body")
    for expected in ("Netflix", "Spotify", "The New York Times", "next_renewal_on", "status"):
        assert expected in text, expected
    assert page.locator(".facet-info").count() >= 3  # status, provider, platform...
    assert not errors, errors
    page.close()


def test_ticket_timeline(browser: Any, site: tuple[str, Seeded, Path]) -> None:
    url, seeded, _path = site
    page, errors = visit(
        browser, f"{url}/subtrail/ticket_timeline?ticket={seeded.ticket_ref}", "ticket-timeline"
    )
    text = page.inner_text("body")
    assert "A ticket's timeline" in text
    for expected in ("Julie", "Kevin", "remboursement de 26,99", "outbound", "phone"):
        assert expected in text, expected
    assert page.locator(f'a[href="/evidence/{seeded.inbound_sha}.eml"]').count() >= 1
    assert not errors, errors
    page.close()


def test_hostile_message_is_text(browser: Any, site: tuple[str, Seeded, Path]) -> None:
    url, seeded, _path = site
    dialogs: list[str] = []
    page = browser.new_page()
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{url}/subtrail/messages?sha256={seeded.hostile_sha}", wait_until="networkidle")
    assert "<script>alert('xss')</script>" in page.inner_text("body")  # visible as text
    assert page.locator("table.rows-and-columns script, table.rows-and-columns img").count() == 0
    assert dialogs == []
    page.close()


def test_dashboard(browser: Any, site: tuple[str, Seeded, Path]) -> None:
    page, errors = visit(
        browser,
        f"{site[0]}/-/dashboards/subtrail",
        "dashboard",
        wait_for="#chart-renewals-strip svg, #chart-renewals-strip canvas",
    )
    page.wait_for_selector("#chart-spend-per-month svg, #chart-spend-per-month canvas", timeout=15000)
    page.wait_for_function("document.querySelector('#chart-active-subscriptions p') !== null", timeout=15000)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    text = page.inner_text("body")
    assert "Subscriptions dashboard" in text and "Spend per month" in text
    db = sqlite3.connect(site[2])
    active = db.execute(
        "select count(*) from subscriptions where status in ('active', 'trial', 'payment_failed')"
    )
    assert page.inner_text("#chart-active-subscriptions p") == str(active.fetchone()[0])
    open_tickets = db.execute("select count(*) from tickets where coalesce(status, '') != 'resolved'")
    assert page.inner_text("#chart-open-tickets p") == str(open_tickets.fetchone()[0])
    db.close()
    assert not errors, errors
    page.close()


@pytest.mark.parametrize(
    "path",
    [
        "/subtrail",
        "/subtrail/messages",
        "/subtrail/providers",
        "/subtrail/tickets",
        "/subtrail/upcoming_renewals",
        "/subtrail/monthly_spend",
        "/subtrail/provider_history?provider=canal-plus",
        "/subtrail/review_queue",
        "/dossier/canal-plus",
    ],
)
def test_pages_have_no_console_errors(browser: Any, site: tuple[str, Seeded, Path], path: str) -> None:
    shot = path.strip("/").replace("/", "-").split("?")[0] or "root"
    page, errors = visit(browser, f"{site[0]}{path}", f"page-{shot}")
    assert page.inner_text("body").strip()
    assert not errors, errors
    page.close()
