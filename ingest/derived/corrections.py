"""Corrections that stick: the user's statements about the inventory, applied after every rebuild.

The mail is evidence and is never altered; the user knows things it cannot show (a
subscription cancelled on the phone, a price read wrong, a service paid in cash). Each
statement is one `corrections` row (`field`, `value`, `note`, `at`), kept forever, and
`apply_corrections` lays them over the rows the rebuild derived from the mail, in the
order they were made (the latest wins). It is idempotent and runs as the deriver right
after `rebuild_subscriptions`, so `subtrail reprocess` and every import keep them.

A subscription the mail never shows is a correction too (`field = "added"`,
`subscription_id` null, the fields as JSON in `value`); its row is made once and found
again by `subscriptions.added_by_correction`, so its `id` never changes.

Categories are the user's view as well: the provider's (`providers.category`, when the
provider files give one), else `other`, unless a correction says otherwise.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlite_utils import Database

from extractors.money import parse_money
from ingest.bank.reconcile import refresh as refresh_bank
from ingest.derived.periods import add_period, monthly_minor
from ingest.store import today

CATEGORIES = ("streaming", "telecom", "energy", "press", "software", "fitness", "insurance", "other")
STATUSES = ("trial", "active", "cancelled", "expired", "payment_failed", "unknown")
PLATFORMS = ("direct", "apple", "google_play", "paypal", "stripe", "amazon", "reseller", "bundle", "unknown")
FIELDS = ("status", "ended_on", "amount", "period", "category", "platform", "started_on", "dismissed", "note")
ADDED = "added"
PERIOD_UNITS = "DWMY"


class CorrectionError(ValueError):
    """A correction that cannot be kept as given; the message says what to write instead."""


@dataclass(frozen=True)
class Correction:
    field: str
    value: str | None
    note: str | None = None


def now_iso() -> str:
    """When a statement is made: now, or noon UTC of a pinned `SUBTRAIL_TODAY` (that day on every clock
    from UTC-11 to UTC+11), so a pinned run never says "corrected on" another day than the one it is
    judged as of."""
    if os.environ.get("SUBTRAIL_TODAY", "").strip():
        return datetime.combine(today(), time(12, 0), tzinfo=UTC).isoformat()
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def parse_amount(text: str, default_currency: str) -> tuple[int, str]:
    """ "9,99 €", "€9.99", "20 USD", or a bare "9,99" in the main currency -> (999, "EUR")."""
    found = parse_money(text) or parse_money(f"{text} {default_currency}")
    if found is None:
        raise CorrectionError(f'amount {text!r} is not a price such as "9,99 €"')
    return found


def check_period(period: str) -> str:
    period = period.strip().upper()
    if not (period.startswith("P") and period[1:-1].isdigit() and period[-1] in PERIOD_UNITS):
        raise CorrectionError(f"period {period!r} is not a period such as P1M, P4W, P3M or P1Y")
    return period


def check_day(value: str, name: str) -> str:
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise CorrectionError(f"{name} must be a date YYYY-MM-DD, not {value!r}") from None


def check_choice(value: str, choices: tuple[str, ...], name: str) -> str:
    if value not in choices:
        raise CorrectionError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def normalise(field: str, value: str | None, main_currency: str) -> str | None:
    """The stored form of a value as a person typed it (amounts as JSON minor units + currency)."""
    if field == "note":
        return None
    if field == "dismissed":  # "0" undoes an earlier dismiss: a subscription after all
        return "0" if (value or "").strip() == "0" else "1"
    if value is None or not value.strip():
        raise CorrectionError(f"{field} needs a value")
    value = value.strip()
    if field == "amount":
        minor, currency = parse_amount(value, main_currency)
        return json.dumps({"amount_minor": minor, "currency": currency})
    if field == "period":
        return check_period(value)
    if field in ("ended_on", "started_on"):
        return check_day(value, field)
    if field == "status":
        return check_choice(value, STATUSES, "status")
    if field == "category":
        return check_choice(value, CATEGORIES, "category")
    if field == "platform":
        return check_choice(value, PLATFORMS, "platform")
    raise CorrectionError(f"cannot correct {field!r}; one of {', '.join(FIELDS)}")


def record_corrections(
    db: Database,
    subscription_id: int,
    changes: list[Correction],
    main_currency: str = "EUR",
    source: str = "cli",
) -> list[int]:
    """Keep the user's statements about one subscription and lay them over it at once."""
    if not db.execute("select 1 from subscriptions where id = ?", [subscription_id]).fetchone():
        raise CorrectionError(f"no subscription {subscription_id} (see the inventory for ids)")
    if not changes:
        raise CorrectionError("nothing to correct: give at least one option")
    at = now_iso()
    rows = [
        {
            "subscription_id": subscription_id,
            "field": change.field,
            "value": normalise(change.field, change.value, main_currency),
            "note": (change.note or "").strip() or None,
            "at": at,
            "source": source,
        }
        for change in changes
    ]
    ids = []
    with db.atomic():
        for row in rows:
            ids.append(int(db.table("corrections").insert(row).last_pk))
        apply_corrections(db)
        refresh_bank(db)  # a price or an end the user states re-links the bank debits now, not next import
    return ids


def add_subscription(
    db: Database,
    provider: str,
    amount: str,
    period: str,
    started_on: str | None = None,
    platform: str | None = None,
    category: str | None = None,
    note: str | None = None,
    main_currency: str = "EUR",
    source: str = "cli",
) -> int:
    """A subscription the mail never shows, entered by hand; returns its `subscriptions.id`."""
    slug = provider.strip().lower()
    if not slug or not all(c.isascii() and (c.isalnum() or c == "-") for c in slug):
        raise CorrectionError(f"provider {provider!r} must be a slug such as netflix or canal-plus")
    minor, currency = parse_amount(amount, main_currency)
    fields = {
        "provider": slug,
        "amount_minor": minor,
        "currency": currency,
        "billing_period": check_period(period),
        "started_on": check_day(started_on, "started_on") if started_on else None,
        "platform": check_choice(platform, PLATFORMS, "platform") if platform else "direct",
        "category": check_choice(category, CATEGORIES, "category") if category else None,
    }
    with db.atomic():
        correction_id = int(
            db.table("corrections")
            .insert(
                {
                    "subscription_id": None,
                    "field": ADDED,
                    "value": json.dumps(fields, sort_keys=True),
                    "note": (note or "").strip() or None,
                    "at": now_iso(),
                    "source": source,
                }
            )
            .last_pk
        )
        apply_corrections(db)
        refresh_bank(db)  # its bank debits are explained at once, not after the next import
    row = db.execute("select id from subscriptions where added_by_correction = ?", [correction_id]).fetchone()
    return int(row[0])


# --- applying ------------------------------------------------------------------------------


def _provider_categories(db: Database) -> dict[str, str]:
    """Categories from the provider files, through the `providers` table (a column when they carry one)."""
    if "category" not in db.table("providers").columns_dict:
        return {}
    return {
        slug: category
        for slug, category in db.execute("select slug, category from providers where category is not null")
        if category in CATEGORIES
    }


def _next_renewal(started_on: str | None, period: str | None, as_of: date) -> str | None:
    if not started_on:
        return None
    day = date.fromisoformat(started_on)
    step = 0
    while (later := add_period(day, period, step)) is not None and later < as_of:
        step += 1
    return later.isoformat() if later else None


def _materialise_added(db: Database, correction: dict[str, Any], names: dict[str, str], as_of: date) -> int:
    fields = json.loads(correction["value"])
    db.execute(
        "insert or ignore into subscriptions (added_by_correction, provider, status) values (?, ?, 'active')",
        [correction["id"], fields["provider"]],
    )
    sub_id = db.execute(
        "select id from subscriptions where added_by_correction = ?", [correction["id"]]
    ).fetchone()[0]
    started = fields.get("started_on") or correction["at"][:10]
    row = {
        "id": sub_id,
        "provider": fields["provider"],
        "service_name": names.get(fields["provider"]) or fields["provider"].replace("-", " ").title(),
        "amount_minor": fields["amount_minor"],
        "currency": fields["currency"],
        "billing_period": fields["billing_period"],
        "platform": fields.get("platform") or "direct",
        "started_on": started,
        "first_seen_on": started,
        "status": "active",
        "next_renewal_on": _next_renewal(started, fields["billing_period"], as_of),
        "monthly_amount_minor": monthly_minor(fields["amount_minor"], fields["billing_period"]),
    }
    assignments = ", ".join(f"[{c}] = :{c}" for c in row if c != "id")
    db.execute(f"update subscriptions set {assignments} where id = :id", row)
    return int(sub_id)


def _apply(row: dict[str, Any], field: str, value: str | None, at: str, as_of: date) -> None:
    """One statement laid over a subscription row (a dict of its columns), as of `as_of`."""
    today = as_of.isoformat()
    if field == "status":
        row["status"] = value
        if value in ("cancelled", "expired"):
            row["cancelled_on"] = row.get("cancelled_on") or at[:10]
            row["next_renewal_on"] = None
        elif value in ("active", "trial"):
            row["cancelled_on"] = row["ends_on"] = None
    elif field == "ended_on":
        row["ends_on"] = value
        row["next_renewal_on"] = None
        if row.get("status") not in ("cancelled", "expired"):
            row["status"] = "cancelled"
            row["cancelled_on"] = row.get("cancelled_on") or min(value or today, at[:10])
        if value and value < today:
            row["status"] = "expired"
    elif field == "amount" and value:
        money = json.loads(value)
        row["amount_minor"], row["currency"] = money["amount_minor"], money["currency"]
    elif field == "period":
        row["billing_period"] = value
    elif field == "started_on":
        row["started_on"] = value
    elif field in ("category", "platform"):
        row[field] = value
    elif field == "dismissed":
        row["dismissed"] = None if value == "0" else 1
    elif field == ADDED and value:
        row["category"] = json.loads(value).get("category") or row.get("category")


_APPLIED = (
    "status", "cancelled_on", "ends_on", "next_renewal_on", "amount_minor", "currency", "billing_period",
    "started_on", "category", "platform", "dismissed", "monthly_amount_minor", "corrected",
)  # fmt: skip


def apply_corrections(db: Database, as_of: date | None = None) -> None:
    """Lay every correction over the inventory, oldest first; the mail-derived rows are the base."""
    as_of = as_of or today()  # SUBTRAIL_TODAY pins it, like every other "as of today" rule
    categories = _provider_categories(db)
    names = dict(db.execute("select slug, name from providers"))
    corrections = [
        dict(zip(("id", "subscription_id", "field", "value", "at"), values, strict=True))
        for values in db.execute(
            "select id, subscription_id, field, value, at from corrections order by at, id"
        )
    ]
    for correction in corrections:
        if correction["field"] == ADDED and correction["subscription_id"] is None:
            correction["subscription_id"] = _materialise_added(db, correction, names, as_of)
    by_subscription: dict[int, list[dict[str, Any]]] = {}
    for correction in corrections:
        if correction["subscription_id"] is not None:
            by_subscription.setdefault(correction["subscription_id"], []).append(correction)
    cursor = db.execute("select * from subscriptions")
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, values, strict=True)) for values in cursor]
    updates = []
    for row in rows:
        before = dict(row)
        row["category"] = categories.get(row["provider"]) or "other"
        row["dismissed"] = None
        fields: list[str] = []
        for correction in by_subscription.get(row["id"], []):
            _apply(row, correction["field"], correction["value"], correction["at"], as_of)
            if correction["field"] not in fields:
                fields.append(correction["field"])
        row["monthly_amount_minor"] = monthly_minor(row["amount_minor"], row["billing_period"])
        row["corrected"] = json.dumps(fields) if fields else None
        if any(row.get(c) != before.get(c) for c in _APPLIED):
            updates.append({c: row.get(c) for c in ("id", *_APPLIED)})
    if updates:
        assignments = ", ".join(f"[{c}] = :{c}" for c in _APPLIED)
        db.conn.executemany(f"update subscriptions set {assignments} where id = :id", updates)
