"""The customer-service journal: support mail threaded into tickets, with promises and status.

Everything here is derived, so it is rebuilt from scratch after every run
(`rebuild_journal`, a rebuild step in `ingest.pipeline.steps`): the same stored messages always give the
same tickets, ids included. The per-message facts (`extractors.SupportFacts`) are
computed in the parser pool and kept in `support_facts` (written in the batch
transaction by `store_support_facts`): the rebuild reads them and never the mail.
Manual notes (phone calls, chats, letters) live in `manual_notes`, which no rebuild
and no reprocess touches; the rebuild merges them into the same tickets.

Threading, strongest key first: helpdesk tokens (Salesforce / Zendesk ids, then case
numbers scoped by provider), then References / In-Reply-To across INBOX and Sent,
then subject + correspondent only when nothing else links, then (for a desk mail with
no reference under a subject of its own) my only case with that provider still waiting
for an answer. A message that links two tickets merges them. Every key is kept in
`ticket_keys`, and `ticket_messages.joined_by` says which one attached each message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from extractors import Promise, SupportFacts, TicketToken
from extractors.registry import provider_for_domain
from extractors.support.brand import provider_slug
from extractors.support.collect import message_signals
from extractors.support.promises import local_date
from ingest.store import Prepared, support_facts_from_json, support_facts_json
from ingest.store import today as today_
from ingest.store.ids import next_free_id, recorded_ids, remember_ids

STALE_AFTER = timedelta(days=30)  # a reply with a new subject to a thread quiet this long opens a new ticket
SUBJECT_WINDOW = timedelta(days=90)  # subject + correspondent only joins tickets active this recently
OPEN_CASE_WINDOW = timedelta(days=14)  # an unreferenced desk reply answers my open case only this soon
NOTE_WINDOW = timedelta(days=30)  # a note without --ticket joins the provider's ticket active this recently


# --- batch hook and resetter ------------------------------------------------------------------


def store_support_facts(db: Database, batch: list[Prepared]) -> None:
    """Keep each new message's support facts (computed in a worker) for the journal rebuild."""
    rows = [
        {"sha256": p.parsed.sha256, "facts": support_facts_json(p.extraction.support)}
        for p in batch
        if p.extraction.support is not None
    ]
    if rows:
        db.table("support_facts").upsert_all(rows, pk="sha256")


def reset_journal(db: Database) -> None:
    """`subtrail reprocess` recomputes the facts; manual notes are the user's and stay."""
    for table in ("promises", "ticket_messages", "ticket_keys", "tickets", "support_facts"):
        db.execute(f"delete from [{table}]")


# --- rebuild ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportMessage:
    """A stored message with support facts, as the threading reads it (`messages` + `support_facts`)."""

    sha256: str
    message_id: str | None
    date: str  # when it was sent (or first seen, without a Date header)
    subject: str | None
    provider: str | None
    direction: str | None
    in_reply_to: str | None
    references: str | None  # space-separated Message-IDs
    facts: SupportFacts


@dataclass
class Exchange:
    """One exchange in a ticket, from a message or a manual note (a `ticket_messages` row)."""

    sent_at: str
    direction: str
    channel: str
    body: str
    agent_name: str | None = None
    sha256: str | None = None
    note_id: int | None = None
    auto_ack: bool = False
    asks: bool = False
    resolved: bool = False
    courtesy: bool = False  # my thank-you after a settlement: it does not reopen the case
    promises: list[Promise] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    joined_by: str | None = None


@dataclass
class Ticket:
    provider: str | None
    correspondent: str | None
    subject: str
    ticket_ref: str | None = None
    entries: list[Exchange] = field(default_factory=list)
    keys: list[tuple[str, str, str | None]] = field(default_factory=list)  # (key, kind, sha256)
    subject_keys: set[str] = field(default_factory=set)
    scope: str | None = (
        None  # provider slug, else the correspondent's domain: what case numbers are scoped by
    )
    guessed_provider: str | None = None  # the brand of an unknown correspondent, when no message names one

    @property
    def last_at(self) -> str:
        return max(e.sent_at for e in self.entries)


def rebuild_journal(db: Database, today: date | None = None) -> None:
    """Clear and rebuild tickets, ticket_messages, ticket_keys and promises from the stored facts;
    each ticket keeps the id its messages and notes had (`ingest.store.ids`)."""
    today = today or today_()
    _remember_ticket_ids(db)
    for table in ("promises", "ticket_messages", "ticket_keys", "tickets"):
        db.execute(f"delete from [{table}]")
    tickets = thread_messages(_load_messages(db))
    merge_notes(tickets, _load_notes(db))
    _write(db, tickets, today)


def _member(entry: Exchange) -> str:
    """What a ticket is made of, as `stable_ids` keys its id: its messages and its notes."""
    return f"message:{entry.sha256}" if entry.sha256 else f"note:{entry.note_id}"


def _remember_ticket_ids(db: Database) -> None:
    """Record the ids the current tickets' members have (a database older than `stable_ids` too)."""
    remember_ids(
        db,
        "ticket",
        (
            (f"message:{sha}" if sha else f"note:{note_id}", ticket_id)
            for ticket_id, sha, note_id in db.execute(
                "select ticket_id, message_sha256, manual_note_id from ticket_messages order by id"
            ).fetchall()
        ),
    )


def _ticket_ids(db: Database, tickets: list[Ticket]) -> list[int]:
    """Each ticket's id: the oldest id one of its members had that no earlier ticket took (two
    tickets merged keep the older's, as `_Threader.merge` does); a new id for a new case."""
    recorded = recorded_ids(db, "ticket")
    fresh = next_free_id(db, "ticket", "tickets")
    taken: set[int] = set()
    ids: list[int] = []
    for ticket in tickets:
        had = sorted({recorded[m] for m in map(_member, ticket.entries) if m in recorded} - taken)
        if had:
            ticket_id = had[0]
        else:
            ticket_id, fresh = fresh, fresh + 1
        taken.add(ticket_id)
        ids.append(ticket_id)
    remember_ids(
        db, "ticket", ((_member(e), i) for t, i in zip(tickets, ids, strict=True) for e in t.entries)
    )
    return ids


def _load_messages(db: Database) -> list[SupportMessage]:
    rows = db.execute(
        # A message without a Date header keeps its place by when the server or the import first saw it;
        # at equal times a message that replies to nothing goes first, so its replies can find it.
        """select m.sha256, m.message_id,
                  coalesce(m.date, (select min(l.internal_date) from message_locations l where l.sha256 = m.sha256),
                           nullif(m.stored_at, '')) as at,
                  m.subject, m.provider, m.direction, m.in_reply_to, m.[references], f.facts
           from support_facts f join messages m on m.sha256 = f.sha256
           where at is not null
           order by at, m.in_reply_to is not null, m.sha256"""
    ).fetchall()
    out = []
    for *columns, facts in rows:
        try:
            out.append(SupportMessage(*columns, facts=support_facts_from_json(facts)))
        except (TypeError, ValueError, KeyError, AttributeError):
            continue  # a row no version of the extractor wrote: the journal just misses it
    return out


def thread_messages(messages: list[SupportMessage]) -> list[Ticket]:
    """Assign each message (in date order) to a ticket; replies that link nowhere are dropped."""
    threader = _Threader()
    for msg in messages:
        threader.add(msg)
    return threader.result()


@dataclass
class _Link:
    """What one message offers to link it: its keys, strongest first."""

    date: str
    scope: str | None
    token_keys: list[str]
    references: list[str]
    subject_key: str


class _Threader:
    """Strongest key first; when one message links two tickets they were one case and are merged.

    The merge covers an acknowledgement that quoted no reference (its case number opens a ticket) and the
    agent's later reply that carries both the case number and an In-Reply-To to my first mail.
    """

    def __init__(self) -> None:
        self.tickets: list[Ticket] = []
        self.parent: list[int] = []
        self.by_key: dict[str, int] = {}
        self.by_msgid: dict[str, int] = {}
        self.by_subject: dict[tuple[str, str], int] = {}
        self.by_scope: dict[str, list[int]] = {}  # tickets per provider / correspondent

    def find(self, index: int) -> int:
        while self.parent[index] != index:
            index = self.parent[index]
        return index

    def merge(self, one: int, other: int) -> int:
        keep, gone = min(one, other), max(one, other)  # the older ticket survives
        self.parent[gone] = keep
        target, source = self.tickets[keep], self.tickets[gone]
        target.entries.extend(source.entries)
        target.keys.extend(source.keys)
        target.subject_keys |= source.subject_keys
        target.provider = target.provider or source.provider
        target.guessed_provider = target.guessed_provider or source.guessed_provider
        target.ticket_ref = target.ticket_ref or source.ticket_ref
        return keep

    def by_reference(self, link: _Link, exclude: int | None) -> tuple[int | None, str | None]:
        for ref in reversed(link.references):  # the nearest ancestor first
            if ref not in self.by_msgid:
                continue
            candidate = self.find(self.by_msgid[ref])
            if candidate == exclude or _conflicts(self.tickets[candidate], link.token_keys):
                continue
            if _stale_new_subject(self.tickets[candidate], link.subject_key, link.date):
                return None, None
            return candidate, f"reference:{ref}"
        return None, None

    def by_subject_key(self, link: _Link) -> tuple[int | None, str | None]:
        corr = (link.scope or "", link.subject_key)
        if not (link.subject_key and link.scope and corr in self.by_subject):
            return None, None
        candidate = self.find(self.by_subject[corr])
        ticket = self.tickets[candidate]
        if _conflicts(ticket, link.token_keys) or not _within(ticket.last_at, link.date, SUBJECT_WINDOW):
            return None, None
        return candidate, f"subject:{link.scope}:{link.subject_key}"

    def by_open_case(self, link: _Link) -> tuple[int | None, str | None]:
        """The desk answered under a subject of its own ("Votre demande n°RED-…") and quoted no reference:
        if exactly one case with that correspondent is waiting for its answer, this is the answer."""
        same_scope = dict.fromkeys(self.find(i) for i in self.by_scope.get(link.scope or "", []))
        waiting = [
            index
            for index in same_scope
            if _awaits_answer(self.tickets[index])
            and not _conflicts(self.tickets[index], link.token_keys)
            and _within(self.tickets[index].last_at, link.date, OPEN_CASE_WINDOW)
        ]
        if len(waiting) != 1:
            return None, None
        return waiting[0], f"open-case:{link.scope}"

    def add(self, msg: SupportMessage) -> None:
        facts = msg.facts
        owner = provider_for_domain(facts.correspondent)  # the registry's answer, as in extraction
        provider = msg.provider or (owner.slug if owner else None)
        guessed = provider or provider_slug(facts.correspondent)  # the brand in an unknown domain
        scope = guessed or facts.correspondent
        link = _Link(
            date=msg.date,
            scope=scope,
            token_keys=[_token_key(ref, scope) for ref in facts.refs],
            references=[r for r in [msg.in_reply_to, *(msg.references or "").split()] if r],
            subject_key=facts.subject_key,
        )
        index, joined_by = None, None
        for key in link.token_keys:
            if key in self.by_key:
                index, joined_by = self.find(self.by_key[key]), key
                break
        if index is None:
            index, joined_by = self.by_reference(link, None)
        else:
            other, _ = self.by_reference(link, index)
            if other is not None:
                index = self.merge(index, other)
        if index is None and facts.is_support and not any(r in self.by_msgid for r in link.references):
            index, joined_by = self.by_subject_key(link)
        if index is None and facts.is_support and not link.references and msg.direction == "inbound":
            index, joined_by = self.by_open_case(link)
        if index is not None and not facts.is_support and msg.direction == "inbound" and not provider:
            ticket = self.tickets[index]
            if scope not in (ticket.scope, ticket.guessed_provider, ticket.provider):
                return  # a third party answering my mail (a friend, a copy) is not the desk's side of the case
        if index is None:
            if not facts.is_support:
                return  # a reply that joins no support thread is not customer service
            self.tickets.append(
                Ticket(provider=provider, correspondent=facts.correspondent, subject="", scope=scope)
            )
            self.parent.append(len(self.tickets) - 1)
            self.by_scope.setdefault(scope or "", []).append(len(self.tickets) - 1)
            index, joined_by = len(self.tickets) - 1, "new"
        self.record(index, msg, link, joined_by, provider, guessed)

    def record(
        self,
        index: int,
        msg: SupportMessage,
        link: _Link,
        joined_by: str | None,
        provider: str | None,
        guessed: str | None = None,
    ) -> None:
        ticket = self.tickets[index]
        ticket.provider = ticket.provider or provider
        ticket.guessed_provider = ticket.guessed_provider or guessed
        ticket.subject = ticket.subject or _clean_subject(msg.subject)
        ticket.ticket_ref = ticket.ticket_ref or msg.facts.ticket_ref
        ticket.entries.append(_exchange_from_message(msg, joined_by))
        if link.subject_key:
            ticket.subject_keys.add(link.subject_key)
            if link.scope:
                self.by_subject[(link.scope, link.subject_key)] = index
                ticket.keys.append((f"subject:{link.scope}:{link.subject_key}", "subject", msg.sha256))
        for key in link.token_keys:
            self.by_key.setdefault(key, index)
            ticket.keys.append((key, key.split(":", 1)[0], msg.sha256))
        if msg.message_id:
            self.by_msgid.setdefault(msg.message_id, index)
            ticket.keys.append((f"message-id:{msg.message_id}", "message-id", msg.sha256))

    def result(self) -> list[Ticket]:
        return [ticket for index, ticket in enumerate(self.tickets) if self.parent[index] == index]


def _awaits_answer(ticket: Ticket) -> bool:
    """My mail is the last human one and nobody answered it yet (only acknowledgements, if anything)."""
    human = [e.direction for e in ticket.entries if not e.auto_ack]
    return bool(human) and "inbound" not in human  # every exchange is inbound or outbound


def _token_key(ref: TicketToken, scope: str | None) -> str:
    if ref.is_global:
        return f"{ref.system}:{ref.value}"
    return f"number:{scope or '?'}:{ref.value}"


def _conflicts(ticket: Ticket, token_keys: list[str]) -> bool:
    """The message carries a case number of the same desk that differs from the ticket's: another case."""
    mine = {key.rsplit(":", 1)[0] for key, kind, _ in ticket.keys if kind in ("number", "salesforce")}
    theirs = {key.rsplit(":", 1)[0] for key in token_keys}
    known = {key for key, _, _ in ticket.keys}
    return bool(mine & theirs) and not any(key in known for key in token_keys)


def _stale_new_subject(ticket: Ticket, subject_key: str, when: str) -> bool:
    """A reply to an old thread under a new subject is a new question, hence a new ticket."""
    if not subject_key or subject_key in ticket.subject_keys:
        return False
    return not _within(ticket.last_at, when, STALE_AFTER)


def _within(earlier: str, later: str, window: timedelta) -> bool:
    try:
        return datetime.fromisoformat(later) - datetime.fromisoformat(earlier) <= window
    except (TypeError, ValueError):
        return False


def _clean_subject(subject: str | None) -> str:
    return re.sub(r"^\s*(?:(?:re|tr|fwd?|aw)\s*:\s*)+", "", subject or "", flags=re.I).strip()


def _exchange_from_message(msg: SupportMessage, joined_by: str | None) -> Exchange:
    facts = msg.facts
    return Exchange(
        sent_at=msg.date,
        direction=msg.direction or "inbound",
        channel="email",
        body=facts.body or "",
        agent_name=facts.agent_name,
        sha256=msg.sha256,
        auto_ack=bool(facts.auto_ack),
        asks=bool(facts.asks),
        resolved=bool(facts.resolved),
        courtesy=bool(facts.courtesy),
        promises=list(facts.promises),
        requests=list(facts.requests or []),
        joined_by=joined_by,
    )


# --- manual notes -----------------------------------------------------------------------------


def _load_notes(db: Database) -> list[dict[str, Any]]:
    if not db.table("manual_notes").exists():
        return []
    return [dict(row) for row in db.query("select * from manual_notes order by at, id")]


def merge_notes(tickets: list[Ticket], notes: list[dict[str, Any]]) -> None:
    """Notes join the ticket they name, else the provider's ticket active around them, else their own."""
    for note in notes:
        index = _ticket_for_note(tickets, note)
        joined_by = "note:ticket-ref" if note.get("ticket_ref") else "note:provider"
        if index is None:
            joined_by = "note:new"
            tickets.append(
                Ticket(
                    provider=note["provider"],
                    correspondent=None,
                    subject=(note["body"] or "").split("\n", 1)[0][:80],
                    ticket_ref=note.get("ticket_ref"),
                )
            )
            index = len(tickets) - 1
        tickets[index].provider = tickets[index].provider or note["provider"]
        asks, resolved = message_signals(note["body"] or "")
        promises = []
        if note.get("promise_text"):
            promises.append(Promise(text=note["promise_text"], due_on=note.get("due_on")))
        tickets[index].entries.append(
            Exchange(
                sent_at=note["at"],
                direction=note["direction"] or "inbound",
                channel=note["channel"] or "other",
                body=note["body"] or "",
                agent_name=note.get("agent_name"),
                note_id=note["id"],
                asks=asks and note["direction"] != "outbound",
                resolved=resolved,
                promises=promises,
                joined_by=joined_by,
            )
        )


def _ticket_for_note(tickets: list[Ticket], note: dict[str, Any]) -> int | None:
    ref, provider = note.get("ticket_ref"), note.get("provider")
    if ref:
        for index, ticket in enumerate(tickets):
            known = ticket.provider or ticket.guessed_provider
            if ticket.ticket_ref == ref and (not provider or known in (None, provider)):
                return index
        for index, ticket in enumerate(tickets):
            if any(key.endswith(f":{ref}") for key, _, _ in ticket.keys):
                return index
        return None
    best: int | None = None
    for index, ticket in enumerate(tickets):
        if not ticket.entries or not _same_provider(ticket, provider):
            continue
        opened = min(e.sent_at for e in ticket.entries)
        if opened <= note["at"] and _within(ticket.last_at, note["at"], NOTE_WINDOW):
            best = index
    return best


def _same_provider(ticket: Ticket, provider: str | None) -> bool:
    """A ticket whose provider is unknown still matches by its correspondent's domain (sfr.fr ~ sfr)."""
    known = ticket.provider or ticket.guessed_provider
    if known is not None:
        return known == provider
    return bool(provider) and (ticket.correspondent or "").split(".")[0] == provider


# --- status and writing -----------------------------------------------------------------------


def ticket_status(entries: list[Exchange], today: date) -> str:
    """From the last human exchange: mine -> awaiting_provider; theirs -> resolved / awaiting_me / awaiting_provider.

    A confirmation that still promises something not yet due ("résiliation enregistrée ; nous vous
    rembourserons d'ici le 20 avril") leaves the case awaiting the provider until that date.
    """
    human = [e for e in entries if not e.auto_ack]
    if not human:
        return "awaiting_provider"
    last = human[-1]
    if last.courtesy and last.direction == "outbound" and len(human) > 1 and human[-2].resolved:
        last = human[-2]  # "merci beaucoup !" after a settlement leaves it settled; anything else reopens
    if last.resolved:
        return "awaiting_provider" if any(_still_owed(p, today) for p in last.promises) else "resolved"
    if last.direction == "outbound":
        return "awaiting_provider"
    return "awaiting_me" if last.asks else "awaiting_provider"


def _still_owed(promise: Promise, today: date) -> bool:
    """Not yet due, and an action still to come rather than the effect of what was just confirmed.

    "Nous vous rembourserons d'ici le 20 avril" is owed; "votre demande a bien été traitée : votre
    échéancier sera ramené à 88 € à compter du 15/04" is done, the date is only when it takes effect.
    """
    due = promise.due_on
    return bool(due) and due >= today.isoformat() and not message_signals(promise.text or "")[1]


def promise_kept_on(index: int, entries: list[Exchange]) -> str | None:
    """The day (Paris) of the first later exchange confirming the resolution: when the promise was kept."""
    for entry in entries[index + 1 :]:
        if entry.resolved and not entry.auto_ack:
            day = local_date(entry.sent_at)
            return day.isoformat() if day else None
    return None


def promise_status(index: int, due_on: str | None, entries: list[Exchange], today: date) -> str:
    """kept, kept_late, overdue or pending for a promise made in `entries[index]`.

    kept: a later exchange confirms the resolution by `due_on` (or there is no date), or the promise came
    with a confirmation ("the refund has been processed and will appear within 3 business days") and its
    date passed with no complaint of mine. kept_late: the confirmation came after `due_on` (`kept_on` says
    when; a day's grace, see `_late`). overdue: its date passed otherwise. pending: not yet due, or no date.
    """
    made_in, later = entries[index], [e for e in entries[index + 1 :] if not e.auto_ack]
    kept_on = promise_kept_on(index, entries)
    if kept_on is not None:
        return "kept_late" if _late(kept_on, due_on) else "kept"
    passed = bool(due_on) and due_on < today.isoformat()
    complained = any(e.direction == "outbound" and not e.courtesy for e in later)
    if passed and made_in.resolved and not complained:
        return "kept"
    return "overdue" if passed else "pending"


def _late(kept_on: str, due_on: str | None) -> bool:
    """Confirmed more than a day after `due_on`. The mail that says so is dated when it was written: "le
    technicien est bien passé hier", sent the day after, reports a promise kept on its day."""
    if not due_on:
        return False
    try:
        return date.fromisoformat(kept_on) > date.fromisoformat(due_on) + timedelta(days=1)
    except ValueError:
        return False


def _write(db: Database, tickets: list[Ticket], today: date) -> None:
    """Rows in a stable order with explicit ids, written in bulk: ticket ids do not move between rebuilds."""
    for ticket in tickets:
        ticket.entries.sort(key=lambda e: (e.sent_at, e.sha256 or "", e.note_id or 0))
    tickets.sort(key=lambda t: (t.entries[0].sent_at, t.entries[0].sha256 or "", t.entries[0].note_id or 0))
    ticket_rows: list[dict[str, Any]] = []
    key_rows: list[dict[str, Any]] = []
    message_rows: list[dict[str, Any]] = []
    promise_rows: list[dict[str, Any]] = []
    for ticket_id, ticket in zip(_ticket_ids(db, tickets), tickets, strict=True):
        entries = ticket.entries
        requests = [r for e in entries for r in e.requests]
        ticket_rows.append(
            {
                "id": ticket_id,
                "provider": ticket.provider or ticket.guessed_provider,
                "ticket_ref": ticket.ticket_ref,
                "subject": ticket.subject,
                "status": ticket_status(entries, today),
                "opened_at": entries[0].sent_at,
                "last_activity_at": entries[-1].sent_at,
                "correspondent": ticket.correspondent,
                "resolution_requested": "\n".join(dict.fromkeys(requests)) or None,
                "messages": len(entries),
            }
        )
        seen_keys: set[str] = set()
        for key, kind, sha in ticket.keys:
            if key not in seen_keys:
                seen_keys.add(key)
                key_rows.append(
                    {
                        "id": len(key_rows) + 1,
                        "ticket_id": ticket_id,
                        "key": key,
                        "kind": kind,
                        "message_sha256": sha,
                    }
                )
        for position, entry in enumerate(entries):
            row_id = len(message_rows) + 1
            message_rows.append(
                {
                    "id": row_id,
                    "ticket_id": ticket_id,
                    "message_sha256": entry.sha256,
                    "sent_at": entry.sent_at,
                    "direction": entry.direction,
                    "channel": entry.channel,
                    "agent_name": entry.agent_name,
                    "body": entry.body,
                    "auto_ack": int(entry.auto_ack),
                    "manual_note_id": entry.note_id,
                    "joined_by": entry.joined_by,
                    "requested": "\n".join(entry.requests) or None,
                }
            )
            for promise in entry.promises:
                promise_rows.append(
                    {
                        "id": len(promise_rows) + 1,
                        "ticket_message_id": row_id,
                        "text": promise.text,
                        "due_on": promise.due_on,
                        "status": promise_status(position, promise.due_on, entries, today),
                        "kept_on": promise_kept_on(position, entries),
                    }
                )
    for table, rows in (
        ("tickets", ticket_rows),
        ("ticket_keys", key_rows),
        ("ticket_messages", message_rows),
        ("promises", promise_rows),
    ):
        if rows:
            db.table(table).insert_all(rows, batch_size=500)


def note_time(text: str) -> str:
    """'2026-03-03 10:02' (Paris local time, as a person notes it) -> ISO-8601 UTC."""
    from zoneinfo import ZoneInfo

    value = datetime.fromisoformat(text.strip().replace("T", " "))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo("Europe/Paris"))
    return value.astimezone(UTC).isoformat(timespec="seconds")


def add_note(
    db: Database,
    *,
    provider: str,
    channel: str,
    at: str,
    text: str,
    agent: str | None = None,
    direction: str | None = None,
    promise: str | None = None,
    due_on: str | None = None,
    ticket_ref: str | None = None,
) -> int:
    """Record a manual note and rebuild the journal so it shows at once; returns the note id."""
    from datetime import date as _date

    if due_on:
        _date.fromisoformat(due_on)  # raises ValueError on a bad date
    if promise and not due_on:
        from extractors.support.promises import due_from_date, due_from_delay

        sent_on = local_date(at)
        if sent_on:
            due = due_from_delay(promise, sent_on) or due_from_date(promise, sent_on)
            due_on = due.isoformat() if due else None
    with db.atomic():
        note_id = (
            db.table("manual_notes")
            .insert(
                {
                    "provider": provider,
                    "ticket_ref": ticket_ref,
                    "channel": channel,
                    "at": at,
                    "direction": direction or ("inbound" if agent else "outbound"),
                    "agent_name": agent,
                    "body": text,
                    "promise_text": promise,
                    "due_on": due_on,
                    "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                }
            )
            .last_pk
        )
        rebuild_journal(db)
    return int(note_id)
