"""The poller against a hostile or broken IMAP server (`tests/fakeimap.py`), beyond what a real
Dovecot can be made to do: malformed responses, a literal announcing 2 GB, a server that stalls
mid-response, certificates that are self-signed or expired, STARTTLS stripped by a man in the
middle. Each must end as a recorded, secret-free error within a bounded time, never a crash,
and no credential may be sent over a connection that failed its TLS checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlite_utils import Database

from ingest.config import parse_config
from ingest.imap.poller import ONCE_RETRIES, poll_once
from tests.fakeimap import FLOOD, HANG_UP, MESSAGE, STALL, FakeImap

PASSWORD = "Fault-Test-Pa55word!"
PASSWORD_ENV = "SUBTRAIL_FAKE_IMAP_PASSWORD"
TIMEOUT = 1.0  # the account's timeout: reads, and (smaller than CONNECT_TIMEOUT) connect + greeting


@pytest.fixture(autouse=True)
def _fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def account(server: FakeImap, **extra: Any) -> dict[str, Any]:
    return {
        "name": "fake",
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "username": "alice",
        "password_env": PASSWORD_ENV,
        "fetch": "all",
        "timeout": TIMEOUT,
        **extra,
    }


def poll(server: FakeImap, db: Database, **extra: Any) -> tuple[Any, float]:
    config = parse_config(
        {"identity": {"addresses": ["alice@example.org"]}, "accounts": [account(server, **extra)]}
    )
    started = time.monotonic()
    summary = poll_once(db, config, retry_delay=0.01)
    return summary, time.monotonic() - started


def imap_errors(db: Database) -> list[str]:
    return [r[0] for r in db.execute("select error from ingest_errors where stage = 'imap'")]


def test_the_fake_server_works(db: Database) -> None:
    """The baseline: without faults the poller stores the one message byte-exact."""
    with FakeImap() as server:
        summary, _ = poll(server, db)
    assert (summary.new, summary.errors) == (1, 0)
    assert db.execute("select raw from raw_messages").fetchone()[0] == MESSAGE
    assert b"LOGIN" in server.wire  # the recording works, so its absence below means something


# (script, expected words in the error). Every fault is retried ONCE_RETRIES times, then recorded.
LITERAL_2GB = b"* 1 FETCH (UID 1 BODY[] {2147483648}\r\n"
FAULTS: dict[str, tuple[dict[str, Any], str]] = {
    "garbage greeting": ({"greeting": b"\x00\xff\xfe garbage\r\n"}, "connection lost"),
    "greeting then hang-up": ({"greeting": b"* OK hi\r\n" + HANG_UP}, "fake"),
    "silent server": ({"greeting": STALL}, f"no IMAP greeting within {TIMEOUT:g} s"),
    "malformed STATUS": (
        {"script": {"STATUS": b"* STATUS INBOX (UIDVALIDITY x UIDNEXT\r\nTAG OK done\r\n"}},
        "cannot open folder",
    ),
    "STATUS refused": (
        {"script": {"STATUS": b"TAG NO [NONEXISTENT] no such mailbox\r\n"}},
        "cannot open folder",
    ),
    # one unreadable response costs its message (asked again, then recorded), not the session
    "unbalanced FETCH": (
        {
            "script": {
                "UID FETCH BODY": b"* 1 FETCH (UID 1 BODY[] {10}\r\n0123456789 FLAGS ((\\Seen)\r\nTAG OK x\r\n"
            }
        },
        "no body for UID 1",
    ),
    "literal cut short": (
        {"script": {"UID FETCH BODY": b"* 1 FETCH (UID 1 BODY[] {300}\r\n0123" + HANG_UP}},
        "EOF",
    ),
    "2 GB literal, then hang-up": (
        {"script": {"UID FETCH BODY": LITERAL_2GB + b"x" * 65536 + HANG_UP}},
        "limit",
    ),
    "2 GB literal, then silence": (
        {"script": {"UID FETCH BODY": LITERAL_2GB + b"x" * 65536 + STALL}},
        "limit",
    ),
    "stall mid-response": (
        {"script": {"UID FETCH BODY": b"* 1 FETCH (UID 1 BODY[] {300}\r\nabc" + STALL}},
        "timed out",
    ),
    "stall before the tagged OK": (
        {"script": {"UID FETCH META": b"* 1 FETCH (UID 1 RFC822.SIZE 200)\r\n" + STALL}},
        "timed out",
    ),
    "2 MB line": ({"script": {"UID FETCH META": b"* 1 FETCH (" + b"x" * 2_000_000 + STALL}}, "more than"),
    "BYE mid-fetch": ({"script": {"UID FETCH BODY": b"* BYE going away\r\n" + HANG_UP}}, "going away"),
    "absurd UIDs in SEARCH": (
        {"script": {"UID SEARCH": b"* SEARCH 1 abc -5 99999999999999999999999\r\nTAG OK done\r\n"}},
        "fake",
    ),
    "BAD to everything after login": (
        {
            "script": {
                "LIST": b"TAG BAD what\r\n",
                "STATUS": b"TAG BAD what\r\n",
                "EXAMINE": b"TAG BAD what\r\n",
            }
        },
        "fake",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_fault_is_a_recorded_error_within_bounds(db: Database, fault: str) -> None:
    kwargs, expected = FAULTS[fault]
    with FakeImap(**kwargs) as server:
        summary, seconds = poll(server, db)  # no exception escapes
    assert summary.errors >= 1 and summary.exit_status == 1
    errors = imap_errors(db)
    assert errors and any(expected in e for e in errors), errors
    assert all(PASSWORD not in e for e in errors)
    # Each attempt waits at most the connect plus read timeouts; the retries add no more.
    assert seconds < (ONCE_RETRIES + 1) * 2 * TIMEOUT + 5, seconds
    assert db["raw_messages"].count == 0


def test_body_not_returned_is_recorded_and_fetched_next_pass(db: Database) -> None:
    """A server that answers the body FETCH of UID 1 as UID 7 (imapclient drops unasked UIDs):
    the gap is an ingest_errors row, and the next pass against a sane server fetches the body."""
    misnumbered = (
        b"* 1 FETCH (UID 7 BODY[] {%d}\r\n" % len(MESSAGE)
        + MESSAGE
        + b' INTERNALDATE "03-Mar-2026 09:15:00 +0000" FLAGS (\\Seen))\r\nTAG OK done\r\n'
    )
    with FakeImap(script={"UID FETCH BODY": misnumbered}) as server:
        poll(server, db)
    assert any("no body for UID 1" in e for e in imap_errors(db)), imap_errors(db)
    assert db["raw_messages"].count == 0
    with FakeImap() as server:
        poll(server, db)
    assert db.execute("select raw from raw_messages").fetchone()[0] == MESSAGE
    assert db.execute("select count(*) from pending_bodies").fetchone()[0] == 0


def test_relevant_body_not_returned_is_wanted_and_fetched_next_pass(db: Database) -> None:
    """The same gap in `fetch = "relevant"` mode: the headers made the message relevant, the body
    FETCH came back under another UID. It stays wanted (`body_wanted`) and the next pass, which
    finds no new UID, fetches it all the same."""
    headers = b"From: Netflix <info@account.netflix.com>\r\nSubject: Your receipt\r\n\r\n"
    meta = (
        b"* 1 FETCH (UID 1 RFC822.SIZE %d BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}\r\n"
        % (len(MESSAGE), len(headers))
        + headers
        + b")\r\nTAG OK done\r\n"
    )
    misnumbered = (
        b"* 1 FETCH (UID 7 BODY[] {%d}\r\n" % len(MESSAGE) + MESSAGE + b" FLAGS ())\r\nTAG OK done\r\n"
    )
    with FakeImap(script={"UID FETCH META": meta, "UID FETCH BODY": misnumbered}) as server:
        poll(server, db, fetch="relevant")
    assert any("no body for UID 1" in e for e in imap_errors(db)), imap_errors(db)
    assert db.execute("select uid, body_wanted from pending_bodies").fetchall() == [(1, 1)]
    assert db["raw_messages"].count == 0
    with FakeImap(script={"UID FETCH META": meta}) as server:
        summary, _ = poll(server, db, fetch="relevant")
    assert summary.new == 1 and summary.processed == 1
    assert db.execute("select raw from raw_messages").fetchone()[0] == MESSAGE
    assert db.execute("select count(*) from pending_bodies").fetchone()[0] == 0
    assert db.execute("select subject from messages").fetchone()[0] == "over fake IMAP"


def gmail_mail() -> dict[str, list[bytes]]:
    """Gmail's folders: INBOX and Sent are labels, `[Gmail]/All Mail` holds every message once."""

    def mail(n: int, sender: str, subject: str) -> bytes:
        return (
            f"From: <{sender}>\r\nTo: alice@example.org\r\nSubject: {subject}\r\n"
            f"Date: Tue, 03 Mar 2026 09:{n:02d}:00 +0000\r\nMessage-ID: <gm-{n}@mail.example>\r\n\r\n"
            f"Message {n}.\r\n"
        ).encode()

    receipt, news = mail(1, "billing@netflix.com", "Your receipt"), mail(2, "news@shop.example", "Ideas")
    archived = mail(3, "billing@netflix.com", "Your invoice")  # archived: in All Mail only
    sent = (
        b"From: <alice@example.org>\r\nTo: <help@netflix.com>\r\nSubject: Cancel please\r\n"
        b"Date: Tue, 03 Mar 2026 10:00:00 +0000\r\nMessage-ID: <gm-4@mail.example>\r\n\r\nPlease cancel.\r\n"
    )
    return {
        "INBOX": [receipt, news],
        "[Gmail]/All Mail": [receipt, news, archived, sent],
        "[Gmail]/Sent Mail": [sent],
    }


GMAIL_FLAGS = {"[Gmail]/All Mail": b"\\All", "[Gmail]/Sent Mail": b"\\Sent"}


@pytest.mark.parametrize("mode", ["all", "relevant"])
@pytest.mark.parametrize("folders", [None, ["INBOX", "[Gmail]/All Mail"]], ids=["default", "all-mail"])
def test_gmail_style_responses(db: Database, mode: str, folders: list[str] | None) -> None:
    """Gmail answers with X-GM-THRID / X-GM-MSGID / X-GM-LABELS first and UID last, after the
    literals; Sent is found by its \\Sent flag; a message seen in several folders (labels) is
    stored once with a location per folder, and the checkpoint of each folder reaches its end."""
    with FakeImap(mailboxes=gmail_mail(), folder_flags=GMAIL_FLAGS, gmail=True) as server:
        extra = {"folders": folders} if folders else {}
        summary, _ = poll(server, db, fetch=mode, **extra)
    assert summary.exit_status == 0, imap_errors(db)
    synced = folders or ["INBOX", "[Gmail]/Sent Mail"]
    state = dict(db.execute("select folder, last_uid from sync_state").fetchall())
    assert state == {f: len(gmail_mail()[f]) for f in synced}
    subjects = {r[0] for r in db.execute("select subject from messages")}
    if folders is None:
        expected = {"Your receipt", "Cancel please"} | ({"Ideas"} if mode == "all" else set())
    else:
        expected = {"Your receipt", "Your invoice", "Cancel please"} | ({"Ideas"} if mode == "all" else set())
    assert subjects == expected
    assert db["raw_messages"].count == len(expected)  # each message once, whatever its labels
    places = db.execute("select count(*) from message_locations").fetchone()[0]
    header_only = db.execute("select count(*) from pending_bodies").fetchone()[0]
    assert places + header_only == sum(len(gmail_mail()[f]) for f in synced)  # every UID accounted for
    assert b"X-GM-EXT-1" not in server.wire  # nothing Gmail-specific is asked: plain IMAP works there


def test_2gb_literal_is_not_buffered_when_the_server_sends_it(tmp_path: Path) -> None:
    """Memory stays bounded when a server announces a 2 GB literal and actually streams it.

    Measured in a child process (its own high-water mark). Before the poller refused literals
    over the message size limit, 300 MB streamed cost it ~1.8 GB (imaplib reads a literal whole).
    """
    code = f"""
import json, os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent.parent)!r})
from tests.fakeimap import FakeImap, FLOOD, HANG_UP
from ingest.config import parse_config
from ingest.imap.poller import poll_once
from ingest.store.schema import open_db
os.environ[{PASSWORD_ENV!r}] = "x"
script = {{"UID FETCH BODY": {LITERAL_2GB!r} + {FLOOD!r} + {HANG_UP!r}}}
with FakeImap(script=script, flood_bytes=300 * 2**20) as server:
    config = parse_config({{"accounts": [{{"name": "fake", "host": "127.0.0.1", "port": server.port,
        "security": "none", "username": "a", "password_env": {PASSWORD_ENV!r}, "fetch": "all", "timeout": 5}}]}})
    summary = poll_once(open_db({str(tmp_path / "db.sqlite")!r}), config, retry_delay=0.01)
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
print(json.dumps({{"errors": summary.errors, "error": str(summary.accounts[0].error), "peak_mb": peak}}))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["errors"] == 1 and "literal" in result["error"]
    assert result["peak_mb"] < 300, result


# --- TLS ----------------------------------------------------------------------------------------


def make_cert(directory: Path, name: str, expired: bool = False) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1: (cert, key, sha256 fingerprint)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    start, end = (
        (now - dt.timedelta(days=30), now - dt.timedelta(days=1))
        if expired
        else (now, now + dt.timedelta(days=2))
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path, str]]:
    directory = tmp_path_factory.mktemp("certs")
    return {"valid": make_cert(directory, "valid"), "expired": make_cert(directory, "expired", expired=True)}


def _never_sent_credentials(server: FakeImap) -> None:
    assert b"LOGIN" not in server.wire.upper() and PASSWORD.encode() not in server.wire
    assert b"AUTHENTICATE" not in server.wire.upper()


# (which cert, implicit TLS or STARTTLS, account settings beyond security, accepted?)
TLS_CASES: dict[str, tuple[str, str, dict[str, Any], bool]] = {
    "ssl, self-signed, not trusted": ("valid", "ssl", {}, False),
    "ssl, trusted through tls_ca_file": ("valid", "ssl", {"tls_ca_file": "CERT"}, True),
    "ssl, expired though trusted": ("expired", "ssl", {"tls_ca_file": "CERT"}, False),
    "ssl, expired but pinned": ("expired", "ssl", {"tls_fingerprint": "PIN"}, True),
    "ssl, pinned to another certificate": ("valid", "ssl", {"tls_fingerprint": "0" * 64}, False),
    "starttls, self-signed, not trusted": ("valid", "starttls", {}, False),
    "starttls, trusted": ("valid", "starttls", {"tls_ca_file": "CERT"}, True),
    "starttls, expired though trusted": ("expired", "starttls", {"tls_ca_file": "CERT"}, False),
    "starttls, expired but pinned": ("expired", "starttls", {"tls_fingerprint": "PIN"}, True),
}


@pytest.mark.parametrize("case", TLS_CASES)
def test_tls_certificate_checks(db: Database, certs: dict[str, tuple[Path, Path, str]], case: str) -> None:
    which, security, settings, accepted = TLS_CASES[case]
    cert, key, pin = certs[which]
    settings = {k: {"CERT": str(cert), "PIN": pin}.get(v, v) for k, v in settings.items()}
    tls = {"implicit_tls": True} if security == "ssl" else {"starttls": True}
    with FakeImap(cert=cert, key=key, **tls) as server:
        summary, seconds = poll(server, db, security=security, **settings)
    assert seconds < (ONCE_RETRIES + 1) * 2 * TIMEOUT + 5
    if accepted:
        assert (summary.new, summary.errors) == (1, 0), imap_errors(db)
        assert PASSWORD.encode() in server.wire  # sent, but only inside the verified TLS session
    else:
        assert summary.new == 0 and summary.errors == 1
        (error,) = imap_errors(db)
        assert "TLS" in error or "certificate" in error, error
        _never_sent_credentials(server)


@pytest.mark.parametrize(
    "strip",
    [
        {
            "greeting": b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] no STARTTLS offered\r\n"
        },  # capability stripped
        {
            "starttls": False,
            "script": {"CAPABILITY": b"* CAPABILITY IMAP4rev1 STARTTLS\r\nTAG OK\r\n"},
        },  # then BAD
        {"script": {"STARTTLS": b"TAG NO [ALERT] TLS unavailable\r\n"}},
        {"script": {"STARTTLS": b"TAG OK go ahead\r\n* OK plain text again\r\n"}},  # no handshake follows
    ],
    ids=["not-advertised", "advertised-then-bad", "refused", "ok-without-handshake"],
)
def test_starttls_stripping_refused(
    db: Database, certs: dict[str, tuple[Path, Path, str]], strip: dict[str, Any]
) -> None:
    cert, key, _ = certs["valid"]
    options = {"starttls": True, "cert": cert, "key": key, **strip}
    if "greeting" in strip:
        options["starttls"] = False
    with FakeImap(**options) as server:
        summary, _ = poll(server, db, security="starttls", tls_ca_file=str(cert))
    assert summary.new == 0 and summary.errors == 1
    _never_sent_credentials(server)


def test_plain_imap_refused_off_loopback() -> None:
    from ingest.config import ConfigError

    with pytest.raises(ConfigError, match="refused"):
        parse_config({"accounts": [{"name": "x", "host": "imap.example.org", "security": "none", "username": "a",
                                    "password_env": PASSWORD_ENV}]})  # fmt: skip


def test_daemon_outlives_a_stalling_and_a_lying_server(tmp_path: Path) -> None:
    """The daemon (`poll` without --once) against two broken accounts: each failure is recorded,
    the loops keep retrying with backoff, and a stop request ends them within bounds."""
    import threading

    from ingest.imap.poller import DaemonSettings, run_daemon
    from ingest.store.schema import open_db

    stall = {"script": {"UID FETCH BODY": b"* 1 FETCH (UID 1 BODY[] {300}\r\nabc" + STALL}}
    bad = {"script": {"LIST": b"TAG BAD what\r\n"}}
    db_path = tmp_path / "daemon.db"
    open_db(db_path).close()
    with FakeImap(**stall) as slow, FakeImap(**bad) as liar:
        accounts = [account(slow, name="slow"), account(liar, name="liar")]
        config = parse_config({"identity": {"addresses": ["alice@example.org"]}, "accounts": accounts})
        stop = threading.Event()
        settings = DaemonSettings(
            interval=1, backoff_base=0.2, backoff_cap=1, permanent_retry=1, derive_delay=0.1
        )
        daemon = threading.Thread(target=run_daemon, args=(str(db_path), config, stop, settings), daemon=True)
        daemon.start()
        deadline = time.monotonic() + 20
        with Database(db_path) as db:
            while {r[0] for r in db.execute("select source from ingest_errors where stage = 'imap'")} != {
                "slow",
                "liar",
            }:
                assert time.monotonic() < deadline and daemon.is_alive(), imap_errors(db)
                time.sleep(0.2)
        assert daemon.is_alive()  # still retrying
        stop.set()
        started = time.monotonic()
        daemon.join(timeout=15)
        assert not daemon.is_alive() and time.monotonic() - started < 2 * TIMEOUT + 5
    assert slow.wire.count(b"LOGIN") >= 1 and liar.wire.count(b"LOGIN") >= 2  # the liar was retried
