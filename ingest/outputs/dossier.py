"""`subtrail dossier SLUG`: what to have at hand before contacting a provider's customer service.

The article's checklist, filled from the database: account identifiers found in
the mails, the subscription's history, how to cancel, the correspondence so far
(dates, agents, promises kept or not), a "resolution I want" section to fill in,
the user's own statements (corrections), what the bank statements show (a debit no
mail explains, money to claim back, a price that differs), and the evidence with
hashes. `build_dossier` only reads (Datasette serves it from a read-only
connection); `render_markdown` / `render_html` lay it out for one reader (a
`Humanizer`: their language, their clock, money as people write it). Mail content
is hostile: Markdown output escapes it, HTML output is autoescaped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlite_utils import Database

from extractors.registry import registry
from ingest.bank.findings import bank_findings, provider_debits
from ingest.derived.knowledge import get_provider
from ingest.outputs.humanize import Humanizer, name_with_plan, subscription_name
from ingest.store import today as today_

EXCERPT_CHARS = 600
LAST_CHARGES = 6

# Label (FR / EN) -> kind; the value must contain a digit so "Customer ID is" captures nothing.
_ID_LABELS: list[tuple[str, str]] = [
    (r"num[ée]ro\s+(?:de\s+)?client|n[°ºo]\.?\s*(?:de\s+)?client|identifiant\s+client|r[ée]f[ée]rence\s+client", "customer_number"),
    (r"num[ée]ro\s+(?:de\s+)?contrat|n[°ºo]\.?\s*(?:de\s+)?contrat|r[ée]f[ée]rence\s+(?:du\s+)?contrat", "contract_number"),
    (r"customer\s+(?:id|number|no\.?)", "customer_number"),
    # a subscriber number is how press, TV and telecom desks know their customer (Canal+, Le Monde...)
    (r"num[ée]ro\s+d['’]\s*abonn[ée]e?|n[°ºo]\.?\s*d['’]\s*abonn[ée]e?|subscriber\s+(?:id|number|no\.?)", "customer_number"),
    (r"account\s+(?:id|number|no\.?)", "account_number"),
    (r"contract\s+(?:id|number|no\.?)", "contract_number"),
    (r"identifiant(?:\s+(?:freebox|internet|abonn[ée]))?|login|user\s*name", "login"),
]  # fmt: skip
_ID_PATTERNS = [
    (re.compile(rf"\b(?:{label})\s*[:#]?\s*(?=[A-Za-z0-9\-/.]*\d)([A-Za-z0-9][A-Za-z0-9\-/.]{{2,30}})", re.I), kind)
    for label, kind in _ID_LABELS
]  # fmt: skip


# Written differently: an e-mail used as the account's identifier, a phone line number.
_ACCOUNT_EMAIL = re.compile(
    r"\b(?:identifiant\s+apple|apple\s+id|identifiant\s+de\s+connexion|adresse\s+de\s+connexion)\s*:\s*"
    r"([A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,})",
    re.I,
)
_LINE_NUMBER = re.compile(
    r"\b(?:ligne|num[ée]ro\s+de\s+(?:ligne|t[ée]l[ée]phone|mobile)|phone\s+number|mobile\s+number)\s*:\s*"
    r"(\+?\d[\d .]{7,16}\d)",
    re.I,
)


class DossierError(ValueError):
    """Nothing is known about the asked provider; the message says how to find valid slugs."""


@dataclass
class Identifier:
    kind: str  # account_email, login, customer_number, contract_number, account_number, line_number
    value: str
    seen: int  # in how many messages
    first_seen: str | None
    sha256: str | None  # one message that shows it


@dataclass
class Dossier:
    slug: str
    today: str
    provider: dict[str, Any] | None
    identifiers: list[Identifier] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    platform_routes: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[dict[str, Any]] = field(default_factory=list)
    promises: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)
    bank: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # findings; empty: no statement
    bank_series: list[dict[str, Any]] = field(default_factory=list)  # the provider's recurring debits
    bank_debits: list[dict[str, Any]] = field(default_factory=list)  # its latest debits, newest first
    h: Humanizer = field(default_factory=Humanizer)  # the reader: language, time zone, currency

    @property
    def name(self) -> str:
        return (self.provider or {}).get("name") or self.slug


def find_identifiers(text: str) -> list[tuple[str, str]]:
    """(kind, value) pairs for customer / contract / account numbers written in `text`."""
    found: list[tuple[str, str]] = []
    for pattern, kind in _ID_PATTERNS:
        for match in pattern.finditer(text or ""):
            value = match.group(1).rstrip(".-/")
            if len(value) >= 3:
                found.append((kind, value))
    found += [("account_email", m.group(1).lower()) for m in _ACCOUNT_EMAIL.finditer(text or "")]
    found += [("line_number", " ".join(m.group(1).split())) for m in _LINE_NUMBER.finditer(text or "")]
    return found


def _provider_messages(db: Database, slug: str) -> list[dict[str, Any]]:
    """Every message tied to the provider: classified as theirs, or proving one of its events or exchanges."""
    return [
        dict(r)
        for r in db.query(
            """select id, sha256, message_id, date, from_addr, from_name, to_addrs, subject, body_text,
                      kind, direction
               from messages where sha256 in (
                   select sha256 from messages where provider = :slug
                         and coalesce(canonical_sha256, sha256) = sha256  -- a raw copy counts once
                   union select e.message_sha256 from subscription_events e
                         join subscriptions s on s.id = e.subscription_id where s.provider = :slug
                   union select tm.message_sha256 from ticket_messages tm
                         join tickets t on t.id = tm.ticket_id where t.provider = :slug)
               order by date, sha256""",
            {"slug": slug},
        )
    ]


def _identifiers(
    messages: list[dict[str, Any]], subscriptions: list[dict[str, Any]], mine: frozenset[str]
) -> list[Identifier]:
    """Identifiers with how often and where first seen; header addresses only if mine (when known)."""
    counts: Counter[tuple[str, str]] = Counter()
    first: dict[tuple[str, str], tuple[str | None, str]] = {}

    def note(kind: str, value: str, msg: dict[str, Any] | None) -> None:
        key = (kind, value)
        counts[key] += 1 if msg else 0
        if key not in first or (msg and first[key][1] == ""):
            first[key] = (msg["date"], msg["sha256"]) if msg else (None, "")

    for sub in subscriptions:
        if sub.get("account_email"):
            note("account_email", sub["account_email"].lower(), None)
    for msg in messages:
        if msg["direction"] == "outbound" and msg["from_addr"]:
            addresses = [msg["from_addr"]]
        elif msg["direction"] == "inbound" and msg["to_addrs"]:
            addresses = [a.strip() for a in msg["to_addrs"].split(",")][:3]
        else:
            addresses = []
        for addr in addresses:
            if addr and (not mine or addr.lower() in mine):
                note("account_email", addr.lower(), msg)
        seen_here = set(find_identifiers(f"{msg['subject'] or ''}\n{msg['body_text'] or ''}"))
        for kind, value in sorted(seen_here):
            note(kind, value, msg)
    order = {"account_email": 0, "login": 1, "customer_number": 2, "contract_number": 3, "account_number": 4}
    return sorted(
        (Identifier(k, v, counts[(k, v)], first[(k, v)][0], first[(k, v)][1] or None) for k, v in first),
        key=lambda i: (order.get(i.kind, 9), -i.seen, i.value),
    )


def _statements(db: Database, subscription_id: int, added_by: int | None) -> list[dict[str, Any]]:
    """The user's corrections of one subscription, oldest first (the one that added it by hand too)."""
    return [
        dict(r)
        for r in db.query(
            "select * from corrections where subscription_id = ? or id = ? order by at, id",
            [subscription_id, added_by if added_by is not None else -1],
        )
    ]


def _subscriptions(db: Database, slug: str, h: Humanizer) -> list[dict[str, Any]]:
    _money = h.money
    subs = [dict(r) for r in db.query("select * from subscriptions where provider = ? order by id", [slug])]
    for sub in subs:
        events = [
            dict(r)
            for r in db.query(
                """select e.*, m.subject from subscription_events e
                   left join messages m on m.sha256 = e.message_sha256
                   where e.subscription_id = ? order by e.occurred_on, e.id""",
                [sub["id"]],
            )
        ]
        history: list[dict[str, Any]] = []
        for ev in events:
            if ev["amount_minor"] is None or ev["event_type"] == "refund":
                continue
            price = (ev["amount_minor"], ev["currency"], ev["billing_period"] or sub["billing_period"])
            if not history or history[-1]["key"] != price:
                history.append(
                    {
                        "key": price,
                        "since": ev["occurred_on"],
                        "price": _money(price[0], price[1]),
                        "period": price[2],
                    }
                )
        sub["price"] = _money(sub["amount_minor"], sub["currency"])
        sub["price_history"] = history
        sub["charges"] = [
            {**ev, "price": _money(ev["amount_minor"], ev["currency"])}
            for ev in events
            if ev["event_type"] in ("charge", "refund", "payment_failed")
        ][-LAST_CHARGES:][::-1]
        sub["events"] = events
        sub["statements"] = _statements(db, sub["id"], sub.get("added_by_correction"))
    return subs


def _tickets(
    db: Database, slug: str, today: str, h: Humanizer
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    tickets = [
        dict(r) for r in db.query("select * from tickets where provider = ? order by opened_at, id", [slug])
    ]
    all_promises: list[dict[str, Any]] = []
    for ticket in tickets:
        ticket["exchanges"] = [
            dict(r)
            for r in db.query(
                """select tm.*, m.subject, m.message_id from ticket_messages tm
                   left join messages m on m.sha256 = tm.message_sha256
                   where tm.ticket_id = ? order by tm.sent_at, tm.id""",
                [ticket["id"]],
            )
        ]
        for exchange in ticket["exchanges"]:
            body = " ".join((exchange["body"] or "").split())
            exchange["excerpt"] = body[:EXCERPT_CHARS] + ("…" if len(body) > EXCERPT_CHARS else "")
            exchange["promises"] = []
            for row in db.query(
                "select * from promises where ticket_message_id = ? order by due_on, id", [exchange["id"]]
            ):
                promise = dict(row)
                late = promise["status"] == "pending" and promise["due_on"] and promise["due_on"] < today
                promise["verdict"] = "overdue" if late else (promise["status"] or "pending")
                sent = h.local(exchange["sent_at"])  # the day it was said, on the reader's clock
                promise["made_on"] = sent.date().isoformat() if sent else None
                promise["agent_name"] = exchange["agent_name"]
                promise["channel"] = exchange["channel"]  # said on the phone, or written
                promise["ticket_ref"] = ticket["ticket_ref"]
                exchange["promises"].append(promise)
                all_promises.append(promise)
    return tickets, all_promises


def build_dossier(
    db: Database,
    slug: str,
    today: date | None = None,
    my_addresses: Iterable[str] = (),
    h: Humanizer | None = None,
) -> Dossier:
    """Read everything about one provider; raises DossierError if the slug is unknown everywhere.

    `my_addresses` (the config's `[identity]`) keeps other people's addresses in To/Cc out of the
    account identifiers; `h` is the reader (English, UTC, EUR when not given).
    """
    h = h or Humanizer()
    today_iso = (today or today_()).isoformat()
    dossier = Dossier(slug=slug, today=today_iso, provider=get_provider(db, slug), h=h)
    messages = _provider_messages(db, slug)
    dossier.subscriptions = _subscriptions(db, slug, h)
    for sub in dossier.subscriptions:  # named as `status`, the pages and the calendar name it
        sub["name"] = subscription_name(sub["service_name"], dossier.name, slug)
        sub["heading"] = name_with_plan(sub["name"], sub["plan"])
    dossier.tickets, dossier.promises = _tickets(db, slug, today_iso, h)
    findings = bank_findings(db.conn, provider=slug)
    dossier.bank = findings if any(findings.values()) else {}
    debits = provider_debits(db.conn, slug)
    dossier.bank_series, dossier.bank_debits = debits["series"], debits["debits"]
    known = dossier.provider or messages or dossier.subscriptions or dossier.tickets or dossier.bank_debits
    if not known:
        raise DossierError(f"nothing known about provider {slug!r} (see: select slug from providers)")
    mine = frozenset(a.lower() for a in my_addresses)
    dossier.identifiers = _identifiers(messages, dossier.subscriptions, mine)
    platform_providers = registry().platform_providers  # where each platform's subscriptions are cancelled
    for platform in sorted(
        {s["platform"] for s in dossier.subscriptions if s["platform"] in platform_providers}
    ):
        route = get_provider(db, platform_providers[platform]) or {"name": platform}
        dossier.platform_routes.append({"platform": platform, **route})
    dossier.evidence = [
        {k: m[k] for k in ("date", "subject", "sha256", "message_id", "kind", "direction", "from_addr")}
        for m in messages
    ]
    return dossier


def render_markdown(dossier: Dossier) -> str:
    from ingest.outputs.dossier_templates import markdown_template

    return markdown_template().render(d=dossier, h=dossier.h, _=dossier.h.gettext)


def render_html(dossier: Dossier) -> str:
    from ingest.outputs.dossier_templates import html_template

    return html_template().render(d=dossier, h=dossier.h, _=dossier.h.gettext)
