"""CPU time of each import stage, one message at a time, on the benchmark mailbox (issue #19).

Usage: python bench/bench_stages.py [--count 1000] [--passes 5]

One process, `time.process_time`, the minimum of several passes (the machine is shared: the minimum
is the least disturbed figure). Stages: the MIME tree by the stdlib parser and by `fastparse`,
the whole `parse_message`, the extractors, `find_money` on a receipt's text, the mbox split and
the writer (message rows, raw bytes, FTS5, the batch facts, in chunks of 400 as the importer writes).
"""

from __future__ import annotations

import argparse
import email
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `bench.mailgen` from a checkout


def best_ms(passes: int, count: int, work: Callable[[], object]) -> float:
    """Minimum over `passes` of the CPU milliseconds `work` takes, per message."""
    best = float("inf")
    for _ in range(passes):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("SUBTRAIL_TODAY", "2026-06-01")
    import extractors
    from bench.mailgen import generate, write_mbox
    from extractors import Identity
    from extractors.mail import fastparse
    from extractors.mail.copies import content_key
    from extractors.mail.parse import parse_message
    from extractors.money import find_money
    from ingest.pipeline import prepare
    from ingest.pipeline.sources import iter_mbox
    from ingest.pipeline.steps import on_new
    from ingest.store import Location, save_parsed
    from ingest.store.schema import open_db

    raws = [raw.replace(b"\r\n", b"\n") for raw in generate(args.count)]  # as an mbox holds them
    parsed = [parse_message(raw) for raw in raws]
    texts = [f"{p.subject}\n{p.body_text}" for p in parsed]
    identity = Identity()
    n, k = args.count, args.passes
    print(
        f"{n:,} bench messages, {sum(map(len, raws)) / n / 1000:.1f} KB each, CPU ms a message (min of {k})"
    )
    print(
        f"  MIME tree, stdlib parser      {best_ms(k, n, lambda: [email.message_from_bytes(r) for r in raws]):.3f}"
    )
    print(
        f"  MIME tree, fastparse          {best_ms(k, n, lambda: [fastparse.message_from_bytes(r) for r in raws]):.3f}"
    )
    print(f"  parse_message                 {best_ms(k, n, lambda: [parse_message(r) for r in raws]):.3f}")
    print(
        f"  extractors                    {best_ms(k, n, lambda: [extractors.extract(p, identity) for p in parsed]):.3f}"
    )
    print(f"  find_money (subject + body)   {best_ms(k, n, lambda: [find_money(t) for t in texts]):.3f}")
    with tempfile.TemporaryDirectory() as tmp:
        mbox = Path(tmp) / "bench.mbox"
        write_mbox(mbox, n)
        print(f"  mbox split                    {best_ms(k, n, lambda: list(iter_mbox(mbox))):.3f}")
        prepared = [prepare(raw, Location("import", "bench", uid=i), identity) for i, raw in enumerate(raws)]
        for item, raw in zip(prepared, raws, strict=True):
            item.content_key = content_key(raw)  # as the pool's workers hash it, outside the writer

        def write() -> None:
            db = open_db(Path(tempfile.mkdtemp(dir=tmp)) / "bench.db")
            for start in range(0, n, 400):
                with db.atomic():
                    written = save_parsed(db, prepared[start : start + 400])
                    on_new(db, written.fresh)
            db.close()

        print(f"  writer (rows, raw, FTS5, facts) {best_ms(min(k, 3), n, write):.3f}")


if __name__ == "__main__":
    main()
