"""The journal's quote stripping on the peer reply parsers' own suites (../shared/quote-suites/).

Each case is a real reply from talon, github/email_reply_parser or mail-parser-reply with
the new text the peer's tests assert. A case passes when the new text (or the new text
followed by the signature the journal cut off) matches under the case's rule: `ws` runs
of whitespace collapsed, `nows` all whitespace removed (talon's HTML rule). Prints, per
suite, English/French apart from the other languages, then every miss on one line.
Target: >= 0.95 of the EN/FR cases in every suite. Skips when the suites are absent.

    python bench/bench_quote_suites.py [SUITES_DIR]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from extractors.mail.parse import parse_message  # noqa: E402
from extractors.support.quotes import Reply, split_reply  # noqa: E402

DEFAULT = REPO.parent / "shared" / "quote-suites"
COUNTED = ("en", "fr")


def _norm(text: str, match: str) -> str:
    return re.sub(r"\s+", "", text) if match == "nows" else re.sub(r"\s+", " ", text).strip()


def _reply(case: dict, folder: Path) -> Reply:
    data = (folder / case["file"]).read_bytes()
    if case["input"] == "eml":
        parsed = parse_message(data)
        return split_reply(parsed.body_text, parsed.body_html, parsed.from_name)
    text = data.decode("utf-8", errors="replace")
    if case["input"] == "html":
        return split_reply("", text)
    return split_reply(text)


def _list(value: str | list[str] | None) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def passes(case: dict, reply: Reply) -> bool:
    match = case.get("match", "ws")
    candidates = [reply.text, f"{reply.text}\n{reply.signature}".strip()]
    for candidate in candidates:
        got = _norm(candidate, match)
        if "expected" in case and got != _norm(case["expected"], match):
            continue
        if any(_norm(p, match) not in got for p in _list(case.get("must_contain"))):
            continue
        if any(_norm(p, match) in got for p in _list(case.get("must_not_contain"))):
            continue
        if any(not got.startswith(_norm(p, match)) for p in _list(case.get("starts_with"))):
            continue
        return True
    return False


def _median_ms(cases: list[dict], folder: Path) -> float:
    """Median over the cases of the best of five split_reply runs (the MIME parse left out)."""
    timings: list[float] = []
    for case in cases:
        data = (folder / case["file"]).read_bytes()
        if case["input"] == "eml":
            parsed = parse_message(data)
            args = (parsed.body_text, parsed.body_html, parsed.from_name)
        else:
            text = data.decode("utf-8", errors="replace")
            args = ("", text, None) if case["input"] == "html" else (text, None, None)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            split_reply(*args)
            runs.append(time.perf_counter() - start)
        timings.append(min(runs) * 1000)
    return statistics.median(timings)


def main() -> int:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not (folder / "cases.json").exists():
        print(f"quote suites: {folder} absent, skipped")
        return 0
    suites = json.loads((folder / "cases.json").read_text(encoding="utf-8"))["suites"]
    misses: list[str] = []
    totals = {True: [0, 0], False: [0, 0]}
    for name, suite in suites.items():
        scores = {True: [0, 0], False: [0, 0]}
        for case in suite["cases"]:
            counted = case.get("lang") in COUNTED
            reply = _reply(case, folder)
            ok = passes(case, reply)
            scores[counted][0] += ok
            scores[counted][1] += 1
            if not ok:
                got = re.sub(r"\s+", " ", reply.text)[:90]
                misses.append(f"  miss {case['id']:<55} [{case.get('lang')}] got {got!r}")
        for key in (True, False):
            totals[key][0] += scores[key][0]
            totals[key][1] += scores[key][1]
        good, total = scores[True]
        other_good, other_total = scores[False]
        print(
            f"{name:<20} en/fr {good:>3}/{total:<3} {good / total if total else 1:.3f}"
            f"   other languages {other_good}/{other_total}"
        )
    good, total = totals[True]
    print(f"{'all suites':<20} en/fr {good:>3}/{total:<3} {good / total:.3f}   other languages "
          f"{totals[False][0]}/{totals[False][1]}")  # fmt: skip
    cases = [case for suite in suites.values() for case in suite["cases"]]
    print(f"split_reply: median {_median_ms(cases, folder):.3f} ms per reply over {len(cases)} cases")
    for line in misses:
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
