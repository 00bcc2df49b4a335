"""Rebuild `recurring_charges` from `bank_transactions` and link each one to the inventory.

A rebuild step of the pipeline (`ingest.pipeline.steps`), so a recurring charge found in a statement is
matched again whenever new mail changes `subscriptions` (and after
`subtrail bank import`). A link needs the provider (the merchant's candidate
slugs, or the subscription's slug named in an unknown merchant's label) and
the currency; the amount, the billing period and the dates rank candidates.
Each subscription takes the best charge series first; a second series of the
same provider joins it only if they do not overlap in time (a price change the
detector kept apart). Rows keep their id across runs through `series_key`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from sqlite_utils import Database

from extractors.registry import registry
from ingest.bank.merchants import normalise, slugs_by_name
from ingest.bank.recurring import Charge, Series, detect

START_SLACK = timedelta(days=35)  # mail dates a signup loosely; the first charge can precede it a little


def refresh(db: Database) -> None:
    """Recompute merchants, recurring series and their links; idempotent and cheap (one pass in memory)."""
    _refresh_merchants(db)
    series_rows = _detect_all(db)
    _store_series(db, series_rows)
    link_subscriptions(db)


def _refresh_merchants(db: Database) -> None:
    """Labels are re-read on every run, so better merchant rules apply to old statements too."""
    updates = []
    for tid, label, merchant, provider in db.execute(
        "select id, label, merchant, provider from bank_transactions"
    ).fetchall():
        m = normalise(label or "")
        if (m.name, m.provider) != (merchant, provider):
            updates.append((m.name, m.provider, tid))
    db.conn.executemany("update bank_transactions set merchant = ?, provider = ? where id = ?", updates)


Group = tuple[str, str, str, str]  # account, merchant, currency, payment intermediary ("" if none)


def _detect_all(db: Database) -> list[tuple[str, str, str, Series]]:
    """Series per (account, merchant, currency, intermediary), then a second look at the leftovers.

    Spotify by card and Spotify through PayPal are two payments, so two groups.
    A label whose reference has no digit ("CB NORDVPN DZBYYA") makes a new
    merchant every time; the charges no series took are grouped again by the
    merchant's first word, which finds those.
    """
    groups: dict[Group, list[Charge]] = defaultdict(list)
    for tid, account, label, merchant, currency, booked_on, amount in db.execute(
        """select id, account, label, merchant, currency, booked_on, amount_minor from bank_transactions
           where amount_minor < 0 order by account, merchant, booked_on, id"""
    ).fetchall():
        via = normalise(label or "").via or ""
        groups[(account, merchant, currency, via)].append(Charge(tid, date.fromisoformat(booked_on), -amount))
    found = []
    leftovers: dict[Group, list[Charge]] = defaultdict(list)
    merchants_of: dict[Group, set[str]] = defaultdict(set)
    known_merchants = slugs_by_name()
    for (account, merchant, currency, via), charges in groups.items():
        known = merchant in known_merchants
        taken: set[int] = set()
        for series in detect(charges, known=known):
            found.append((account, merchant, currency, series))
            taken.update(c.id for c in series.charges)
        stem = next((w for w in merchant.split() if len(w) >= 3), None)
        if not known and stem and stem != merchant:
            leftovers[(account, stem, currency, via)].extend(c for c in charges if c.id not in taken)
            merchants_of[(account, stem, currency, via)].add(merchant)
    for (account, stem, currency, via), charges in leftovers.items():
        if len(merchants_of[(account, stem, currency, via)]) < 2:
            continue  # nothing was regrouped: the first pass already saw these charges together
        for series in detect(charges):
            found.append((account, stem, currency, series))
    return found


_SERIES_COLUMNS = (
    "merchant", "provider", "provider_candidates", "billing_period", "amount_minor", "currency", "occurrences",
    "first_on", "last_on", "next_expected_on", "status", "active", "amount_changes", "account", "series_key",
)  # fmt: skip


def _store_series(db: Database, found: list[tuple[str, str, str, Series]]) -> None:
    statement_end = {
        account: date.fromisoformat(last)
        for account, last in db.execute(
            "select account, max(booked_on) from bank_transactions group by account"
        )
    }
    existing = {key: rid for rid, key in db.execute("select id, series_key from recurring_charges")}
    keep: set[str] = set()
    db.execute(
        "update bank_transactions set recurring_charge_id = null where recurring_charge_id is not null"
    )
    members: list[tuple[int, int]] = []
    known_merchants = slugs_by_name()
    insert = (
        f"insert into recurring_charges ({', '.join(_SERIES_COLUMNS)}) "
        f"values ({', '.join('?' * len(_SERIES_COLUMNS))})"
    )
    update = f"update recurring_charges set {', '.join(f'{c} = ?' for c in _SERIES_COLUMNS)} where id = ?"
    for account, merchant, currency, series in found:
        key = base = (
            f"{account}|{merchant}|{currency}|{series.period.code}|{series.first_on}|{series.charges[0].amount_minor}"
        )
        while key in keep:  # two identical subscriptions started the same day
            key = f"{base}|{len(key)}"
        keep.add(key)
        candidates = list(known_merchants.get(merchant, ()))
        active = series.next_expected_on + timedelta(days=series.period.tolerance) >= statement_end.get(
            account, series.last_on
        )
        values = [
            merchant,
            candidates[0] if len(candidates) == 1 else None,
            json.dumps(candidates) if candidates else None,
            series.period.code,
            series.amount_minor,
            currency,
            len(series.charges),
            series.first_on.isoformat(),
            series.last_on.isoformat(),
            series.next_expected_on.isoformat(),
            series.status,
            int(active),
            json.dumps(series.amount_changes) if series.amount_changes else None,
            account,
            key,
        ]
        if key in existing:
            rid = existing[key]
            db.conn.execute(update, [*values, rid])
        else:
            rid = db.conn.execute(insert, values).lastrowid
        members.extend((rid, c.id) for c in series.charges)
    db.conn.executemany("update bank_transactions set recurring_charge_id = ? where id = ?", members)
    stale = [rid for key, rid in existing.items() if key not in keep]
    db.conn.executemany("delete from recurring_charges where id = ?", [(rid,) for rid in stale])


def _candidates(rc: dict[str, Any]) -> list[str]:
    return json.loads(rc["provider_candidates"]) if rc["provider_candidates"] else []


def _names_provider(merchant: str, slug: str) -> bool:
    """An unknown merchant label that names the slug ("MAIF ASSURANCE" and `maif`)."""
    words = f" {merchant.lower()} "
    return f" {slug.replace('-', ' ')} " in words or f" {slug.replace('-', '')} " in words


def _score(rc: dict[str, Any], sub: dict[str, Any], amounts: set[int]) -> tuple[int, str] | None:
    """How well a charge series fits a subscription, with the reason; None if it cannot be that one."""
    candidates = _candidates(rc)
    store = registry().store_labels.get(rc["merchant"])  # a store bills many apps under its own name
    by_store = store is not None and sub["platform"] == store
    if by_store:
        candidates = [*candidates, sub["provider"], "(store)"]  # a store bills many apps: the price decides
    elif sub["provider"] not in candidates and not (
        not candidates and _names_provider(rc["merchant"], sub["provider"])
    ):
        return None
    foreign = bool(sub["currency"]) and sub["currency"] != rc["currency"]
    if foreign and len(candidates) > 1:
        return None  # neither the label nor the price can tell which service this is
    if (
        sub["started_on"]
        and date.fromisoformat(sub["started_on"][:10]) > date.fromisoformat(rc["last_on"]) + START_SLACK
    ):
        return None
    reasons = [f"provider {sub['provider']}" + (" via the app store" if by_store else "")]
    score = 1
    if foreign:  # $20 a month charged in euros: same service, the card converted it
        reasons.append(f"billed in {sub['currency']}")
    elif sub["amount_minor"] is not None and sub["amount_minor"] in amounts:
        score += 4
        reasons.append("amount")
    elif len(candidates) > 1:
        return None  # "Apple" bills several services: only the price tells which one this is
    if sub["billing_period"] and sub["billing_period"] == rc["billing_period"]:
        score += 2
        reasons.append("period")
    if sub["status"] in ("active", "cancelled", "payment_failed"):
        score += 1
    return score, ", ".join(reasons)


def link_subscriptions(db: Database) -> None:
    """Set `recurring_charges.subscription_id` (and `match_reason`) from the current inventory."""
    db.execute("update recurring_charges set subscription_id = null, match_reason = null")
    if not db["subscriptions"].exists():
        return
    subs = [dict(r) for r in db.query("select * from subscriptions where provider is not null")]
    charges = list(db.query("select * from recurring_charges order by id"))
    amounts: dict[int, set[int]] = defaultdict(set)
    for rid, amount in db.execute(
        "select recurring_charge_id, -amount_minor from bank_transactions where recurring_charge_id is not null"
    ):
        amounts[rid].add(amount)
    pairs = []
    for rc in charges:
        for sub in subs:
            scored = _score(rc, sub, amounts[rc["id"]])
            if scored:
                distance = abs((sub["amount_minor"] or 0) - rc["amount_minor"])
                pairs.append((-scored[0], distance, rc["id"], sub["id"], scored[1]))
    linked: dict[int, tuple[int, str]] = {}
    spans: dict[int, list[tuple[str, str]]] = defaultdict(list)
    by_id = {rc["id"]: rc for rc in charges}
    taken: set[int] = set()
    for _, _, rid, sid, reason in sorted(pairs):  # best pairs first, one series per subscription
        if rid in linked or sid in taken:
            continue
        linked[rid] = (sid, reason)
        taken.add(sid)
        spans[sid].append((by_id[rid]["first_on"], by_id[rid]["last_on"]))
    for _, _, rid, sid, reason in sorted(pairs):  # then series that continue an already linked one
        rc = by_id[rid]
        if rid in linked or len(_candidates(rc)) > 1:
            continue
        if all(rc["first_on"] > last or rc["last_on"] < first for first, last in spans[sid]):
            linked[rid] = (sid, reason + ", continues")
            spans[sid].append((rc["first_on"], rc["last_on"]))
    db.conn.executemany(
        "update recurring_charges set subscription_id = ?, match_reason = ? where id = ?",
        [(sid, reason, rid) for rid, (sid, reason) in linked.items()],
    )
    _store_first_debits(db)


def _store_first_debits(db: Database) -> None:
    """`subscriptions.first_debit_on`: the statements can prove a subscription ran before its first mail.

    Kept apart from `started_on` (what the mails say, which the user may correct); the outputs choose.
    """
    db.execute(
        """update subscriptions set first_debit_on = (
               select min(first_on) from recurring_charges where subscription_id = subscriptions.id)"""
    )
