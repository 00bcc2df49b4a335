"""`subtrail status`: the one-glance check — what I pay, what renews soon, what is still open.

The same reading as the web overview (`ingest.web.page_data`: one currency, the bank debit
or the ECB rate for a foreign price, dismissed rows left out; `ingest.bank.findings`), shown
for one reader through a `Humanizer`: their language, their clock, money and periods as
people write them ("14,99 € / mois"), statuses in words, their own corrections as their
statements. Plain text that fits 80 columns: columns are cut with "…", sentences wrapped.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from sqlite_utils import Database

from ingest.bank.findings import bank_findings
from ingest.outputs import queries
from ingest.outputs.fx import Rates, shipped_rates
from ingest.outputs.humanize import Humanizer
from ingest.pipeline.queue import queued_count
from ingest.store import today as today_

WIDTH = 80
ACTIVE = queries.RUNNING
RENEWAL_WINDOW_DAYS = queries.RENEWAL_DAYS
STATEMENTS_SHOWN = 10
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
    h: Humanizer = field(default_factory=Humanizer)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    totals: queries.Totals | None = None  # in the reader's main currency
    unpriced: int = 0  # running subscriptions without an amount or period
    renewals: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    overdue: list[dict[str, Any]] = field(default_factory=list)
    bank: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # empty: no statement imported
    statements: list[dict[str, Any]] = field(default_factory=list)  # the user's corrections, newest first
    queued: int = 0  # messages stored by the poller, not processed yet: not in the lists above


def _statements(db: Database) -> list[dict[str, Any]]:
    """The user's latest corrections, with the name of what they are about."""
    if not db["corrections"].exists():
        return []
    return [
        dict(r)
        for r in db.query(
            """select c.*, coalesce(s.service_name, p.name, s.provider,
                                    case when c.field = 'added' and json_valid(c.value)
                                         then json_extract(c.value, '$.provider') end) as name
                 from corrections c
                 left join subscriptions s
                   on s.id = coalesce(c.subscription_id,
                                      (select id from subscriptions where added_by_correction = c.id))
                 left join providers p on p.slug = s.provider
                order by c.at desc, c.id desc limit ?""",
            [STATEMENTS_SHOWN],
        )
    ]


def build_status(
    db: Database, today: date | None = None, h: Humanizer | None = None, rates: Rates | None = None
) -> Status:
    """Gather the lists from the database; pure reads, `today`, the reader and the rates injectable."""
    today = today or today_()
    h = h or Humanizer()
    status = Status(today=today, h=h, queued=queued_count(db))
    marks = ",".join("?" * len(ACTIVE))
    subs = queries.subscriptions(
        db.conn,
        h.currency,
        rates if rates is not None else shipped_rates(),
        f"s.status in ({marks}) and coalesce(s.dismissed, 0) = 0",
        ACTIVE,
    )
    status.subscriptions = sorted(subs, key=lambda s: (s["provider"] or "", s["service_name"] or "", s["id"]))
    status.totals = queries.totals(subs, h.currency)
    status.unpriced = sum(
        1 for s in subs if s["amount_minor"] is None or months_in(s["billing_period"]) is None
    )
    status.renewals = sorted(
        queries.renewals(subs, today, RENEWAL_WINDOW_DAYS),
        key=lambda s: (s["on_day"], s["provider"], s["id"]),
    )
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
            [today.isoformat()],
        )
    ]
    status.bank = bank_findings(db.conn)
    status.statements = _statements(db)
    return status


def cut(text: object, width: int) -> str:
    """Pad or cut to exactly `width` characters; a cut ends with "…" so it shows."""
    value = " ".join(str(text or "").split())
    if len(value) > width:
        return value[: width - 1] + "…"
    return value.ljust(width)


def wrap(text: str, first: str = "  - ", rest: str = "    ") -> list[str]:
    """A sentence over as many 80-column lines as it needs (never cut: it is meant to be read)."""
    return textwrap.wrap(
        " ".join(text.split()), WIDTH, initial_indent=first, subsequent_indent=rest, break_on_hyphens=False
    )


def _price(h: Humanizer, sub: dict[str, Any]) -> str:
    if sub["amount_minor"] is None:
        return h.gettext("included") if sub.get("platform") == "bundle" else h.gettext("price unknown")
    return h.price(sub["amount_minor"], sub["currency"], sub["billing_period"])


def _total_lines(h: Humanizer, totals: queries.Totals) -> list[str]:
    _ = h.gettext
    lines = [
        "  "
        + _("Monthly total: %(monthly)s, every year %(yearly)s")
        % {"monthly": h.money(totals.monthly_minor, totals.currency),
           "yearly": h.money(totals.yearly_minor, totals.currency)}
    ]  # fmt: skip
    if totals.rate_day:
        lines += wrap(
            _("Foreign prices converted at the ECB rate of %(day)s.") % {"day": h.date(totals.rate_day)},
            "  ",
            "  ",
        )
    if totals.by_bank:
        lines += wrap(
            h.ngettext(
                "%(count)d foreign price counted at what your bank debits.",
                "%(count)d foreign prices counted at what your bank debits.",
                totals.by_bank,
            )
            % {"count": totals.by_bank},
            "  ",
            "  ",
        )
    if totals.not_converted:
        names = ", ".join(
            f"{s['name']} ({h.money(s['amount_minor'], s['currency'])})" for s in totals.not_converted
        )
        lines += wrap(_("Not in the total (not converted): %(names)s") % {"names": names}, "  ", "  ")
    return lines


def render_status(status: Status) -> str:
    """The report as text in the reader's language and clock, every line at most 80 columns."""
    h = status.h
    _ = h.gettext
    lines = [_("subtrail status — %(day)s") % {"day": h.date(status.today)}, ""]
    if status.queued:
        lines += wrap(
            h.ngettext(
                "%(count)d stored message not processed yet (the poller's next pass does it)",
                "%(count)d stored messages not processed yet (the poller's next pass does it)",
                status.queued,
            )
            % {"count": status.queued},
            "",
            "",
        )
        lines.append("")
    lines.append(_("Active subscriptions (%(count)d)") % {"count": len(status.subscriptions)})
    for sub in status.subscriptions:
        mark = {"trial": h.subscription_status("trial"), "payment_failed": _("UNPAID")}.get(sub["status"], "")
        if sub.get("corrected_fields"):
            mark = f"{mark} ✎".strip()
        lines.append(
            f"  {cut(sub['provider'], 14)} {cut(sub['name'], 16)} {cut(sub['plan'], 12)} "
            f"{cut(_price(h, sub), 20)} {cut(mark, 12)}"
        )
    if status.totals and status.totals.counted:
        lines += _total_lines(h, status.totals)
    elif status.subscriptions:
        lines.append("  " + _("Monthly total: unknown"))
    if status.unpriced:
        lines += wrap(
            h.ngettext(
                "(%(count)d subscription without a known price or period, not in the total)",
                "(%(count)d subscriptions without a known price or period, not in the total)",
                status.unpriced,
            )
            % {"count": status.unpriced},
            "  ",
            "  ",
        )
    lines += [
        "",
        _("Renewals in the next %(days)d days (%(count)d)")
        % {"days": RENEWAL_WINDOW_DAYS, "count": len(status.renewals)},
    ]
    for item in status.renewals:
        what = _("trial ends") if item["status"] == "trial" else _("renews")
        price = h.money(item["amount_minor"], item["currency"])
        lines.append(
            f"  {cut(h.date(item['on_day']), 13)} {cut(item['provider'], 14)} {cut(item['name'], 18)} "
            f"{cut(what, 15)} {cut(price, 14)}"
        )
    lines += ["", _("Open cases (%(count)d)") % {"count": len(status.tickets)}]
    for ticket in status.tickets:
        since = h.local(ticket["last_activity_at"] or ticket["opened_at"])
        lines.append(
            f"  {cut(ticket['ticket_ref'] or '#' + str(ticket['id']), 10)} {cut(ticket['provider'], 12)} "
            f"{cut(ticket['subject'], 14)} {cut(h.ticket_status(ticket['status']), 26)} "
            f"{cut(h.date(since.date()) if since else '', 12)}"
        )
    lines += ["", _("Overdue promises (%(count)d)") % {"count": len(status.overdue)}]
    for promise in status.overdue:
        lines.append(
            f"  {cut(h.date(promise['due_on']), 13)} {cut(promise['provider'], 12)} "
            f"{cut(promise['ticket_ref'], 10)} {cut(promise['text'], 38)}"
        )
    if status.bank:
        sentences = h.bank_sentences(status.bank)
        lines += ["", _("From your bank statements (%(count)d)") % {"count": len(sentences)}]
        for sentence in sentences:
            lines += wrap(sentence)
        if not sentences:
            lines.append("  " + _("Nothing to act on."))
    if status.statements:
        lines += ["", _("Your corrections (%(count)d)") % {"count": len(status.statements)}]
        for statement in status.statements:
            lines += wrap(f"{statement['name'] or '?'}{h.colon}{h.statement(statement)}")
    return "\n".join(line.rstrip() for line in lines) + "\n"
