"""Benchmark `subtrail serve`: how fast the main pages answer on a large database.

Usage:
    python bench/bench_serve.py                         # 50,000 messages, 15 timed requests per page
    python bench/bench_serve.py --messages 5000 --runs 5
    python bench/bench_serve.py --keep /tmp/big.db      # keep (or reuse) the generated database

Generates a database with the real schema (messages with realistic bodies and raw
bytes, locations, an inventory, events, a journal with promises), starts the real
`subtrail serve` on a free loopback port, warms each URL once, then times it over
HTTP with keep-alive. Prints the median and the 90th percentile per page; the target
is a median of at most 100 ms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.store.schema import open_db  # noqa: E402

PROVIDERS = [
    "netflix", "canal-plus", "amazon-prime", "free-mobile", "spotify", "deezer", "disney-plus",
    "apple-music", "icloud", "youtube-premium", "microsoft-365", "mediapart", "le-monde", "duolingo",
    "openai", "edf", "orange", "sfr", "bouygues", "dropbox",
]  # fmt: skip
KINDS = [
    "receipt",
    "renewal_notice",
    "trial",
    "cancellation",
    "payment_failed",
    "price_change",
    "signup",
    "support",
]
WORDS = (
    "votre abonnement facture paiement merci renouvellement compte service client commande montant "
    "your subscription receipt payment thank you renewal account support order amount invoice plan"
).split()


def generate(path: Path, messages: int, seed: int = 42) -> None:
    """A database shaped like a few years of one person's mail (most of it not about subscriptions)."""
    rnd = random.Random(seed)
    db = open_db(path)
    start = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
    today = dt.date.today()
    msg_rows: list[dict[str, Any]] = []
    raw_rows: list[tuple[str, bytes]] = []
    loc_rows: list[tuple[Any, ...]] = []
    shas: list[str] = []
    for i in range(messages):
        when = start + dt.timedelta(minutes=rnd.randrange(0, 6 * 365 * 24 * 60))
        provider = rnd.choice(PROVIDERS) if rnd.random() < 0.3 else None
        kind = rnd.choice(KINDS) if provider else "other"
        subject = f"{' '.join(rnd.choices(WORDS, k=6))} #{i}"
        body = "\n".join(" ".join(rnd.choices(WORDS, k=14)) for _ in range(rnd.randint(5, 40)))
        raw = (
            f"From: sender{i % 500}@example.com\r\nTo: alice@example.org\r\nSubject: {subject}\r\n"
            f"Date: {when:%a, %d %b %Y %H:%M:%S} +0000\r\nMessage-ID: <m{i}@bench>\r\n\r\n{body}\r\n"
        ).encode()
        sha = hashlib.sha256(raw).hexdigest()
        shas.append(sha)
        msg_rows.append(
            {
                "sha256": sha,
                "message_id": f"<m{i}@bench>",
                "date": when.isoformat(),
                "from_addr": f"sender{i % 500}@example.com",
                "from_name": f"Sender {i % 500}",
                "to_addrs": "alice@example.org",
                "subject": subject,
                "body_text": body,
                "size": len(raw),
                "kind": kind,
                "provider": provider,
                "direction": "outbound" if rnd.random() < 0.1 else "inbound",
                "stored_at": when.isoformat(),
            }
        )
        raw_rows.append((sha, raw))
        loc_rows.append((sha, "perso", rnd.choice(["INBOX", "Sent", "Archive"]), 1, i + 1, when.isoformat()))
    with db.atomic():
        db["messages"].insert_all(msg_rows, batch_size=500)
        db.conn.executemany("insert into raw_messages (sha256, raw) values (?, ?)", raw_rows)
        db.conn.executemany(
            "insert into message_locations (sha256, account, folder, uidvalidity, uid, first_seen_at) "
            "values (?, ?, ?, ?, ?, ?)",
            loc_rows,
        )
        for n, provider in enumerate(PROVIDERS * 3):
            status = rnd.choice(["active", "active", "active", "cancelled", "trial", "expired"])
            sub_id = (
                db["subscriptions"]
                .insert(
                    {
                        "provider": provider,
                        "service_name": provider.title(),
                        "plan": rnd.choice(["Standard", "Premium", "Family"]),
                        "amount_minor": rnd.choice([299, 799, 1349, 1999, 2699, 9900]),
                        "currency": "EUR" if n % 7 else "USD",
                        "billing_period": rnd.choice(["P1M", "P1M", "P1Y", "P3M", "P1W"]),
                        "platform": rnd.choice(["direct", "apple", "google_play", "paypal"]),
                        "status": status,
                        "started_on": "2021-03-01",
                        "trial_ends_on": (today + dt.timedelta(days=rnd.randint(-30, 30))).isoformat(),
                        "next_renewal_on": (today + dt.timedelta(days=rnd.randint(-10, 120))).isoformat(),
                        "cancelled_on": "2025-06-01" if status == "cancelled" else None,
                    }
                )
                .last_pk
            )
            events = []
            for month in range(60):
                day = dt.date(2021, 3, 1) + dt.timedelta(days=30 * month)
                events.append(
                    {
                        "subscription_id": sub_id,
                        "message_sha256": rnd.choice(shas),
                        "event_type": rnd.choice(["charge"] * 8 + ["renewal_notice", "price_change"]),
                        "occurred_on": day.isoformat(),
                        "amount_minor": rnd.choice([1349, 1499]),
                        "currency": "EUR",
                        "extractor": "bench@1",
                        "confidence": rnd.random(),
                    }
                )
            db["subscription_events"].insert_all(events)
        for t in range(400):
            provider = rnd.choice(PROVIDERS)
            opened = today - dt.timedelta(days=rnd.randint(1, 900))
            ticket = (
                db["tickets"]
                .insert(
                    {
                        "provider": provider,
                        "ticket_ref": f"REF-{t}",
                        "subject": f"Case {t}",
                        "status": rnd.choice(["awaiting_provider", "awaiting_me", "resolved", "resolved"]),
                        "opened_at": f"{opened}T10:00:00+00:00",
                        "last_activity_at": f"{opened + dt.timedelta(days=5)}T10:00:00+00:00",
                    }
                )
                .last_pk
            )
            for k in range(6):
                tm = (
                    db["ticket_messages"]
                    .insert(
                        {
                            "ticket_id": ticket,
                            "message_sha256": rnd.choice(shas),
                            "sent_at": f"{opened + dt.timedelta(days=k)}T10:00:00+00:00",
                            "direction": "outbound" if k % 2 == 0 else "inbound",
                            "channel": "email",
                            "agent_name": rnd.choice([None, "Julie", "Kevin", "Priya"]),
                            "body": " ".join(rnd.choices(WORDS, k=40)),
                        }
                    )
                    .last_pk
                )
                if k == 3:
                    db["promises"].insert(
                        {
                            "ticket_message_id": tm,
                            "text": "refund within 5 days",
                            "due_on": str(opened + dt.timedelta(days=10)),
                            "status": rnd.choice(["pending", "kept", "overdue"]),
                        }
                    )
        db["sync_state"].insert_all(
            [
                {
                    "account": "perso",
                    "folder": f,
                    "uidvalidity": 1,
                    "last_uid": messages,
                    "last_success_at": "2026-01-01",
                }
                for f in ("INBOX", "Sent", "Archive")
            ],
            pk=("account", "folder"),
            replace=True,
        )
    db.execute("analyze")
    db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pages(base: str, sha: str, ticket_ref: str, ticket_id: int = 1) -> dict[str, str]:
    queries = yaml.safe_load((ROOT / "datasette-metadata.yml").read_text())["databases"]["subtrail"][
        "queries"
    ]
    params = {"days": "30", "provider": "netflix", "ticket": ticket_ref, "year": ""}
    urls = {
        "home (overview page)": "/",
        "page /inventory": "/inventory",
        "page /journal": "/journal",
        "page /journal/ID": f"/journal/{ticket_id}",
        "page /provider/netflix": "/provider/netflix",
        "database": "/subtrail",
        "messages": "/subtrail/messages",
        "messages search": "/subtrail/messages?_search=facture+netflix",
        "messages kind=receipt": "/subtrail/messages?kind=receipt",
        "message row": f"/subtrail/messages?sha256={sha}",
        "inventory": "/subtrail/subscriptions",
        "tickets": "/subtrail/tickets",
        "ticket_messages": "/subtrail/ticket_messages",
        "subscription_events": "/subtrail/subscription_events",
        "dashboard": "/-/dashboards/subtrail",
        "calendar.ics": "/calendar.ics",
        "evidence .eml": f"/evidence/{sha}.eml",
    }
    for name, query in queries.items():
        wanted = {k: v for k, v in params.items() if f":{k}" in query["sql"]}
        urls[f"query {name}"] = f"/subtrail/{name}?" + "&".join(f"{k}={v}" for k, v in wanted.items())
    dashboards = yaml.safe_load((ROOT / "datasette-metadata.yml").read_text())["plugins"][
        "datasette-dashboards"
    ]
    for slug, chart in dashboards["subtrail"]["charts"].items():
        urls[f"chart {slug}"] = (
            "/subtrail.json?" + httpx.QueryParams({"sql": chart["query"], "_shape": "objects"}).__str__()
        )
    return {name: base + url for name, url in urls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="database path to keep (reused if it exists)")
    args = parser.parse_args()

    tmp = tempfile.TemporaryDirectory()
    path = args.keep or Path(tmp.name) / "bench.db"
    if not path.exists():
        started = time.monotonic()
        generate(path, args.messages)
        print(
            f"generated {args.messages:,} messages in {time.monotonic() - started:.1f}s ({path.stat().st_size / 1e6:.0f} MB)"
        )
    db = open_db(path)
    sha = db.execute("select sha256 from messages order by id limit 1").fetchone()[0]
    ticket_ref = db.execute("select ticket_ref from tickets order by id limit 1").fetchone()[0] or "1"
    ticket_id = db.execute("select id from tickets order by id limit 1").fetchone()[0]
    count = db.execute("select count(*) from messages").fetchone()[0]
    db.close()

    port = free_port()
    cmd = [
        sys.executable,
        "-c",
        "from ingest.cli import cli; cli()",
        "serve",
        "--db",
        str(path),
        "--port",
        str(port),
    ]
    server = subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=30) as client:
            for _ in range(300):
                try:
                    client.get(f"{base}/robots.txt")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
            print(
                f"{count:,} messages; {args.runs} timed requests per page after one warm-up; load average {load}"
            )
            print(f"{'page':40} {'median ms':>10} {'p90 ms':>8} {'status':>7}")
            slow = []
            for name, url in pages(base, sha, ticket_ref, ticket_id).items():
                status = client.get(url).status_code  # warm-up (caches, table counts)
                times = []
                for _ in range(args.runs):
                    t0 = time.perf_counter()
                    client.get(url).read()
                    times.append((time.perf_counter() - t0) * 1000)
                median = statistics.median(times)
                p90 = sorted(times)[int(0.9 * (len(times) - 1))]
                print(f"{name:40} {median:10.1f} {p90:8.1f} {status:7}")
                if median > 100:
                    slow.append(name)
            print("all pages within 100 ms (median)" if not slow else f"over 100 ms: {', '.join(slow)}")
    finally:
        server.terminate()
        server.wait(timeout=10)
        tmp.cleanup()


if __name__ == "__main__":
    main()
