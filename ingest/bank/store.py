"""Writing statement lines: each bank line once, whatever file or format it was read from.

Statements overlap (a monthly export, then a quarterly one) and one account is often exported
in two formats (CSV for a spreadsheet, OFX for accounting software). So, in one transaction:

1. the account: a file's account number (IBAN, OFX ACCTID) that names an account already
   stored (`accounts.same_account`) files the lines under that account's name;
2. each line is looked for among the stored lines of its account, day, amount and currency:
   by its re-import key (`txn_key`: the same line of the same kind of file again) or its OFX
   FITID, then by its label (the same line from the other format: labels equal once
   compacted, the same merchant, or one cut short of the other, as OFX cuts NAME at 32
   characters). Each stored line answers for one line of a file only, so two coffees on one
   day stay two;
3. the rest is inserted; the unique index on `txn_key` is the backstop.

`save_statement` also keeps the file itself in `bank_statements` (by sha256): a line dropped
as already stored is still in its file there.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from sqlite_utils import Database

from ingest.bank import Transaction
from ingest.bank.accounts import compact, same_account
from ingest.bank.merchants import clean, normalise
from ingest.store import now_iso

if TYPE_CHECKING:  # the readers (ofxtools) stay out of the migration that imports this module
    from ingest.bank.statements import Statement

Group = tuple[str, str, int, str]  # account, booked_on, amount_minor, currency
MIN_PREFIX = 8  # a label cut to fewer characters says too little to be the same line


@dataclass
class SaveResult:
    new: int = 0
    duplicates: int = 0
    accounts: list[str] = field(default_factory=list)  # the names the lines were filed under


@dataclass
class _Stored:
    id: int
    label: str
    txn_key: str
    fitid: str | None


def save_statement(db: Database, statement: Statement) -> SaveResult:
    """Save a statement's lines and keep the file as evidence (a file already kept is a no-op)."""
    with db.atomic():
        result = save_transactions(db, statement.transactions)
        if statement.raw:
            days = sorted(t.booked_on for t in statement.transactions)
            numbers = sorted({t.account_number for t in statement.transactions if t.account_number})
            db.conn.execute(
                """insert or ignore into bank_statements
                   (sha256, name, kind, account, account_number, first_on, last_on, lines, raw, imported_at)
                   values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (hashlib.sha256(statement.raw).hexdigest(), statement.name, statement.kind,
                 ", ".join(result.accounts) or statement.account, ", ".join(numbers) or None,
                 days[0] if days else None, days[-1] if days else None, len(statement.transactions),
                 statement.raw, now_iso()),
            )  # fmt: skip
    return result


def save_transactions(db: Database, transactions: Iterable[Transaction]) -> SaveResult:
    """Insert the lines not stored yet, in one transaction; the rest count as duplicates."""
    with db.atomic():
        txns = resolve_accounts(db, list(transactions))
        fresh, fitids = _not_stored(db, txns)
        rows = []
        for t in fresh:
            merchant = normalise(t.label)
            rows.append(
                (t.account, t.account_number, t.booked_on, t.label, t.amount_minor, t.currency, t.source,
                 t.key, t.fitid, t.line, merchant.name, merchant.provider, now_iso())
            )  # fmt: skip
        before = db.conn.total_changes
        db.conn.executemany(
            """insert or ignore into bank_transactions
               (account, account_number, booked_on, label, amount_minor, currency, source, txn_key, fitid,
                source_line, merchant, provider, imported_at)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
        new = db.conn.total_changes - before
        # A CSV line found again in an OFX file learns its FITID: the OFX's next import finds it by that.
        db.conn.executemany("update bank_transactions set fitid = ? where id = ? and fitid is null", fitids)
    return SaveResult(new=new, duplicates=len(txns) - new, accounts=sorted({t.account for t in txns}))


def resolve_accounts(db: Database, txns: list[Transaction]) -> list[Transaction]:
    """File each line under the stored account its account number names, if there is one."""
    numbered = {(t.account, t.account_number) for t in txns if t.account_number}
    if not numbered:
        return txns
    stored = db.execute(
        """select account, account_number from bank_transactions
           group by account, account_number order by min(id)"""
    ).fetchall()
    names = {account for account, _ in stored}
    renamed: dict[tuple[str, str | None], str] = {}
    for account, number in numbered:
        if account in names:
            continue  # already a stored account's name: the user's or this number's own
        for stored_account, stored_number in stored:  # older rows have no number: their name was it
            if same_account(number, stored_number or stored_account):
                renamed[(account, number)] = stored_account
                break
    if not renamed:
        return txns
    return [
        replace(t, account=renamed[(t.account, t.account_number)])
        if (t.account, t.account_number) in renamed
        else t
        for t in txns
    ]


def _not_stored(db: Database, txns: list[Transaction]) -> tuple[list[Transaction], list[tuple[str, int]]]:
    """The lines of `txns` with no stored counterpart, and (FITID, id) for counterparts lacking one."""
    if not txns:
        return [], []
    found = _match(_stored_lines(db, txns), txns)
    fresh = [t for t, row in zip(txns, found, strict=True) if row is None]
    fitids = [
        (t.fitid, row.id) for t, row in zip(txns, found, strict=True) if row and t.fitid and not row.fitid
    ]
    return fresh, fitids


def _group(t: Transaction) -> Group:
    return (t.account, t.booked_on, t.amount_minor, t.currency)


def _match(pool: dict[Group, list[_Stored]], txns: list[Transaction]) -> list[_Stored | None]:
    """For each line of one file, the stored line it is, or None; a stored line answers once."""
    found: list[_Stored | None] = [None] * len(txns)
    claimed: set[int] = set()
    pending = []
    for i, t in enumerate(txns):  # the same line of the same kind of file: its key, or its FITID
        row = next(
            (
                r
                for r in pool.get(_group(t), [])
                if r.id not in claimed and (r.txn_key == t.key or (t.fitid and r.fitid == t.fitid))
            ),
            None,
        )
        if row is None:
            pending.append(i)
        else:
            claimed.add(row.id)
            found[i] = row
    for same in _LABEL_TESTS:  # then from the other format, the closest wording first
        left = []
        for i in pending:
            t = txns[i]
            candidates = pool.get(_group(t), [])
            row = next((r for r in candidates if r.id not in claimed and same(t.label, r.label)), None)
            if row is None:
                left.append(i)
            else:
                claimed.add(row.id)
                found[i] = row
        pending = left
    return found


def _stored_lines(db: Database, txns: list[Transaction]) -> dict[Group, list[_Stored]]:
    accounts = sorted({t.account for t in txns})
    days = sorted(t.booked_on for t in txns)
    marks = ", ".join("?" for _ in accounts)
    pool: dict[Group, list[_Stored]] = defaultdict(list)
    for row in db.execute(
        f"""select id, account, booked_on, amount_minor, currency, label, txn_key, fitid
            from bank_transactions where account in ({marks}) and booked_on between ? and ?
            order by id""",
        [*accounts, days[0], days[-1]],
    ):
        pool[(row[1], row[2], row[3], row[4])].append(_Stored(row[0], row[5] or "", row[6] or "", row[7]))
    return pool


def merge_stored_twice(db: Database) -> int:
    """Repair lines stored before formats were tied (one account as CSV and as OFX, stored twice).

    The accounts that are one by their numbers get the oldest one's name; then the files are
    replayed in the order they were imported, each matched against the lines kept from the files
    before it, as `save_transactions` matches a new file. A line found again goes (its FITID is
    kept on the line that stays). Recurring charges are rebuilt by the next import. Returns the
    number of lines removed.
    """
    _merge_numbered_accounts(db)
    files: dict[str, list[tuple[int, Transaction]]] = {}
    for row in db.execute(
        """select id, account, booked_on, label, amount_minor, currency, source, txn_key, fitid
           from bank_transactions order by id"""
    ):
        t = Transaction(row[1], row[2], row[3] or "", row[4], row[5], row[6] or "", row[7] or "", row[8])
        files.setdefault(t.source, []).append((row[0], t))
    pool: dict[Group, list[_Stored]] = defaultdict(list)
    gone: list[tuple[int]] = []
    fitids: list[tuple[str, int]] = []
    for lines in files.values():
        found = _match(pool, [t for _, t in lines])
        for (row_id, t), row in zip(lines, found, strict=True):
            if row is None:
                pool[_group(t)].append(_Stored(row_id, t.label, t.key, t.fitid))
                continue
            gone.append((row_id,))
            if t.fitid and not row.fitid:
                row.fitid = t.fitid
                fitids.append((t.fitid, row.id))
    db.conn.executemany("delete from bank_transactions where id = ?", gone)
    db.conn.executemany("update bank_transactions set fitid = ? where id = ? and fitid is null", fitids)
    return len(gone)


def _merge_numbered_accounts(db: Database) -> None:
    """Rename each account whose number names an older account to that account's name."""
    stored = db.execute(
        """select account, coalesce(account_number, account) from bank_transactions
           group by account order by min(id)"""
    ).fetchall()
    kept: list[tuple[str, str]] = []
    for account, number in stored:
        older = next((name for name, known in kept if same_account(number, known)), None)
        if older is None:
            kept.append((account, number))
            continue
        for table in ("bank_transactions", "bank_statements"):
            db.execute(f"update {table} set account = ? where account = ?", [older, account])


def _same_words(a: str, b: str) -> bool:
    return compact(a) == compact(b)


def _same_merchant(a: str, b: str) -> bool:
    return normalise(a).name == normalise(b).name


def _cut_short(a: str, b: str) -> bool:
    """One label is the start of the other (a format that cuts labels), as written or once cleaned."""
    for x, y in ((compact(a), compact(b)), (clean(a)[0], clean(b)[0])):
        short, long = sorted((x, y), key=len)
        if len(short) >= MIN_PREFIX and long.startswith(short):
            return True
    return False


_LABEL_TESTS: tuple[Callable[[str, str], bool], ...] = (_same_words, _same_merchant, _cut_short)
