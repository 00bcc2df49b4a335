"""`subtrail status`: the one-glance check — what I pay, what renews soon, what is still open.

Costs are normalised to a month from the ISO-8601 billing period (P1W, P1M, P3M,
P1Y, ...) and summed per currency with exact fractions, rounded once at the end.
The report is plain text that fits 80 columns: long names are cut with "…".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction

from sqlite_utils import Database

from ingest.outputs.export import format_amount
from ingest.pipeline.queue import queued_count
from ingest.store import today as today_

WIDTH = 80
ACTIVE = ("active", "trial", "payment_failed")
RENEWAL_WINDOW_DAYS = 30
_PERIOD = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?")


def months_in(period: str | None) -> Fraction | None:
    """An ISO-8601 duration as a number of months; None if unreadable.

    Years are 12 months, weeks 7 days and a month 365.25/12 days, so a weekly
    price times 52.18 (not 4) is its monthly cost and P1Y, P12M, P52W agree.
    """
    if not period:
        return None
    match = _PERIOD.fullmatch(period.strip().upper())
    if not match or not any(match.groups()):
        return None
    years, months, weeks, days = (int(g) if g else 0 for g in match.groups())
    total = Fraction(12 * years + months) + Fraction(7 * weeks + days) * Fraction(12 * 4, 1461)
    return total or None


def monthly_minor(amount_minor: int, period: str | None) -> Fraction | None:
    months = months_in(period)
    return Fraction(amount_minor) / months if months else None


@dataclass
class Status:
    today: date
    subscriptions: list[dict] = field(default_factory=list)
    totals: dict[str, Fraction] = field(default_factory=dict)  # currency -> monthly minor units
    unpriced: int = 0  # active subscriptions without an amount or period
    renewals: list[dict] = field(default_factory=list)
    tickets: list[dict] = field(default_factory=list)
    overdue: list[dict] = field(default_factory=list)
    queued: int = 0  # messages stored by the poller, not processed yet: not in the lists above


def build_status(db: Database, today: date | None = None) -> Status:
    """Gather the four lists from the database; pure reads, `today` injectable for tests."""
    today = today or today_()
    status = Status(today=today, queued=queued_count(db))
    marks = ",".join("?" * len(ACTIVE))
    status.subscriptions = [
        dict(r)
        for r in db.query(
            f"""select * from subscriptions where status in ({marks})
                order by provider, service_name, id""",
            ACTIVE,
        )
    ]
    for sub in status.subscriptions:
        per_month = (
            monthly_minor(sub["amount_minor"], sub["billing_period"])
            if sub["amount_minor"] is not None and sub["currency"]
            else None
        )
        sub["monthly_minor"] = per_month
        if per_month is None:
            status.unpriced += 1
        elif sub["status"] != "trial":  # a trial costs nothing yet; its renewal is listed below
            status.totals[sub["currency"]] = status.totals.get(sub["currency"], Fraction(0)) + per_month
    horizon = (today + timedelta(days=RENEWAL_WINDOW_DAYS)).isoformat()
    start = today.isoformat()
    status.renewals = [
        dict(r)
        for r in db.query(
            """select provider, service_name, plan, amount_minor, currency, status,
                      coalesce(case when status = 'trial' then trial_ends_on end, next_renewal_on) as on_day
               from subscriptions
               where status in ('active', 'trial', 'payment_failed') and on_day between ? and ?
               order by on_day, provider, id""",
            [start, horizon],
        )
    ]
    status.tickets = [
        dict(r)
        for r in db.query(
            """select id, provider, ticket_ref, subject, status, opened_at, last_activity_at from tickets
               where coalesce(status, '') != 'resolved' order by last_activity_at, id"""
        )
    ]
    status.overdue = [
        dict(r)
        for r in db.query(
            """select p.id, p.text, p.due_on, p.status, t.provider, t.ticket_ref
               from promises p
               left join ticket_messages tm on tm.id = p.ticket_message_id
               left join tickets t on t.id = tm.ticket_id
               where p.status = 'overdue' or (p.status = 'pending' and p.due_on < ?)
               order by p.due_on, p.id""",
            [start],
        )
    ]
    return status


def cut(text: object, width: int) -> str:
    """Pad or cut to exactly `width` characters; a cut ends with "…" so it shows."""
    value = " ".join(str(text or "").split())
    if len(value) > width:
        return value[: width - 1] + "…"
    return value.ljust(width)


def money(minor: Fraction | int | None, currency: str | None) -> str:
    if minor is None or not currency:
        return "?"
    return f"{format_amount(round(minor), currency)} {currency}"


def _period_label(period: str | None) -> str:
    return {"P1W": "/week", "P1M": "/month", "P3M": "/quarter", "P1Y": "/year"}.get(
        period or "", f"/{period}" if period else ""
    )


def render_status(status: Status) -> str:
    """The report as text, every line at most 80 columns."""
    lines = [f"subtrail status — {status.today.isoformat()}", ""]
    if status.queued:
        lines += [f"{status.queued} stored messages not processed yet (the poller's next pass does it)", ""]
    lines.append(f"Active subscriptions ({len(status.subscriptions)})")
    for sub in status.subscriptions:
        name = sub["service_name"] or sub["provider"] or "?"
        price = (
            money(sub["amount_minor"], sub["currency"]) + _period_label(sub["billing_period"])
            if sub["amount_minor"] is not None
            else "price unknown"
        )
        note = {"trial": "trial", "payment_failed": "UNPAID"}.get(sub["status"], "")
        lines.append(
            f"  {cut(sub['provider'], 16)} {cut(name, 16)} {cut(sub['plan'], 16)} {cut(price, 18)} {cut(note, 7)}"
        )
    if status.totals:
        total = " + ".join(money(status.totals[c], c) for c in sorted(status.totals))
        lines.append("  " + cut(f"Monthly total: {total}", WIDTH - 2))
    elif status.subscriptions:
        lines.append("  Monthly total: unknown")
    if status.unpriced:
        lines.append(f"  ({status.unpriced} without a known price or period, not in the total)")
    lines += ["", f"Renewals in the next {RENEWAL_WINDOW_DAYS} days ({len(status.renewals)})"]
    for item in status.renewals:
        what = "trial ends" if item["status"] == "trial" else "renews"
        price = money(item["amount_minor"], item["currency"]) if item["amount_minor"] is not None else ""
        lines.append(
            f"  {item['on_day']}  {cut(item['provider'], 16)} {cut(item['service_name'] or '', 20)} "
            f"{cut(what, 10)} {cut(price, 14)}"
        )
    lines += ["", f"Open tickets ({len(status.tickets)})"]
    for ticket in status.tickets:
        since = (ticket["last_activity_at"] or ticket["opened_at"] or "")[:10]
        lines.append(
            f"  {cut(ticket['ticket_ref'] or '#' + str(ticket['id']), 10)} {cut(ticket['provider'], 12)} "
            f"{cut(ticket['subject'], 24)} {cut(ticket['status'], 17)} {cut(since, 10)}"
        )
    lines += ["", f"Overdue promises ({len(status.overdue)})"]
    for promise in status.overdue:
        lines.append(
            f"  {cut(promise['due_on'], 10)}  {cut(promise['provider'], 14)} "
            f"{cut(promise['ticket_ref'], 12)} {cut(promise['text'], 37)}"
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"
