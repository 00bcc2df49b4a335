"""Snapshot what parsing and extraction make of every mail we have, to prove a speed change changed nothing.

Usage:
    python bench/snapshot_outputs.py before.json          # on the old code
    python bench/snapshot_outputs.py after.json           # on the new code
    python bench/snapshot_outputs.py after.json --diff before.json

Mail: the test fixtures, corpus-dev, the quote suites, CPython's e-mail test corpus and 2,000
generated bench messages. For each, the `ParsedMessage` (without the raw bytes; the HTML as its
sha256), the `Extraction` and the `content_key` of its copies, as JSON. `--diff` exits 1 and names the first differences when any output moved.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def mails() -> Iterator[tuple[str, bytes]]:
    """(name, raw bytes) of every mail the snapshot covers, in a stable order."""
    for base in (
        ROOT / "tests" / "fixtures",
        SHARED / "corpus-dev" / "mails",
        SHARED / "quote-suites" / "files",
    ):
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if path.suffix in {".eml", ".txt", ""} or path.parent.name in {"cur", "new"}:
                raw = path.read_bytes()
                if b":" in raw[:2000]:  # a header block, not a label file
                    yield str(path.relative_to(base.parent)), raw
    cpython = Path(sysconfig.get_paths()["stdlib"]) / "test" / "test_email" / "data"
    for path in sorted(cpython.glob("msg_*.txt")):
        yield f"cpython/{path.name}", path.read_bytes()
    from bench.mailgen import generate

    for i, raw in enumerate(generate(2000)):
        yield f"bench/{i}", raw.replace(b"\r\n", b"\n")


def snapshot() -> dict[str, object]:
    os.environ.setdefault("SUBTRAIL_TODAY", "2026-06-01")
    from extractors import Identity
    from extractors.mail.copies import content_key
    from ingest.pipeline import prepare
    from ingest.store import Location

    identity = Identity(frozenset({"alice.martin@example.org", "alice@example.org", "moi@example.fr"}))
    out: dict[str, object] = {}
    for name, raw in mails():
        prepared = prepare(raw, Location("snapshot", "INBOX"), identity)
        parsed = dataclasses.asdict(prepared.parsed)
        parsed.pop("raw")
        html = parsed["body_html"]
        parsed["body_html"] = (
            None if html is None else hashlib.sha256(html.encode("utf-8", "surrogatepass")).hexdigest()
        )
        out[name] = {
            "parsed": parsed,
            "content_key": content_key(raw),
            "extraction": dataclasses.asdict(prepared.extraction),
            "errors": prepared.extra_errors,
        }
    return out


def diff(new: dict[str, object], old: dict[str, object], limit: int = 20) -> list[str]:
    lines = [f"only in one: {name}" for name in sorted(set(new) ^ set(old))]
    for name in sorted(set(new) & set(old)):
        a, b = old[name], new[name]
        if a != b:
            for part in ("parsed", "extraction", "errors", "content_key"):
                if a.get(part) != b.get(part):  # type: ignore[attr-defined]
                    lines.append(f"{name} [{part}]:\n  before {a.get(part)}\n  after  {b.get(part)}")  # type: ignore[attr-defined]
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--diff", type=Path, help="an earlier snapshot to compare with")
    args = parser.parse_args()
    data = snapshot()
    args.out.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, default=str))
    print(f"{len(data):,} mails snapshotted into {args.out}")
    if args.diff:
        moved = diff(json.loads(args.out.read_text()), json.loads(args.diff.read_text()))
        print("\n".join(moved) if moved else "identical")
        sys.exit(1 if moved else 0)


if __name__ == "__main__":
    main()
