"""Support -> inventory: what a provider's support reply confirms becomes a subscription event.

A cancellation, refund, plan or price change the desk confirms ("I can see the cancellation on November 3",
"votre remboursement de 12,14 € a été effectué") is as much evidence as the provider's automatic mail, so
it is a `subscription_events` row with that reply's sha256, and the inventory fold
(`ingest.derived.inventory`) treats it like any other event. The rule itself is
`extractors.support.confirmations`; this module decides where it applies and to which subscription:

- only a provider's own exchange: an inbound e-mail of a ticket (never my mail, never a manual note) that
  no other provider wrote, read in the new text the journal computed (no quoted history, no signature);
- the subscription of the ticket's provider, the one the reply was sent to when there are several
  (its account e-mail among the recipients); none when that cannot be told;
- not again what the same mail already proved through the billing extractors (a cancellation mail the
  desk sent as a reply gives one event, not two).

Derived: every run deletes these rows and writes them again from the journal, after the journal's
rebuild and before the inventory's.
"""

from __future__ import annotations

from typing import Any

from sqlite_utils import Database

from extractors.support.confirmations import Confirmation, find_confirmations
from extractors.support.promises import local_date

EXTRACTOR = "support-reply@1"
CONFIDENCE = 0.8  # a person's sentence read by a rule, below a provider's own structured mail


def record_support_events(db: Database) -> None:
    """Replace the events taken from support replies with what the current journal's replies confirm."""
    db.execute("delete from subscription_events where extractor = ?", [EXTRACTOR])
    replies = db.execute(
        """select tm.message_sha256, tm.sent_at, tm.body, t.provider, m.to_addrs, m.date
           from ticket_messages tm
           join tickets t on t.id = tm.ticket_id
           join messages m on m.sha256 = tm.message_sha256
           where tm.direction = 'inbound' and tm.channel = 'email' and t.provider is not null
             and (m.provider is null or m.provider = t.provider)
           order by tm.sent_at, tm.id"""
    ).fetchall()
    rows: list[dict[str, Any]] = []
    for sha, sent_at, body, provider, to_addrs, message_date in replies:
        facts = find_confirmations(body or "", local_date(sent_at))
        if not facts:
            continue
        target = _subscription(db, provider, to_addrs)
        if target is None:
            continue
        proven = _proven(db, sha)
        rows += [
            _row(fact, sha, message_date or sent_at, provider, target)
            for fact in facts
            if fact.event_type not in proven
        ]
    if rows:
        db.table("subscription_events").insert_all(rows)


def _subscription(db: Database, provider: str, to_addrs: str | None) -> dict[str, Any] | None:
    """The provider's subscription this reply is about: the only one, else the one whose account e-mail
    the reply was sent to. Only subscriptions other evidence proves: a reply alone creates none."""
    candidates = [
        {"natural_key": key, "id": sub_id, "account_email": email}
        for key, sub_id, email in db.execute(
            """select natural_key, min(subscription_id), account_email from subscription_events
               where provider = ? and natural_key is not null and extractor is not ?
               group by natural_key order by natural_key""",
            [provider, EXTRACTOR],
        )
    ]
    if len(candidates) == 1:
        return candidates[0]
    recipients = (to_addrs or "").lower()
    addressed = [c for c in candidates if c["account_email"] and c["account_email"] in recipients]
    return addressed[0] if len(addressed) == 1 else None


def _proven(db: Database, sha: str) -> set[str]:
    return {
        kind
        for (kind,) in db.execute(
            "select event_type from subscription_events where message_sha256 = ? and extractor is not ?",
            [sha, EXTRACTOR],
        )
    }


def _row(
    fact: Confirmation, sha: str, message_date: str, provider: str, sub: dict[str, Any]
) -> dict[str, Any]:
    return {
        "subscription_id": sub["id"],
        "message_sha256": sha,
        "event_type": fact.event_type,
        "occurred_on": fact.occurred_on,
        "amount_minor": fact.amount_minor,
        "currency": fact.currency,
        "billing_period": fact.billing_period,
        "next_renewal_on": None,
        "extractor": EXTRACTOR,
        "confidence": CONFIDENCE,
        "natural_key": sub["natural_key"],
        "provider": provider,
        "service_name": None,
        "plan": fact.plan,
        "platform": None,
        "billed_by": None,
        "account_email": sub["account_email"],
        "trial_ends_on": None,
        "ends_on": fact.ends_on,
        "message_date": message_date,
    }
