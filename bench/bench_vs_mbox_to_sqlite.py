"""Benchmark `subtrail import` (real extractors) against `mbox-to-sqlite`, side by side, on the same mbox.

Usage:
    python bench/bench_vs_mbox_to_sqlite.py                       # 5,000 and 50,000 messages, 3 runs each
    python bench/bench_vs_mbox_to_sqlite.py --counts 5000 --runs 5
    python bench/bench_vs_mbox_to_sqlite.py --counts 10000 100000 --runs 1 --subtrail-only  # memory

`mbox-to-sqlite` (PyPI) stores headers and bodies with a full-text index and extracts nothing; it is
the simplest tool people compare subtrail with. It is installed into this interpreter's environment
when missing. Both tools run as their own command line (`subtrail import`, `mbox-to-sqlite mbox`)
in a fresh process on a fresh database, alternately, so machine load hits both alike. Prints the
median wall-clock throughput of each and their ratio, then the peak memory of one more run each
(PSS of the process and its children, sampled every 50 ms; RSS of the parent alongside): the
sampler costs a tenth of a core, so the timed runs go unsampled.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.mailgen import write_mbox  # noqa: E402

BIN = Path(sys.executable).parent


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        current = todo.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            pass
    return pids


def _memory(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Peak PSS of a process tree (forked workers' shared pages counted once) and peak RSS of its root."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_pss = 0
        self.peak_rss = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_pss = max(self.peak_pss, sum(_memory(p, "Pss:") for p in _tree(self.pid)))
            self.peak_rss = max(self.peak_rss, _memory(self.pid, "Rss:"))
            time.sleep(0.05)


def run_measured(argv: list[str], env: dict[str, str], cwd: Path, sample: bool) -> tuple[float, int, int]:
    """(seconds, peak PSS, peak RSS) of one command (memory 0 unless `sample`); fails loudly if it does.

    Sampling reads every process's smaps_rollup 20 times a second: 7-13% of a core, measured. That
    core is idle beside a single-process tool and taken from one that runs on both, so the timed
    runs are not sampled and memory has runs of its own."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampler = Sampler(proc.pid)
    if sample:
        sampler.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if sample:
        sampler.done.set()
        sampler.join()
    if proc.returncode:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")
    return elapsed, sampler.peak_pss, sampler.peak_rss


def ensure_mbox_to_sqlite() -> Path:
    tool = BIN / "mbox-to-sqlite"
    if not tool.exists():
        print("installing mbox-to-sqlite into this environment", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "mbox-to-sqlite"], check=True)
    return tool


def byte_compile_subtrail(work: Path) -> None:
    """Compile the installed subtrail's modules to bytecode, as pip does when it installs a wheel (and
    as `mbox-to-sqlite`, installed by pip, already is): an editable checkout run with
    PYTHONDONTWRITEBYTECODE (this machine sets it) otherwise compiles ~80 modules from source at every
    start, a fifth of `subtrail import`'s start-up (callgrind: 2.61 G instructions against 2.15 G).
    Run from `work`, so the packages are the ones the `subtrail` command imports, not this checkout's."""
    script = (
        "import compileall, pathlib, extractors, ingest\n"
        "for package in (ingest, extractors):\n"
        "    compileall.compile_dir(pathlib.Path(package.__file__).parent, quiet=1)\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=work, check=True)


def count_rows(db: Path, table: str) -> int:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"select count(*) from [{table}]").fetchone()[0]
    finally:
        conn.close()


def compare(count: int, runs: int, work: Path, tool: Path | None) -> dict[str, float]:
    mbox = work / f"bench-{count}.mbox"
    size = write_mbox(mbox, count)
    print(f"\nmbox: {count:,} messages, {size / 1e6:.0f} MB, cores={os.cpu_count()}", flush=True)
    env = dict(os.environ, SUBTRAIL_TODAY=os.environ.get("SUBTRAIL_TODAY", "2026-06-01"))
    commands = {
        "subtrail": lambda db: [str(BIN / "subtrail"), "import", "--db", str(db), str(mbox)],
        "mbox-to-sqlite": lambda db: [str(tool), "mbox", str(db), str(mbox)],
    }
    if tool is None:  # --subtrail-only: a memory run at a size where the peer is not the question
        del commands["mbox-to-sqlite"]
    results: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
    memory: dict[str, list[tuple[float, int, int]]] = {name: [] for name in commands}
    # The last run of each tool samples its memory and is not timed; with --subtrail-only (memory is
    # the question there) every run is sampled.
    for run in range(runs if tool is None else runs + 1):
        sampled = tool is None or run == runs
        timed = tool is None or not sampled
        for name, argv in commands.items():
            db = work / f"{name}-{count}-{run}.db"
            elapsed, pss, rss = run_measured(argv(db), env, work, sample=sampled)
            table = "messages"
            stored = count_rows(db, table)
            assert stored == count, f"{name} stored {stored} of {count}"
            if sampled:
                memory[name].append((elapsed, pss, rss))
            if timed:
                results[name].append((elapsed, pss, rss))
            db_mb = sum(p.stat().st_size for p in work.glob(f"{db.name}*")) / 1e6
            speed = f"{count / elapsed:7,.0f} msg/s" if timed else "sampled, not timed"
            peak = f", peak PSS {pss / 1e6:4.0f} MB (parent RSS {rss / 1e6:4.0f} MB)" if sampled else ""
            print(
                f"  run {run + 1} {name:>14}: {elapsed:6.2f} s, {speed}, db {db_mb:,.0f} MB{peak}", flush=True
            )
            for stale in work.glob(f"{db.name}*"):
                stale.unlink()
    medians = {name: statistics.median(count / r[0] for r in rs) for name, rs in results.items()}
    peaks = {name: max(r[1] for r in rs) for name, rs in memory.items()}
    if tool is None:
        print(
            f"median: subtrail {medians['subtrail']:,.0f} msg/s (peak PSS {peaks['subtrail'] / 1e6:.0f} MB)"
        )
        mbox.unlink()
        return dict(medians)
    ratio = medians["subtrail"] / medians["mbox-to-sqlite"]
    print(
        f"median: subtrail {medians['subtrail']:,.0f} msg/s (peak PSS {peaks['subtrail'] / 1e6:.0f} MB), "
        f"mbox-to-sqlite {medians['mbox-to-sqlite']:,.0f} msg/s (peak PSS {peaks['mbox-to-sqlite'] / 1e6:.0f} MB): "
        f"subtrail at {ratio:.2f}x (target >= 1.5x)"
    )
    mbox.unlink()
    return {"ratio": ratio, **medians}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[5000, 50000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--subtrail-only", action="store_true", help="time and measure subtrail alone")
    args = parser.parse_args()
    tool = None if args.subtrail_only else ensure_mbox_to_sqlite()
    work = Path(tempfile.mkdtemp(prefix="subtrail-vs-mbox-"))
    byte_compile_subtrail(work)
    try:
        for count in args.counts:
            compare(count, args.runs, work, tool)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
