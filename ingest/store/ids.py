"""Ids that stay put: the id recorded for each natural key, kept across rebuilds and reprocessing.

Tickets and subscriptions are derived and rebuilt, but people quote their ids ("ticket 4") and
links carry them (`ticket_timeline?ticket=4`). `stable_ids` remembers which id each key got (a
subscription's `provider|account`, each message or note of a ticket), so a rebuild reuses it;
a new key gets an id never used before, so an old link never lands on another case.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlite_utils import Database


def recorded_ids(db: Database, kind: str) -> dict[str, int]:
    """key -> id for every key of `kind` ever given an id."""
    return dict(db.execute("select key, id from stable_ids where kind = ?", [kind]).fetchall())


def remember_ids(db: Database, kind: str, pairs: Iterable[tuple[str, int]]) -> None:
    """Record (key, id) pairs; a key's latest id wins (a message that moved to another ticket)."""
    db.conn.executemany(
        "insert into stable_ids (kind, key, id) values (?, ?, ?) "
        "on conflict (kind, key) do update set id = excluded.id",
        ((kind, key, id_) for key, id_ in pairs),
    )


def next_free_id(db: Database, kind: str, table: str) -> int:
    """An id no key of `kind` and no row of `table` ever had."""
    recorded = db.execute("select max(id) from stable_ids where kind = ?", [kind]).fetchone()[0]
    present = db.execute(f"select max(id) from [{table}]").fetchone()[0]
    return max(recorded or 0, present or 0) + 1
