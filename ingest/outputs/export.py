"""`subtrail export evidence`: the journal and the inventory as a CSV, or a verifiable ZIP bundle.

The CSV has one row per exchange (`ticket_messages`), per subscription fact
(`subscription_events`) and per statement the user made (`corrections`: who and
when, in words), in time order, each pointing at the stored message that proves it
(Message-ID, sha256, where the mailbox held it). `date_time` stays UTC, as stored;
`date_time_local` beside it is the reader's clock (the `timezone` setting), and a
date without time is a local date in both. Headings are in the reader's language
(English keeps the column names scripts rely on). Cells are neutralised against
spreadsheet formula injection: mail content is written by strangers.

The ZIP adds every raw message exactly as stored (named by date and short hash),
a `SHA256SUMS` that `sha256sum -c SHA256SUMS` verifies, and a README. The same
database and filters give the same bytes: rows and entries are sorted, the zip
timestamps and permissions are fixed, and nothing depends on the clock.

A letter cites bank debits too ("11.99 EUR on 26 October"), so with bank statements imported
each debit of the provider is a row (`bank debit`: the line's day, amount and label, its sha256
the statement file's) and the ZIP holds those statement files under `bank/`, byte-exact as
`subtrail bank import` kept them. Without statements none of this appears: the bytes of before.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from babel.numbers import get_currency_precision
from sqlite_utils import Database

from ingest.outputs.humanize import N_, Humanizer

CSV_COLUMNS = (
    "date_time", "date_time_local", "record", "provider", "ticket_ref", "direction", "channel", "agent", "subject",
    "text", "promises", "event_type", "amount", "currency", "billing_period",
    "message_id", "sha256", "location",
)  # fmt: skip
# The heading of each column: the English heading is the column's name (scripts read it), other
# languages translate it through the catalogue.
HEADINGS = {
    "date_time": N_("date_time"), "date_time_local": N_("date_time_local"), "record": N_("record"),
    "provider": N_("provider"), "ticket_ref": N_("ticket_ref"), "direction": N_("direction"),
    "channel": N_("channel"), "agent": N_("agent"), "subject": N_("subject"), "text": N_("text"),
    "promises": N_("promises"), "event_type": N_("event_type"), "amount": N_("amount"),
    "currency": N_("currency"), "billing_period": N_("billing_period"), "message_id": N_("message_id"),
    "sha256": N_("sha256"), "location": N_("location"),
}  # fmt: skip
CSV_NAME = "evidence.csv"
BANK_RECORD = "bank debit"
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold: no clock in the bytes
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


class ExportError(ValueError):
    """The export cannot be made as asked (unknown ticket, bad date); the message says why."""


@dataclass(frozen=True)
class Filters:
    provider: str | None = None
    ticket: str | None = None
    since: str | None = None  # YYYY-MM-DD, inclusive
    until: str | None = None  # YYYY-MM-DD, inclusive

    def describe(self, h: Humanizer | None = None) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v]
        return ", ".join(parts) or (h or Humanizer()).gettext("none (everything)")


def neutralise(value: Any) -> str:
    """A cell a spreadsheet will never evaluate: formula-looking text gets a leading apostrophe.

    Plain numbers (`-12.50`) are left as they are so sums still work.
    """
    if value is None:
        return ""
    text = str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def format_amount(amount_minor: int | None, currency: str | None) -> str:
    """1349, EUR -> "13.49": decimal point, the currency's own number of decimals."""
    if amount_minor is None:
        return ""
    digits = get_currency_precision(currency) if currency else 2
    if digits == 0:
        return str(amount_minor)
    sign = "-" if amount_minor < 0 else ""
    whole, frac = divmod(abs(amount_minor), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def _check_date(value: str | None, name: str) -> None:
    """A real calendar day (2026-13-01 is not one), written YYYY-MM-DD."""
    try:
        ok = (
            bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value or ""))
            and date.fromisoformat(value or "") is not None
        )
    except ValueError:
        ok = False
    if value and not ok:
        raise ExportError(f"--{name} must be a date YYYY-MM-DD, not {value!r}")


def _ticket_ids(db: Database, ref: str) -> list[int]:
    ids = [r[0] for r in db.execute("select id from tickets where ticket_ref = ? order by id", [ref])]
    if not ids and ref.lstrip("#").isdigit():
        ids = [r[0] for r in db.execute("select id from tickets where id = ?", [int(ref.lstrip("#"))])]
    if not ids:
        raise ExportError(f"no ticket with reference {ref!r} (see: select ticket_ref from tickets)")
    return ids


def _locations(db: Database, shas: Iterable[str]) -> dict[str, str]:
    """sha256 -> "account/folder/UID; ..." for every place each message was seen, sorted."""
    places: dict[str, list[str]] = {}
    wanted = sorted(set(shas))
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for row in db.query(
            f"""select sha256, account, folder, uid, path from message_locations
                where sha256 in ({",".join("?" * len(chunk))}) order by sha256, account, folder, uid, path""",
            chunk,
        ):
            # IMAP: account/folder/UID; a file import: account/path (its folder is the path's directory)
            account = row["account"] or ""
            uid = row["uid"]
            where = (
                f"{account}/{row['folder'] or ''}/{uid}"
                if uid is not None
                else f"{account}/{row['path'] or row['folder'] or ''}"
            )
            places.setdefault(row["sha256"], []).append(where)
    return {sha: "; ".join(dict.fromkeys(items)) for sha, items in places.items()}


def _in_range(stamp: str | None, filters: Filters) -> bool:
    day = (stamp or "")[:10]
    if filters.since and (not day or day < filters.since):
        return False
    if filters.until and (not day or day > filters.until):
        return False
    return True


def _promises(db: Database) -> dict[int, str]:
    out: dict[int, list[str]] = {}
    for tm_id, text, due, status in db.execute(
        "select ticket_message_id, text, due_on, status from promises order by ticket_message_id, due_on, id"
    ):
        due_part = f" (due {due})" if due else ""
        out.setdefault(tm_id, []).append(f"{text}{due_part}: {status or 'pending'}")
    return {k: " | ".join(v) for k, v in out.items()}


def _exchanges(db: Database, filters: Filters) -> list[dict[str, Any]]:
    where, params = ["1 = 1"], []
    if filters.provider:
        where.append("t.provider = ?")
        params.append(filters.provider)
    if filters.ticket:
        ids = _ticket_ids(db, filters.ticket)
        where.append(f"t.id in ({','.join('?' * len(ids))})")
        params.extend(ids)
    promises = _promises(db)
    rows = []
    for r in db.query(
        f"""select tm.id, coalesce(tm.sent_at, m.date) as date_time, tm.direction, tm.channel,
                   tm.agent_name as agent, tm.body as text, tm.message_sha256 as sha256, t.provider,
                   t.ticket_ref, coalesce(m.subject, t.subject) as subject, m.message_id
            from ticket_messages tm join tickets t on t.id = tm.ticket_id
            left join messages m on m.sha256 = tm.message_sha256
            where {" and ".join(where)}""",
        params,
    ):
        rows.append({**r, "record": "exchange", "promises": promises.get(r.pop("id"), "")})
    return rows


def _events(db: Database, filters: Filters) -> list[dict[str, Any]]:
    where, params = ("s.provider = ?", [filters.provider]) if filters.provider else ("1 = 1", [])
    rows = []
    for r in db.query(
        f"""select e.event_type, e.occurred_on, e.amount_minor, e.currency, e.billing_period,
                   e.message_sha256 as sha256, s.provider, m.subject, m.message_id, m.date, m.direction
            from subscription_events e join subscriptions s on s.id = e.subscription_id
            left join messages m on m.sha256 = e.message_sha256
            where {where}""",
        params,
    ):
        occurred, mdate = r.pop("occurred_on"), r.pop("date")
        # The message's time when it is the day the fact happened; otherwise the fact's own day.
        r["date_time"] = mdate if mdate and occurred and mdate.startswith(occurred) else (occurred or mdate)
        r["amount"] = format_amount(r.pop("amount_minor"), r["currency"])
        r["channel"] = "email" if r["sha256"] else None
        rows.append({**r, "record": "subscription_event"})
    return rows


def _corrections(db: Database, filters: Filters, h: Humanizer) -> list[dict[str, Any]]:
    """The user's statements, each in words with who and when; no mail proves them, the user does."""
    where, params = ("s.provider = ?", [filters.provider]) if filters.provider else ("1 = 1", [])
    rows = []
    for r in db.query(
        f"""select c.*, s.provider, coalesce(s.service_name, s.provider) as name
              from corrections c join subscriptions s
                on s.id = coalesce(c.subscription_id,
                                   (select id from subscriptions where added_by_correction = c.id))
             where {where}""",
        params,
    ):
        rows.append(
            {"date_time": r["at"], "record": "correction", "provider": r["provider"], "subject": r["name"],
             "text": h.statement(r), "channel": r.get("source"), "sha256": None}
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class _StatementFile:
    sha256: str
    source: str  # as the lines name their file: "csv:NAME", "ofx:NAME"
    first_on: str
    last_on: str
    entry: str  # its name in the ZIP


def bank_entry(sha256: str, name: str | None) -> str:
    """`bank/c2270c255684_releve.csv`: unique by hash (two exports may share a name), safe on every OS."""
    safe = re.sub(r"[^\w.-]+", "_", name or "") or "statement"
    return f"bank/{sha256[:12]}_{safe}"


def _statement_files(db: Database) -> list[_StatementFile]:
    return [
        _StatementFile(sha, f"{kind}:{name}", first or "", last or "9999", bank_entry(sha, name))
        for sha, kind, name, first, last in db.execute(
            "select sha256, kind, name, first_on, last_on from bank_statements order by imported_at, sha256"
        )
    ]


def _bank_debits(db: Database, filters: Filters) -> list[dict[str, Any]]:
    """The provider's debits (by the series' subscription, else the merchant), each with the file it came from."""
    if "bank_transactions" not in db.table_names():
        return []
    files = _statement_files(db) if "bank_statements" in db.table_names() else []
    provider = "coalesce(s.provider, t.provider)"
    where, params = (
        (f"{provider} = ?", [filters.provider]) if filters.provider else (f"{provider} is not null", [])
    )
    rows = []
    for r in db.query(
        f"""select t.booked_on, t.label, t.amount_minor, t.currency, t.account, t.source, t.source_line,
                   {provider} as provider
            from bank_transactions t
            left join recurring_charges rc on rc.id = t.recurring_charge_id
            left join subscriptions s on s.id = rc.subscription_id
            where t.amount_minor < 0 and {where}""",
        params,
    ):
        day = r["booked_on"]
        kept = next((f for f in files if f.source == r["source"] and f.first_on <= day <= f.last_on), None)
        line = f":{r['source_line']}" if r["source_line"] is not None else ""
        rows.append(
            {"date_time": day, "record": BANK_RECORD, "provider": r["provider"], "channel": "bank",
             "subject": r["label"], "amount": format_amount(r["amount_minor"], r["currency"]),
             "currency": r["currency"], "sha256": kept.sha256 if kept else None,
             "location": f"{r['account']}/{kept.entry}{line}" if kept else r["account"]}
        )  # fmt: skip
    return rows


def evidence_rows(
    db: Database, filters: Filters = Filters(), h: Humanizer | None = None
) -> list[dict[str, Any]]:
    """The rows of the evidence CSV (not yet neutralised), sorted by time, then kind, then every column.

    A ticket filter selects exchanges only: subscription events, corrections and bank debits belong
    to no ticket.
    `h` is the reader (their clock for `date_time_local`, their words for the statements).
    """
    h = h or Humanizer()
    _check_date(filters.since, "since")
    _check_date(filters.until, "until")
    rows = _exchanges(db, filters)
    if not filters.ticket:
        rows += _events(db, filters) + _corrections(db, filters, h) + _bank_debits(db, filters)
    rows = [r for r in rows if _in_range(r["date_time"], filters)]
    locations = _locations(db, (r["sha256"] for r in rows if r["sha256"] and r["record"] != BANK_RECORD))
    for row in rows:
        if row["record"] != BANK_RECORD:  # a bank line's place is its statement file, set above
            row["location"] = locations.get(row["sha256"] or "", "")
        row["date_time_local"] = h.local_iso(row["date_time"])
    rows.sort(key=lambda r: tuple(str(r.get(c) or "") for c in ("date_time", "record", *CSV_COLUMNS)))
    return rows


def render_csv(rows: Iterable[dict[str, Any]], bom: bool = False, h: Humanizer | None = None) -> bytes:
    """UTF-8 CSV with RFC 4180 line ends; `bom` makes Excel read it as UTF-8 (LibreOffice asks for the charset)."""
    h = h or Humanizer()
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([h.gettext(HEADINGS[c]) for c in CSV_COLUMNS])
    for row in rows:
        writer.writerow([neutralise(row.get(c)) for c in CSV_COLUMNS])
    return (("\ufeff" if bom else "") + out.getvalue()).encode("utf-8")


def eml_name(date: str | None, sha256: str) -> str:
    """`messages/20260301T100200Z_ab12cd34ef56.eml`: sorts by date, unique by hash, safe on every OS."""
    stamp = re.sub(r"[^0-9T]", "", (date or "")[:19]) + "Z" if date else "undated"
    return f"messages/{stamp}_{sha256[:12]}.eml"


# In the reader's language through the catalogue (the English text is the msgid).
README_TEMPLATE = N_("""\
subtrail evidence bundle
========================

Filters: {filters}
Records: {records} rows in {csv_name} ({exchanges} exchanges, {events} subscription events, {corrections} of your statements)
Messages: {messages} raw e-mails in messages/, byte-exact as received
{bank_summary}
{csv_name}
  One row per exchange with customer service, per subscription fact and per
  correction you made, in time order. "date_time" is UTC, "date_time_local" your
  time zone ({timezone}). "sha256" is the SHA-256 of the raw e-mail that proves the
  row; the file messages/<date>_<first 12 hex digits of sha256>.eml holds those
  exact bytes. Cells that a spreadsheet could read as a formula start with an
  apostrophe (').

messages/*.eml
  Open them with any mail program. Their headers (Received, DKIM-Signature)
  are as the mail server delivered them.

{bank_files}SHA256SUMS
  The SHA-256 of every other file here. To check that nothing was changed:
      sha256sum -c SHA256SUMS          (Linux; macOS: shasum -a 256 -c SHA256SUMS)
  The name of each .eml file contains the start of its own hash, as stored by
  subtrail when the message was first imported.

Generated by subtrail from the user's own mailbox; the same data gives the same bytes.
""")
# Filled into README_TEMPLATE only when bank lines are in the bundle (otherwise empty: the same bytes).
README_BANK_SUMMARY = N_(
    "Bank debits in {csv_name}: {debits}; their statement files in bank/, byte-exact as imported: {statements}\n"
)
README_BANK_FILES = N_("""\
bank/*
  The bank statements you imported (subtrail bank import), byte-exact. Each
  "bank debit" row gives its account, file and line in "location"; its "sha256"
  is that file's.

""")


def _zip_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # Unix, whatever the machine
    info.external_attr = 0o100644 << 16
    zf.writestr(info, data, compresslevel=9)


def _raw_statement(db: Database, sha: str) -> tuple[str, bytes]:
    """The ZIP entry and stored bytes of one statement file, refusing bytes that no longer match their hash."""
    found = db.execute("select name, raw from bank_statements where sha256 = ?", [sha]).fetchone()
    name, raw = found if found else (None, None)
    raw = raw if isinstance(raw, bytes) or raw is None else str(raw).encode("utf-8")
    if raw is None or hashlib.sha256(raw).hexdigest() != sha:
        raise ExportError(f"stored bytes of bank statement {sha} are missing or no longer match their hash")
    return bank_entry(sha, name), raw


def _raw_message(db: Database, sha: str) -> tuple[bytes, str | None]:
    """The stored bytes and date of one message, refusing bytes that no longer match their hash."""
    found = db.execute(
        "select r.raw, m.date from raw_messages r left join messages m on m.sha256 = r.sha256 where r.sha256 = ?",
        [sha],
    ).fetchone()
    if found is None:
        raise ExportError(f"raw bytes of message {sha} are missing from the store (run subtrail verify)")
    raw, date = found
    raw = raw if isinstance(raw, bytes) else str(raw).encode("utf-8")
    if hashlib.sha256(raw).hexdigest() != sha:
        raise ExportError(f"stored bytes of message {sha} no longer match their hash (run subtrail verify)")
    return raw, date


def write_zip(
    db: Database,
    rows: list[dict[str, Any]],
    filters: Filters,
    out: BinaryIO,
    bom: bool = False,
    h: Humanizer | None = None,
) -> None:
    """Write the bundle to a seekable `out`: CSV, raw messages, SHA256SUMS, README.txt.

    Entries are sorted and their timestamps fixed. Messages are read twice (to hash,
    then to write) rather than held in memory, so a large export stays small in RAM.
    """
    h = h or Humanizer()
    mails = [r for r in rows if r["record"] != BANK_RECORD]
    debits = [r for r in rows if r["record"] == BANK_RECORD]
    shas = sorted({r["sha256"] for r in mails if r.get("sha256")})
    small: dict[str, bytes] = {CSV_NAME: render_csv(rows, bom=bom, h=h)}
    statements = dict(_raw_statement(db, sha) for sha in sorted({r["sha256"] for r in debits if r["sha256"]}))
    small.update(statements)  # a few statement files: small enough to hold
    small["README.txt"] = (
        h.gettext(README_TEMPLATE)
        .format(
            filters=filters.describe(h),
            records=len(rows),
            exchanges=sum(r["record"] == "exchange" for r in rows),
            events=sum(r["record"] == "subscription_event" for r in rows),
            corrections=sum(r["record"] == "correction" for r in rows),
            messages=len(shas),
            csv_name=CSV_NAME,
            timezone=h.timezone,
            bank_summary=h.gettext(README_BANK_SUMMARY).format(
                debits=len(debits), csv_name=CSV_NAME, statements=len(statements)
            )
            if debits
            else "",
            bank_files=h.gettext(README_BANK_FILES) if statements else "",
        )
        .encode("utf-8")
    )
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in small.items()}
    emls: dict[str, str] = {}  # entry name -> sha256
    for sha in shas:
        _raw, date = _raw_message(db, sha)
        emls[eml_name(date, sha)] = sha
        sums[eml_name(date, sha)] = sha  # verified equal to the bytes' hash by _raw_message
    small["SHA256SUMS"] = "".join(f"{sums[name]}  {name}\n" for name in sorted(sums)).encode("ascii")
    with zipfile.ZipFile(out, "w") as zf:
        for name in sorted([*small, *emls]):
            _zip_entry(zf, name, small[name] if name in small else _raw_message(db, emls[name])[0])


def render_zip(
    db: Database, rows: list[dict[str, Any]], filters: Filters, bom: bool = False, h: Humanizer | None = None
) -> bytes:
    buffer = io.BytesIO()
    write_zip(db, rows, filters, buffer, bom=bom, h=h)
    return buffer.getvalue()


def write_evidence(
    db: Database,
    out: BinaryIO,
    filters: Filters = Filters(),
    fmt: str = "csv",
    bom: bool = False,
    h: Humanizer | None = None,
) -> None:
    """Write the export to `out` (seekable for a ZIP: the bytes must not depend on the target)."""
    rows = evidence_rows(db, filters, h)
    if fmt == "zip":
        write_zip(db, rows, filters, out, bom=bom, h=h)
    elif fmt == "csv":
        out.write(render_csv(rows, bom=bom, h=h))
    else:
        raise ExportError(f"unknown format {fmt!r}: csv or zip")


def export_evidence(
    db: Database,
    filters: Filters = Filters(),
    fmt: str = "csv",
    bom: bool = False,
    h: Humanizer | None = None,
) -> bytes:
    """The export as bytes: `fmt` is "csv" or "zip"; `h` the reader (English and UTC when not given)."""
    buffer = io.BytesIO()
    write_evidence(db, buffer, filters, fmt=fmt, bom=bom, h=h)
    return buffer.getvalue()
