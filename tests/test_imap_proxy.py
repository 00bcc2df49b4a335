"""The poller through a fault-injecting proxy (`tests/imap_proxy.py`) in front of the real Dovecot:
FETCH items reordered, `uid` in lower case, extra items, literals split across packets, a UID
answered under another UID, answers missing, a message expunged between SEARCH and FETCH.

The oracle is the same folder synced straight from Dovecot: whatever the proxy does, each UID
ends up as it does there (stored with the same bytes, or header-only), or, when the server
never answers for it, recorded (an `ingest_errors` row and a `pending_bodies` row a later pass
retries), and the checkpoint reaches the last UID only with every UID accounted for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlite_utils import Database

from ingest.imap.poller import PassSummary, poll_once
from ingest.store.schema import open_db
from tests.dovecot import Dovecot, make_message
from tests.imap_proxy import Faults, RewritingProxy
from tests.poll_helpers import account_for, config_for

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot

TOTAL = 300  # two body batches in "all" mode
MODES = ["all", "relevant"]


def folder_mix(total: int) -> list[bytes]:
    """One receipt (relevant) in three, the rest newsletters (header-only in relevant mode)."""
    return [
        make_message(i, padding=1500)
        if i % 3 == 0
        else make_message(i, sender="news@shop.example", subject=f"Ten ideas, issue {i}", padding=1500)
        for i in range(total)
    ]


@dataclass
class Outcome:
    """Where each UID of INBOX ended up."""

    stored: dict[int, str]  # uid -> sha256
    header_only: set[int]
    wanted: set[int]  # pending_bodies.body_wanted = 1: recorded, asked again next pass
    errors: list[str]
    last_uid: int | None

    @classmethod
    def of(cls, db: Database) -> Outcome:
        where = "account = 'test' and folder = 'INBOX' and gone_at is null"
        stored = dict(db.execute(f"select uid, sha256 from message_locations where {where}").fetchall())
        pending = db.execute(f"select uid, body_wanted from pending_bodies where {where}").fetchall()
        errors = [
            r[0] for r in db.execute("select error from ingest_errors where stage = 'imap' order by id")
        ]
        state = db.execute("select last_uid from sync_state where folder = 'INBOX'").fetchone()
        return cls(
            stored=stored,
            header_only={uid for uid, wanted in pending if not wanted},
            wanted={uid for uid, wanted in pending if wanted},
            errors=errors,
            last_uid=state[0] if state else None,
        )


@pytest.fixture(scope="module")
def folder(dovecot: Dovecot) -> tuple[Dovecot, str]:
    """One mailbox for the module: the poller never changes it (EXAMINE, BODY.PEEK)."""
    user, _ = dovecot.add_user()
    dovecot.seed(user, "INBOX", folder_mix(TOTAL))
    return dovecot, user


@pytest.fixture(scope="module")
def reference(folder: tuple[Dovecot, str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """The folder synced straight from Dovecot, in each mode."""
    server, user = folder
    outcomes = {}
    for mode in MODES:
        db = open_db(tmp_path_factory.mktemp("reference") / f"{mode}.db")
        summary = poll_once(db, config_for(account(server, user, server.port, mode)), progress=False)
        assert summary.exit_status == 0
        outcomes[mode] = Outcome.of(db)
        db.close()
    assert len(outcomes["all"].stored) == TOTAL and not outcomes["all"].header_only
    assert len(outcomes["relevant"].stored) == TOTAL // 3 == TOTAL - len(outcomes["relevant"].header_only)
    return outcomes


def account(server: Dovecot, user: str, port: int, mode: str, **extra: Any) -> dict[str, Any]:
    return account_for(server, user, port=port, fetch=mode, folders=["INBOX"], timeout=10, **extra)


def through(
    folder: tuple[Dovecot, str], db: Database, mode: str, faults: Faults
) -> tuple[PassSummary, RewritingProxy]:
    server, user = folder
    with RewritingProxy(server.port, faults) as proxy:
        summary = poll_once(db, config_for(account(server, user, proxy.port, mode)), progress=False)
    return summary, proxy


def assert_same_except(outcome: Outcome, expected: Outcome, recorded: frozenset[int] = frozenset()) -> None:
    """As synced straight from the server, except `recorded` UIDs: those are wanted and in errors."""
    assert outcome.stored == {u: s for u, s in expected.stored.items() if u not in recorded}
    assert outcome.header_only == expected.header_only - recorded
    assert outcome.wanted == recorded
    assert outcome.last_uid == TOTAL  # and every UID before it accounted for, as checked above
    for uid in recorded:
        assert any(f"for UID {uid} " in e for e in outcome.errors), outcome.errors


REORDERINGS: dict[str, Faults] = {
    "UID last in the metadata replies (after the header literal)": Faults(
        uid_last=True, only={"header", "meta"}
    ),
    "UID last in every response": Faults(uid_last=True),
    "items shuffled": Faults(shuffle=True),
    "uid in lower case": Faults(lower_uid=True, shuffle=True),
    "MODSEQ and X-GM items added": Faults(extras=True, shuffle=True),
    "literals split across packets": Faults(split=True, uid_last=True),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", REORDERINGS)
def test_items_in_any_order_and_case_change_nothing(
    folder: tuple[Dovecot, str], reference: dict[str, Outcome], db: Database, mode: str, case: str
) -> None:
    summary, proxy = through(folder, db, mode, REORDERINGS[case])
    assert proxy.stats.rewritten >= TOTAL
    assert summary.exit_status == 0
    outcome = Outcome.of(db)
    assert_same_except(outcome, reference[mode])
    assert outcome.errors == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "faults",
    [Faults(drop={7, 200}, times=1), Faults(misnumber={7: 8, 200: 9999}, times=1, shuffle=True)],
    ids=["answer missing once", "answered once under another UID"],
)
def test_a_fault_that_does_not_repeat_is_asked_again_and_costs_nothing(
    folder: tuple[Dovecot, str], reference: dict[str, Outcome], db: Database, mode: str, faults: Faults
) -> None:
    summary, proxy = through(folder, db, mode, faults)
    assert proxy.stats.dropped + proxy.stats.misnumbered == 2
    assert summary.exit_status == 0
    outcome = Outcome.of(db)
    assert_same_except(outcome, reference[mode])
    assert outcome.errors == []


PERSISTENT: dict[str, tuple[Faults, str]] = {
    "metadata never answered": (Faults(drop={7}, only={"header", "meta"}), "no metadata for UID 7"),
    "body never answered": (Faults(drop={7}, only={"body"}), "no body for UID 7"),
    "always answered as the next UID": (Faults(misnumber={7: 8}), "for UID 7"),
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", PERSISTENT)
def test_a_uid_never_answered_is_recorded_then_fetched_by_a_later_pass(
    folder: tuple[Dovecot, str], reference: dict[str, Outcome], db: Database, mode: str, case: str
) -> None:
    """UID 7 (a receipt: relevant in both modes) is never answered properly: it is recorded, the
    checkpoint still reaches the end, every other UID is as the server has it, and UID 8 (answered
    twice, once with UID 7's message) is stored with its own bytes. A pass straight to the server
    then fetches UID 7, even though the folder looks unchanged."""
    faults, error = PERSISTENT[case]
    summary, _ = through(folder, db, mode, faults)
    assert summary.exit_status == 1  # the gap is an error of this run
    outcome = Outcome.of(db)
    assert_same_except(outcome, reference[mode], recorded=frozenset({7}))
    assert any(error in e for e in outcome.errors), outcome.errors

    server, user = folder
    again = poll_once(db, config_for(account(server, user, server.port, mode)), progress=False)
    assert again.exit_status == 0
    assert_same_except(Outcome.of(db), reference[mode])


@pytest.mark.parametrize("mode", MODES)
def test_a_message_expunged_between_search_and_fetch_is_confirmed_gone(
    mailbox: tuple[Dovecot, str, str], db: Database, mode: str
) -> None:
    """Another client expunges UID 5 just as the poller's first FETCH leaves: it is neither
    stored nor recorded, and the checkpoint passes it (the server confirmed it is gone)."""
    server, user, _ = mailbox
    server.seed(user, "INBOX", [make_message(i) for i in range(10)])
    fetches: list[bytes] = []

    def expunge_on_first_fetch(line: bytes) -> None:
        if b" UID FETCH " in line.upper() and not fetches:
            fetches.append(line)
            server.expunge(user, "INBOX", [5])

    with RewritingProxy(server.port, on_command=expunge_on_first_fetch) as proxy:
        summary = poll_once(db, config_for(account(server, user, proxy.port, mode)), progress=False)
    assert fetches and summary.exit_status == 0
    outcome = Outcome.of(db)
    assert sorted(outcome.stored) == [1, 2, 3, 4, 6, 7, 8, 9, 10]
    assert outcome.errors == [] and outcome.wanted == set() and outcome.last_uid == 10
    assert summary.accounts[0].folders[0].expunged == 1
