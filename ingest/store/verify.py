"""Evidence integrity: re-hash every stored raw message and compare with its key.

A raw message whose bytes no longer hash to its `sha256` (or a message row, a
location, an event or a journal entry whose raw bytes are missing) means the
database was altered after the fact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlite_utils import Database


@dataclass
class VerifyReport:
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def verify_store(db: Database) -> VerifyReport:
    report = VerifyReport()
    for sha, raw in db.execute("select sha256, raw from raw_messages order by sha256"):
        report.checked += 1
        if raw is None:
            report.problems.append(f"{sha}: raw bytes missing")
        elif hashlib.sha256(raw if isinstance(raw, bytes) else str(raw).encode()).hexdigest() != sha:
            report.problems.append(f"{sha}: stored bytes hash to something else (modified)")
    for (sha,) in db.execute(
        "select m.sha256 from messages m left join raw_messages r on r.sha256 = m.sha256 where r.sha256 is null"
    ):
        report.problems.append(f"{sha}: message row without raw bytes")
    for (sha,) in db.execute(
        """select r.sha256 from raw_messages r
           where not exists (select 1 from messages m where m.sha256 = r.sha256)
             and not exists (select 1 from parse_queue q where q.sha256 = r.sha256)"""
    ):
        report.problems.append(f"{sha}: raw bytes never processed (no message row, not queued)")
    # A message deleted from both tables still leaves where it was seen and the facts it proved.
    for table, column in _REFERENCES:
        if not db.table(table).exists():
            continue
        for (sha,) in db.execute(
            f"select distinct t.[{column}] from [{table}] t left join raw_messages r on r.sha256 = t.[{column}] "
            f"where t.[{column}] is not null and r.sha256 is null order by 1"
        ):
            report.problems.append(f"{sha}: referenced by {table} but its raw bytes are gone")
    return report


_REFERENCES = (
    ("message_locations", "sha256"),
    ("subscription_events", "message_sha256"),
    ("ticket_messages", "message_sha256"),
)
