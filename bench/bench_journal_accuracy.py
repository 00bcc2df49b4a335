"""Accuracy of the customer-service journal on the labelled fixture threads.

Imports tests/fixtures/journal/mail/*.eml through the real pipeline into a temporary
database, rebuilds the journal as of the labels' `today`, and compares with
tests/fixtures/journal/labels.toml. Prints one figure per line (target >= 0.95 each),
then how the bare quote-stripping libraries do on the same messages, for the record.

    python bench/bench_journal_accuracy.py
"""

from __future__ import annotations

import hashlib
import re
import sys
import tempfile
import tomllib
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from extractors import Identity  # noqa: E402
from extractors.mail.parse import parse_message  # noqa: E402
from ingest.derived.journal import rebuild_journal  # noqa: E402
from ingest.pipeline.importer import import_paths  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures" / "journal"
MAIL = FIXTURES / "mail"


def ratio(good: int, total: int) -> float:
    return good / total if total else 1.0


def main() -> int:
    labels = tomllib.loads((FIXTURES / "labels.toml").read_text(encoding="utf-8"))
    sha_of = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MAIL.glob("*.eml")}
    name_of = {sha: name for name, sha in sha_of.items()}
    with tempfile.TemporaryDirectory() as tmp:
        db = open_db(Path(tmp) / "bench.db")
        identity = Identity(frozenset(labels["identity"]))
        import_paths(db, [str(MAIL)], identity=identity, workers=1, progress=False)
        rebuild_journal(db, date.fromisoformat(labels["today"]))
        rows = {
            name_of[r["message_sha256"]]: r
            for r in db.query("select * from ticket_messages where message_sha256 is not null")
            if r["message_sha256"] in name_of
        }
        tickets = {r["id"]: r for r in db.query("select * from tickets")}
        promises = list(
            db.query(
                "select p.*, tm.message_sha256 from promises p join ticket_messages tm on tm.id = p.ticket_message_id"
            )
        )
        db.close()

    everything = set(labels["message"])
    # held-*.eml is batch 1, held2-*.eml batch 2, ...: each written and labelled before the code ran on it.
    batches = {
        n: {m for m in everything if m.startswith("held-" if n == 1 else f"held{n}-")} for n in range(1, 6)
    }
    sections = [
        ("all threads", everything),
        ("tuning threads (written with the code)", everything - set().union(*batches.values())),
    ]
    for n, names in batches.items():
        title = f"held-out batch {n} (labelled before the code ran on it; first-run figures in the README)"
        sections.append((title, names))
    for title, names in sections:
        print(f"\n{title}")
        score(labels, names, rows, tickets, promises, name_of)
    print()
    detection(identity)
    confirmations(rows)
    bare_libraries(labels)
    throughput(identity)
    return 0


def detection(identity: Identity) -> None:
    """Is it customer service? Every fixture thread message and the sample's support-*.eml should be;
    the sample's receipts, notices, newsletters, phishing and personal mail (sub-*, neg-*) should not."""
    from extractors import extract

    sample = REPO / "data" / "sample" / "mailbox"
    positives = [*MAIL.glob("*.eml"), *sample.glob("*/support-*.eml")]
    negatives = [*sample.glob("*/sub-*.eml"), *sample.glob("*/neg-*.eml")]
    sample_identity = Identity(
        frozenset({"alice.martin@example.org", "alice@example.org"}) | identity.addresses
    )
    found = {
        p
        for p in [*positives, *negatives]
        if extract(parse_message(p.read_bytes()), sample_identity).kind == "support"
    }
    true_positives = len(found & set(positives))
    print(
        f"support detection: precision {ratio(true_positives, len(found)):.3f}, "
        f"recall {ratio(true_positives, len(positives)):.3f} "
        f"({len(positives)} support, {len(negatives)} other messages)"
    )


def confirmations(rows: dict) -> None:
    """What the providers' replies confirm (a cancellation, a refund, a plan or price change: subscription
    events), fact by fact against tests/fixtures/journal/confirmations.toml (type, dates, amount, plan)."""
    from extractors.support.confirmations import find_confirmations
    from extractors.support.promises import local_date

    labels = tomllib.loads((FIXTURES / "confirmations.toml").read_text(encoding="utf-8"))["confirms"]
    expected = {(n, tuple(sorted(f.items()))) for n, facts in labels.items() for f in facts}
    found = set()
    for name, row in rows.items():
        if row["direction"] != "inbound":
            continue
        for fact in find_confirmations(row["body"] or "", local_date(row["sent_at"])):
            label = {"type": fact.event_type, "on": fact.occurred_on, "ends": fact.ends_on,
                     "amount": fact.amount_minor, "plan": fact.plan, "period": fact.billing_period}  # fmt: skip
            found.add((name, tuple(sorted((k, v) for k, v in label.items() if v is not None))))
    right = len(found & expected)
    print(
        f"support confirmations: precision {ratio(right, len(found)):.3f}, recall {ratio(right, len(expected)):.3f} "
        f"({len(expected)} facts in {sum(r['direction'] == 'inbound' for r in rows.values())} provider replies)"
    )


def throughput(identity: Identity) -> None:
    """Extraction speed on support mail (the costly case: quote splitting, promises), warm, one process."""
    import time

    from extractors import extract

    parsed = [parse_message(p.read_bytes()) for p in sorted(MAIL.glob("*.eml"))]
    for message in parsed:
        extract(message, identity)
    rounds = 20
    started = time.perf_counter()
    for _ in range(rounds):
        for message in parsed:
            extract(message, identity)
    rate = rounds * len(parsed) / (time.perf_counter() - started)
    print(f"\nextract() on support mail: {rate:,.0f} messages/s (one core)")


def score(labels: dict, names: set[str], rows: dict, tickets: dict, promises: list, name_of: dict) -> None:
    """Print every figure over the labelled messages in `names` (and the tickets made of them)."""
    messages = {n: lab for n, lab in labels["message"].items() if n in names}
    ticket_labels = [t for t in labels["ticket"] if set(t["messages"]) <= names]
    # Threading: a message is right when its ticket holds exactly the labelled companions.
    expected_group = {n: frozenset(t["messages"]) for t in ticket_labels for n in t["messages"]}
    predicted_group: dict[int, set[str]] = {}
    for name, row in rows.items():
        predicted_group.setdefault(row["ticket_id"], set()).add(name)
    threaded = sum(
        1
        for n, group in expected_group.items()
        if n in rows and predicted_group[rows[n]["ticket_id"]] == group
    )
    # Agent names: precision of the names given, recall of the names expected.
    given = expected = right = 0
    for name, label in messages.items():
        got = (rows.get(name) or {}).get("agent_name") or ""
        given += bool(got)
        expected += bool(label["agent"])
        right += bool(got) and got == label["agent"]
    # Quote stripping: the stored body equals the labelled new text exactly.
    exact = sum(1 for n, label in messages.items() if (rows.get(n) or {}).get("body") == label["body"])
    # Promises: (message, due date) pairs found ("" = a promise without a date), and their status.
    wanted = {(n, p["due_on"]): p["status"] for n, lab in messages.items() for p in lab["promises"]}
    found = {
        (name_of.get(p["message_sha256"]), p["due_on"] or ""): p["status"]
        for p in promises
        if name_of.get(p["message_sha256"]) in names
    }
    recalled = sum(1 for key in wanted if key in found)
    promise_status_ok = sum(1 for key, status in wanted.items() if found.get(key) == status)
    # Ticket status, for each labelled ticket (found through its first message).
    status_ok = sum(
        1
        for t in ticket_labels
        if t["messages"][0] in rows and tickets[rows[t["messages"][0]]["ticket_id"]]["status"] == t["status"]
    )
    acks = sum(
        1 for n, lab in messages.items() if bool((rows.get(n) or {}).get("auto_ack")) == lab["auto_ack"]
    )
    n_msg = len(messages)
    print(f"  messages {n_msg}, tickets {len(ticket_labels)}, promises {len(wanted)}")
    print(
        f"  threading accuracy        {ratio(threaded, len(expected_group)):.3f}  ({threaded}/{len(expected_group)})"
    )
    print(f"  agent-name precision      {ratio(right, given):.3f}  ({right}/{given})")
    print(f"  agent-name recall         {ratio(right, expected):.3f}  ({right}/{expected})")
    print(f"  quote-stripping exactness {ratio(exact, n_msg):.3f}  ({exact}/{n_msg})")
    print(f"  promise recall (due date) {ratio(recalled, len(wanted)):.3f}  ({recalled}/{len(wanted)})")
    print(f"  promise precision         {ratio(recalled, len(found)):.3f}  ({recalled}/{len(found)})")
    print(f"  promise status accuracy   {ratio(promise_status_ok, len(wanted)):.3f}")
    print(
        f"  ticket status accuracy    {ratio(status_ok, len(ticket_labels)):.3f}  ({status_ok}/{len(ticket_labels)})"
    )
    print(f"  auto-ack accuracy         {ratio(acks, n_msg):.3f}")


_HISTORY = re.compile(r"^\s*>|(?:wrote|a écrit)\s*:\s*$|^\s*(?:from|de|sent|envoyé)\s*:", re.I | re.M)


def bare_libraries(labels: dict) -> None:
    """The bare libraries on the plain-text body: exact new text, and history removed (label is a prefix, no quote left)."""
    import quotequail
    from mailparser_reply import EmailReplyParser

    parser = EmailReplyParser(languages=["fr", "en"])
    libraries = {
        "quotequail": lambda text: quotequail.quote(text)[0][1],
        "mail-parser-reply": lambda text: parser.parse_reply(text) or "",
    }
    total = len(labels["message"])
    for lib, split in libraries.items():
        exact = clean = 0
        for name, label in labels["message"].items():
            text = parse_message((MAIL / name).read_bytes()).body_text.replace("\r\n", "\n")
            out = split(text).strip()
            exact += out == label["body"]
            clean += out.startswith(label["body"]) and not _HISTORY.search(out)
        print(f"  bare {lib:<18} exact {ratio(exact, total):.3f}, history removed {ratio(clean, total):.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
