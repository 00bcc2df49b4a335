"""Field-level precision and recall of the subscription extractors on the labelled fixture set.

Usage: python bench/bench_extract_accuracy.py [-v]

Reads the labelled fixtures through tests/extract_fixtures.py
(tests/fixtures/extract/<slug>/*.eml with the expected values beside each, and
the main set's expected inventory), runs the real extractors on each message,
imports the main set into a fresh database through the real pipeline, and prints
precision / recall per field, for messages and for the inventory, plus the number
of subscription facts taken from negatives (newsletters, offers, one-off
purchases, shipping, personal mail, phishing), which must be zero.
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from datetime import date
from itertools import zip_longest
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from extractors import Extraction, Identity, direction_of  # noqa: E402
from extractors.mail.parse import parse_message  # noqa: E402
from extractors.subscriptions import run as subscriptions  # noqa: E402
from ingest.derived.inventory import rebuild_subscriptions  # noqa: E402
from ingest.pipeline.importer import import_paths  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402
from tests.extract_fixtures import Fixture, expected_inventory, fixtures  # noqa: E402

IDENTITY = Identity(frozenset({"alice.martin@example.org", "alice@example.org"}))
MESSAGE_FIELDS = ("kind", "provider", "event", "amount", "currency", "period", "platform", "date")
EVENT_ATTRS = {
    "event": "event_type",
    "amount": "amount_minor",
    "currency": "currency",
    "period": "billing_period",
    "platform": "platform",
}
INVENTORY_FIELDS = (
    "status", "amount_minor", "currency", "billing_period", "platform", "next_renewal_on", "ends_on",
)  # fmt: skip
# Sets written after a freeze of the extractors, each first run an honest figure (then fixed).
LATER_SETS = (
    ("heldout", "second set, plain text"),
    ("heldout2", "third set, HTML-only"),
    ("heldout3", "fourth set, mixed"),
)
DATE_FIELDS = ("next_renewal_on", "trial_ends_on", "ends_on", "occurred_on")


def predicted(raw: bytes) -> Extraction:
    """What the subscription step says about one message (the support step may relabel kinds later)."""
    parsed = parse_message(raw)
    result = Extraction(direction=direction_of(parsed, IDENTITY))
    subscriptions.run(parsed, IDENTITY, result)
    return result


def wanted_events(label: dict[str, object]) -> list[dict[str, object]]:
    """The labelled events: the first in the label itself, more (a multi-item receipt) under "also"."""
    if label.get("event") is None:
        return []
    return [label, *label.get("also", [])]  # type: ignore[list-item]


def expected_date(label: dict[str, object]) -> tuple[str, object] | None:
    for name in DATE_FIELDS:
        if label.get(name):
            return name, label[name]
    return None


class Score:
    def __init__(self) -> None:
        self.tp: Counter[str] = Counter()
        self.fp: Counter[str] = Counter()
        self.fn: Counter[str] = Counter()
        self.misses: list[str] = []

    def add(self, field: str, expected: object, predicted: object, where: str) -> None:
        if expected is not None and predicted == expected:
            self.tp[field] += 1
            return
        if predicted is not None:
            self.fp[field] += 1
        if expected is not None:
            self.fn[field] += 1
        if predicted != expected:
            self.misses.append(f"{where}: {field} expected {expected!r}, got {predicted!r}")

    def line(self, field: str) -> str:
        tp, fp, fn = self.tp[field], self.fp[field], self.fn[field]
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        return f"  {field:<16} precision {precision:5.3f}  recall {recall:5.3f}  (tp {tp}, fp {fp}, fn {fn})"


def score_messages(labelled: list[Fixture]) -> tuple[Score, int]:
    score = Score()
    negatives_with_facts = 0
    for case in labelled:
        name, label = case.name, case.expected
        result = predicted(case.raw())
        score.add("kind", label["kind"], result.kind, name)
        score.add("provider", label["provider"], result.provider, name)
        score.add("suspicious", label.get("suspicious") or None, bool(result.suspicious) or None, name)
        for want, fact in zip_longest(wanted_events(label), result.events):
            want = want or {}
            for field, attr in EVENT_ATTRS.items():
                score.add(field, want.get(field), getattr(fact, attr, None), name)
            wanted_date = expected_date(want)
            if wanted_date:
                score.add("date", wanted_date[1], getattr(fact, wanted_date[0], None), name)
            elif fact is not None:
                score.add("date", None, fact.next_renewal_on or fact.trial_ends_on or fact.ends_on, name)
        if name.startswith("neg-") and result.events:
            negatives_with_facts += 1
    return score, negatives_with_facts


def score_inventory(expected: list[dict[str, object]], as_of: date) -> tuple[Score, int]:
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        main_set = [str(f.eml) for f in fixtures("main")]
        import_paths(db, main_set, IDENTITY, workers=1, progress=False)
        rebuild_subscriptions(db, as_of)
        rows = {(r["provider"], r["account_email"]): r for r in db["subscriptions"].rows}
        negative_subs = db.execute(
            "select count(*) from subscription_events e join messages m on m.sha256 = e.message_sha256 "
            "join message_locations l on l.sha256 = m.sha256 where l.path like '%/neg-%'"
        ).fetchone()[0]
        db.close()
    score = Score()
    seen = set()
    for want in expected:
        key = (want["provider"], want["account_email"])
        seen.add(key)
        got = rows.get(key, {})
        for field in INVENTORY_FIELDS:
            score.add(field, want.get(field), got.get(field), f"{key[0]}|{key[1]}")
    for key, got in rows.items():
        if key not in seen:
            for field in INVENTORY_FIELDS:
                score.add(field, None, got.get(field), f"unexpected {key[0]}|{key[1]}")
    return score, negative_subs


def main() -> int:
    verbose = "-v" in sys.argv
    main_set = fixtures("main")
    expected = expected_inventory()
    messages, negatives = score_messages(main_set)
    inventory, negative_events = score_inventory(expected.subscriptions, expected.as_of)
    print(f"messages: {len(main_set)} labelled")
    for field in (*MESSAGE_FIELDS, "suspicious"):
        print(messages.line(field))
    print(f"inventory: {len(expected.subscriptions)} subscriptions expected (as of {expected.as_of})")
    for field in INVENTORY_FIELDS:
        print(inventory.line(field))
    print(f"subscription facts from negatives: {negatives} (messages), {negative_events} (stored events)")
    misses = messages.misses + inventory.misses
    for key, title in LATER_SETS:
        later = fixtures(key)
        score, later_negatives = score_messages(later)
        print(f"{title}: {len(later)} messages (their first-run figures are in the README)")
        for field in (*MESSAGE_FIELDS, "suspicious"):
            print(score.line(field))
        print(f"  subscription facts from its negatives: {later_negatives}")
        misses += score.misses
    if verbose:
        for miss in misses:
            print("  miss:", miss)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
