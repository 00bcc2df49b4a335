"""Recurring charges from the fixture statements, matched against an inventory, read through the views."""

from __future__ import annotations

import json

import pytest
from sqlite_utils import Database

from ingest.bank.reconcile import refresh
from ingest.bank.statements import read_statement
from ingest.bank.store import save_transactions
from ingest.pipeline.steps import STEPS
from tests.conftest import FIXTURES, REPO

BANK = FIXTURES / "bank"
FIELDS = ("account", "merchant", "provider", "billing_period", "amount_minor", "currency", "occurrences")

# The inventory as mail would have filled it: what Alice knows about.
SUBSCRIPTIONS = [
    # the mailbox still has the old price: the bank shows 15,99 since January
    dict(provider="netflix", amount_minor=1349, billing_period="P1M", status="active", started_on="2024-05-14"),
    # cancellation confirmed by mail on 10 December, yet charged on 5 January, February and March
    dict(provider="canal-plus", amount_minor=2499, billing_period="P1M", status="cancelled",
         started_on="2023-01-05", cancelled_on="2025-12-10", ends_on="2026-01-04"),
    dict(provider="free-mobile", amount_minor=1999, billing_period="P1M", status="active", started_on="2022-03-03"),
    dict(provider="basic-fit", amount_minor=2999, billing_period="P4W", status="active", started_on="2025-09-05"),
    dict(provider="edf", amount_minor=6200, billing_period="P1M", status="active", started_on="2021-01-16"),
    # OFX account: Spotify announced 11,99 and now takes 12,99
    dict(provider="spotify", amount_minor=1199, billing_period="P1M", status="active", started_on="2023-09-05"),
    dict(provider="openai", amount_minor=2300, billing_period="P1M", status="active", started_on="2025-09-18"),
    # paid with a card whose statement was not imported: no charge in the bank data
    dict(provider="amazon-prime", amount_minor=6990, billing_period="P1Y", status="active", started_on="2024-06-01"),
]  # fmt: skip


@pytest.fixture
def bank_db(db: Database) -> Database:
    for path in sorted(BANK.glob("*.csv")) + sorted(BANK.glob("*.ofx")):
        save_transactions(db, read_statement(path).transactions)
    db["subscriptions"].insert_all([{"currency": "EUR", **s} for s in SUBSCRIPTIONS])
    with db.atomic():
        refresh(db)
    return db


def test_detected_charges_match_the_labels(bank_db: Database) -> None:
    expected = json.loads((BANK / "expected_recurring.json").read_text(encoding="utf-8"))["recurring"]
    got = [dict(r) for r in bank_db.query("select * from recurring_charges order by account, merchant")]
    assert [{k: r[k] for k in expected[0]} for r in got] == expected


def test_unknown_recurring_are_the_services_the_mailbox_never_mentions(bank_db: Database) -> None:
    rows = bank_db.query("select merchant, status from bank_unknown_recurring order by merchant")
    assert [(r["merchant"], r["status"]) for r in rows] == [
        ("Audible", "early"),
        ("Deezer", "confirmed"),
        ("Disney+", "early"),
        ("MAIF ASSURANCE HABITATION", "confirmed"),
    ]


def test_charges_after_cancellation_are_money_to_claim(bank_db: Database) -> None:
    rows = list(bank_db.query("select * from bank_charges_after_cancellation"))
    assert [(r["provider"], r["booked_on"], r["amount_minor"]) for r in rows] == [
        ("canal-plus", "2026-01-05", 2499),
        ("canal-plus", "2026-02-05", 2499),
        ("canal-plus", "2026-03-05", 2499),
    ]
    assert rows[0]["days_after_cancellation"] == 26
    assert rows[0]["claim"].startswith(
        "canal-plus charged 24.99 EUR on 2026-01-05 (PRLV SEPA GROUPE CANAL+ ECH/050126"
    )
    assert rows[0]["claim"].endswith("), 26 days after the cancellation confirmed on 2025-12-10.")


def test_price_mismatches(bank_db: Database) -> None:
    rows = bank_db.query(
        "select provider, announced_minor, charged_minor, difference_minor from bank_price_mismatches"
    )
    assert sorted(tuple(r.values()) for r in rows) == [
        ("netflix", 1349, 1599, 250),
        ("spotify", 1199, 1299, 100),
    ]


def test_active_subscriptions_without_a_charge(bank_db: Database) -> None:
    rows = list(bank_db.query("select provider, last_bank_charge_on from bank_subscriptions_without_charge"))
    assert rows == [{"provider": "amazon-prime", "last_bank_charge_on": None}]


def test_links_and_transactions(bank_db: Database) -> None:
    linked = dict(
        bank_db.execute(
            """select rc.merchant, s.provider from recurring_charges rc
               join subscriptions s on s.id = rc.subscription_id"""
        ).fetchall()
    )
    assert linked == {
        "Netflix": "netflix",
        "Canal+": "canal-plus",
        "Free Mobile": "free-mobile",
        "Basic-Fit": "basic-fit",
        "EDF": "edf",
        "Spotify": "spotify",
        "OpenAI": "openai",
    }
    in_series = bank_db.execute(
        "select count(*) from bank_transactions where recurring_charge_id is not null"
    ).fetchone()[0]
    assert in_series == sum(
        r["occurrences"] for r in bank_db.query("select occurrences from recurring_charges")
    )


def test_refresh_is_idempotent_and_keeps_ids(bank_db: Database) -> None:
    before = list(bank_db.query("select * from recurring_charges order by id"))
    with bank_db.atomic():
        refresh(bank_db)
    assert list(bank_db.query("select * from recurring_charges order by id")) == before


def test_apple_charges_link_by_price(db: Database) -> None:
    rows = [
        {"account": "a", "booked_on": f"2025-{m:02d}-{d:02d}", "label": "APPLE.COM/BILL", "amount_minor": -a,
         "currency": "EUR", "source": "test", "txn_key": f"{m}-{a}"}
        for m in range(1, 6) for d, a in ((3, 299), (17, 1099))
    ]  # fmt: skip
    db["bank_transactions"].insert_all(rows)
    db["subscriptions"].insert(
        {
            "provider": "icloud",
            "amount_minor": 299,
            "currency": "EUR",
            "billing_period": "P1M",
            "status": "active",
        }
    )
    with db.atomic():
        refresh(db)
    got = db.execute(
        "select amount_minor, subscription_id from recurring_charges order by amount_minor"
    ).fetchall()
    assert got == [(299, 1), (1099, None)]  # the 10,99 one is some other Apple service: unknown


def test_store_platform_and_foreign_currency_links(db: Database) -> None:
    """An app billed by Apple links by price; a dollar price charged in euros links by provider."""
    rows = [
        {"account": "a", "booked_on": f"2026-{m:02d}-{d:02d}", "label": label, "amount_minor": -a,
         "currency": "EUR", "source": "test", "txn_key": f"{m}-{label}"}
        for m in range(1, 6)
        for d, label, a in ((14, "APPLE.COM/BILL", 699), (2, "CB OPENAI *CHATGPT SUBSCR", 1700 + 13 * m))
    ]  # fmt: skip
    db["bank_transactions"].insert_all(rows)
    db["subscriptions"].insert_all(
        [
            {"provider": "headspace", "platform": "apple", "amount_minor": 699, "currency": "EUR",
             "billing_period": "P1M", "status": "active"},
            {"provider": "openai", "platform": "stripe", "amount_minor": 2000, "currency": "USD",
             "billing_period": "P1M", "status": "active"},
        ]
    )  # fmt: skip
    with db.atomic():
        refresh(db)
    got = dict(db.execute("select merchant, match_reason from recurring_charges").fetchall())
    assert got == {
        "Apple": "provider headspace via the app store, amount, period",
        "OpenAI": "provider openai, billed in USD, period",
    }
    assert list(db.query("select * from bank_price_mismatches")) == []  # dollars and euros do not compare


def test_refresh_is_a_pipeline_deriver() -> None:
    assert refresh in [step.derive for step in STEPS]


def test_bundled_sample_statement(db: Database) -> None:
    """Alice's BoursoBank export (data/sample/bank) tells the story the sample mailbox tells."""
    (path,) = (REPO / "data" / "sample" / "bank").glob("*.csv")
    statement = read_statement(path)
    assert statement.account == "00040123456"  # from the accountNum column
    save_transactions(db, statement.transactions)
    with db.atomic():
        refresh(db)
    found = {r["merchant"]: r for r in db.query("select * from recurring_charges")}
    assert {"Netflix", "Spotify", "Free Mobile", "Basic-Fit", "Canal+", "Deezer", "Audible"} <= found.keys()
    assert json.loads(found["Netflix"]["amount_changes"]) == [{"on": "2026-11-16", "from": 1349, "to": 1499}]
    assert (found["Basic-Fit"]["billing_period"], found["Microsoft"]["billing_period"]) == ("P4W", "P1Y")
    assert found["Microsoft"]["status"] == "early"


def test_card_and_paypal_payments_and_references_without_digits(db: Database) -> None:
    """Spotify by card and through PayPal are two payments; `CB NORDVPN DZBYYA` changes name every year."""
    rows = [
        (f"2025-{m:02d}-05", f"CB SPOTIFY P{m}F3A4", 1199) for m in range(1, 7)
    ] + [(f"2025-{m:02d}-20", "PAYPAL *SPOTIFY", 1199) for m in range(1, 7)] + [
        ("2024-02-11", "CB NORDVPN DZBYYA", 5988), ("2025-02-10", "CB NORDVPN NADKZC", 5988),
    ]  # fmt: skip
    db["bank_transactions"].insert_all(
        {
            "account": "a",
            "booked_on": d,
            "label": label,
            "amount_minor": -a,
            "currency": "EUR",
            "txn_key": f"{d}{label}",
        }
        for d, label, a in rows
    )
    with db.atomic():
        refresh(db)
    got = db.execute(
        "select merchant, billing_period, occurrences, status from recurring_charges order by merchant, first_on"
    ).fetchall()
    assert got == [
        ("NORDVPN", "P1Y", 2, "early"),
        ("Spotify", "P1M", 6, "confirmed"),
        ("Spotify", "P1M", 6, "confirmed"),
    ]


def test_first_debit_on_follows_the_links(bank_db: Database) -> None:
    """Each linked subscription keeps its series' first debit; a link that goes takes it away."""
    rows = bank_db.execute(
        """select s.provider, s.first_debit_on, (select min(first_on) from recurring_charges r
                  where r.subscription_id = s.id) from subscriptions s order by s.id"""
    ).fetchall()
    assert all(first == expected for _, first, expected in rows), rows
    assert sum(first is not None for _, first, _ in rows) >= 5, rows
    assert dict((p, f) for p, f, _ in rows)["netflix"] is not None
    bank_db.execute("update subscriptions set provider = 'nobody' where provider = 'netflix'")
    with bank_db.atomic():
        refresh(bank_db)
    (first,) = bank_db.execute(
        "select first_debit_on from subscriptions where provider = 'nobody'"
    ).fetchone()
    assert first is None
