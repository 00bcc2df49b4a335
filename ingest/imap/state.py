"""The poller's rows in the database: `sync_state`, `pending_bodies`, `poll_runs`, gone locations.

Everything here runs inside a caller's transaction (the batch's, in `save_raw_batch`'s
`checkpoint`), except `start_run`/`end_run` which are their own small writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlite_utils import Database

from extractors.relevance import parse_headers
from ingest.store import now_iso


@dataclass
class FolderState:
    """What `sync_state` remembers of one (account, folder)."""

    uidvalidity: int | None = None
    last_uid: int = 0
    highestmodseq: int | None = None
    uidnext: int | None = None
    messages: int | None = None
    relevance_rules: str | None = None  # `extractors.relevance.rules_fingerprint()` of the last complete pass


@dataclass
class PendingBody:
    """A message seen by its headers only (fetch = "relevant")."""

    uid: int
    message_id: str | None
    from_addr: str | None
    subject: str
    date: str | None
    size: int


def load_state(db: Database, account: str, folder: str) -> FolderState | None:
    row = db.execute(
        "select uidvalidity, last_uid, highestmodseq, uidnext, messages, relevance_rules from sync_state "
        "where account = ? and folder = ?",
        [account, folder],
    ).fetchone()
    if row is None:
        return None
    return FolderState(row[0], row[1] or 0, row[2], row[3], row[4], row[5])


def save_progress(db: Database, account: str, folder: str, uidvalidity: int, last_uid: int) -> None:
    """Advance the checkpoint; runs in the same transaction as the messages it covers."""
    db.execute(
        """insert into sync_state (account, folder, uidvalidity, last_uid) values (?, ?, ?, ?)
           on conflict (account, folder) do update set
             uidvalidity = excluded.uidvalidity,
             last_uid = max(coalesce(sync_state.last_uid, 0), excluded.last_uid)""",
        [account, folder, uidvalidity, last_uid],
    )


def save_complete(db: Database, account: str, folder: str, state: FolderState) -> None:
    """A pass reached the end of the folder: remember the STATUS it started from, and when."""
    db.execute(
        """insert into sync_state
             (account, folder, uidvalidity, last_uid, highestmodseq, uidnext, messages, relevance_rules,
              last_success_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?)
           on conflict (account, folder) do update set
             uidvalidity = excluded.uidvalidity,
             last_uid = max(coalesce(sync_state.last_uid, 0), excluded.last_uid),
             highestmodseq = excluded.highestmodseq,
             uidnext = excluded.uidnext,
             messages = excluded.messages,
             relevance_rules = excluded.relevance_rules,
             last_success_at = excluded.last_success_at""",
        [
            account, folder, state.uidvalidity, state.last_uid, state.highestmodseq,
            state.uidnext, state.messages, state.relevance_rules, now_iso(),
        ],
    )  # fmt: skip


def touch_success(db: Database, account: str, folder: str) -> None:
    db.execute(
        "update sync_state set last_success_at = ? where account = ? and folder = ?",
        [now_iso(), account, folder],
    )


def reset_for_uidvalidity(db: Database, account: str, folder: str, uidvalidity: int) -> int:
    """The server renumbered the folder: old (uidvalidity, uid) places no longer exist.

    They are marked gone (the messages stay: they are evidence and will be re-linked by
    hash as the folder is re-scanned) and the checkpoint restarts from UID 0.
    """
    now = now_iso()
    with db.atomic():
        cursor = db.execute(
            "update message_locations set gone_at = ? where account = ? and folder = ? "
            "and uidvalidity is not ? and gone_at is null",
            [now, account, folder, uidvalidity],
        )
        db.execute(
            "update pending_bodies set gone_at = ? where account = ? and folder = ? "
            "and uidvalidity is not ? and gone_at is null",
            [now, account, folder, uidvalidity],
        )
        db.execute(
            "update sync_state set uidvalidity = ?, last_uid = 0, highestmodseq = null, uidnext = null, "
            "messages = null where account = ? and folder = ?",
            [uidvalidity, account, folder],
        )
    return cursor.rowcount


def save_pending(
    db: Database, account: str, folder: str, uidvalidity: int, items: Iterable[PendingBody]
) -> None:
    now = now_iso()
    db.conn.executemany(  # judged (again) not relevant: no longer wanted
        """insert into pending_bodies
           (account, folder, uidvalidity, uid, message_id, from_addr, subject, date, size, seen_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           on conflict (account, folder, uidvalidity, uid) do update set
             body_wanted = null, message_id = excluded.message_id, from_addr = excluded.from_addr,
             subject = excluded.subject, date = excluded.date, size = excluded.size""",
        (
            (account, folder, uidvalidity, p.uid, p.message_id, p.from_addr, p.subject, p.date, p.size, now)
            for p in items
        ),
    )


def pending_uids(
    db: Database, account: str, folder: str, uidvalidity: int | None = None, wanted_only: bool = False
) -> list[int]:
    """UIDs seen header-only and still on the server (any UIDVALIDITY if none is given);
    `wanted_only`: just those whose body we asked for and did not get."""
    sql = "select uid from pending_bodies where account = ? and folder = ? and gone_at is null"
    if wanted_only:
        sql += " and body_wanted = 1"
    params: list[object] = [account, folder]
    if uidvalidity is not None:
        sql += " and uidvalidity = ?"
        params.append(uidvalidity)
    return sorted(r[0] for r in db.execute(sql + " order by uid", params))


def judge_again(db: Database, account: str, folder: str) -> int:
    """The relevance rules changed: every header-only message still on the server is looked at
    again on this pass (headers fetched, decision re-made); returns how many."""
    cursor = db.execute(
        "update pending_bodies set body_wanted = 1 where account = ? and folder = ? and gone_at is null",
        [account, folder],
    )
    return cursor.rowcount


def want_again(db: Database, account: str, folder: str, uidvalidity: int, uids: list[int]) -> None:
    """The server returned no body for these: keep them to fetch on the next pass, never forget them."""
    now = now_iso()
    db.conn.executemany(
        """insert into pending_bodies (account, folder, uidvalidity, uid, subject, size, seen_at, body_wanted)
           values (?, ?, ?, ?, '', 0, ?, 1)
           on conflict (account, folder, uidvalidity, uid) do update set body_wanted = 1""",
        ((account, folder, uidvalidity, uid, now) for uid in uids),
    )


def drop_pending(db: Database, account: str, folder: str, uidvalidity: int, uids: list[int]) -> None:
    """Their bodies are stored now."""
    db.conn.executemany(
        "delete from pending_bodies where account = ? and folder = ? and uidvalidity = ? and uid = ?",
        ((account, folder, uidvalidity, uid) for uid in uids),
    )


def live_uids(db: Database, account: str, folder: str, uidvalidity: int) -> set[int]:
    """UIDs we believe still exist on the server (stored or pending)."""
    rows = db.execute(
        """select uid from message_locations where account = ? and folder = ? and uidvalidity = ?
             and gone_at is null
           union select uid from pending_bodies where account = ? and folder = ? and uidvalidity = ?
             and gone_at is null""",
        [account, folder, uidvalidity] * 2,
    )
    return {r[0] for r in rows}


def mark_gone(db: Database, account: str, folder: str, uidvalidity: int, uids: Iterable[int]) -> int:
    """Deleted on the server: keep the message (evidence), date the disappearance of its place."""
    now = now_iso()
    count = 0
    uid_list = sorted(uids)
    with db.atomic():
        for start in range(0, len(uid_list), 500):
            chunk = uid_list[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for table in ("message_locations", "pending_bodies"):
                cursor = db.execute(
                    f"update {table} set gone_at = ? where account = ? and folder = ? and uidvalidity = ? "
                    f"and gone_at is null and uid in ({marks})",
                    [now, account, folder, uidvalidity, *chunk],
                )
                count += cursor.rowcount if table == "message_locations" else 0
    return count


QUEUED_HEAD_BYTES = 64 * 1024  # more than any header block worth reading for a Message-ID


def queued_message_ids(db: Database) -> set[str]:
    """Message-IDs of messages stored raw but not parsed yet (`parse_queue`: a crash or a stop
    left them), read from the head of their bytes; empty, and free, when the queue is."""
    found: set[str] = set()
    rows = db.execute(
        "select substr(r.raw, 1, ?) from parse_queue q join raw_messages r on r.sha256 = q.sha256",
        [QUEUED_HEAD_BYTES],
    )
    for (head,) in rows:
        if isinstance(head, str):  # raw stored as text by some other writer: read it all the same
            head = head.encode("utf-8", "surrogateescape")
        message_id = parse_headers(head).message_id  # the parser stops at the blank line
        if message_id:
            found.add(message_id)
    return found


def known_message_ids(db: Database, ids: Iterable[str]) -> set[str]:
    ids = list(dict.fromkeys(ids))[:500]
    if not ids:
        return set()
    marks = ",".join("?" * len(ids))
    return {r[0] for r in db.execute(f"select message_id from messages where message_id in ({marks})", ids)}


def start_run(db: Database, account: str, folder: str | None, started_at: str) -> int:
    with db.atomic():
        cursor = db.execute(
            "insert into poll_runs (started_at, account, folder, fetched, skipped, errors, status) "
            "values (?, ?, ?, 0, 0, 0, 'running')",
            [started_at, account, folder],
        )
    return int(cursor.lastrowid or 0)


def end_run(
    db: Database,
    run_id: int,
    status: str,
    fetched: int = 0,
    skipped: int = 0,
    errors: int = 0,
    error: str | None = None,
) -> None:
    with db.atomic():
        db.execute(
            "update poll_runs set ended_at = ?, status = ?, fetched = ?, skipped = ?, errors = ?, error = ? "
            "where id = ?",
            [now_iso(), status, fetched, skipped, errors, error, run_id],
        )
