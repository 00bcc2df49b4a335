"""Size against a real Dovecot: a 30 MB message, and a folder of 10,000 messages."""

from __future__ import annotations

import hashlib

import pytest
from sqlite_utils import Database

from ingest.imap.poller import poll_once
from tests.dovecot import Dovecot, make_message
from tests.poll_helpers import account_for, config_for, count, stored_uids

pytest_plugins = ["tests.dovecot"]
pytestmark = [pytest.mark.dovecot, pytest.mark.slow]

Mailbox = tuple[Dovecot, str, str]


def test_a_30_mb_message_is_stored_byte_exact(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    big = make_message(1, padding=30 * 1024 * 1024)
    server.seed(user, "INBOX", [make_message(0), big, make_message(2)])

    summary = poll_once(db, config_for(account_for(server, user)), progress=False)

    assert summary.exit_status == 0
    assert stored_uids(db, "test", "INBOX") == [1, 2, 3]
    sha = hashlib.sha256(big).hexdigest()
    size, raw_sha = db.execute(
        "select m.size, r.sha256 from messages m join raw_messages r using (sha256) where m.sha256 = ?", [sha]
    ).fetchone()
    assert size == len(big) > 30_000_000
    assert raw_sha == sha
    stored = db.execute("select raw from raw_messages where sha256 = ?", [sha]).fetchone()[0]
    assert hashlib.sha256(stored).hexdigest() == sha


def test_a_folder_of_10000_messages(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    total = 10_000
    server.seed(user, "INBOX", (make_message(i) for i in range(total)))
    config = config_for(account_for(server, user))

    summary = poll_once(db, config, progress=False)

    assert summary.exit_status == 0
    assert count(db, "select count(*) from messages") == total
    assert stored_uids(db, "test", "INBOX") == list(range(1, total + 1))
    # and the next pass is the cheap check only
    again = poll_once(db, config)
    assert all(f.unchanged for f in again.accounts[0].folders)
