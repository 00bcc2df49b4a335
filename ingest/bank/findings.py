"""What the bank statements say that a person should act on, read once for every place that shows it.

The overview page, `subtrail status` and the dossier all show the same three findings from the
views in `ingest.bank.views`: recurring debits no mail explains (a forgotten subscription),
debits after a confirmed cancellation (money to claim back) and debits that differ from the
price the mail announced. Functions of a `sqlite3.Connection`, so Datasette's read-only
connection and the command line read them the same way; formatting is the caller's job.
"""

from __future__ import annotations

import sqlite3
from typing import Any

LIMIT = 10


def _rows(conn: sqlite3.Connection, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    cursor = conn.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def has_statements(conn: sqlite3.Connection) -> bool:
    """True once a statement was imported (the views exist and hold something to compare)."""
    if not conn.execute("select 1 from sqlite_master where name = 'bank_transactions'").fetchone():
        return False
    return conn.execute("select 1 from bank_transactions limit 1").fetchone() is not None


def bank_findings(
    conn: sqlite3.Connection, provider: str | None = None, limit: int = LIMIT
) -> dict[str, list[dict[str, Any]]]:
    """The three findings, each list at most `limit` long; `provider` keeps one provider's (the dossier).

    Empty (no keys) without statements, so a page can tell "no statement" from "nothing to act on".
    """
    if not has_statements(conn):
        return {}
    where, params = ("where provider = ?", [provider]) if provider else ("", [])
    active = "active = 1" + (" and provider = ?" if provider else "")
    return {
        "unknown": _rows(
            conn, f"select * from bank_unknown_recurring where {active} limit ?", [*params, limit]
        ),
        "after_cancellation": _rows(
            conn, f"select * from bank_charges_after_cancellation {where} limit ?", [*params, limit]
        ),
        "price_mismatches": [
            {**row, "announced_by": _announced_by(conn, row["subscription_id"])}
            for row in _rows(conn, f"select * from bank_price_mismatches {where} limit ?", [*params, limit])
        ],
    }


def _announced_by(conn: sqlite3.Connection, subscription_id: int | None) -> str:
    """Whose price the debit is compared with: "you" when the user entered it (added by hand or a
    corrected amount), else "mail"; a sentence must not say the mail announced a price it never showed."""
    row = conn.execute(
        "select corrected, added_by_correction from subscriptions where id = ?", [subscription_id]
    ).fetchone()
    if row and (row[1] is not None or '"amount"' in (row[0] or "")):
        return "you"
    return "mail"


def provider_debits(conn: sqlite3.Connection, provider: str, limit: int = 12) -> dict[str, Any]:
    """One provider's recurring series and latest debits: the dossier's evidence when no mail exists."""
    if not has_statements(conn):
        return {"series": [], "debits": []}
    series = _rows(
        conn,
        """select id, account, merchant, billing_period, amount_minor, currency, occurrences, first_on,
                  last_on, next_expected_on, status, subscription_id
             from recurring_charges where provider = ? order by last_on desc, id""",
        [provider],
    )
    debits = _rows(
        conn,
        """select id, account, booked_on, label, -amount_minor as amount_minor, currency, source
             from bank_transactions where provider = ? and amount_minor < 0
            order by booked_on desc, id desc limit ?""",
        [provider, limit],
    )
    return {"series": series, "debits": debits}
