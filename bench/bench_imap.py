"""Benchmark the IMAP poller against a loopback Dovecot, with `mbsync` timed side by side.

Usage:
    python bench/bench_imap.py                       # 10,000 messages; memory at 10k and 50k
    python bench/bench_imap.py --count 2000 --big 10000
    python bench/bench_imap.py --extractors real     # parse + real extractors (default: both)

Prints the figures issue 3 asks for:
- unchanged folder: time of one cheap check (one STATUS round trip), median of 30;
- IDLE delivery: APPEND -> row in `messages` (parsed and indexed) while the daemon IDLEs,
  median/max of 5;
- first sync of COUNT messages, `fetch = "all"`, vs `mbsync` mirroring the same mailbox to a
  Maildir (same run, same server), with no-op and with the real extractors. Two figures per
  run: the mirror (bodies downloaded and stored byte-exact with their checkpoint: what mbsync
  does, and what the issue compares) and the time until every message is parsed, extracted
  and searchable. mbsync is timed with its default `FSync yes` and with `FSync no`;
- first sync in `fetch = "relevant"` mode on a mailbox where 20 % of the mail is relevant;
- peak memory (PSS of the poller and its parser processes) at COUNT and BIG messages.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import extractors  # noqa: E402
from bench.bench_import import TreeRssSampler  # noqa: E402
from bench.mailgen import LOREM, generate  # noqa: E402
from ingest.config import Config  # noqa: E402
from ingest.imap.connect import connect  # noqa: E402
from ingest.imap.poller import DaemonSettings, poll_once, run_daemon  # noqa: E402
from ingest.imap.sync import sync_folder  # noqa: E402
from ingest.pipeline.steps import STEPS, refresh_derived  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402
from tests.dovecot import Dovecot, make_message  # noqa: E402
from tests.poll_helpers import account_for, config_for, stored_count  # noqa: E402

REAL_EXTRACT = extractors.extract
T = TypeVar("T")


def use_extractors(kind: str) -> None:
    if kind == "noop":
        extractors.extract = lambda parsed, identity: extractors.Extraction()  # type: ignore[assignment]
    else:
        extractors.extract = REAL_EXTRACT


def newsletter(i: int) -> bytes:
    """Irrelevant mail of the same size as the generated receipts: unknown sender, plain subject."""
    return (
        f"From: The Weekly <news@weekly-digest.example>\r\nTo: alice.martin@example.org\r\n"
        f"Subject: This week in gardening, issue {i}\r\nDate: Mon, 02 Mar 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{i}.news@weekly-digest.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{LOREM * 70}\r\n"
    ).encode()


def mixed(count: int, relevant_share: float) -> Iterator[bytes]:
    every = round(1 / relevant_share)
    receipts = generate(count)
    for i in range(count):
        raw = next(receipts)
        yield raw if i % every == 0 else newsletter(i)


def mbsync_time(server: Dovecot, user: str, work: Path, fsync: bool = True) -> float:
    """One first mirror of INBOX into an empty Maildir. `fsync=True` is mbsync's default
    (`FSync yes`: each message file flushed to disk); `False` is its fastest setting."""
    target = work / "mbsync-mirror"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    conf = work / "mbsyncrc"
    conf.write_text(
        ("" if fsync else "FSync no\n\n")
        + f"IMAPAccount bench\nHost 127.0.0.1\nPort {server.port}\nUser {user}\n"
        f"Pass {server.passwords[user]}\nSSLType None\nAuthMechs LOGIN\n\n"
        "IMAPStore remote\nAccount bench\n\n"
        f"MaildirStore local\nPath {target}/\nInbox {target}/INBOX\n\n"
        "Channel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\n"
        f"SyncState {work}/mbsync-state/\n"
    )
    shutil.rmtree(work / "mbsync-state", ignore_errors=True)
    (work / "mbsync-state").mkdir()
    started = time.perf_counter()
    done = subprocess.run(
        ["mbsync", "-q", "-c", str(conf), "-a"], capture_output=True
    )  # loopback: clear text
    if done.returncode:
        raise RuntimeError(f"mbsync failed: {done.stderr.decode(errors='replace')}")
    return time.perf_counter() - started


@dataclass
class Mbsync:
    """mbsync timed `runs` times in each setting; the disk is shared, so it varies run to run."""

    default: list[float]
    no_fsync: list[float]

    @classmethod
    def measure(cls, server: Dovecot, user: str, work: Path, runs: int) -> Mbsync:
        default, no_fsync = [], []
        for _ in range(runs):
            default.append(mbsync_time(server, user, work))
            no_fsync.append(mbsync_time(server, user, work, fsync=False))
        return cls(default, no_fsync)

    def describe(self) -> str:
        def one(times: list[float]) -> str:
            return f"median {statistics.median(times):.2f} s, best {min(times):.2f} s"

        return f"mbsync default (FSync yes): {one(self.default)}; with FSync no: {one(self.no_fsync)}"

    def ratios(self, seconds: float) -> str:
        """Against mbsync's median and best default runs, and its best run without fsync."""
        median, best = statistics.median(self.default), min(self.default)
        return (
            f"{seconds / median:.2f}x mbsync's median, {seconds / best:.2f}x its best, "
            f"{seconds / min(self.no_fsync):.2f}x its best without fsync"
        )


@dataclass
class SyncRun:
    """One first sync; `mirror` (bytes, sha256, locations, checkpoint committed: what mbsync does)
    is what the issue compares with mbsync, `seconds` is until every message is searchable."""

    seconds: float  # the poll pass: download and store raw, then parse, extract, index
    processing: float  # of `seconds`, the parse / extract / index step (`ingest.pipeline.queue`)
    new: int
    peak: int  # PSS bytes during the pass
    derive_seconds: float  # the rebuild of the derived tables that `poll --once` runs after it
    derive_peak: int

    @property
    def mirror(self) -> float:
        return self.seconds - self.processing


def sampled(work: Callable[[], T]) -> tuple[T, float, int]:
    """(result, seconds, peak PSS of this process and its children) of `work()`."""
    sampler = TreeRssSampler()
    sampler.start()
    started = time.perf_counter()
    result = work()
    elapsed = time.perf_counter() - started
    sampler.stop.set()
    sampler.join()
    return result, elapsed, sampler.peak


def timed_sync(config: Config, db_path: Path) -> SyncRun:
    """One `poll --once` into a new database, the pass and the derived-table rebuild measured apart
    (the rebuild is the other tables' code and scales with the whole database)."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    db = open_db(db_path)
    batch_steps_only = tuple(replace(step, derive=None) for step in STEPS)
    summary, seconds, peak = sampled(lambda: poll_once(db, config, progress=False, steps=batch_steps_only))
    _, derive_seconds, derive_peak = sampled(lambda: refresh_derived(db, STEPS))
    db.close()
    assert summary.exit_status == 0, [str(a.error) for a in summary.accounts]
    return SyncRun(seconds, summary.processing_seconds, summary.new, peak, derive_seconds, derive_peak)


def _sync_in_child(
    account: dict[str, object], password: str, kind: str, db_path: Path, out: Connection
) -> None:
    os.environ[str(account["password_env"])] = password
    use_extractors(kind)
    out.send(timed_sync(config_for(account), db_path))


def fresh_process_sync(server: Dovecot, user: str, kind: str, db_path: Path) -> SyncRun:
    """`timed_sync` in a new interpreter: peaks compare mailbox sizes, not the bench's own history."""
    account = account_for(server, user, fetch="all", folders=["INBOX"])
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(
        target=_sync_in_child, args=(account, server.passwords[user], kind, db_path, send)
    )
    child.start()
    run = receive.recv()
    child.join()
    return run


def unchanged_check_ms(config: Config, db_path: Path, runs: int = 30) -> float:
    account = config.accounts[0]
    client = connect(account)
    db = open_db(db_path)
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = sync_folder(client, db, account, "INBOX", config.identity)
        times.append(time.perf_counter() - started)
        assert result.unchanged
    client.logout()
    db.close()
    return statistics.median(times) * 1000


def idle_latency(server: Dovecot, user: str, config: Config, db_path: Path, runs: int = 5) -> list[float]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_daemon, args=(str(db_path), config, stop, DaemonSettings(interval=3600)), daemon=True
    )
    thread.start()
    latencies = []
    try:
        time.sleep(1.0)  # catch-up pass done, IDLE started
        for i in range(runs):
            before = stored_count(db_path)
            server.append(user, "INBOX", make_message(900_000 + i))
            started = time.perf_counter()  # the message is in the mailbox: delivery time starts
            while stored_count(db_path) == before:
                if time.perf_counter() - started > 30:
                    raise RuntimeError("IDLE delivery took more than 30 s")
                time.sleep(0.005)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.3)
    finally:
        stop.set()
        thread.join(timeout=30)
    return latencies


def report(label: str, runs: list[SyncRun], mbsync: Mbsync) -> None:
    """Medians over the runs: the mirror (what mbsync does) and the time until all is searchable."""
    mirror = statistics.median(run.mirror for run in runs)
    processing = statistics.median(run.processing for run in runs)
    total = statistics.median(run.seconds for run in runs)
    count = runs[0].new
    print(
        f"poll --once, {label}: headers/bodies downloaded and stored raw in {mirror:.2f} s "
        f"({count / mirror:,.0f} msg/s) = {mbsync.ratios(mirror)}; then parse + extract + index "
        f"{processing:.2f} s; all searchable after {total:.2f} s = {mbsync.ratios(total)}; "
        f"peak PSS {max(run.peak for run in runs) / 1e6:.0f} MB; derived tables after it "
        f"{statistics.median(run.derive_seconds for run in runs):.1f} s (medians of {len(runs)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument(
        "--big", type=int, default=50_000, help="mailbox size for the memory comparison (0: skip)"
    )
    parser.add_argument("--extractors", choices=["noop", "real", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each sync and of mbsync (medians)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s %(message)s")
    kinds = ["noop", "real"] if args.extractors == "both" else [args.extractors]
    work = Path(tempfile.mkdtemp(prefix="subtrail-bench-imap-"))
    server = Dovecot().start()
    try:
        user, _ = server.add_user()
        server.seed(user, "INBOX", generate(args.count))
        size_mb = sum(f.stat().st_size for f in (server.folder_path(user, "INBOX") / "cur").iterdir()) / 1e6
        print(
            f"mailbox: {args.count} messages, {size_mb:.0f} MB, Dovecot on loopback, cores={os.cpu_count()}"
        )
        print(f"bench process before any sync: PSS {TreeRssSampler._rss(os.getpid()) / 1e6:.0f} MB")
        all_mode = config_for(account_for(server, user, fetch="all", folders=["INBOX"]))
        db_path = work / "all.db"

        mbsync = Mbsync.measure(server, user, work, args.repeat)
        print(
            f"mbsync (isync 1.4) first mirror of the same mailbox, {args.repeat} runs each: {mbsync.describe()}"
        )
        for kind in kinds:
            use_extractors(kind)
            runs = [timed_sync(all_mode, db_path) for _ in range(args.repeat)]
            assert all(run.new == args.count for run in runs), [run.new for run in runs]
            report(f"fetch=all, extractors={kind}", runs, mbsync)

        print(f"unchanged folder, cheap check: {unchanged_check_ms(all_mode, db_path):.1f} ms (median of 30)")
        latencies = idle_latency(server, user, all_mode, db_path)
        print(
            f"IDLE delivery (APPEND -> stored): median {statistics.median(latencies) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms over {len(latencies)}"
        )

        rel_user, _ = server.add_user()
        server.seed(rel_user, "INBOX", mixed(args.count, 0.2))
        relevant = config_for(account_for(server, rel_user, fetch="relevant", folders=["INBOX"]))
        rel_mbsync = Mbsync.measure(server, rel_user, work, args.repeat)
        print(f"relevant-mode mailbox (20 % relevant): {rel_mbsync.describe()}")
        for kind in kinds:
            use_extractors(kind)
            runs = [timed_sync(relevant, work / "relevant.db") for _ in range(args.repeat)]
            report(f"fetch=relevant ({runs[0].new} bodies), extractors={kind}", runs, rel_mbsync)

        if args.big:
            big_user, _ = server.add_user()
            server.seed(big_user, "INBOX", generate(args.big))
            kind = kinds[-1]
            small = fresh_process_sync(server, user, kind, work / "mem-small.db")
            big = fresh_process_sync(server, big_user, kind, work / "mem-big.db")
            print(
                f"memory (extractors={kind}, each in a fresh process), poll pass: peak PSS "
                f"{small.peak / 1e6:.0f} MB at {small.new} messages, {big.peak / 1e6:.0f} MB at {big.new} "
                f"({big.seconds:.1f} s); derived-table rebuild after it: {small.derive_peak / 1e6:.0f} MB / "
                f"{big.derive_peak / 1e6:.0f} MB, {small.derive_seconds:.1f} s / {big.derive_seconds:.1f} s"
            )
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
