"""`subtrail reprocess` throughput on a generated mailbox (target: >= 3,000 messages/s, issue #19).

Usage: python bench/bench_reprocess.py [--messages 6000] [--workers N]

The mailbox is made from the main set of labelled extraction fixtures (tests/extract_fixtures.py):
each copy gets its own Message-ID and one of 50 account addresses, so the run
stores distinct messages and builds ~1,500 subscriptions. The import is not timed;
`reprocess_all` (reset, re-parse, re-extract, rewrite events, rebuild the inventory
and every other derived table) is, twice, and the script checks the second run
changed nothing.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import re
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sqlite_utils import Database  # noqa: E402

from extractors import Identity  # noqa: E402
from ingest.pipeline.importer import import_paths  # noqa: E402
from ingest.pipeline.reprocess import reprocess_all  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402
from tests.extract_fixtures import fixtures  # noqa: E402

CORES = min(os.cpu_count() or 1, 8)
IDENTITY = Identity(frozenset({"alice.martin@example.org", "alice@example.org"}))


def generate(target: Path, count: int) -> None:
    """An mbox of `count` messages cycling through the fixtures, each one distinct."""
    sources = [f.raw() for f in fixtures("main")]
    box = mailbox.mbox(str(target), create=True)
    box.lock()
    try:
        for i in range(count):
            raw = sources[i % len(sources)]
            raw = re.sub(
                rb"Message-ID:\s*<([^>]+)>", rb"Message-ID: <\1." + str(i).encode() + rb">", raw, count=1
            )
            raw = raw.replace(b"alice.martin@example.org", f"alice.martin+{i % 50}@example.org".encode())
            box.add(raw)
    finally:
        box.flush()
        box.unlock()


def cpu_seconds() -> float:
    """CPU time of this process and its reaped children (the worker pool is joined after each run)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def snapshot(db: Database) -> tuple[list[tuple], list[tuple]]:
    subs = db.execute("select * from subscriptions order by id").fetchall()
    events = db.execute("select * from subscription_events order by id").fetchall()
    return subs, events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=6000)
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mbox_path = Path(tmp) / "bench.mbox"
        generate(mbox_path, args.messages)
        db = open_db(Path(tmp) / "bench.db")
        started = time.monotonic()
        imported = import_paths(db, [str(mbox_path)], IDENTITY, workers=args.workers, progress=False)
        print(
            f"import: {imported.new} messages in {time.monotonic() - started:.1f}s (not the measured figure)"
        )
        rates, snapshots = [], []
        for run in (1, 2):
            cpu_before = cpu_seconds()
            summary = reprocess_all(db, IDENTITY, workers=args.workers)
            cpu = cpu_seconds() - cpu_before
            rates.append(summary.messages / summary.seconds if summary.seconds else 0.0)
            snapshots.append(snapshot(db))
            print(
                f"reprocess run {run}: {summary.messages} messages in {summary.seconds:.2f}s = {rates[-1]:,.0f} msg/s "
                f"wall; CPU {cpu * 1000 / summary.messages:.2f} ms/msg (parent + workers) = "
                f"{summary.messages / cpu * CORES:,.0f} msg/s on {CORES} idle cores (upper bound)"
            )
        print(
            f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (other work slows the wall clock)"
        )
        unchanged = snapshots[0] == snapshots[1]
        print(
            f"subscriptions: {db['subscriptions'].count}, events: {db['subscription_events'].count}, "
            f"second run changed nothing: {unchanged}"
        )
        print(f"reprocess throughput (best of 2, wall clock): {max(rates):,.0f} msg/s (target 3,000)")
        db.close()
    return 0 if unchanged else 1


if __name__ == "__main__":
    raise SystemExit(main())
