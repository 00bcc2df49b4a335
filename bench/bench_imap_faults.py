"""The poller under faults, at size: a first sync of COUNT messages from a loopback Dovecot.

Usage:
    python bench/bench_imap_faults.py                  # 5,000 messages, both fetch modes
    python bench/bench_imap_faults.py --count 2000 --kills 8 --cuts 8

For each fetch mode (`all`, `relevant`; 20 % of the mail relevant):
- reference: the folder synced straight from Dovecot (the oracle for the rest);
- through `tests/imap_proxy.py` with `UID` moved to the end of the metadata replies (after the
  header literal: the defect of issue 20), then with every reordering at once (items shuffled,
  `uid` in lower case, MODSEQ and X-GM-* added, literals split across packets): stored,
  header-only, recorded, errors, time, and whether the outcome equals the reference;
- `kill -9` of `subtrail poll --once` at random moments, KILLS times in a row, then one run to
  the end: raw rows added by each killed run, then lost and duplicated counts;
- connection cuts (`tests/dovecot.CutProxy`, random points from 10 kB to 60 MB) for CUTS passes
  in a row, then one pass straight to the server: lost and duplicated counts.

"Lost" is a UID the server lists that is neither stored, nor header-only, nor recorded as
wanted; "imap_errors" counts `ingest_errors` rows of stage imap (a cut pass that runs out of
retries records one for its connection); "duplicated" is a message stored twice (two `messages` rows for one sha256, two live
locations for one UID, or a UID stored with other bytes than the reference's).
"""

from __future__ import annotations

import argparse
import logging
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_imap import mixed  # noqa: E402
from ingest.imap.poller import poll_once  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402
from tests.dovecot import CutProxy, Dovecot  # noqa: E402
from tests.imap_proxy import Faults, RewritingProxy  # noqa: E402
from tests.poll_helpers import account_for, config_for, stored_count, toml_for  # noqa: E402

MODES = ("all", "relevant")
FAULTS = {
    "UID last in metadata replies": Faults(uid_last=True, only={"header", "meta"}),
    "every reordering at once": Faults(shuffle=True, lower_uid=True, extras=True, split=True),
}


@dataclass
class Outcome:
    stored: dict[int, str]
    header_only: set[int]
    wanted: set[int]
    errors: int
    last_uid: int | None
    duplicated: int

    @classmethod
    def of(cls, db_path: Path) -> Outcome:
        db = open_db(db_path)
        try:
            live = "folder = 'INBOX' and gone_at is null"
            rows = db.execute(f"select uid, sha256 from message_locations where {live}").fetchall()
            pending = db.execute(f"select uid, body_wanted from pending_bodies where {live}").fetchall()
            duplicated = len(rows) - len({uid for uid, _ in rows})
            duplicated += db.execute("select count(*) - count(distinct sha256) from messages").fetchone()[0]
            state = db.execute("select last_uid from sync_state where folder = 'INBOX'").fetchone()
            return cls(
                stored=dict(rows),
                header_only={u for u, w in pending if not w},
                wanted={u for u, w in pending if w},
                errors=db.execute("select count(*) from ingest_errors where stage = 'imap'").fetchone()[0],
                last_uid=state[0] if state else None,
                duplicated=duplicated,
            )
        finally:
            db.close()

    def against(self, reference: Outcome, uids: list[int]) -> str:
        accounted = set(self.stored) | self.header_only | self.wanted
        lost = len(set(uids) - accounted)
        other_bytes = sum(1 for u, sha in self.stored.items() if reference.stored.get(u, sha) != sha)
        same = self.stored == reference.stored and self.header_only == reference.header_only
        return (
            f"stored={len(self.stored)} header_only={len(self.header_only)} recorded={len(self.wanted)} "
            f"lost={lost} duplicated={self.duplicated + other_bytes} imap_errors={self.errors} "
            f"last_uid={self.last_uid} same_as_direct={'yes' if same else 'NO'}"
        )


def one_pass(server: Dovecot, user: str, db_path: Path, mode: str, port: int) -> str:
    """One `poll --once` pass: its time, and the part of it spent parsing the queue."""
    db = open_db(db_path)
    config = config_for(account_for(server, user, port=port, fetch=mode, folders=["INBOX"]))
    summary = poll_once(db, config, progress=False)
    db.close()
    return f"{summary.seconds:.2f} s ({summary.processing_seconds:.2f} s of it parsing)"


def kill_chain(
    server: Dovecot, user: str, work: Path, mode: str, kills: int, rng: random.Random
) -> list[tuple[int, int]]:
    """`kill -9` at random moments, `kills` runs in a row, then a run to the end; (raw rows,
    parsed messages) added by each killed run."""
    db_path = work / f"kill-{mode}.db"
    account = account_for(server, user, fetch=mode, folders=["INBOX"])
    config = toml_for(work / f"kill-{mode}.toml", db_path, account)
    command = [sys.executable, "-m", "ingest", "poll", "--once", "--config", str(config)]
    added: list[tuple[int, int]] = []
    for _ in range(kills):
        raw, parsed = stored_count(db_path, "raw_messages"), stored_count(db_path)
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.9, 2.2))  # start-up is ~0.7 s here, a first download 1-2 s
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        added.append((stored_count(db_path, "raw_messages") - raw, stored_count(db_path) - parsed))
    done = subprocess.run(command, capture_output=True)
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    return added


def cut_chain(server: Dovecot, user: str, work: Path, mode: str, cuts: int, rng: random.Random) -> list[int]:
    """`cuts` passes through a proxy cutting each connection at a random point, then one direct."""
    db_path = work / f"cut-{mode}.db"
    points = []
    for _ in range(cuts):
        after = int(10 ** rng.uniform(4, 7.78))  # 10 kB .. 60 MB, log-uniform
        points.append(after)
        proxy = CutProxy(server.port, after_bytes=after, cuts=100)
        try:
            one_pass(server, user, db_path, mode, proxy.port)
        finally:
            proxy.close()
    one_pass(server, user, db_path, mode, server.port)
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--cuts", type=int, default=10)
    parser.add_argument("--seed", type=int, default=20)
    args = parser.parse_args()
    logging.getLogger("subtrail").setLevel(logging.CRITICAL)  # the cut passes' retries, expected
    rng = random.Random(args.seed)
    server = Dovecot().start()
    work = Path(tempfile.mkdtemp(prefix="subtrail-bench-faults-"))
    try:
        user, _ = server.add_user()
        server.seed(user, "INBOX", mixed(args.count, relevant_share=0.2))
        uids = server.uids(user, "INBOX")
        print(f"{len(uids)} messages in INBOX")
        for mode in MODES:
            ref_path = work / f"reference-{mode}.db"
            seconds = one_pass(server, user, ref_path, mode, server.port)
            reference = Outcome.of(ref_path)
            print(f"\n[{mode}] direct: {seconds}  {reference.against(reference, uids)}")
            for name, faults in FAULTS.items():
                path = work / f"{mode}-{name.replace(' ', '-')}.db"
                with RewritingProxy(server.port, faults) as proxy:
                    seconds = one_pass(server, user, path, mode, proxy.port)
                print(f"[{mode}] proxy, {name}: {seconds}, {proxy.stats.rewritten} responses rewritten  "
                      f"{Outcome.of(path).against(reference, uids)}")  # fmt: skip
            if args.kills:
                added = kill_chain(server, user, work, mode, args.kills, rng)
                print(f"[{mode}] kill -9 x{args.kills}: (raw rows, parsed) added per killed run {added}; then  "
                      f"{Outcome.of(work / f'kill-{mode}.db').against(reference, uids)}")  # fmt: skip
            if args.cuts:
                points = cut_chain(server, user, work, mode, args.cuts, rng)
                print(f"[{mode}] {args.cuts} passes cut at {sorted(points)} bytes, then one direct:  "
                      f"{Outcome.of(work / f'cut-{mode}.db').against(reference, uids)}")  # fmt: skip
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
