"""Writing statement lines: one transaction per file, duplicates ignored by `txn_key`.

Statements overlap (a monthly export, then a quarterly one), so every line has
a key that is the same whenever the same line is read again; the unique index
on `bank_transactions.txn_key` turns a repeated line into a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from ingest.bank import Transaction
from ingest.bank.merchants import normalise
from ingest.store import now_iso


@dataclass
class SaveResult:
    new: int = 0
    duplicates: int = 0


def save_transactions(db: Database, transactions: Iterable[Transaction]) -> SaveResult:
    """Insert the lines not stored yet, in one transaction; the rest count as duplicates."""
    rows = []
    for t in transactions:
        merchant = normalise(t.label)
        rows.append(
            (t.account, t.booked_on, t.label, t.amount_minor, t.currency, t.source, t.key, t.fitid, t.line,
             merchant.name, merchant.provider, now_iso())
        )  # fmt: skip
    with db.atomic():
        before = db.conn.total_changes
        db.conn.executemany(
            """insert or ignore into bank_transactions
               (account, booked_on, label, amount_minor, currency, source, txn_key, fitid, source_line,
                merchant, provider, imported_at)
               values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
        new = db.conn.total_changes - before
    return SaveResult(new=new, duplicates=len(rows) - new)
