"""The iCalendar feed: renewals, trial ends, service ends and promise due dates.

The user's own calendar is what reminds them to cancel before a renewal or to
chase a refund that was promised (the article's advice). The feed is served by
Datasette (`/calendar.ics`) and written by `subtrail export calendar`; both call
`build_calendar`. A renewal is one recurring event per subscription (RRULE by its
billing period, until its end when one is known), so a client shows every coming
renewal and updates the series when the next date moves. DTSTAMP is the export
time (`now`, or the start of `SUBTRAIL_TODAY` when pinned); apart from it, the same
data gives the same bytes: UIDs come from row ids, events are sorted.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from dataclasses import dataclass
from typing import Any

from icalendar import Alarm, Calendar, Event, vRecur
from sqlite_utils import Database

from ingest.outputs.humanize import Humanizer, parse_period, subscription_name

PRODID = "-//subtrail//subscriptions and customer service//EN"
UID_DOMAIN = "subtrail"
# Currencies whose minor unit is not a hundredth (ISO 4217).
ZERO_DECIMALS = {"JPY", "KRW", "ISK", "CLP", "VND", "XOF", "XAF", "XPF", "PYG", "UGX", "RWF", "KMF", "GNF"}
THREE_DECIMALS = {"BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"}


RENEWAL_REMINDER = dt.timedelta(days=-3)
TRIAL_REMINDER = dt.timedelta(days=-2)
PROMISE_REMINDER = dt.timedelta(hours=9)  # the morning of the due day: time to check it was kept
# Subscriptions whose renewal is worth a reminder: not ended, and not known only from old evidence.
RENEWING = ("active", "trial", "payment_failed")
_FREQ = {"D": "DAILY", "W": "WEEKLY", "M": "MONTHLY", "Y": "YEARLY"}


@dataclass(frozen=True)
class CalendarItem:
    """One all-day event (a series when `repeat` is set), with a reminder at `remind` from its start."""

    uid: str
    day: dt.date
    summary: str
    description: str
    category: str
    remind: dt.timedelta | None = None
    repeat: dict[str, Any] | None = None  # RRULE parts


def export_time(now: dt.datetime | None = None) -> dt.datetime:
    """When the feed is made (its DTSTAMP): `now`, else midnight UTC of a pinned `SUBTRAIL_TODAY`, else the
    clock, to the second."""
    if now is not None:
        return now.astimezone(dt.UTC)
    pinned = os.environ.get("SUBTRAIL_TODAY", "").strip()
    if pinned:
        return dt.datetime.combine(dt.date.fromisoformat(pinned), dt.time(0, 0), tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def recurrence(period: str | None, first: dt.date, until: dt.date | None = None) -> dict[str, Any] | None:
    """The RRULE of renewals every `period` (P1M, P3M, P1Y, P4W...) from `first`, up to `until`.

    A monthly or yearly renewal on the 29th-31st falls on the last day of shorter months, as the inventory
    projects it (`ingest.derived.periods.add_period`), not skipped as a bare BYMONTHDAY would be."""
    parsed = parse_period(period)
    if parsed is None or parsed[0] < 1:
        return None
    count, unit = parsed
    rule: dict[str, Any] = {"freq": _FREQ[unit], "interval": count}
    if unit == "M" and first.day > 28:
        rule |= {"bymonthday": list(range(28, first.day + 1)), "bysetpos": -1}
    elif unit == "Y" and (first.month, first.day) == (2, 29):
        rule |= {"bymonth": 2, "bymonthday": [28, 29], "bysetpos": -1}
    if until is not None:
        rule["until"] = until
    return rule


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


def _subscription_entries(conn: sqlite3.Connection, h: Humanizer) -> list[CalendarItem]:
    _ = h.gettext
    entries: list[CalendarItem] = []
    rows = conn.execute(
        """select s.id, s.provider, p.name, s.service_name, s.plan, s.amount_minor, s.currency, s.status,
                  s.platform, s.trial_ends_on, s.next_renewal_on, s.ends_on, s.billing_period, p.cancel_url
           from subscriptions s left join providers p on p.slug = s.provider
           where coalesce(s.dismissed, 0) = 0  -- "not a subscription": nothing to remind
           order by s.id"""
    ).fetchall()
    for row in rows:
        sub_id, slug, name, service, plan, amount, currency, status, platform, trial, renewal, ends = row[:12]
        period, cancel = row[12:]
        label = subscription_name(service, name, slug) or f"#{sub_id}"  # as `status` and the pages say it
        price = h.money(amount, currency)  # "12,99 €" / "€12.99", as the reader writes it
        lines = [
            _("Provider: %(name)s") % {"name": name or slug},
            *([_("Plan: %(plan)s") % {"plan": plan}] if plan else []),
            _("Status: %(status)s") % {"status": h.subscription_status(status)},
        ]
        if platform and platform not in ("direct", "unknown"):
            lines.append(_("Billed through: %(platform)s") % {"platform": h.platform(platform)})
        if cancel:
            lines.append(_("Cancel: %(url)s") % {"url": cancel})
        details = "\n".join(lines)
        day = _day(renewal)
        if day and status in RENEWING:
            renews = (
                _("%(name)s renews at %(price)s.") % {"name": label, "price": price}
                if price
                else _("%(name)s renews.") % {"name": label}
            )
            entries.append(
                CalendarItem(
                    uid=f"renewal-{sub_id}@{UID_DOMAIN}",  # one series: it moves, it does not multiply
                    day=day,
                    summary=_("Renewal: %(name)s") % {"name": label} + (f" — {price}" if price else ""),
                    description=f"{renews}\n{details}",
                    category="renewal",
                    remind=RENEWAL_REMINDER,
                    repeat=recurrence(period, day, _day(ends)),
                )
            )
        day = _day(trial)
        if day and status in RENEWING:
            then = " — " + _("then %(price)s") % {"price": price} if price else ""
            entries.append(
                CalendarItem(
                    uid=f"trial-end-{sub_id}-{day.isoformat()}@{UID_DOMAIN}",
                    day=day,
                    summary=_("Trial ends: %(name)s") % {"name": label} + then,
                    description=_("The free trial of %(name)s ends; cancel before to avoid a charge.")
                    % {"name": label}
                    + f"\n{details}",
                    category="trial_end",
                    remind=TRIAL_REMINDER,
                )
            )
        day = _day(ends)
        if day and status == "cancelled":
            entries.append(
                CalendarItem(
                    uid=f"service-ends-{sub_id}-{day.isoformat()}@{UID_DOMAIN}",
                    day=day,
                    summary=_("Service ends: %(name)s") % {"name": label},
                    description=_("%(name)s was cancelled and stops on this day; no charge should follow.")
                    % {"name": label}
                    + f"\n{details}",
                    category="service_end",
                )
            )
    return entries


def _promise_entries(conn: sqlite3.Connection, h: Humanizer) -> list[CalendarItem]:
    _ = h.gettext
    rows = conn.execute(
        """select pr.id, pr.text, pr.due_on, pr.status, coalesce(p.name, t.provider), t.ticket_ref, t.subject,
                  tm.agent_name
           from promises pr
           left join ticket_messages tm on tm.id = pr.ticket_message_id
           left join tickets t on t.id = tm.ticket_id
           left join providers p on p.slug = t.provider
           where pr.status is null or pr.status not in ('kept', 'kept_late')
           order by pr.id"""
    ).fetchall()
    entries: list[CalendarItem] = []
    for promise_id, text, due, status, provider, ref, subject, agent in rows:
        day = _day(due)
        if not day:
            continue
        who = f" ({agent})" if agent else ""
        case = (
            _("Case %(ref)s: %(subject)s") % {"ref": ref, "subject": subject or ""} if ref else subject or ""
        )
        said = _("“%(note)s”") % {"note": text} if text else ""
        entries.append(
            CalendarItem(
                uid=f"promise-{promise_id}-{day.isoformat()}@{UID_DOMAIN}",
                day=day,
                summary=(
                    _("Promise due: %(name)s") % {"name": f"{provider or '?'}{who}"} + f" — {said}"
                ).strip(" —"),
                description="\n".join(
                    line
                    for line in (
                        _("Promised%(who)s: %(text)s") % {"who": who, "text": said},
                        case,
                        _("Status: %(status)s") % {"status": h.promise_status(status or "pending")},
                    )
                    if line
                ),
                category="promise_due",
                remind=PROMISE_REMINDER,
            )
        )
    return entries


def calendar_entries(db: Database | sqlite3.Connection, h: Humanizer | None = None) -> list[CalendarItem]:
    """Every dated reminder the database knows of, in a stable order, worded for reader `h`."""
    conn = _connection(db)
    h = h or Humanizer()
    entries: list[CalendarItem] = []
    if _has_table(conn, "subscriptions"):
        entries += _subscription_entries(conn, h)
    if _has_table(conn, "promises"):
        entries += _promise_entries(conn, h)
    return sorted(entries, key=lambda e: (e.day, e.uid))


def build_calendar(
    db: Database | sqlite3.Connection, now: dt.datetime | None = None, h: Humanizer | None = None
) -> bytes:
    """The whole feed as iCalendar bytes (RFC 5545), stamped with `export_time(now)`, in the language of
    reader `h` (English by default); for the same data, stamp and reader, the same bytes."""
    stamp = export_time(now)
    h = h or Humanizer()
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", h.gettext("subtrail: renewals, trials and promises"))
    for entry in calendar_entries(db, h):
        event = Event()
        event.add("uid", entry.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", entry.day)
        event.add("dtend", entry.day + dt.timedelta(days=1))
        if entry.repeat:
            event.add("rrule", vRecur(entry.repeat))
        event.add("summary", entry.summary)
        event.add("description", entry.description)
        event.add("categories", [entry.category])
        event.add("transp", "TRANSPARENT")
        if entry.remind is not None:
            alarm = Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", entry.summary)
            alarm.add("trigger", entry.remind)
            event.add_component(alarm)
        cal.add_component(event)
    return cal.to_ical()
