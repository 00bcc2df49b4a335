"""What the pages, `status` and the dossier show, read from the database as plain dicts (formatting is theirs).

Functions of a `sqlite3.Connection` (Datasette's read-only one inside `execute_fn`, or any
other), so the pages, the tests and the bench read the same data the same way. Every
query is bounded by an index or by the small tables (subscriptions, tickets, providers):
the pages stay fast however many messages are stored.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from ingest.bank import findings
from ingest.derived.periods import per_month
from ingest.outputs.fx import Converted, Rates, to_main
from ingest.outputs.humanize import subscription_name
from ingest.store import today

RUNNING = ("trial", "active", "payment_failed")  # shown first; all but trials count in the totals
CANCELLABLE = (*RUNNING, "unknown")  # no recent news may still be billed: a cancellation still makes sense
STATUS_ORDER = {"payment_failed": 0, "active": 1, "trial": 2, "cancelled": 3, "unknown": 4, "expired": 5}
RENEWAL_DAYS = 30


def rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def has_table(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("select 1 from sqlite_master where name = ?", [name]).fetchone() is not None


@dataclass
class Totals:
    """Monthly and yearly cost of the running subscriptions, in the main currency."""

    currency: str
    monthly_minor: int = 0
    yearly_minor: int = 0
    counted: int = 0
    not_converted: list[dict[str, Any]] = field(default_factory=list)
    rate_day: date | None = None  # set when an ECB rate was used
    by_bank: int = 0  # subscriptions converted with their matching bank debit


def _statements(conn: sqlite3.Connection) -> dict[int, list[dict[str, Any]]]:
    """The user's corrections per subscription, oldest first, amounts decoded for display."""
    if not has_table(conn, "corrections"):
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows(conn, "select * from corrections where subscription_id is not null order by at, id"):
        if row["field"] == "amount" and row["value"]:
            row.update(json.loads(row["value"]))
        found.setdefault(row["subscription_id"], []).append(row)
    return found


def subscriptions(
    conn: sqlite3.Connection, main: str, rates: Rates | None, where: str = "1", params: Any = ()
) -> list[dict[str, Any]]:
    """Subscription rows with their provider's name and cancel route, the bank debit that matches
    them, their amount in the main currency, and the user's statements about them."""
    bank = has_table(conn, "recurring_charges")
    bank_sql = (
        """(select rc.amount_minor from recurring_charges rc where rc.subscription_id = s.id
             order by rc.last_on desc limit 1) as bank_amount_minor,
           (select rc.currency from recurring_charges rc where rc.subscription_id = s.id
             order by rc.last_on desc limit 1) as bank_currency"""
        if bank
        else "null as bank_amount_minor, null as bank_currency"
    )
    found = rows(
        conn,
        f"""select s.*, p.name as provider_name, p.cancel_url, p.platform_route, p.support_url,
                   {bank_sql}
              from subscriptions s left join providers p on p.slug = s.provider
             where {where}""",
        params,
    )
    statements = _statements(conn)
    for sub in found:
        sub["name"] = subscription_name(sub["service_name"], sub["provider_name"], sub["provider"])
        sub["statements"] = statements.get(sub["id"], [])
        sub["corrected_fields"] = json.loads(sub["corrected"]) if sub.get("corrected") else []
        converted: Converted = to_main(
            sub["amount_minor"], sub["currency"], main, sub["bank_amount_minor"], sub["bank_currency"], rates
        )
        sub["main_amount_minor"], sub["converted_how"], sub["rate_day"] = (
            converted.amount_minor,
            converted.how,
            converted.rate_day,
        )
    found.sort(
        key=lambda s: (STATUS_ORDER.get(s["status"], 9), s["next_renewal_on"] or "9999", s["name"].lower())
    )
    return found


def totals(subs: list[dict[str, Any]], main: str) -> Totals:
    result = Totals(currency=main)
    monthly = 0.0
    for sub in subs:
        if sub["status"] not in ("active", "payment_failed") or sub.get("dismissed"):
            continue
        factor = per_month(sub["billing_period"])
        if sub["amount_minor"] is None or factor is None:
            continue
        if sub["main_amount_minor"] is None:
            result.not_converted.append(sub)
            continue
        monthly += sub["main_amount_minor"] * factor
        result.counted += 1
        if sub["converted_how"] == "ecb":
            result.rate_day = sub["rate_day"]
        elif sub["converted_how"] == "bank":
            result.by_bank += 1
    result.monthly_minor = int(monthly + 0.5)
    result.yearly_minor = int(monthly * 12 + 0.5)
    return result


def split_inventory(subs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Running first, then ended (cancelled, expired, no news), then what the user dismissed."""
    groups: dict[str, list[dict[str, Any]]] = {"running": [], "ended": [], "dismissed": []}
    for sub in subs:
        if sub.get("dismissed"):
            groups["dismissed"].append(sub)
        elif sub["status"] in RUNNING:
            groups["running"].append(sub)
        else:
            groups["ended"].append(sub)
    return groups


def renewals(subs: list[dict[str, Any]], on: date, days: int = RENEWAL_DAYS) -> list[dict[str, Any]]:
    start, end = on.isoformat(), (on + timedelta(days=days)).isoformat()
    due = []
    for sub in subs:
        if sub.get("dismissed") or sub["status"] not in RUNNING:
            continue
        day = sub["trial_ends_on"] if sub["status"] == "trial" else sub["next_renewal_on"]
        if day and start <= day <= end:
            due.append({**sub, "on_day": day})
    return sorted(due, key=lambda s: s["on_day"])


_CASES = """select t.*, coalesce(p.name, t.provider, t.correspondent) as provider_name,
                   (select count(*) from promises pr join ticket_messages tm on tm.id = pr.ticket_message_id
                     where tm.ticket_id = t.id and pr.status in ('pending', 'overdue')) as open_promises
              from tickets t left join providers p on p.slug = t.provider"""


def open_cases(conn: sqlite3.Connection, provider: str | None = None) -> list[dict[str, Any]]:
    """The cases not resolved (of one provider), the latest activity first."""
    return _cases(conn, provider, ["t.status != 'resolved'"], "t.last_activity_at desc")


def cases(conn: sqlite3.Connection, provider: str | None = None) -> list[dict[str, Any]]:
    """Every case (of one provider), the resolved ones last, the latest activity first."""
    return _cases(conn, provider, [], "t.status = 'resolved', t.last_activity_at desc")


def _cases(
    conn: sqlite3.Connection, provider: str | None, conditions: list[str], order: str
) -> list[dict[str, Any]]:
    """One query for both lists, with its counts of promises still open: they differ in filter and order."""
    params: list[str] = []
    if provider:
        conditions, params = [*conditions, "t.provider = ?"], [provider]
    where = f" where {' and '.join(conditions)}" if conditions else ""
    return rows(conn, f"{_CASES}{where} order by {order}", params)


def overdue_promises(conn: sqlite3.Connection, on: date) -> list[dict[str, Any]]:
    return rows(
        conn,
        """select pr.*, t.id as ticket_id, t.ticket_ref, t.subject, t.provider,
                  coalesce(p.name, t.provider, t.correspondent) as provider_name, tm.agent_name
             from promises pr join ticket_messages tm on tm.id = pr.ticket_message_id
             join tickets t on t.id = tm.ticket_id left join providers p on p.slug = t.provider
            where pr.status = 'overdue' or (pr.status = 'pending' and pr.due_on < ?)
            order by pr.due_on""",
        [on.isoformat()],
    )


def bank_findings(conn: sqlite3.Connection) -> dict[str, list[dict[str, Any]]]:
    """The bank statements' questions with an answer to act on (empty without statements)."""
    return findings.bank_findings(conn)


def ticket(conn: sqlite3.Connection, ticket_id: int) -> dict[str, Any] | None:
    """A case as a conversation: every exchange in time order, each with the promises made in it."""
    found = rows(
        conn,
        """select t.*, coalesce(p.name, t.provider, t.correspondent) as provider_name from tickets t
             left join providers p on p.slug = t.provider where t.id = ?""",
        [ticket_id],
    )
    if not found:
        return None
    case = found[0]
    exchanges = rows(
        conn, "select * from ticket_messages where ticket_id = ? order by sent_at, id", [ticket_id]
    )
    promises = rows(
        conn,
        """select pr.* from promises pr join ticket_messages tm on tm.id = pr.ticket_message_id
            where tm.ticket_id = ? order by pr.due_on""",
        [ticket_id],
    )
    by_exchange: dict[int, list[dict[str, Any]]] = {}
    for promise in promises:
        by_exchange.setdefault(promise["ticket_message_id"], []).append(promise)
    for exchange in exchanges:
        exchange["promises"] = by_exchange.get(exchange["id"], [])
        exchange["is_note"] = exchange["message_sha256"] is None
    case["exchanges"] = exchanges
    case["promises"] = promises
    return case


def provider(conn: sqlite3.Connection, slug: str, main: str, rates: Rates | None) -> dict[str, Any] | None:
    """Everything about one provider: what it knows, my subscriptions, my cases, my statements."""
    known = rows(conn, "select * from providers where slug = ?", [slug])
    subs = subscriptions(conn, main, rates, "s.provider = ?", [slug])
    tickets = cases(conn, slug)
    messages = conn.execute("select count(*) from messages where provider = ?", [slug]).fetchone()[0]
    if not known and not subs and not tickets and not messages:
        return None
    info = known[0] if known else {"slug": slug, "name": slug}
    for column in ("support_channels", "domains"):
        try:
            info[column] = json.loads(info[column]) if info.get(column) else {}
        except (TypeError, ValueError):
            info[column] = {}
    info["cancel_steps_list"] = [
        line.split(". ", 1)[-1] for line in (info.get("cancel_steps") or "").splitlines() if line.strip()
    ]
    # A formal notice is offered only with something to claim: a debit after a cancellation, a refund overdue
    owed = findings.bank_findings(conn, slug).get("after_cancellation")
    overdue = [p for p in overdue_promises(conn, today()) if p["provider"] == slug]
    # A cancellation only while something may still run (an ended one's letter stays at its URL)
    cancellable = any(s["status"] in CANCELLABLE and not s.get("dismissed") for s in subs)
    return {"info": info, "subscriptions": subs, "tickets": tickets, "messages": messages,
            "claimable": bool(owed or overdue), "cancellable": cancellable}  # fmt: skip
