"""How long the journal rebuild (a rebuild step, run after every import / poll pass) takes on a big mailbox.

Imports the labelled fixture threads, then clones their stored support facts N times
(every id, reference and ticket number suffixed, so each copy is its own set of
threads) and times `rebuild_journal` over the lot.

    python bench/bench_journal_rebuild.py [COPIES]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from extractors import Identity  # noqa: E402
from ingest.derived.journal import rebuild_journal  # noqa: E402
from ingest.pipeline.importer import import_paths  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402

MAIL = REPO / "tests" / "fixtures" / "journal" / "mail"
COLUMNS = ("message_id", "date", "subject", "provider", "direction", "in_reply_to", "references", "from_addr")


def _suffixed(msgid: str | None, suffix: str) -> str | None:
    return f"{msgid[:-1]}{suffix}>" if msgid else msgid


def main(copies: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        identity = Identity(frozenset({"alice.martin@example.org"}))
        import_paths(db, [str(MAIL)], identity=identity, workers=1, progress=False)
        originals = list(
            db.query("select m.*, f.facts from messages m join support_facts f on f.sha256 = m.sha256")
        )
        with db.atomic():
            for copy in range(1, copies):
                suffix = f"-{copy}"
                messages, facts_rows = [], []
                for original in originals:
                    row = {column: original[column] for column in COLUMNS}
                    row["sha256"] = original["sha256"] + suffix
                    row["message_id"] = _suffixed(row["message_id"], suffix)
                    row["in_reply_to"] = _suffixed(row["in_reply_to"], suffix)
                    row["references"] = " ".join(
                        _suffixed(r, suffix) or "" for r in (row["references"] or "").split()
                    )
                    facts = json.loads(original["facts"])
                    for ref in facts.get("refs", []):
                        ref["value"] += suffix
                    facts["subject_key"] = (facts.get("subject_key") or "") + suffix
                    messages.append(row)
                    facts_rows.append({"sha256": row["sha256"], "facts": json.dumps(facts)})
                db.table("messages").insert_all(messages, batch_size=200)
                db.table("support_facts").insert_all(facts_rows, batch_size=400)
        started = time.perf_counter()
        with db.atomic():
            rebuild_journal(db, date(2026, 4, 15))
        seconds = time.perf_counter() - started
        print(
            f"rebuild of {db.table('ticket_messages').count:,} support messages into "
            f"{db.table('tickets').count:,} tickets: {seconds:.2f}s"
        )
        db.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 240))
