"""Score the extractors on ../shared/corpus-dev (mail nobody here wrote): the scorer's figures,
then one line per miss (expected vs got). Skips cleanly when the corpus is absent.

    SUBTRAIL_TODAY=2026-11-27 .venv/bin/python bench/bench_corpus_dev.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

TODAY = "2026-11-27"  # the day the corpus' ground truth describes
CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus-dev"


def main() -> int:
    if not (CORPUS / "score.py").exists():
        print(f"corpus-dev not found at {CORPUS}: skipped")
        return 0
    env = {**os.environ, "SUBTRAIL_TODAY": os.environ.get("SUBTRAIL_TODAY", TODAY)}
    subtrail = Path(sys.executable).with_name("subtrail")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "corpus-dev.db"
        subprocess.run(
            [str(subtrail), "import", "corpus-dev/mails", "--config", "corpus-dev/subtrail.toml", "--db", str(db)],
            cwd=CORPUS.parent, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        score = subprocess.run(
            [sys.executable, "corpus-dev/score.py", str(db), "-v", "--today", env["SUBTRAIL_TODAY"]],
            cwd=CORPUS.parent, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
    print(score.stdout, end="")  # -v already says expected vs got, one miss per line
    return 0


if __name__ == "__main__":
    sys.exit(main())
