"""Helpers for the Datasette tests: known data to look for, and a real `subtrail serve` process.

`seed` stores real messages through the real store (so raw bytes, sha256 and the
messages row are what an import would produce) and adds inventory and journal rows
around them with dates relative to today, so "upcoming" and "overdue" queries
have something to find whenever the suite runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlite_utils import Database

from extractors import Identity
from ingest.pipeline import prepare
from ingest.store import Location, save_parsed

ME = "alice.martin@example.org"
HOSTILE_SUBJECT = "<script>alert('xss')</script> Votre facture"


def _eml(sender: str, to: str, subject: str, date: str, body: bytes, extra: bytes = b"") -> bytes:
    """A message with CRLF line ends, an 8-bit body and trailing spaces: byte-exactness matters."""
    head = (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n"
        f"Message-ID: <{hashlib.md5((sender + subject + date).encode()).hexdigest()}@test.example>\r\n"
        "MIME-Version: 1.0\r\n"
    ).encode()
    return head + extra + b"\r\n" + body


@dataclass
class Seeded:
    receipt_sha: str  # Netflix receipt: linked to a subscription
    outbound_sha: str  # my mail to Canal+: linked to the ticket
    inbound_sha: str  # Canal+ reply: ticket, promise
    hostile_sha: str  # HTML with script in subject and body
    receipt_raw: bytes
    receipt_date: str
    ticket_id: int
    ticket_ref: str
    netflix_id: int


def seed(db: Database, today: dt.date | None = None) -> Seeded:
    today = today or dt.date.today()

    def day(offset: int) -> str:
        return (today + dt.timedelta(days=offset)).isoformat()

    def rfc(offset: int) -> str:
        d = today + dt.timedelta(days=offset)
        return d.strftime("%a, %d %b %Y 10:02:00 +0000")

    receipt_raw = _eml(
        "Netflix <info@account.netflix.com>",
        ME,
        "Votre facture Netflix",
        rfc(-20),
        "Montant : 13,49 \u20ac  \r\nMerci, \xe9quipe Netflix   \r\n".encode("latin-1", "replace"),
        b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n",
    )
    outbound_raw = _eml(
        f"Alice Martin <{ME}>",
        "service-client@canalplus.example",
        "Résiliation - Dossier n° DOS-12345",
        rfc(-35),
        "Je souhaite résilier et être remboursée.\r\n".encode(),
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
    )
    inbound_raw = _eml(
        "Julie (Canal+) <service-client@canalplus.example>",
        ME,
        "Re: Résiliation - Dossier n° DOS-12345",
        rfc(-30),
        "Nous procéderons au remboursement de 26,99 € sous 5 jours ouvrés.\r\nJulie\r\n".encode(),
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
    )
    hostile_raw = _eml(
        "Promo <promo@evil.example>",
        ME,
        HOSTILE_SUBJECT,
        rfc(-2),
        b"<html><body><img src=x onerror=alert(1)><script>alert(2)</script>Hello</body></html>\r\n",
        b"Content-Type: text/html; charset=utf-8\r\n",
    )
    identity = Identity(frozenset({ME}))
    prepared = [
        prepare(raw, Location(account="test", folder="INBOX", uid=i), identity)
        for i, raw in enumerate([receipt_raw, outbound_raw, inbound_raw, hostile_raw], start=1)
    ]
    with db.atomic():
        save_parsed(db, prepared)
    receipt, outbound, inbound, hostile = (p.parsed.sha256 for p in prepared)

    with db.atomic():
        db["providers"].upsert_all(
            [
                {"slug": "netflix", "name": "Netflix", "cancel_url": "https://www.netflix.com/cancelplan"},
                {"slug": "canal-plus", "name": "Canal+", "support_url": "https://client.canalplus.com"},
            ],
            pk="slug",
        )
        subs = db["subscriptions"]
        netflix = subs.insert(
            {
                "provider": "netflix",
                "service_name": "Netflix",
                "plan": "Standard",
                "amount_minor": 1349,
                "currency": "EUR",
                "billing_period": "P1M",
                "platform": "direct",
                "account_email": ME,
                "status": "active",
                "started_on": day(-400),
                "next_renewal_on": day(10),
                "last_charged_on": day(-20),
            }
        ).last_pk
        canal = subs.insert(
            {
                "provider": "canal-plus",
                "service_name": "Canal+",
                "plan": "Essentiel",
                "amount_minor": 2699,
                "currency": "EUR",
                "billing_period": "P1M",
                "platform": "direct",
                "status": "cancelled",
                "started_on": day(-300),
                "cancelled_on": day(-30),
                "ends_on": day(-25),
            }
        ).last_pk
        subs.insert(
            {
                "provider": "spotify",
                "service_name": "Spotify",
                "plan": "Premium",
                "amount_minor": 1199,
                "currency": "EUR",
                "billing_period": "P1M",
                "platform": "apple",
                "status": "trial",
                "trial_ends_on": day(5),
            }
        )
        subs.insert(
            {
                "provider": "nytimes",
                "service_name": "The New York Times",
                "amount_minor": 4800,
                "currency": "USD",
                "billing_period": "P1Y",
                "platform": "direct",
                "status": "active",
                "next_renewal_on": day(200),
            }
        )
        event = {"extractor": "seed@1", "confidence": 0.95, "currency": "EUR"}
        db["subscription_events"].insert_all(
            [
                {**event, "subscription_id": netflix, "event_type": "charge", "occurred_on": day(-80), "amount_minor": 1199},
                {**event, "subscription_id": netflix, "event_type": "price_change", "occurred_on": day(-60), "amount_minor": 1349},
                {**event, "subscription_id": netflix, "event_type": "charge", "occurred_on": day(-50), "amount_minor": 1349},
                {**event, "subscription_id": netflix, "event_type": "charge", "occurred_on": day(-20), "amount_minor": 1349, "message_sha256": receipt},
                {**event, "subscription_id": canal, "event_type": "cancellation_confirmed", "occurred_on": day(-30)},
                {**event, "subscription_id": canal, "event_type": "charge", "occurred_on": day(-5), "amount_minor": 2699, "confidence": 0.5},
            ]
        )  # fmt: skip
        ticket = (
            db["tickets"]
            .insert(
                {
                    "provider": "canal-plus",
                    "ticket_ref": "DOS-12345",
                    "subject": "Résiliation",
                    "status": "awaiting_provider",
                    "opened_at": f"{day(-35)}T10:02:00+00:00",
                    "last_activity_at": f"{day(-28)}T09:00:00+00:00",
                }
            )
            .last_pk
        )
        tm = db["ticket_messages"]
        tm.insert_all(
            [
                {"ticket_id": ticket, "message_sha256": outbound, "sent_at": f"{day(-35)}T10:02:00+00:00",
                 "direction": "outbound", "channel": "email", "body": "Je souhaite résilier et être remboursée."},
                {"ticket_id": ticket, "message_sha256": inbound, "sent_at": f"{day(-30)}T10:02:00+00:00",
                 "direction": "inbound", "channel": "email", "agent_name": "Julie",
                 "body": "Nous procéderons au remboursement de 26,99 € sous 5 jours ouvrés."},
                {"ticket_id": ticket, "sent_at": f"{day(-28)}T09:00:00+00:00", "direction": "inbound",
                 "channel": "phone", "agent_name": "Kevin", "body": "Rappel promis sous une semaine."},
            ]
        )  # fmt: skip
        promise_from = {row["channel"]: row["id"] for row in tm.rows_where("ticket_id = ?", [ticket])}
        db["promises"].insert_all(
            [
                {"ticket_message_id": promise_from["email"], "text": "remboursement de 26,99 € sous 5 jours ouvrés",
                 "due_on": day(-23), "status": "pending"},
                {"ticket_message_id": promise_from["phone"], "text": "rappel sous une semaine",
                 "due_on": day(7), "status": "pending"},
            ]
        )  # fmt: skip
        db["sync_state"].insert(
            {"account": "test", "folder": "INBOX", "uidvalidity": 1, "last_uid": 4, "last_success_at": f"{day(0)}T05:00:00+00:00"},
            pk=("account", "folder"),
            replace=True,
        )  # fmt: skip
        if "needs_review" in db["messages"].columns_dict:
            db.execute("update messages set needs_review = 1 where sha256 = ?", [hostile])
        if db["poll_runs"].exists():
            db["poll_runs"].insert(
                {"started_at": f"{day(0)}T04:59:00+00:00", "ended_at": f"{day(0)}T05:00:00+00:00",
                 "account": "test", "folder": "INBOX", "fetched": 4, "errors": 0, "status": "ok"}
            )  # fmt: skip
    date = db.execute("select date from messages where sha256 = ?", [receipt]).fetchone()[0]
    return Seeded(
        receipt_sha=receipt,
        outbound_sha=outbound,
        inbound_sha=inbound,
        hostile_sha=hostile,
        receipt_raw=receipt_raw,
        receipt_date=date,
        ticket_id=int(ticket),
        ticket_ref="DOS-12345",
        netflix_id=int(netflix),
    )


def make_sample_db(path: Path) -> Seeded:
    """The bundled sample mailbox imported for real, plus the known rows of `seed`."""
    from ingest.config import load_config
    from ingest.pipeline.importer import import_paths
    from ingest.store.schema import open_db

    sample = Path(__file__).resolve().parent.parent / "data" / "sample"
    db = open_db(path)
    try:
        config = load_config(str(sample / "subtrail.toml"))
        import_paths(db, [str(sample / "mailbox")], identity=config.identity, progress=False)
        return seed(db)
    finally:
        db.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subtrail_command(*args: str) -> list[str]:
    return [sys.executable, "-c", "from ingest.cli import cli; cli()", *args]


@contextmanager
def running_server(
    db_path: Path,
    env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    auth: tuple[str, str] | None = None,
    extra_args: tuple[str, ...] = (),
    program: list[str] | None = None,
    cwd: Path | None = None,
) -> Iterator[str]:
    """Start `subtrail serve` for real and yield its base URL once it answers; stop it after.

    `program` replaces this checkout's `subtrail` (an installed wheel's, say), run from `cwd`.
    """
    port = free_port()
    full_env = {**os.environ, **(env or {})}
    serve_args = ["serve", "--db", str(db_path), "--host", host, "--port", str(port), *extra_args]
    proc = subprocess.Popen(
        [*program, *serve_args] if program else subtrail_command(*serve_args),
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"subtrail serve exited with {proc.returncode}: {out}")
            try:
                httpx.get(f"{base}/robots.txt", timeout=1, auth=auth)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode == 0, f"subtrail serve did not stop cleanly on SIGTERM ({proc.returncode})"
