"""One logical message, however many raw copies (issue #14, defect 1).

The same mail imported from LF files, then from CRLF copies (a Maildir or Takeout), then fetched by
IMAP from a real Dovecot with delivery headers added, is stored byte-exact each time, but every fact
is counted once: the inventory, the journal, the totals and the evidence CSV stay identical.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlite_utils import Database

from extractors.mail.copies import content_key
from ingest.config import parse_config
from ingest.imap.poller import poll_once
from ingest.outputs.export import export_evidence
from ingest.outputs.status import build_status, render_status
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from tests.conftest import SAMPLE
from tests.dovecot import SENT, Dovecot
from tests.poll_helpers import account_for
from tests.test_inventory import IDENTITY

pytest_plugins = ["tests.dovecot"]

TODAY = "2026-11-26"
FACT_TABLES = ("subscriptions", "subscription_events", "tickets", "ticket_messages", "promises")


@pytest.fixture(autouse=True)
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)


def _sample(kind: str) -> list[tuple[str, bytes]]:
    """(folder, bytes) of every sample message, with LF or CRLF line ends."""
    out = []
    for path in sorted((SAMPLE / "mailbox").rglob("*.eml")):
        lf = path.read_bytes().replace(b"\r\n", b"\n")
        out.append((path.parent.name, lf if kind == "lf" else lf.replace(b"\n", b"\r\n")))
    return out


def _write_copies(root: Path, kind: str) -> Path:
    for index, (folder, raw) in enumerate(_sample(kind)):
        (root / kind / folder).mkdir(parents=True, exist_ok=True)
        (root / kind / folder / f"{index:03}.eml").write_bytes(raw)
    return root / kind


def _delivered(raw: bytes) -> bytes:
    """The copy a mail server hands out: CRLF, with the headers delivery and Gmail add on top."""
    added = (
        b"Received: from mx.example.net by imap.example.org; Tue, 1 Dec 2026 10:00:00 +0000\r\n"
        b"X-GM-THRID: 1780000000000000000\r\nX-Gmail-Labels: Inbox,Important\r\n"
    )
    return added + raw.replace(b"\n", b"\r\n")


def facts(db: Database) -> dict[str, object]:
    """Everything a person reads from the mail: derived rows, the status text, the evidence CSV."""
    snapshot: dict[str, object] = {
        table: db.execute(f"select * from [{table}] order by id").fetchall() for table in FACT_TABLES
    }
    snapshot["status"] = render_status(build_status(db, date.fromisoformat(TODAY)))
    snapshot["csv"] = export_evidence(db, fmt="csv")
    snapshot["charged"] = db.execute(
        "select count(*), sum(amount_minor) from subscription_events where event_type = 'charge'"
    ).fetchone()
    return snapshot


def test_lf_then_crlf_copies_of_the_sample_count_once(db: Database, tmp_path: Path) -> None:
    import_paths(db, [str(_write_copies(tmp_path, "lf"))], IDENTITY, workers=1, progress=False)
    once = facts(db)
    stored = db.execute("select count(*) from raw_messages").fetchone()[0]

    summary = import_paths(db, [str(_write_copies(tmp_path, "crlf"))], IDENTITY, workers=1, progress=False)

    assert summary.new == stored  # every copy is new evidence, stored byte-exact
    assert db.execute("select count(*) from raw_messages").fetchone()[0] == 2 * stored
    assert facts(db) == once
    copies = db.execute(
        "select count(*) from messages where canonical_sha256 != sha256 and content_key is not null"
    ).fetchone()[0]
    assert copies == stored


def test_reprocess_keeps_copies_counted_once(db: Database, tmp_path: Path) -> None:
    import_paths(db, [str(_write_copies(tmp_path, "lf"))], IDENTITY, workers=1, progress=False)
    once = facts(db)
    import_paths(db, [str(_write_copies(tmp_path, "crlf"))], IDENTITY, workers=1, progress=False)

    reprocess_all(db, IDENTITY, workers=1)

    assert facts(db) == once


def test_copies_in_one_chunk_count_once(db: Database, tmp_path: Path) -> None:
    """LF and CRLF copies side by side in the same import: the first of them is the message."""
    _write_copies(tmp_path / "both", "lf")
    _write_copies(tmp_path / "both", "crlf")
    import_paths(db, [str(tmp_path / "both")], IDENTITY, workers=1, progress=False)
    both = facts(db)

    fresh = Database(tmp_path / "one.db")
    from ingest.store.schema import ensure_db_shape

    ensure_db_shape(fresh)
    import_paths(fresh, [str(_write_copies(tmp_path / "one", "lf"))], IDENTITY, workers=1, progress=False)
    one = facts(fresh)
    assert both["charged"] == one["charged"]
    assert both["status"] == one["status"]
    assert len(both["subscription_events"]) == len(one["subscription_events"])
    assert len(both["ticket_messages"]) == len(one["ticket_messages"])


def test_transport_headers_and_line_ends_do_not_change_the_content_key() -> None:
    raw = (SAMPLE / "mailbox" / "inbox" / "sub-netflix-fr-receipt-nov.eml").read_bytes()
    lf = raw.replace(b"\r\n", b"\n")
    mbox_copy = (
        b"From MAILER-DAEMON Tue Dec  1 10:00:00 2026\nStatus: RO\nX-Status: A\nContent-Length: 42\n" + lf
    )
    assert content_key(lf) == content_key(lf.replace(b"\n", b"\r\n")) == content_key(_delivered(lf))
    assert content_key(mbox_copy) == content_key(lf)
    assert content_key(lf + b"\n\n") == content_key(lf)  # a trailing blank line an mbox writer adds
    edited = lf.replace(b"Subject:", b"Subject: Fwd:", 1)
    assert content_key(edited) != content_key(lf)


@pytest.mark.dovecot
def test_imap_fetch_after_file_imports_counts_once(
    db: Database, tmp_path: Path, mailbox: tuple[Dovecot, str, str]
) -> None:
    server, user, _ = mailbox
    import_paths(db, [str(_write_copies(tmp_path, "lf"))], IDENTITY, workers=1, progress=False)
    once = facts(db)
    import_paths(db, [str(_write_copies(tmp_path, "crlf"))], IDENTITY, workers=1, progress=False)
    sample = _sample("lf")
    server.seed(user, "INBOX", [_delivered(raw) for folder, raw in sample if folder == "inbox"])
    server.seed(user, SENT, [_delivered(raw) for folder, raw in sample if folder == "sent"])
    config = parse_config(
        {"identity": {"addresses": sorted(IDENTITY.addresses)}, "accounts": [account_for(server, user)]}
    )

    summary = poll_once(db, config, workers=1, progress=False)

    assert summary.exit_status == 0
    assert summary.new == len(sample)  # stored, byte-exact, as evidence
    assert facts(db) == once
