"""Events -> inventory on real SQLite: the expected inventory, lifecycles, stable ids, idempotent reprocess."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from extractors import Identity
from ingest.cli import cli
from ingest.derived.inventory import add_period, fold, monthly_minor, rebuild_subscriptions
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from tests.conftest import SAMPLE
from tests.extract_fixtures import expected_inventory, fixture, fixtures

EXPECTED = expected_inventory()
AS_OF = EXPECTED.as_of
IDENTITY = Identity(frozenset({"alice.martin@example.org", "alice@example.org"}))
COLUMNS = ("status", "amount_minor", "currency", "billing_period", "platform", "next_renewal_on", "ends_on")


@pytest.fixture
def fixture_db(db: Database) -> Database:
    main_set = [str(f.eml) for f in fixtures("main")]
    import_paths(db, main_set, IDENTITY, workers=1, progress=False)
    rebuild_subscriptions(db, AS_OF)
    return db


def test_expected_inventory(fixture_db: Database) -> None:
    got = {
        (r["provider"], r["account_email"]): {c: r[c] for c in COLUMNS}
        for r in fixture_db["subscriptions"].rows
    }
    expected = {
        (e["provider"], e["account_email"]): {c: e.get(c) for c in COLUMNS} for e in EXPECTED.subscriptions
    }
    assert got == expected


def test_every_event_points_at_its_subscription_and_message(fixture_db: Database) -> None:
    orphans = fixture_db.execute(
        """select count(*) from subscription_events e
           left join subscriptions s on s.id = e.subscription_id
           left join messages m on m.sha256 = e.message_sha256
           where s.id is null or m.id is null or s.natural_key != e.natural_key"""
    ).fetchone()[0]
    assert orphans == 0
    assert fixture_db["subscription_events"].count >= 40


def test_negatives_create_nothing(fixture_db: Database) -> None:
    rows = fixture_db.execute(
        """select l.path from subscription_events e join message_locations l on l.sha256 = e.message_sha256
           where l.path like '%/neg-%'"""
    ).fetchall()
    assert rows == []


def test_views(fixture_db: Database) -> None:
    review = {r["subject"] for r in fixture_db["needs_review"].rows}
    assert review == {"Votre facture Le Figaro", "Your Calm Premium receipt"}
    suspicious = {r["from_addr"]: r["reason"] for r in fixture_db["suspicious_messages"].rows}
    assert set(suspicious) == {
        "no_reply@email.apple.com",
        "support@netflix-account-billing.com",
        "prime@amaz0n-prime-renew.com",
        "securite@paypal-verification-compte.fr",
    }
    assert all(reason for reason in suspicious.values())


def _snapshot(db: Database) -> tuple[list[tuple], list[tuple]]:
    subs = db.execute("select * from subscriptions order by id").fetchall()
    events = db.execute("select * from subscription_events order by id").fetchall()
    return subs, events


def test_reprocess_twice_changes_nothing_and_keeps_ids(fixture_db: Database) -> None:
    rebuild_subscriptions(fixture_db)  # what the import's own run wrote, as of today
    before = _snapshot(fixture_db)
    reprocess_all(fixture_db, IDENTITY, workers=1)
    first = _snapshot(fixture_db)
    reprocess_all(fixture_db, IDENTITY, workers=1)
    assert _snapshot(fixture_db) == first
    assert [row[:2] for row in first[0]] == [row[:2] for row in before[0]]  # ids and providers kept
    assert first[0] == before[0]


def test_cli_reprocess_twice_changes_nothing(db_path: Path) -> None:
    """`subtrail import` then `subtrail reprocess` twice, as a user runs them: nothing moves."""
    config = ["--config", str(SAMPLE / "subtrail.toml"), "--db", str(db_path)]
    runner = CliRunner()
    commands = [["import", str(SAMPLE / "mailbox")], ["reprocess"], ["reprocess"]]
    snapshots = []
    for command in commands:
        assert runner.invoke(cli, [*command, *config]).exit_code == 0
        db = Database(db_path)
        messages = db.execute(
            "select sha256, kind, provider, suspicious, needs_review from messages"
        ).fetchall()
        snapshots.append((*_snapshot(db), sorted(messages)))
        db.close()
    assert len(snapshots[0][0]) >= 15 and len(snapshots[0][1]) >= 25
    assert snapshots[0] == snapshots[1] == snapshots[2]


def test_ids_survive_new_mail_and_a_subscription_that_disappears(db: Database, tmp_path: Path) -> None:
    folder = tmp_path / "mail"
    folder.mkdir()
    for name in ("sub-netflix-fr-receipt-sep", "sub-spotify-fr-receipt", "sub-deezer-fr-receipt"):
        shutil.copy(fixture(name).eml, folder)
    import_paths(db, [str(folder)], IDENTITY, workers=1, progress=False)
    ids = {r["provider"]: r["id"] for r in db["subscriptions"].rows}
    shutil.copy(fixture("sub-canal-fr-renewal").eml, folder)
    import_paths(db, [str(folder)], IDENTITY, workers=1, progress=False)
    db.execute("delete from subscription_events where provider = 'spotify'")
    rebuild_subscriptions(db, AS_OF)
    after = {r["provider"]: r["id"] for r in db["subscriptions"].rows}
    assert "spotify" not in after
    assert after["netflix"] == ids["netflix"] and after["deezer"] == ids["deezer"]
    assert after["canal-plus"] not in ids.values()


def test_the_sample_mailbox_gives_a_believable_inventory(db: Database) -> None:
    import_paths(db, [str(SAMPLE / "mailbox")], IDENTITY, workers=1, progress=False)
    rebuild_subscriptions(db, AS_OF)
    rows = {r["provider"]: r for r in db["subscriptions"].rows}
    assert len(rows) >= 15
    assert rows["netflix"]["amount_minor"] == 1499  # the price after the price change
    assert rows["deezer"]["status"] == "expired" and rows["disney-plus"]["ends_on"] == "2026-06-15"
    assert rows["headspace"]["platform"] == "apple" and rows["mediapart"]["platform"] == "paypal"
    assert not {"amazon", "sncf-connect", "netflix-account-billing"} & set(rows)


def event(kind: str, on: str, **fields: object) -> dict[str, object]:
    base = dict.fromkeys(
        ("amount_minor", "previous_amount_minor", "commitment_ends_on", "currency", "billing_period", "next_renewal_on", "service_name", "plan", "platform",
         "trial_ends_on", "ends_on"),
    )  # fmt: skip
    base.update(event_type=kind, occurred_on=on, message_date=f"{on}T08:00:00+00:00")
    base.update(fields)
    return base


EUR = {"currency": "EUR", "billing_period": "P1M"}


@pytest.mark.parametrize(
    ("events", "as_of", "expected"),
    [
        (  # trial -> charge -> price change -> cancelled, then past the end -> expired
            [
                event("trial_started", "2026-01-01", trial_ends_on="2026-01-31"),
                event("charge", "2026-01-31", amount_minor=999, **EUR),
                event("price_change", "2026-03-31", amount_minor=1199, message_date="2026-02-15", **EUR),
                event("cancellation_confirmed", "2026-04-10", ends_on="2026-04-30"),
            ],
            "2026-05-01",
            {
                "status": "expired",
                "amount_minor": 1199,
                "started_on": "2026-01-01",
                "cancelled_on": "2026-04-10",
                "ends_on": "2026-04-30",
                "next_renewal_on": None,
                "last_charged_on": "2026-01-31",
            },
        ),
        (  # cancelled but still running
            [
                event("charge", "2026-04-01", amount_minor=500, **EUR),
                event("cancellation_confirmed", "2026-04-10", ends_on="2026-05-01"),
            ],
            "2026-04-20",
            {"status": "cancelled", "ends_on": "2026-05-01", "next_renewal_on": None},
        ),
        (  # a new charge after a cancellation: subscribed again
            [
                event("cancellation_confirmed", "2026-02-10", ends_on="2026-03-01"),
                event("charge", "2026-06-01", amount_minor=500, **EUR),
            ],
            "2026-06-02",
            {"status": "active", "ends_on": None, "cancelled_on": None, "next_renewal_on": "2026-07-01"},
        ),
        (  # payment failed, then paid
            [
                event("payment_failed", "2026-03-01", amount_minor=500, **EUR),
                event("charge", "2026-03-04", amount_minor=500, **EUR),
            ],
            "2026-03-05",
            {"status": "active", "next_renewal_on": "2026-04-04"},
        ),
        (  # a price announced for later is not today's: the old-price charge is what is paid until then
            [
                event("price_change", "2026-05-01", amount_minor=1499, message_date="2026-03-01", **EUR),
                event("charge", "2026-04-01", amount_minor=1349, **EUR),
            ],
            "2026-04-02",
            {"amount_minor": 1349, "next_renewal_on": "2026-05-01"},
        ),
        (  # ...and once its day has come, the announced price is the price
            [
                event("price_change", "2026-05-01", amount_minor=1499, message_date="2026-03-01", **EUR),
                event("charge", "2026-04-01", amount_minor=1349, **EUR),
            ],
            "2026-05-02",
            {"amount_minor": 1499},
        ),
        (  # a monthly direct debit sends no mail, but a stated commitment end says it still runs
            [event("signup", "2026-01-05", amount_minor=2995, commitment_ends_on="2027-01-04", **EUR)],
            "2026-11-27",
            {"status": "active", "amount_minor": 2995},
        ),
        (  # ...until that end is itself two periods old
            [event("signup", "2026-01-05", amount_minor=2995, commitment_ends_on="2026-03-04", **EUR)],
            "2026-11-27",
            {"status": "unknown"},
        ),
        (  # the price change is the only mail: the price it replaces is in force until its day
            [
                event(
                    "price_change",
                    "2027-01-01",
                    amount_minor=3250,
                    previous_amount_minor=3000,
                    message_date="2026-11-16",
                    **EUR,
                )
            ],
            "2026-11-27",
            {"status": "active", "amount_minor": 3000, "currency": "EUR", "monthly_amount_minor": 3000},
        ),  # fmt: skip
        (  # a trial nobody cancelled became a paid subscription
            [event("trial_ending", "2026-03-01", trial_ends_on="2026-03-08", amount_minor=1995, **EUR)],
            "2026-04-20",  # under two periods after the trial's end (later, the evidence is too old: unknown)
            {"status": "active", "trial_ends_on": "2026-03-08", "next_renewal_on": "2026-05-08"},
        ),
        (  # a support reply a fortnight later: "I can see the cancellation on April 10" moves nothing
            [
                event("charge", "2026-04-01", amount_minor=500, **EUR),
                event("cancellation_confirmed", "2026-04-10", ends_on="2026-05-01"),
                event("cancellation_confirmed", "2026-04-10", message_date="2026-04-24T09:00:00+00:00"),
            ],
            "2026-04-25",
            {
                "status": "cancelled",
                "cancelled_on": "2026-04-10",
                "ends_on": "2026-05-01",
                "next_renewal_on": None,
            },
        ),
        (  # only a support reply, on the 23rd, says it was cancelled on the 3rd: cancelled on the 3rd, and
            # the charge of the 5th was the renewal that should not have happened: the paid time ended on the 5th
            [
                event("charge", "2026-10-05", amount_minor=1214, **EUR),
                event("charge", "2026-11-05", amount_minor=1214, **EUR),
                event("cancellation_confirmed", "2026-11-03", message_date="2026-11-23T10:20:00+00:00"),
            ],
            "2026-11-27",
            {
                "status": "expired",
                "cancelled_on": "2026-11-03",
                "ends_on": "2026-11-05",
                "last_charged_on": "2026-11-05",
                "next_renewal_on": None,
            },
        ),
        (  # the same reply before the next renewal: still cancelled, to the end of the paid month
            [
                event("charge", "2026-11-05", amount_minor=1214, **EUR),
                event("cancellation_confirmed", "2026-11-20", message_date="2026-11-23T10:20:00+00:00"),
            ],
            "2026-11-27",
            {"status": "cancelled", "cancelled_on": "2026-11-20", "ends_on": "2026-12-05"},
        ),
        (  # a renewal notice sets the next renewal
            [
                event(
                    "renewal_notice",
                    "2026-10-20",
                    next_renewal_on="2026-11-19",
                    amount_minor=9900,
                    currency="EUR",
                    billing_period="P1Y",
                )
            ],
            "2026-10-21",
            {"status": "active", "next_renewal_on": "2026-11-19", "monthly_amount_minor": 825},
        ),
    ],
)
def test_lifecycle(events: list[dict[str, object]], as_of: str, expected: dict[str, object]) -> None:
    events.sort(key=lambda e: str(e["message_date"]))
    row = fold(events, date.fromisoformat(as_of))
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize(
    ("day", "period", "expected"),
    [
        ("2026-01-31", "P1M", "2026-02-28"),
        ("2026-01-12", "P4W", "2026-02-09"),
        ("2026-02-28", "P1Y", "2027-02-28"),
        ("2026-11-15", "P3M", "2027-02-15"),
        ("2026-11-15", "P1W", "2026-11-22"),
        ("2026-11-15", "monthly", None),
        ("2026-11-15", None, None),
    ],
)
def test_add_period(day: str, period: str | None, expected: str | None) -> None:
    result = add_period(date.fromisoformat(day), period)
    assert (result.isoformat() if result else None) == expected


@pytest.mark.parametrize(
    ("amount", "period", "monthly"),
    [(6990, "P1Y", 583), (2999, "P4W", 3249), (1349, "P1M", 1349), (3000, "P3M", 1000), (None, "P1M", None)],
)
def test_monthly_amount(amount: int | None, period: str, monthly: int | None) -> None:
    assert monthly_minor(amount, period) == monthly


def test_rebuild_holds_one_subscriptions_events_at_a_time(fixture_db: Database) -> None:
    """The rebuild's memory does not grow with the mailbox: 15,000 events cost what a few do."""
    import tracemalloc

    columns = [c for c in fixture_db["subscription_events"].columns_dict if c not in ("id", "natural_key")]
    cols = ", ".join(f"[{c}]" for c in columns)
    for copy in range(400):
        fixture_db.execute(
            f"insert into subscription_events ({cols}, natural_key) "
            f"select {cols}, natural_key || ':copy{copy}' from subscription_events where natural_key not like '%:copy%'"
        )
    assert fixture_db["subscription_events"].count > 15_000
    tracemalloc.start()
    try:
        rebuild_subscriptions(fixture_db, AS_OF)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3_000_000, f"peak {peak / 1e6:.1f} MB"
