"""The poller's sync semantics against a real Dovecot: first and incremental sync, read-only,
duplicates across folders, deletions, UIDVALIDITY changes, relevant mode."""

from __future__ import annotations

import pytest
from sqlite_utils import Database

from ingest.imap.poller import poll_once
from tests.conftest import FIXTURES
from tests.dovecot import SENT, Dovecot, make_message
from tests.poll_helpers import ME, account_for, config_for, count, stored_uids

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot

Mailbox = tuple[Dovecot, str, str]


def test_first_sync_stores_every_message_and_the_checkpoint(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(20)])
    server.seed(user, SENT, [make_message(100, sender=ME, to="help@netflix.com")])
    config = config_for(account_for(server, user))

    summary = poll_once(db, config)

    assert summary.exit_status == 0
    assert count(db, "select count(*) from messages") == 21
    assert stored_uids(db, "test", "INBOX") == list(range(1, 21))
    assert stored_uids(db, "test", SENT) == [1]  # found through the \Sent special-use flag
    state = dict(db.execute("select folder, last_uid from sync_state where account = 'test'").fetchall())
    assert state == {"INBOX": 20, SENT: 1}
    raw = db.execute("select raw from raw_messages r join messages m using (sha256) where m.subject = ?",
                     ["Your receipt #3"]).fetchone()[0]  # fmt: skip
    assert raw == make_message(3)  # byte-exact
    runs = db.execute("select folder, status, fetched from poll_runs order by folder").fetchall()
    assert runs == [("INBOX", "ok", 20), (SENT, "ok", 1)]


def test_a_malformed_message_is_stored_processed_and_reported(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    broken = (FIXTURES / "hostile" / "mime-malformed.eml").read_bytes()
    server.seed(user, "INBOX", [make_message(1), broken])
    summary = poll_once(db, config_for(account_for(server, user, fetch="all")))

    assert (summary.new, summary.processed, summary.processing_errors) == (2, 2, 1)
    assert summary.exit_status == 1  # errors were recorded, the run went on
    assert (
        count(db, "select count(*) from messages") == 2 and count(db, "select count(*) from parse_queue") == 0
    )
    sha = db.execute("select sha256 from raw_messages where raw = ?", [broken]).fetchone()[0]
    sources = {r[0] for r in db.execute("select source from ingest_errors where sha256 = ?", [sha])}
    assert sources == {"INBOX"}


def test_incremental_sync_fetches_only_new_mail(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(5)])
    config = config_for(account_for(server, user))
    poll_once(db, config)

    again = poll_once(db, config)
    assert [f.unchanged for f in again.accounts[0].folders] == [True, True]

    server.append(user, "INBOX", make_message(50))
    server.append(user, "INBOX", make_message(51))
    third = poll_once(db, config)

    inbox = third.accounts[0].folders[0]
    assert (inbox.seen, inbox.fetched, inbox.new) == (2, 2, 2)
    assert stored_uids(db, "test", "INBOX") == [1, 2, 3, 4, 5, 6, 7]
    assert count(db, "select count(*) from messages") == 7


def test_seen_flags_stay_as_they_were(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(3)])
    server.seed(user, "INBOX", [make_message(10)], seen=True)
    before = server.flags(user, "INBOX")

    poll_once(db, config_for(account_for(server, user)))

    assert count(db, "select count(*) from messages") == 4
    after = server.flags(user, "INBOX")
    assert after == before
    assert sum(b"\\Seen" in flags for flags in after.values()) == 1


def test_same_message_in_two_folders_is_stored_once_with_both_locations(
    mailbox: Mailbox, db: Database
) -> None:
    server, user, _ = mailbox
    message = make_message(7)
    server.seed(user, "INBOX", [message, make_message(8)])
    server.seed(user, SENT, [message])

    poll_once(db, config_for(account_for(server, user)))

    assert count(db, "select count(*) from messages") == 2
    places = db.execute(
        "select folder, uid from message_locations l join messages m using (sha256) "
        "where m.subject = 'Your receipt #7' order by folder"
    ).fetchall()
    assert places == [("INBOX", 1), (SENT, 1)]


def test_deleted_on_server_stays_in_database_marked_gone(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(4)])
    config = config_for(account_for(server, user))
    poll_once(db, config)

    server.expunge(user, "INBOX", [2])
    server.append(user, "INBOX", make_message(9))  # the count alone would look unchanged
    result = poll_once(db, config)

    inbox = result.accounts[0].folders[0]
    assert (inbox.gone, inbox.new) == (1, 1)
    assert count(db, "select count(*) from messages") == 5  # evidence is kept
    gone = db.execute("select uid from message_locations where gone_at is not null").fetchall()
    assert gone == [(2,)]
    assert stored_uids(db, "test", "INBOX") == [1, 3, 4, 5]


def test_uidvalidity_change_rescans_without_duplicates(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(5)])
    config = config_for(account_for(server, user))
    poll_once(db, config)
    old = server.uidvalidity(user, "INBOX")

    new = server.change_uidvalidity(user, "INBOX")
    server.append(user, "INBOX", make_message(99))
    result = poll_once(db, config)

    inbox = result.accounts[0].folders[0]
    assert inbox.uidvalidity_changed
    assert count(db, "select count(*) from messages") == 6  # 5 re-linked by hash + 1 new
    live = db.execute(
        "select uidvalidity, count(*) from message_locations where folder = 'INBOX' and gone_at is null "
        "group by uidvalidity"
    ).fetchall()
    assert live == [(new, 6)]
    assert count(db, "select count(*) from message_locations where uidvalidity = ? and gone_at is not null",
                 [old]) == 5  # fmt: skip
    assert db.execute("select uidvalidity, last_uid from sync_state where folder = 'INBOX'").fetchone() == (
        new,
        6,
    )


def test_relevant_mode_fetches_bodies_of_relevant_mail_only(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    receipt = make_message(1, sender="billing@netflix.com", subject="Your Netflix membership")
    newsletter = make_message(2, sender="news@shop.example", subject="Ten ideas for the weekend")
    support = make_message(3, sender="agent@tiny-vendor.example", subject="Votre réclamation n° AB1234")
    stranger = make_message(4, sender="bob@friends.example", subject="Dinner on Friday?")
    reply = make_message(5, sender="bob@friends.example", subject="Re: hello",
                         extra_headers=f"In-Reply-To: <msg1.{_pid()}@test.example>\r\n")  # fmt: skip
    mine = make_message(6, sender=ME, to="help@netflix.com", subject="Hi there")
    server.seed(user, "INBOX", [receipt, newsletter, support, stranger, reply])
    server.seed(user, SENT, [mine])
    config = config_for(account_for(server, user, fetch="relevant"))

    poll_once(db, config)

    subjects = {r[0] for r in db.execute("select subject from messages")}
    assert subjects == {"Your Netflix membership", "Votre réclamation n° AB1234", "Re: hello", "Hi there"}
    pending = db.execute(
        "select folder, uid, from_addr, subject, size from pending_bodies order by uid"
    ).fetchall()
    assert [(p[0], p[1], p[2], p[3]) for p in pending] == [
        ("INBOX", 2, "news@shop.example", "Ten ideas for the weekend"),
        ("INBOX", 4, "bob@friends.example", "Dinner on Friday?"),
    ]
    assert all(p[4] > 100 for p in pending)
    assert db.execute("select last_uid from sync_state where folder = 'INBOX'").fetchone() == (5,)


def test_changed_relevance_rules_judge_header_only_mail_again(
    mailbox: Mailbox, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from extractors import relevance

    server, user, _ = mailbox
    gardening = make_message(1, sender="news@garden.example", subject="Roses in November")
    stranger = make_message(2, sender="bob@friends.example", subject="Dinner on Friday?")
    server.seed(user, "INBOX", [gardening, stranger])
    config = config_for(account_for(server, user, fetch="relevant"))
    poll_once(db, config)
    assert count(db, "select count(*) from pending_bodies") == 2
    assert all(f.unchanged for f in poll_once(db, config).accounts[0].folders)  # same rules: nothing to do

    # An upgrade that knows garden.example as a provider.
    known = relevance.known_domains()
    monkeypatch.setattr(relevance, "known_domains", lambda: known | {"garden.example"})
    relevance.rules_fingerprint.cache_clear()
    try:
        result = poll_once(db, config)
    finally:
        relevance.rules_fingerprint.cache_clear()

    assert result.accounts[0].folders[0].fetched == 1
    assert {r[0] for r in db.execute("select subject from messages")} == {"Roses in November"}
    left = db.execute("select uid, subject, body_wanted from pending_bodies").fetchall()
    assert left == [(2, "Dinner on Friday?", None)]  # judged again, still not relevant, not wanted
    assert all(f.unchanged for f in poll_once(db, config).accounts[0].folders)


def test_switching_to_all_fetches_what_relevant_left_header_only(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(
        user, "INBOX", [make_message(1), make_message(2, sender="news@shop.example", subject="Hello")]
    )
    poll_once(db, config_for(account_for(server, user, fetch="relevant")))
    assert count(db, "select count(*) from pending_bodies") == 1

    result = poll_once(db, config_for(account_for(server, user, fetch="all")))

    assert result.accounts[0].folders[0].fetched == 1
    assert count(db, "select count(*) from messages") == 2
    assert count(db, "select count(*) from pending_bodies") == 0
    assert stored_uids(db, "test", "INBOX") == [1, 2]
    assert all(
        f.unchanged
        for f in poll_once(db, config_for(account_for(server, user, fetch="all"))).accounts[0].folders
    )


def test_missing_folder_fails_alone(mailbox: Mailbox, db: Database) -> None:
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(1)])
    config = config_for(account_for(server, user, folders=["Archives", "INBOX"]))

    summary = poll_once(db, config)

    assert summary.exit_status == 1
    assert count(db, "select count(*) from messages") == 1
    error = db.execute("select error from poll_runs where status = 'folder_error'").fetchone()[0]
    assert "Archives" in error


def _pid() -> int:
    import os

    return os.getpid()
