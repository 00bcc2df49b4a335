"""Coverage-guided fuzzing (atheris / libFuzzer) of parse -> extract -> store -> derive.

Usage:
    python bench/fuzz_atheris.py --seconds 20           # what CI runs (scripts/test.sh)
    python bench/fuzz_atheris.py --seconds 3600 --keep bench/out/fuzz-corpus

Seeds are the hostile corpus, the import fixtures and the bundled sample mailbox. The fuzzer
mutates them guided by coverage of `ingest`, `extractors`, the stdlib `email` package and
BeautifulSoup. Each input is stored in an in-memory database through the batch hooks (inventory,
journal), which are rebuilt every 200 inputs; `--no-store` fuzzes parse -> extract only. Any exception, a kind outside the contract vocabulary, a NUL byte in stored text,
an input over 10 s or a process over 2 GB is a failure: the input is saved under
`bench/out/fuzz-crashes/` and the exit status is non-zero. A clean run prints libFuzzer's
`Done N runs in S second(s)` line and the coverage it reached.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SEEDS = [
    ROOT / "tests" / "fixtures" / "hostile",
    ROOT / "tests" / "fixtures" / "import",
    ROOT / "data" / "sample",
]
MAX_LEN = 64 * 1024  # long enough for MIME trees, short enough for many runs per second

with atheris.instrument_imports(include=["ingest", "extractors", "email", "bs4"]):
    import email.feedparser  # noqa: F401  (instrumented before anything else imports it)

    from extractors import EVENT_TYPES, KINDS, Identity
    from ingest.pipeline import prepare
    from ingest.pipeline.steps import on_new, refresh_derived
    from ingest.store import Location, Prepared, message_row, save_parsed
    from ingest.store.schema import ensure_db_shape

from sqlite_utils import Database  # noqa: E402

IDENTITY = Identity(frozenset({"alice@example.org", "alice.martin@example.org"}))
LOCATION = Location(account="fuzz", folder="INBOX")
FRESH_DB_EVERY = 2_000  # inputs stored in one in-memory database before starting a new one


class Store:
    """The real store and batch hooks (inventory, journal) over an in-memory database."""

    def __init__(self) -> None:
        self.db: Database | None = None
        self.count = 0

    def save(self, prepared: Prepared) -> None:
        if self.db is None or self.count >= FRESH_DB_EVERY:
            self.db, self.count = Database(memory=True), 0
            ensure_db_shape(self.db)
        with self.db.atomic():  # what `ingest.pipeline.run` does with each chunk
            on_new(self.db, save_parsed(self.db, [prepared]).fresh)
        sha = prepared.parsed.sha256
        stored = self.db.execute("select raw from raw_messages where sha256 = ?", [sha]).fetchone()
        if stored is None or stored[0] != prepared.parsed.raw:
            raise AssertionError("raw bytes not stored byte-exact")
        self.count += 1
        if self.count % 200 == 0:  # the derived tables, over everything stored so far
            refresh_derived(self.db)


STORE = Store() if "--no-store" not in sys.argv else None


def one_input(data: bytes) -> None:
    """The invariants every message must keep, whatever its bytes."""
    prepared = prepare(data, LOCATION, IDENTITY)
    if prepared.parsed.raw != data:
        raise AssertionError("raw bytes changed")
    extraction = prepared.extraction
    if extraction.kind not in KINDS:
        raise AssertionError(f"kind {extraction.kind!r} outside the vocabulary")
    if any(e.event_type not in EVENT_TYPES for e in extraction.events):
        raise AssertionError("event type outside the vocabulary")
    row = message_row(prepared.parsed, extraction, "2026-01-01T00:00:00+00:00")
    for key, value in row.items():
        if isinstance(value, str) and "\x00" in value:
            raise AssertionError(f"NUL byte in messages.{key}")
    if STORE is not None:
        STORE.save(prepared)


def seed_corpus(target: Path) -> int:
    count = 0
    for base in SEEDS:
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in (".eml", "") and path.stat().st_size <= MAX_LEN:
                shutil.copyfile(path, target / f"seed-{count:04d}")
                count += 1
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=20, help="time budget (default 20)")
    parser.add_argument("--keep", type=Path, help="corpus directory to keep (and grow) between runs")
    parser.add_argument("--crashes", type=Path, default=ROOT / "bench" / "out" / "fuzz-crashes")
    parser.add_argument("--no-store", action="store_true", help="parse and extract only (faster)")
    args, extra = parser.parse_known_args()
    args.crashes.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="subtrail-fuzz-") as tmp:
        corpus = args.keep or Path(tmp)
        corpus.mkdir(parents=True, exist_ok=True)
        seeds = seed_corpus(corpus) if not any(corpus.iterdir()) else 0
        print(
            f"fuzzing parse -> extract for {args.seconds}s from {seeds or 'kept'} seeds in {corpus}",
            flush=True,
        )
        libfuzzer = [
            sys.argv[0],
            f"-max_total_time={args.seconds}",
            f"-max_len={MAX_LEN}",
            "-timeout=10",
            "-rss_limit_mb=2048",
            "-print_final_stats=1",
            f"-artifact_prefix={args.crashes}/",
            *extra,
            str(corpus),
        ]
        atheris.Setup(libfuzzer, one_input)
        atheris.Fuzz()  # exits the process: 0 when the budget ran out clean, non-zero on a failure


if __name__ == "__main__":
    main()
