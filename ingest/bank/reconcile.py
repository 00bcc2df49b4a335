"""Rebuild `recurring_charges` from `bank_transactions` and link each one to the inventory.

Registered as a pipeline deriver, so a recurring charge found in a statement is
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

from ingest.bank.merchants import SLUGS_BY_NAME, normalise
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


def _detect_all(db: Database) -> list[tuple[str, str, str, Series]]:
    groups: dict[tuple[str, str, str], list[Charge]] = defaultdict(list)
    for tid, account, merchant, currency, booked_on, amount in db.execute(
        """select id, account, merchant, currency, booked_on, amount_minor from bank_transactions
           where amount_minor < 0 order by account, merchant, booked_on, id"""
    ).fetchall():
        groups[(account, merchant, currency)].append(Charge(tid, date.fromisoformat(booked_on), -amount))
    found = []
    for (account, merchant, currency), charges in groups.items():
        for series in detect(charges):
            found.append((account, merchant, currency, series))
    return found


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
    for account, merchant, currency, series in found:
        key = f"{account}|{merchant}|{currency}|{series.period.code}|{series.first_on.isoformat()}"
        keep.add(key)
        candidates = list(SLUGS_BY_NAME.get(merchant, ()))
        row: dict[str, Any] = {
            "merchant": merchant,
            "provider": candidates[0] if len(candidates) == 1 else None,
            "provider_candidates": json.dumps(candidates) if candidates else None,
            "billing_period": series.period.code,
            "amount_minor": series.amount_minor,
            "currency": currency,
            "occurrences": len(series.charges),
            "first_on": series.first_on.isoformat(),
            "last_on": series.last_on.isoformat(),
            "next_expected_on": series.next_expected_on.isoformat(),
            "status": series.status,
            "active": int(
                series.next_expected_on + timedelta(days=series.period.tolerance)
                >= statement_end.get(account, series.last_on)
            ),
            "amount_changes": json.dumps(series.amount_changes) if series.amount_changes else None,
            "account": account,
            "series_key": key,
        }
        if key in existing:
            db.table("recurring_charges").update(existing[key], row)
            rid = existing[key]
        else:
            rid = db.table("recurring_charges").insert(row).last_pk
        db.conn.executemany(
            "update bank_transactions set recurring_charge_id = ? where id = ?",
            [(rid, c.id) for c in series.charges],
        )
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
    if sub["provider"] not in candidates and not (
        not candidates and _names_provider(rc["merchant"], sub["provider"])
    ):
        return None
    if sub["currency"] and sub["currency"] != rc["currency"]:
        return None
    if (
        sub["started_on"]
        and date.fromisoformat(sub["started_on"][:10]) > date.fromisoformat(rc["last_on"]) + START_SLACK
    ):
        return None
    reasons = [f"provider {sub['provider']}"]
    score = 1
    if sub["amount_minor"] is not None and sub["amount_minor"] in amounts:
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
