"""Reminders that reach the person, through Apprise (ntfy, e-mail, Telegram, Signal, Matrix and 100 more).

`due_reminders` reads the database and says what is due today, each reminder with a stable `key`:
a renewal or trial end `days_before` ahead (with the cancel route and its platform), a price
increase announced, a promise due tomorrow or overdue, a charge after a cancellation (bank), a
payment failure, the weekly digest. `send_due` sends each key once: it is claimed in the
`notifications` table inside a write transaction before sending (so two processes never both
send it) and released if every URL failed (so it is retried). A reminder keyed by its threshold
is caught up once after a missed day: the nearest threshold reached is the one sent.

URLs may hold secrets (tokens, passwords): logs and errors show them masked (`mask_url`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlite_utils import Database

from extractors.registry import registry
from ingest.config import Config, Notify, parse_weekly
from ingest.outputs import queries
from ingest.outputs.fx import shipped_rates
from ingest.outputs.humanize import Humanizer, subscription_name
from ingest.store import now_iso
from ingest.store.schema import connect_db

log = logging.getLogger("subtrail.notify")

RECENT_DAYS = 14  # a price change or payment failure older than this is history, not news


@dataclass(frozen=True)
class Reminder:
    key: str  # stable across rebuilds: sent once
    kind: str  # renewal, trial_end, price_change, promise_due, promise_overdue, charge_after_cancel, ...
    title: str
    body: str


@dataclass
class SendReport:
    sent: list[Reminder] = field(default_factory=list)
    failed: list[Reminder] = field(default_factory=list)
    already: int = 0


def mask_url(url: str) -> str:
    """An Apprise URL fit for a log: scheme and host kept, user, password, path and query hidden."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return "<unparsable URL>"
    scheme = parts.scheme or "?"
    hidden = "***@" if parts.username or parts.password else ""
    rest = "/***" if parts.path.strip("/") or parts.query else ""
    return f"{scheme}://{hidden}{host}{rest}"


def expand_url(url: str) -> str:
    """`${VAR}` / `$VAR` in a URL from the environment, so the config file holds no secret."""
    return os.path.expandvars(url)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def _routes(db: Database) -> dict[str, dict[str, str | None]]:
    """slug -> name, cancel_url, platform_route of every known provider."""
    return {r["slug"]: r for r in db.query("select slug, name, cancel_url, platform_route from providers")}


def cancel_route(sub: dict, routes: dict[str, dict], h: Humanizer | None = None) -> str:
    """Where this subscription is cancelled: the billing platform's page when a store bills it."""
    h = h or Humanizer()
    platform = sub.get("platform") or "direct"
    platform_slug = registry().platform_providers.get(platform)
    if platform_slug and platform_slug != sub["provider"]:
        route = routes.get(platform_slug) or {}
        where = route.get("cancel_url") or h.gettext("the platform's subscription settings")
        return h.gettext("billed through %(platform)s: cancel there (%(where)s), not with the provider") % {
            "platform": route.get("name") or h.platform(platform),
            "where": where,
        }
    own = routes.get(sub["provider"]) or {}
    if own.get("cancel_url"):
        return h.gettext("cancel: %(url)s") % {"url": own["cancel_url"]}
    return h.gettext("cancel: see `subtrail dossier %(slug)s`") % {"slug": sub["provider"]}


def _name(sub: dict, routes: dict[str, dict]) -> str:
    """The name `status`, the pages and the calendar show (`subscription_name`)."""
    return subscription_name(
        sub.get("service_name"), (routes.get(sub["provider"]) or {}).get("name"), sub["provider"]
    )


def _renewals(
    db: Database, today: date, days_before: list[int], routes: dict, h: Humanizer
) -> Iterable[Reminder]:
    subs = db.query(
        """select * from subscriptions where status in ('active', 'trial') and coalesce(dismissed, 0) = 0
           and (next_renewal_on is not null or trial_ends_on is not null) order by id"""
    )
    for sub in subs:
        for column, kind, words in (
            ("trial_ends_on", "trial_end", h.gettext("%(name)s: free trial ends %(when)s (%(day)s)")),
            ("next_renewal_on", "renewal", h.gettext("%(name)s renews %(when)s (%(day)s)")),
        ):
            when = _day(sub[column])
            if when is None or (kind == "renewal" and sub["trial_ends_on"] == sub["next_renewal_on"]):
                continue
            reached = [d for d in days_before if when - timedelta(days=d) <= today <= when]
            if not reached:
                continue
            nearest = min(reached)
            price = h.money(sub["amount_minor"], sub["currency"])
            within = h.days_from(when.isoformat(), today)  # "in 4 days", "dans 4 jours", "today"
            title = words % {"name": _name(sub, routes), "when": within, "day": h.date(when)}
            body = "\n".join(
                line
                for line in (
                    f"{title}{f', {price}' if price and kind == 'renewal' else ''}.",
                    cancel_route(dict(sub), routes, h),
                    f"subtrail draft cancel {sub['provider']}",
                )
                if line
            )
            yield Reminder(f"{kind}:{sub['id']}:{when.isoformat()}:{nearest}", kind, title, body)


def _events(db: Database, today: date, routes: dict, h: Humanizer) -> Iterable[Reminder]:
    since = (today - timedelta(days=RECENT_DAYS)).isoformat()
    rows = db.query(
        """select e.subscription_id, e.event_type, e.occurred_on, e.message_sha256, e.amount_minor, e.currency,
                  s.provider, s.service_name, s.amount_minor as current_minor, s.status
           from subscription_events e join subscriptions s on s.id = e.subscription_id
           where e.event_type in ('price_change', 'payment_failed') and e.occurred_on >= :since
             and e.occurred_on <= :today
           order by e.occurred_on, e.subscription_id""",
        {"since": since, "today": today.isoformat()},
    )
    for row in rows:
        name = _name(row, routes)
        key = f"{row['event_type']}:{row['subscription_id']}:{row['message_sha256'] or row['occurred_on']}"
        if row["event_type"] == "price_change":
            price = h.money(row["amount_minor"], row["currency"])
            title = h.gettext("%(name)s: price increase announced") % {"name": name} + (
                f" ({price})" if price else ""
            )
            body = "\n".join(
                (
                    h.gettext("%(title)s, mail of %(day)s.") % {"title": title, "day": h.date(row["occurred_on"])},
                    h.gettext("To leave instead: %(command)s") % {"command": f"subtrail draft cancel {row['provider']}"},
                )
            )  # fmt: skip
            yield Reminder(key, "price_change", title, body)
        elif row["status"] == "payment_failed":
            title = h.gettext("%(name)s: payment failed (%(day)s)") % {
                "name": name,
                "day": h.date(row["occurred_on"]),
            }
            body = f"{title}. " + h.gettext("Update the payment method, or the service may stop.")
            yield Reminder(key, "payment_failed", title, body)


def _promises(db: Database, today: date, routes: dict, h: Humanizer) -> Iterable[Reminder]:
    rows = db.query(
        """select t.id as ticket_id, t.provider, t.ticket_ref, p.text, p.due_on, p.status, tm.agent_name
           from promises p join ticket_messages tm on tm.id = p.ticket_message_id
           join tickets t on t.id = tm.ticket_id
           where p.status in ('pending', 'overdue') and p.due_on is not null
           order by p.due_on, t.id"""
    )
    tomorrow = (today + timedelta(days=1)).isoformat()
    for row in rows:
        ref = row["ticket_ref"] or str(row["ticket_id"])
        who = f" ({row['agent_name']})" if row["agent_name"] else ""
        key = f"{row['ticket_id']}:{row['due_on']}:{_short_hash(row['text'] or '')}"
        name = (routes.get(row["provider"]) or {}).get("name") or row["provider"]
        said = f"{who}{h.colon}" + h.gettext("“%(note)s”") % {"note": row["text"] or ""}
        if row["due_on"] == tomorrow:
            title = h.gettext("%(name)s: promise due tomorrow, case %(ref)s") % {"name": name, "ref": ref}
            yield Reminder(f"promise_due:{key}", "promise_due", title, f"{title}{said}")
        elif row["due_on"] < today.isoformat():
            title = h.gettext("%(name)s: promise overdue since %(day)s, case %(ref)s") % {
                "name": name,
                "day": h.date(row["due_on"]),
                "ref": ref,
            }
            body = f"{title}{said}\nsubtrail draft follow-up {ref}"
            yield Reminder(f"promise_overdue:{key}", "promise_overdue", title, body)


def _charges_after_cancel(db: Database, today: date, routes: dict, h: Humanizer) -> Iterable[Reminder]:
    if not db.table("bank_transactions").exists():
        return
    rows = db.query(
        """select v.*, t.txn_key from bank_charges_after_cancellation v
           join bank_transactions t on t.id = v.transaction_id
           where v.booked_on <= ? order by v.booked_on, v.transaction_id""",
        [today.isoformat()],
    )
    for row in rows:
        price = h.money(row["amount_minor"], row["currency"])
        title = h.gettext("%(name)s: charged %(amount)s after the cancellation") % {
            "name": _name(dict(row), routes),
            "amount": price,
        }
        body = f"{h.charge_after_cancellation(dict(row))}\nsubtrail draft claim {row['provider']}"
        yield Reminder(
            f"charge_after_cancel:{row['txn_key'] or row['transaction_id']}",
            "charge_after_cancel",
            title,
            body,
        )


def _digest_due(now: datetime, spec: str) -> str | None:
    """The digest's key when this week's digest time has passed, else None."""
    parsed = parse_weekly(spec)
    if parsed is None:
        return None
    weekday, hour, minute = parsed
    monday = now.date() - timedelta(days=now.weekday())
    at = datetime.combine(monday + timedelta(days=weekday), datetime.min.time(), now.tzinfo).replace(
        hour=hour, minute=minute
    )
    year, week, _ = now.isocalendar()
    return f"digest:{year}-W{week:02d}" if now >= at else None


def _digest(db: Database, today: date, key: str, routes: dict, h: Humanizer) -> Reminder:
    """The week at a glance, with the count and monthly total `subtrail status` shows (one currency:
    a foreign price at its bank debit, else the ECB rate shipped with subtrail)."""
    running = queries.subscriptions(
        db.conn,
        h.currency,
        shipped_rates(),
        f"s.status in ({','.join('?' * len(queries.RUNNING))}) and coalesce(s.dismissed, 0) = 0",
        queries.RUNNING,
    )
    total = queries.totals(running, h.currency)
    week = (today + timedelta(days=7)).isoformat()
    coming = [
        f"- {_name(s, routes)}{h.colon}{h.date(s['next_renewal_on'] or s['trial_ends_on'])}"
        for s in running
        if today.isoformat() <= (s["next_renewal_on"] or s["trial_ends_on"] or "") <= week
    ]
    open_cases = db.execute("select count(*) from tickets where status != 'resolved'").fetchone()[0]
    pending = db.execute("select count(*) from promises where status in ('pending', 'overdue')").fetchone()[0]
    lines = [
        h.ngettext(
            "%(count)d active subscription, about %(total)s a month.",
            "%(count)d active subscriptions, about %(total)s a month.",
            len(running),
        )
        % {"count": len(running), "total": h.money(total.monthly_minor, total.currency)},
        h.gettext("Open support cases: %(cases)d; promises waiting: %(promises)d.")
        % {"cases": open_cases, "promises": pending},
    ]
    if coming:
        lines += [h.gettext("Renewing in the next 7 days:"), *coming]
    title = h.gettext("subtrail: your week (%(day)s)") % {"day": h.date(today)}
    return Reminder(key, "digest", title, "\n".join(lines))


def due_reminders(
    db: Database, settings: Notify, now: datetime, h: Humanizer | None = None
) -> list[Reminder]:
    """Everything due at `now` (local time), whether sent already or not, worded for reader `h` (their
    language, dates and money as they write them; English by default)."""
    h = h or Humanizer()
    today = now.date()
    routes = _routes(db)
    found = [
        *_renewals(db, today, settings.days_before, routes, h),
        *_events(db, today, routes, h),
        *_promises(db, today, routes, h),
        *_charges_after_cancel(db, today, routes, h),
    ]
    if settings.weekly_digest and (key := _digest_due(now, settings.weekly_digest)):
        found.append(_digest(db, today, key, routes, h))
    return found


def unsent(db: Database, reminders: list[Reminder]) -> list[Reminder]:
    sent = {r["key"] for r in db.query("select key from notifications")}
    return [r for r in reminders if r.key not in sent]


Sender = Callable[[list[str], Reminder], bool]


def apprise_sender(urls: list[str], reminder: Reminder) -> bool:
    """Send to every URL; True if at least one accepted it (failures are logged with masked URLs)."""
    import apprise

    delivered = False
    for url in urls:
        target = apprise.Apprise()
        if not target.add(expand_url(url)):
            log.error("notify: not a usable Apprise URL: %s", mask_url(url))
            continue
        if target.notify(title=reminder.title, body=reminder.body):
            delivered = True
        else:
            log.error("notify: sending failed to %s (%s)", mask_url(url), reminder.kind)
    return delivered


def send_due(
    db: Database, settings: Notify, now: datetime, sender: Sender = apprise_sender, h: Humanizer | None = None
) -> SendReport:
    """Send every due reminder not sent before, each claimed first so no two processes send it."""
    report = SendReport()
    if not settings.urls:
        return report
    for reminder in due_reminders(db, settings, now, h):
        with db.atomic():
            claimed = db.execute(
                "insert or ignore into notifications (key, sent_at, kind, title) values (?, ?, ?, ?)",
                [reminder.key, now_iso(), reminder.kind, reminder.title],
            ).rowcount
        if not claimed:
            report.already += 1
            continue
        if sender(settings.urls, reminder):
            report.sent.append(reminder)
        else:
            with db.atomic():
                db.execute("delete from notifications where key = ?", [reminder.key])
            report.failed.append(reminder)
    return report


def test_urls(urls: list[str]) -> list[tuple[str, bool]]:
    """One line to each URL: (masked URL, delivered)."""
    probe = Reminder("test", "test", "subtrail", "subtrail: test notification, reminders will arrive here.")
    return [(mask_url(url), apprise_sender([url], probe)) for url in urls]


def local_now(today: date | None, tz: tzinfo | None) -> datetime:
    """Now in the person's time zone; a pinned day (`today`, else $SUBTRAIL_TODAY) stands for its end:
    what that day's passes send."""
    if today is None and os.environ.get("SUBTRAIL_TODAY"):
        today = date.fromisoformat(os.environ["SUBTRAIL_TODAY"])
    if today is not None:
        return datetime.combine(today, datetime.max.time().replace(microsecond=0), tz).astimezone(tz)
    return datetime.now(tz).astimezone(tz)


def notifier_for(db_path: str, config: Config) -> Notifier:
    """The daemon's hook for this config: its `[notify]`, and the person's `timezone` for the digest's
    local time and the day a reminder is judged on (not the server's zone)."""
    return Notifier(db_path, config.notify, ZoneInfo(config.display.timezone), h=Humanizer.of(config.display))


class Notifier:
    """The daemon's hook: a pass at most every `every` seconds, on its own connection; never raises."""

    def __init__(
        self,
        db_path: str,
        settings: Notify,
        tz: tzinfo | None,
        every: float = 60.0,
        h: Humanizer | None = None,
    ) -> None:
        self.db_path, self.settings, self.tz, self.every = db_path, settings, tz, every
        self.h = h or Humanizer()
        self._next = 0.0

    def tick(self) -> None:
        if not self.settings.urls or time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.every
        db = connect_db(self.db_path)
        try:
            report = send_due(db, self.settings, local_now(None, self.tz), h=self.h)
            if report.sent or report.failed:
                log.info("notify sent=%d failed=%d", len(report.sent), len(report.failed))
        except Exception as exc:  # a reminder must never stop the poller
            log.error("notify pass failed: %s", re.sub(r"\w+://\S+", "<url>", str(exc)))
        finally:
            db.close()
