"""The iCalendar feed: renewals, trial ends, service ends and promise due dates.

The user's own calendar is what reminds them to cancel before a renewal or to
chase a refund that was promised (the article's advice). The feed is served by
Datasette (`/calendar.ics`) and written by `subtrail export calendar`; both call
`build_calendar`. The same data always gives the same bytes: UIDs come from row
ids and dates, DTSTAMP from the event's own date (never "now"), and events are
sorted, so a calendar client sees updates rather than duplicates.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass

from icalendar import Alarm, Calendar, Event
from sqlite_utils import Database

PRODID = "-//subtrail//subscriptions and customer service//EN"
UID_DOMAIN = "subtrail"
# Currencies whose minor unit is not a hundredth (ISO 4217).
ZERO_DECIMALS = {"JPY", "KRW", "ISK", "CLP", "VND", "XOF", "XAF", "XPF", "PYG", "UGX", "RWF", "KMF", "GNF"}
THREE_DECIMALS = {"BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"}


@dataclass(frozen=True)
class CalendarItem:
    """One all-day event, with a reminder `remind_days` before it."""

    uid: str
    day: dt.date
    summary: str
    description: str
    category: str
    remind_days: int


def format_money(amount_minor: int | None, currency: str | None) -> str:
    """`1349, "EUR"` -> `13.49 EUR`; empty when the amount is unknown."""
    if amount_minor is None:
        return ""
    currency = (currency or "").upper()
    digits = 0 if currency in ZERO_DECIMALS else 3 if currency in THREE_DECIMALS else 2
    value = f"{amount_minor / 10**digits:.{digits}f}"
    return f"{value} {currency}".strip()


def _day(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None  # a malformed date in the data must not break the whole feed


def _connection(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, Database) else db


def _has_table(conn: sqlite3.Connection, name: str) -> bool:
    found = conn.execute("select 1 from sqlite_master where type = 'table' and name = ?", [name]).fetchone()
    return found is not None


def _subscription_entries(conn: sqlite3.Connection) -> list[CalendarItem]:
    entries: list[CalendarItem] = []
    rows = conn.execute(
        """select s.id, s.provider, coalesce(p.name, s.service_name, s.provider) as name, s.plan,
                  s.amount_minor, s.currency, s.status, s.platform, s.trial_ends_on, s.next_renewal_on,
                  s.ends_on, p.cancel_url
           from subscriptions s left join providers p on p.slug = s.provider
           order by s.id"""
    ).fetchall()
    for sub_id, slug, name, plan, amount, currency, status, platform, trial, renewal, ends, cancel in rows:
        label = f"{name} ({plan})" if plan else str(name or slug or f"subscription {sub_id}")
        price = format_money(amount, currency)
        how = f"\nCancel: {cancel}" if cancel else ""
        via = f"\nBilled through: {platform}" if platform and platform not in ("direct", "unknown") else ""
        details = f"Provider: {slug}\nStatus: {status}{via}{how}"
        day = _day(renewal)
        if day and status not in ("cancelled", "expired"):
            entries.append(
                CalendarItem(
                    uid=f"renewal-{sub_id}-{day.isoformat()}@{UID_DOMAIN}",
                    day=day,
                    summary=f"Renewal: {label}" + (f" — {price}" if price else ""),
                    description=f"{label} renews{' at ' + price if price else ''}.\n{details}",
                    category="renewal",
                    remind_days=3,
                )
            )
        day = _day(trial)
        if day and status not in ("cancelled", "expired"):
            entries.append(
                CalendarItem(
                    uid=f"trial-end-{sub_id}-{day.isoformat()}@{UID_DOMAIN}",
                    day=day,
                    summary=f"Trial ends: {label}" + (f" — then {price}" if price else ""),
                    description=f"The free trial of {label} ends; cancel before to avoid a charge.\n{details}",
                    category="trial_end",
                    remind_days=2,
                )
            )
        day = _day(ends)
        if day and status == "cancelled":
            entries.append(
                CalendarItem(
                    uid=f"service-ends-{sub_id}-{day.isoformat()}@{UID_DOMAIN}",
                    day=day,
                    summary=f"Service ends: {label}",
                    description=f"{label} was cancelled and stops on this day; "
                    f"no charge should follow.\n{details}",
                    category="service_end",
                    remind_days=0,
                )
            )
    return entries


def _promise_entries(conn: sqlite3.Connection) -> list[CalendarItem]:
    rows = conn.execute(
        """select pr.id, pr.text, pr.due_on, pr.status, t.provider, t.ticket_ref, t.subject, tm.agent_name
           from promises pr
           left join ticket_messages tm on tm.id = pr.ticket_message_id
           left join tickets t on t.id = tm.ticket_id
           where pr.status is null or pr.status not in ('kept', 'kept_late')
           order by pr.id"""
    ).fetchall()
    entries: list[CalendarItem] = []
    for promise_id, text, due, status, provider, ref, subject, agent in rows:
        day = _day(due)
        if not day:
            continue
        who = f" ({agent})" if agent else ""
        ticket = f"Ticket {ref}: {subject}" if ref else (subject or "")
        entries.append(
            CalendarItem(
                uid=f"promise-{promise_id}-{day.isoformat()}@{UID_DOMAIN}",
                day=day,
                summary=f"Promise due: {provider or 'provider'}{who} — {text or ''}".strip(" —"),
                description=f"Promised{who}: {text or ''}\n{ticket}\nStatus: {status}".strip(),
                category="promise_due",
                remind_days=0,
            )
        )
    return entries


def calendar_entries(db: Database | sqlite3.Connection) -> list[CalendarItem]:
    """Every dated reminder the database knows of, in a stable order."""
    conn = _connection(db)
    entries: list[CalendarItem] = []
    if _has_table(conn, "subscriptions"):
        entries += _subscription_entries(conn)
    if _has_table(conn, "promises"):
        entries += _promise_entries(conn)
    return sorted(entries, key=lambda e: (e.day, e.uid))


def build_calendar(db: Database | sqlite3.Connection) -> bytes:
    """The whole feed as iCalendar bytes (RFC 5545); deterministic for the same data."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", "subtrail: renewals, trials and promises")
    for entry in calendar_entries(db):
        event = Event()
        event.add("uid", entry.uid)
        # DTSTAMP is required; the event's own day keeps the output reproducible.
        event.add("dtstamp", dt.datetime.combine(entry.day, dt.time(0, 0), tzinfo=dt.UTC))
        event.add("dtstart", entry.day)
        event.add("dtend", entry.day + dt.timedelta(days=1))
        event.add("summary", entry.summary)
        event.add("description", entry.description)
        event.add("categories", [entry.category])
        event.add("transp", "TRANSPARENT")
        if entry.remind_days:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", entry.summary)
            alarm.add("trigger", dt.timedelta(days=-entry.remind_days))
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
