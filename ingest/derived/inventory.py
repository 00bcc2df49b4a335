"""Events -> inventory: `subscription_events` per message, `subscriptions` derived from all of them.

`record_events` (a batch hook) writes one event row per `EventFact`, inside the
batch's transaction, and makes sure the subscription row exists so the event can
point at it. A subscription is identified by its natural key, provider + account
e-mail: the same service on two accounts is two rows, the same service through
two mails is one. The key is stored (`subscriptions.natural_key`, unique) and its id recorded
(`ingest.store.ids`), so the row's `id` never changes across rebuilds and
reprocessing, even for a subscription whose events went and came back: other
tables (recurring charges, dossiers) and people can reference it.

`rebuild_subscriptions` (a deriver) folds each subscription's events, in the
order the evidence arrived, into its current state: trial -> active -> price
changed -> cancelled -> expired. It depends only on the events and on `as_of`
(today), so running it twice changes nothing.

Nothing is cleared before `subtrail reprocess`: every stored message goes through
`record_events` again, which replaces that message's events in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import groupby
from operator import itemgetter
from typing import Any

from sqlite_utils import Database

from extractors import EventFact
from ingest.derived.periods import add_period, monthly_minor
from ingest.derived.support_events import EXTRACTOR as SUPPORT_EXTRACTOR
from ingest.store import Prepared, insert_rows, today
from ingest.store.ids import next_free_id, recorded_ids, remember_ids

_STATE_COLUMNS = (
    "service_name", "plan", "amount_minor", "currency", "billing_period", "platform", "billed_by", "status",
    "started_on", "trial_ends_on", "next_renewal_on", "cancelled_on", "ends_on", "last_charged_on",
    "monthly_amount_minor", "events", "first_seen_on", "last_seen_on",
)  # fmt: skip


def natural_key(provider: str, account_email: str | None) -> str:
    return f"{provider}|{(account_email or '').lower()}"


# --- batch hook ----------------------------------------------------------------


def _subscription_id(db: Database, fact: EventFact, cache: dict[str, int]) -> tuple[str, int]:
    key = natural_key(fact.provider, fact.account_email)
    if key not in cache:
        row = db.execute("select id from subscriptions where natural_key = ?", [key]).fetchone()
        if row is None:  # new, or back after its events went: the id it had, else one never used
            sub_id = recorded_ids(db, "subscription").get(key) or next_free_id(
                db, "subscription", "subscriptions"
            )
            db.execute(
                "insert into subscriptions (id, natural_key, provider, account_email, status) "
                "values (?, ?, ?, ?, 'unknown')",
                [sub_id, key, fact.provider, (fact.account_email or "").lower() or None],
            )
            remember_ids(db, "subscription", [(key, sub_id)])
            row = (sub_id,)
        cache[key] = row[0]
    return key, cache[key]


def _existing_event_ids(db: Database, shas: list[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for start in range(0, len(shas), 500):
        chunk = shas[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for sha, event_id in db.execute(
            f"select message_sha256, id from subscription_events where message_sha256 in ({marks}) "
            "and extractor is not ? order by id",  # a support reply's events are the support step's, rebuilt
            [*chunk, SUPPORT_EXTRACTOR],
        ):
            found.setdefault(sha, []).append(event_id)
    return found


def record_events(db: Database, batch: list[Prepared]) -> None:
    """Write each message's facts as its `subscription_events` rows, replacing what it said before.

    A reprocessed message keeps its event ids when it still proves the same number of facts
    (rows are updated in place), so reprocessing changes nothing that did not change.
    """
    cache: dict[str, int] = {}
    review = [(1 if p.extraction.needs_review else None, p.parsed.sha256) for p in batch]
    existing = _existing_event_ids(db, [sha for _, sha in review])
    new_rows: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for item in batch:
        sha = item.parsed.sha256
        ids = existing.get(sha, [])
        for index, fact in enumerate(item.extraction.events):
            key, sub_id = _subscription_id(db, fact, cache)
            row = _event_row(fact, sha, item.parsed.date, key, sub_id)
            if index < len(ids):
                updates.append({**row, "id": ids[index]})
            else:
                new_rows.append(row)
        stale = ids[len(item.extraction.events) :]
        if stale:
            db.execute(f"delete from subscription_events where id in ({','.join('?' * len(stale))})", stale)
    # Only rows whose flag changes are written (a new message's row already has it unset).
    db.conn.executemany(
        "update messages set needs_review = ?1 where sha256 = ?2 and needs_review is not ?1", review
    )
    if updates:
        assignments = ", ".join(f"[{c}] = :{c}" for c in updates[0] if c != "id")
        db.conn.executemany(f"update subscription_events set {assignments} where id = :id", updates)
    if new_rows:
        insert_rows(db, "subscription_events", new_rows)


def _event_row(fact: EventFact, sha: str, message_date: str | None, key: str, sub_id: int) -> dict[str, Any]:
    return {
        "subscription_id": sub_id,
        "message_sha256": sha,
        "event_type": fact.event_type,
        "occurred_on": fact.occurred_on,
        "amount_minor": fact.amount_minor,
        "previous_amount_minor": fact.previous_amount_minor,
        "commitment_ends_on": fact.commitment_ends_on,
        "currency": fact.currency,
        "billing_period": fact.billing_period,
        "next_renewal_on": fact.next_renewal_on,
        "extractor": fact.extractor,
        "confidence": fact.confidence,
        "natural_key": key,
        "provider": fact.provider,
        "service_name": fact.service_name,
        "plan": fact.plan,
        "platform": fact.platform,
        "billed_by": fact.billed_by,
        "account_email": (fact.account_email or "").lower() or None,
        "trial_ends_on": fact.trial_ends_on,
        "ends_on": fact.ends_on,
        "message_date": message_date,
    }


# --- deriver -------------------------------------------------------------------


@dataclass
class ReplayedSubscription:
    """A subscription as its events so far describe it."""

    status: str = "unknown"
    service_name: str | None = None
    plan: str | None = None
    platform: str | None = None
    billed_by: str | None = None
    amount_minor: int | None = None
    currency: str | None = None
    billing_period: str | None = None
    started_on: str | None = None
    trial_ends_on: str | None = None
    next_renewal_on: str | None = None
    cancelled_on: str | None = None
    ends_on: str | None = None
    last_charged_on: str | None = None
    price_from: str | None = None  # effective date of the last price change
    pending_price: tuple[int, str | None] | None = None  # announced, not yet in force (as of `settle`)
    committed_until: str | None = None  # the latest minimum-term end a mail stated
    announced_renewal: str | None = None  # the latest renewal date a mail stated (not projected)
    seen: list[str] = field(default_factory=list)
    charged: list[str] = field(default_factory=list)  # the days of the charges replayed so far

    def apply(self, e: dict[str, Any]) -> None:
        kind, on = e["event_type"], e["occurred_on"] or (e["message_date"] or "")[:10] or None
        for name in ("service_name", "plan", "platform", "billing_period"):
            if e[name]:
                setattr(self, name, e[name])
        if e["platform"]:  # who billed goes with how it is billed: a direct charge clears a store
            self.billed_by = e.get("billed_by")
        if on:
            self.seen.append(on)
        self._price(kind, on, e)
        if e["next_renewal_on"] and e["next_renewal_on"] > (self.announced_renewal or ""):
            self.announced_renewal = e["next_renewal_on"]
        if e.get("commitment_ends_on") and e["commitment_ends_on"] > (self.committed_until or ""):
            self.committed_until = e["commitment_ends_on"]
        if kind in ("trial_started", "trial_ending"):
            if self.status in ("unknown", "trial", "expired", "cancelled"):
                self.status = "trial"
                self.cancelled_on = self.ends_on = None
            self.trial_ends_on = e["trial_ends_on"] or self.trial_ends_on
            self.next_renewal_on = self.trial_ends_on or self.next_renewal_on
            self.started_on = self.started_on or on
        elif kind == "charge":
            if (
                self.status in ("cancelled", "expired")
                and self.cancelled_on
                and on
                and on <= self.cancelled_on
            ):
                return  # the charge the cancellation mail refers to, not a new subscription
            self.status = "active"
            self.cancelled_on = self.ends_on = None
            self.last_charged_on = on
            if on:
                self.charged.append(on)
            self.started_on = self.started_on or on
            following = add_period(date.fromisoformat(on), self.billing_period) if on else None
            self.next_renewal_on = e["next_renewal_on"] or (following.isoformat() if following else None)
        elif kind == "signup":
            self.status = "active" if self.status in ("unknown", "cancelled", "expired") else self.status
            self.started_on = self.started_on or on
            self.next_renewal_on = e["next_renewal_on"] or self.next_renewal_on
        elif kind == "renewal_notice":
            if self.status in ("unknown", "payment_failed", "trial"):
                self.status = "active"
            self.next_renewal_on = e["next_renewal_on"] or self.next_renewal_on
        elif kind == "price_change":
            self.status = "active" if self.status == "unknown" else self.status
        elif kind == "cancellation_confirmed":
            self._cancel(e, on)
        elif kind == "payment_failed":
            self.status = "payment_failed"

    def _cancel(self, e: dict[str, Any], on: str | None) -> None:
        """Cancelled on the day the mail says it was (a support reply: "I can see the cancellation on
        November 3"), else the mail's day; a later mail restating it moves neither that day nor the end."""
        sent = (e["message_date"] or "")[:10] or None
        day = min(d for d in (sent, on) if d) if (sent or on) else None
        already = self.status == "cancelled"
        if not already or not self.cancelled_on or (day and day < self.cancelled_on):
            self.cancelled_on = day
        # A charge the mails showed after that day is the renewal that should not have happened
        # (Spotify: cancelled on the 3rd, charged on the 5th): the paid time ended there, not a period later.
        renewed_after = min((c for c in self.charged if day and c > day), default=None)
        self.ends_on = (
            e["ends_on"]
            or (self.ends_on if already else None)
            or renewed_after
            or self.next_renewal_on
            or self.trial_ends_on
        )
        self.status = "cancelled"
        self.next_renewal_on = None

    def _price(self, kind: str, on: str | None, e: dict[str, Any]) -> None:
        if e["amount_minor"] is None or e["amount_minor"] <= 0 or kind == "refund":
            return
        if kind == "price_change":  # the price in force stays until the announced day (`settle` decides)
            self.price_from, self.pending_price = on, (e["amount_minor"], e["currency"])
            if self.amount_minor is None and e.get("previous_amount_minor"):
                self.amount_minor, self.currency = e["previous_amount_minor"], e["currency"]
            return
        if self.pending_price and self.price_from and on and on >= self.price_from:
            self.pending_price = None  # a charge at or after the announced day says what is paid now
        self.amount_minor, self.currency = e["amount_minor"], e["currency"]

    def settle(self, as_of: date) -> None:
        """What time alone changes: a cancelled subscription past its end, a trial past its end, and
        evidence too old to say anything about today."""
        today = as_of.isoformat()
        if self.pending_price and (self.price_from or "") <= today:
            (self.amount_minor, self.currency), self.pending_price = self.pending_price, None
        if self.status not in ("cancelled", "expired") and self._stale(as_of):
            self.status, self.next_renewal_on = "unknown", None
            return
        if self.status == "cancelled" and self.ends_on and self.ends_on < today:
            self.status = "expired"
        if self.status == "trial" and self.trial_ends_on and self.trial_ends_on < today:
            self.status = "active"  # nothing cancelled it: trials convert to paid by default
        if self.status == "active" and self.next_renewal_on and self.next_renewal_on < today:
            # no newer mail: the renewal after the last one we know of, by the period
            known = date.fromisoformat(self.next_renewal_on)
            step = 1
            while (later := add_period(known, self.billing_period, step)) is not None and later < as_of:
                step += 1
            self.next_renewal_on = later.isoformat() if later else self.next_renewal_on

    def _stale(self, as_of: date) -> bool:
        """The newest evidence (a mail, or the renewal date a mail announced) is older than two billing
        periods (13 months for yearly, or when the period is unknown): nothing says it still runs, so
        it is never projected forward."""
        announced = [d for d in (self.announced_renewal, self.trial_ends_on, self.committed_until) if d]
        if not self.seen:
            return False
        newest = date.fromisoformat(max([*self.seen, *announced])[:10])
        yearly = (self.billing_period or "P1Y").endswith("Y")
        horizon = add_period(newest, "P13M") if yearly else add_period(newest, self.billing_period, 2)
        return horizon is not None and horizon < as_of

    def row(self, events: int) -> dict[str, Any]:
        values = {c: getattr(self, c, None) for c in _STATE_COLUMNS}
        values["monthly_amount_minor"] = monthly_minor(self.amount_minor, self.billing_period)
        values["events"] = events
        values["first_seen_on"] = min(self.seen) if self.seen else None
        values["last_seen_on"] = max(self.seen) if self.seen else None
        return values


def fold(events: Iterable[dict[str, Any]], as_of: date) -> dict[str, Any]:
    """The subscription row for a list of its events (already in evidence order)."""
    state = ReplayedSubscription()
    count = 0
    for event in events:
        state.apply(event)
        count += 1
    state.settle(as_of)
    return state.row(count)


def rebuild_subscriptions(db: Database, as_of: date | None = None) -> None:
    """Recompute every subscription from its events; rows without events any more are removed."""
    as_of = as_of or today()
    remember_ids(db, "subscription", db.execute("select natural_key, id from subscriptions").fetchall())
    db.execute(
        "delete from subscriptions where natural_key is not null and natural_key not in "
        "(select distinct natural_key from subscription_events where natural_key is not null)"
    )
    cursor = db.execute(
        "select * from subscription_events where natural_key is not null "
        "order by natural_key, coalesce(message_date, occurred_on), message_sha256, id"
    )
    columns = [d[0] for d in cursor.description]
    assignments = ", ".join(f"[{c}] = :{c}" for c in _STATE_COLUMNS)
    # One subscription's events at a time (the query is ordered by key): holding every event
    # made this rebuild the import's memory peak, growing with the mailbox (+12 MB at 21,000 events).
    rows = (dict(zip(columns, values, strict=True)) for values in cursor)
    for key, group in groupby(rows, key=itemgetter("natural_key")):
        events = list(group)
        row = fold(events, as_of)
        row["natural_key"] = key
        db.execute(f"update subscriptions set {assignments} where natural_key = :natural_key", row)
