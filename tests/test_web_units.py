"""Words, not codes; one currency; corrections that stick; who may write — without a browser."""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from ingest.derived.corrections import Correction, CorrectionError, add_subscription, record_corrections
from ingest.outputs.fx import Rates, shipped_rates, to_main
from ingest.outputs.humanize import Humanizer, available_languages, translations
from ingest.store.schema import open_db
from tests.catalogue import translated_ids

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("language", "amount", "period", "expected"),
    [
        ("fr", 1499, "P1M", "14,99 € / mois"),
        ("fr", 6990, "P1Y", "69,90 € / an"),
        ("fr", 3299, "P4W", "32,99 € / 4 semaines"),
        ("en", 1499, "P1M", "€14.99 / month"),
        ("en", 6990, "P1Y", "€69.90 / year"),
        ("en", 2997, "P3M", "€29.97 / 3 months"),
    ],
)
def test_prices_as_people_write_them(language: str, amount: int, period: str, expected: str) -> None:
    text = Humanizer(language=language).price(amount, "EUR", period)
    assert text.replace("\xa0", " ").replace("\u202f", " ") == expected


def test_local_times_and_words() -> None:
    fr = Humanizer(language="fr", timezone="Europe/Paris")
    en = Humanizer(language="en", timezone="America/New_York")
    assert fr.datetime("2026-03-12T10:02:00+00:00") == "12 mars 2026, 11:02"
    assert en.datetime("2026-03-12T10:02:00+00:00") == "Mar 12, 2026, 06:02"
    assert fr.ticket_status("awaiting_provider") == "en attente de leur part"
    assert en.subscription_status("expired") == "ended"
    assert fr.days_from("2026-03-15", date(2026, 3, 12)) == "dans 3 jours"


TRANSLATED = re.compile(r"""(?<![\w.])(?:_|N_|gettext)\(\s*(["'])((?:(?!\1).)+)\1\s*\)""")
PLURAL = re.compile(r"""ngettext\(\s*(["'])((?:(?!\1).)+)\1\s*,\s*(["'])((?:(?!\3).)+)\3""")


def test_every_label_has_a_french_translation() -> None:
    """A label missing from a catalogue would show in English on a French page."""
    sources = [*sorted((REPO / "ingest/web/templates").glob("*.html"))]
    sources += [REPO / "ingest/outputs/humanize.py", REPO / "ingest/web/pages.py"]
    singles, plurals = set(), set()
    for path in sources:
        text = path.read_text(encoding="utf-8")
        singles |= {m.group(2) for m in TRANSLATED.finditer(text)}
        plurals |= {(m.group(2), m.group(4)) for m in PLURAL.finditer(text)}
    translated = translated_ids()
    wanted = singles | {part for pair in plurals for part in pair}
    assert sorted(wanted - translated) == []
    assert translations("fr").ngettext("%(count)d week", "%(count)d weeks", 4) == "%(count)d semaines"
    assert available_languages() == ["en", "fr"]


def test_one_currency_never_a_silent_one_to_one() -> None:
    rates = Rates(day=date(2026, 10, 30), per_euro={"USD": __import__("decimal").Decimal("1.1172")})
    assert to_main(2000, "USD", "EUR", rates=rates).amount_minor == 1790
    assert to_main(2000, "USD", "EUR", 1817, "EUR", rates).how == "bank"
    assert to_main(2000, "CHF", "EUR", rates=rates).how == "none"  # no rate: not converted, not 1:1
    shipped = shipped_rates()
    assert shipped is not None and shipped.day == date(2026, 10, 30) and "USD" in shipped.per_euro


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = open_db(tmp_path / "t.db")
    database["subscriptions"].insert(
        {"id": 1, "provider": "netflix", "service_name": "Netflix", "amount_minor": 1349, "currency": "EUR",
         "billing_period": "P1M", "status": "active", "next_renewal_on": "2026-12-14"}
    )  # fmt: skip
    return database


def test_corrections_are_laid_over_the_row_and_kept(db: Database) -> None:
    record_corrections(db, 1, [Correction("amount", "15,99 €"), Correction("category", "streaming")])
    record_corrections(db, 1, [Correction("ended_on", "2026-11-01", "by phone")])
    row = db["subscriptions"].get(1)
    assert (row["amount_minor"], row["category"], row["status"], row["ends_on"]) == (
        1599, "streaming", "expired", "2026-11-01",
    )  # fmt: skip
    assert row["next_renewal_on"] is None and row["monthly_amount_minor"] == 1599
    assert [c["field"] for c in db["corrections"].rows] == ["amount", "category", "ended_on"]
    with pytest.raises(CorrectionError):
        record_corrections(db, 1, [Correction("amount", "cheap")])
    with pytest.raises(CorrectionError):
        record_corrections(db, 99, [Correction("status", "active")])


def test_a_subscription_added_by_hand_keeps_its_id(db: Database) -> None:
    from ingest.derived.corrections import apply_corrections

    sub_id = add_subscription(db, "basic-fit", "29,99", "P4W", started_on="2026-01-05", category="fitness")
    apply_corrections(db)
    apply_corrections(db)
    row = db["subscriptions"].get(sub_id)
    assert (row["provider"], row["amount_minor"], row["currency"], row["category"]) == (
        "basic-fit", 2999, "EUR", "fitness",
    )  # fmt: skip
    assert db.execute("select count(*) from subscriptions where provider = 'basic-fit'").fetchone()[0] == 1
    correction = db.execute("select subscription_id, field from corrections").fetchone()
    assert correction == (None, "added")


def _post(ds: Any, path: str, data: dict[str, str], host: str = "127.0.0.1") -> Any:
    async def go() -> Any:
        await ds.invoke_startup()
        first = await ds.client.get("/inventory")
        token = re.search(r'name="csrftoken" value="([^"]+)"', first.text).group(1)
        cookies = {"ds_csrftoken": first.cookies.get("ds_csrftoken")}
        return await ds.client.post(path, data={**data, "csrftoken": token}, cookies=cookies)

    return asyncio.run(go())


def test_the_web_form_needs_its_csrf_token(db: Database, tmp_path: Path) -> None:
    from ingest.web.serve import build_datasette

    ds = build_datasette(tmp_path / "t.db")

    async def without_token() -> Any:
        await ds.invoke_startup()
        return await ds.client.post("/-/subtrail/correct", data={"subscription_id": "1", "amount": "1 €"})

    assert asyncio.run(without_token()).status_code == 403
    assert db["subscriptions"].get(1)["amount_minor"] == 1349
    response = _post(
        ds, "/-/subtrail/correct", {"subscription_id": "1", "amount": "15,99 €", "back": "/inventory"}
    )
    assert response.status_code == 302 and response.headers["location"] == "/inventory"
    assert db["subscriptions"].get(1)["amount_minor"] == 1599


def test_may_write_only_from_loopback_or_logged_in() -> None:
    from ingest.web.pages import may_write

    class FakeRequest:
        def __init__(self, client: str, host: str, actor: Any = None) -> None:
            self.scope = {"client": (client, 1234)}
            self.host = host
            self.actor = actor

    class FakeDatasette:
        def __init__(self, auth: bool) -> None:
            self.auth = auth

        def plugin_config(self, name: str) -> dict[str, Any]:
            return {"auth": self.auth}

    assert may_write(FakeRequest("127.0.0.1", "127.0.0.1:8001"), FakeDatasette(False))
    assert not may_write(FakeRequest("127.0.0.1", "evil.example:8001"), FakeDatasette(False))  # DNS rebinding
    assert not may_write(FakeRequest("192.168.1.9", "192.168.1.2:8001"), FakeDatasette(False))
    assert may_write(FakeRequest("192.168.1.9", "nas:8001", {"id": "alice"}), FakeDatasette(True))
    assert not may_write(FakeRequest("127.0.0.1", "127.0.0.1:8001"), FakeDatasette(True))
