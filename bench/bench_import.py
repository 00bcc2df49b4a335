"""Benchmark `subtrail import`: throughput on a generated mailbox and peak memory on a large mbox.

Usage:
    python bench/bench_import.py                    # 5,000 messages, 3 runs, plus a 1 GB mbox memory run
    python bench/bench_import.py --count 2000 --runs 5 --mbox-mb 0
    python bench/bench_import.py --extractors real  # with the real extractors instead of the no-op

Prints medians. Peak memory is the summed PSS (proportional set size) of the importer and
its worker processes, sampled every 50 ms from /proc.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import extractors  # noqa: E402
from bench.mailgen import write_maildir, write_mbox  # noqa: E402
from ingest.pipeline.importer import import_paths  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402


class TreeRssSampler(threading.Thread):
    """Peak of (this process + all its descendants) memory (PSS), in bytes."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = 0
        self.stop = threading.Event()

    @staticmethod
    def _children(pid: int) -> list[int]:
        out: list[int] = []
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as fh:
                    out.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
        return out

    @staticmethod
    def _rss(pid: int) -> int:
        """Proportional set size: pages shared by the forked workers are counted once in all."""
        try:
            with open(f"/proc/{pid}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def run(self) -> None:
        while not self.stop.is_set():
            pids, todo = [], [os.getpid()]
            while todo:
                pid = todo.pop()
                pids.append(pid)
                todo.extend(self._children(pid))
            self.peak = max(self.peak, sum(self._rss(p) for p in pids))
            time.sleep(0.05)


def timed_import(source: Path, workdir: Path, run: int) -> tuple[float, int, int]:
    db_path = workdir / f"run{run}.db"
    db = open_db(db_path)
    sampler = TreeRssSampler()
    sampler.start()
    started = time.perf_counter()
    summary = import_paths(db, [str(source)], progress=False)
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    db.close()
    return elapsed, summary.new, sampler.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000, help="messages in the throughput mailbox")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mbox-mb", type=int, default=1024, help="size of the memory-test mbox (0: skip)")
    parser.add_argument("--extractors", choices=["noop", "real"], default="noop")
    args = parser.parse_args()
    if args.extractors == "noop":
        extractors.extract = lambda parsed, identity: extractors.Extraction()  # type: ignore[assignment]
    with tempfile.TemporaryDirectory(prefix="subtrail-bench-") as tmp:
        work = Path(tmp)
        maildir = work / "Maildir"
        write_maildir(maildir, args.count)
        size_mb = sum(f.stat().st_size for f in (maildir / "cur").iterdir()) / 1e6
        print(
            f"mailbox: {args.count} messages, {size_mb:.0f} MB, extractors={args.extractors}, cores={os.cpu_count()}"
        )
        rates, peaks = [], []
        for run in range(args.runs):
            elapsed, new, peak = timed_import(maildir, work, run)
            assert new == args.count, f"only {new} of {args.count} stored"
            rates.append(args.count / elapsed)
            peaks.append(peak)
            print(
                f"  run {run + 1}: {elapsed:.2f} s, {args.count / elapsed:,.0f} msg/s, peak PSS {peak / 1e6:.0f} MB"
            )
        print(
            f"import throughput: median {statistics.median(rates):,.0f} msg/s ({size_mb / statistics.median([args.count / r for r in rates]):.1f} MB/s)"
        )
        db = open_db(work / "run0.db")
        started = time.perf_counter()
        again = import_paths(db, [str(maildir)], progress=False)
        print(
            f"re-import (nothing new): {args.count / (time.perf_counter() - started):,.0f} msg/s, {again.new} new"
        )
        db.close()
        if args.mbox_mb:
            mbox = work / "big.mbox"
            count = max(1, int(args.mbox_mb * 1e6 / 15_500))
            size = write_mbox(mbox, count)
            elapsed, new, peak = timed_import(mbox, work, 99)
            print(
                f"mbox {size / 1e9:.2f} GB ({new} messages): {elapsed:.1f} s, {new / elapsed:,.0f} msg/s, "
                f"peak PSS (importer + workers) {peak / 1e6:.0f} MB"
            )


if __name__ == "__main__":
    main()
