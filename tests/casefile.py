"""A small, fully known case for the export / dossier / status tests.

Real .eml files (tests/fixtures/casefile) go through the real parser and store;
the inventory and journal rows that other features derive are inserted by hand,
so these tests depend on nothing but the contract schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from extractors import Extraction
from extractors.mail.parse import parse_message
from ingest.store import Location, Prepared, save_parsed

CASE_DIR = Path(__file__).resolve().parent / "fixtures" / "casefile"
TODAY = "2026-03-20"

# file -> (kind, provider, direction)
MAILS = {
    "netflix-2026-01.eml": ("receipt", "netflix", "inbound"),
    "netflix-2026-02.eml": ("receipt", "netflix", "inbound"),
    "free-out-1.eml": ("support", "free", "outbound"),
    "free-in-1.eml": ("support", "free", "inbound"),
}


@dataclass
class Case:
    sha: dict[str, str]  # file name -> sha256
    netflix_id: int
    free_ticket_id: int


def store_mails(db: Database) -> dict[str, str]:
    batch = []
    for uid, (name, (kind, provider, direction)) in enumerate(sorted(MAILS.items()), start=1):
        parsed = parse_message((CASE_DIR / name).read_bytes())
        folder = "Sent" if direction == "outbound" else "INBOX"
        batch.append(
            Prepared(
                parsed=parsed,
                extraction=Extraction(kind=kind, provider=provider, direction=direction),
                location=Location(account="perso", folder=folder, uidvalidity=7, uid=uid),
            )
        )
    with db.atomic():
        save_parsed(db, batch)
    return {name: p.parsed.sha256 for name, p in zip(sorted(MAILS), batch, strict=True)}


def build_case(db: Database) -> Case:
    """Four mails, a Netflix subscription with a price rise, a Free ticket with two promises, and more."""
    sha = store_mails(db)
    subs = db.table("subscriptions")
    netflix_id = subs.insert(
        {
            "provider": "netflix",
            "service_name": "Netflix",
            "plan": "Standard",
            "amount_minor": 1349,
            "currency": "EUR",
            "billing_period": "P1M",
            "platform": "direct",
            "account_email": "alice@example.org",
            "status": "active",
            "started_on": "2024-01-10",
            "next_renewal_on": "2026-04-10",
            "last_charged_on": "2026-02-10",
        }
    ).last_pk
    for name, day, amount in (
        ("netflix-2026-01.eml", "2026-01-10", 1299),
        ("netflix-2026-02.eml", "2026-02-10", 1349),
    ):
        db.table("subscription_events").insert(
            {
                "subscription_id": netflix_id,
                "message_sha256": sha[name],
                "event_type": "charge",
                "occurred_on": day,
                "amount_minor": amount,
                "currency": "EUR",
                "billing_period": "P1M",
                "extractor": "test@1",
                "confidence": 1.0,
            }
        )
    subs.insert_all(
        [
            # weekly app through the App Store: 2.99 EUR a week is 13.01 EUR a month (52.18 weeks / 12)
            {
                "provider": "calm",
                "service_name": "Calm",
                "amount_minor": 299,
                "currency": "EUR",
                "billing_period": "P1W",
                "platform": "apple",
                "status": "active",
                "next_renewal_on": "2026-03-23",
            },
            {
                "provider": "free",
                "service_name": "Freebox Pop",
                "amount_minor": 3999,
                "currency": "EUR",
                "billing_period": "P1M",
                "platform": "direct",
                "status": "active",
                "next_renewal_on": "2026-05-01",
            },
            # yearly in USD: 120.00 a year is 10.00 a month, in its own currency total
            {
                "provider": "dropbox",
                "service_name": "Dropbox Plus with a very long marketing name indeed",
                "amount_minor": 12000,
                "currency": "USD",
                "billing_period": "P1Y",
                "platform": "direct",
                "status": "active",
                "next_renewal_on": "2026-04-01",
            },
            {
                "provider": "disney-plus",
                "service_name": "Disney+",
                "amount_minor": 599,
                "currency": "EUR",
                "billing_period": "P1M",
                "status": "trial",
                "trial_ends_on": "2026-03-25",
            },
            {
                "provider": "spotify",
                "service_name": "Spotify",
                "amount_minor": 1199,
                "currency": "EUR",
                "billing_period": "P1M",
                "status": "cancelled",
                "cancelled_on": "2026-01-05",
            },
        ]  # fmt: skip
    )
    ticket_id = (
        db.table("tickets")
        .insert(
            {
                "provider": "free",
                "ticket_ref": "2026-ABC-1",
                "subject": "Panne de ligne",
                "status": "awaiting_provider",
                "opened_at": "2026-03-02T08:00:00+00:00",
                "last_activity_at": "2026-03-03T13:30:00+00:00",
            }
        )
        .last_pk
    )
    tm = db.table("ticket_messages")
    tm.insert(
        {
            "ticket_id": ticket_id,
            "message_sha256": sha["free-out-1.eml"],
            "sent_at": "2026-03-02T08:00:00+00:00",
            "direction": "outbound",
            "channel": "email",
            "body": "Ma ligne ne fonctionne plus depuis le 28 février.",
        }
    )
    inbound_id = tm.insert(
        {
            "ticket_id": ticket_id,
            "message_sha256": sha["free-in-1.eml"],
            "sent_at": "2026-03-03T13:30:00+00:00",
            "direction": "inbound",
            "channel": "email",
            "agent_name": "Julien",
            "body": "Un technicien passera sous 48 heures. <script>alert('x')</script>",
        }
    ).last_pk
    phone_id = tm.insert(
        {
            "ticket_id": ticket_id,
            "message_sha256": None,
            "sent_at": "2026-03-06T10:00:00+00:00",
            "direction": "inbound",
            "channel": "phone",
            "agent_name": "@Sophie",
            "body": "+33 geste commercial promis",
        }
    ).last_pk
    db.table("promises").insert_all(
        [
            {
                "ticket_message_id": inbound_id,
                "text": "Un technicien passera sous 48 heures",
                "due_on": "2026-03-05",
                "status": "pending",
            },
            {
                "ticket_message_id": phone_id,
                "text": "Avoir de 10 € sur la prochaine facture",
                "due_on": "2026-04-30",
                "status": "kept",
            },
        ]  # fmt: skip
    )
    return Case(sha=sha, netflix_id=netflix_id, free_ticket_id=ticket_id)
