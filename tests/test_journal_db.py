"""The journal in a real database: threading, status, promises, notes, reprocess, the CLI."""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from extractors import Identity, Promise, SupportFacts, TicketToken
from ingest.cli import cli
from ingest.derived.journal import add_note, rebuild_journal
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from ingest.store import support_facts_from_json, support_facts_json
from ingest.store.schema import open_db
from tests.conftest import FIXTURES

JOURNAL = FIXTURES / "journal"
MAIL = JOURNAL / "mail"
LABELS = tomllib.loads((JOURNAL / "labels.toml").read_text(encoding="utf-8"))
IDENTITY = Identity(frozenset(LABELS["identity"]))
TODAY = date.fromisoformat(LABELS["today"])
SHA = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in MAIL.glob("*.eml")}


def _load(db: Database, paths: list[Path]) -> None:
    import_paths(db, [str(p) for p in paths], identity=IDENTITY, workers=1, progress=False)
    rebuild_journal(db, TODAY)


@pytest.fixture(scope="module")
def journal_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    db = open_db(tmp_path_factory.mktemp("journal") / "subtrail.db")
    _load(db, [MAIL])
    yield db
    db.close()


def _ticket_of(db: Database, name: str) -> dict:
    row = db.execute(
        "select t.* from tickets t join ticket_messages tm on tm.ticket_id = t.id where tm.message_sha256 = ?",
        [SHA[name]],
    ).fetchone()
    assert row is not None, name
    return dict(
        zip([c[0] for c in db.execute("select * from tickets limit 0").description], row, strict=True)
    )


@pytest.mark.parametrize("ticket", LABELS["ticket"], ids=[t["name"] for t in LABELS["ticket"]])
def test_threading_and_status(journal_db: Database, ticket: dict) -> None:
    first = _ticket_of(journal_db, ticket["messages"][0])
    members = {
        r[0]
        for r in journal_db.execute(
            "select message_sha256 from ticket_messages where ticket_id = ?", [first["id"]]
        )
    }
    assert members == {SHA[name] for name in ticket["messages"]}
    assert first["status"] == ticket["status"]


def test_ticket_count_and_refs(journal_db: Database) -> None:
    assert journal_db.table("tickets").count == len(LABELS["ticket"])
    refs = {r["ticket_ref"] for r in journal_db.query("select ticket_ref from tickets")}
    assert {"45821937", "88213", "482913", "2026-0412345", "70412"} <= refs


@pytest.mark.parametrize(
    ("name", "joined_by"),
    [
        ("free-02-ack.eml", "reference:<c1a2@example.org>"),
        ("free-04-out.eml", "number:free-mobile:45821937"),
        ("spotify-03-in.eml", "zendesk-id:DZ7JQE-5MRK"),
        ("canal-02-in.eml", "subject:canal-plus:résiliation de mon abonnement"),
        ("canal-03-out.eml", "salesforce:_00D5g0ABC._5005g0XYZ12"),
        ("netflix-03-in.eml", "salesforce:nFx8KLq2RZabc91kT"),
        ("deezer-02-in.eml", "subject:deezer:offre famille membre bloqué"),
        # replies to a thread quiet since January, under a new subject: a new ticket despite the reference
        ("deezer-03-out.eml", "new"),
        # the acknowledgement quoted no reference and came under its own subject: my only open EDF case
        ("held-edf-02-ack.eml", "open-case:edf"),
        ("held-edf-03-in.eml", "number:edf:4410098765"),
        ("held5-red-02-in.eml", "open-case:red-by-sfr"),
    ],
)
def test_joined_by(journal_db: Database, name: str, joined_by: str) -> None:
    row = journal_db.execute(
        "select joined_by from ticket_messages where message_sha256 = ?", [SHA[name]]
    ).fetchone()
    assert row == (joined_by,)


def test_ticket_keys_explain_the_join(journal_db: Database) -> None:
    ticket = _ticket_of(journal_db, "free-01-out.eml")
    keys = {
        r["key"]: r["kind"]
        for r in journal_db.query("select * from ticket_keys where ticket_id = ?", [ticket["id"]])
    }
    assert keys["number:free-mobile:45821937"] == "number"
    assert keys["message-id:<c1a2@example.org>"] == "message-id"


def test_promises_and_their_status(journal_db: Database) -> None:
    found = {
        (r["message_sha256"], r["due_on"] or ""): r["status"]
        for r in journal_db.query(
            "select p.due_on, p.status, tm.message_sha256 from promises p join ticket_messages tm on tm.id = p.ticket_message_id"
        )
    }
    wanted = {
        (SHA[n], p["due_on"]): p["status"] for n, lab in LABELS["message"].items() for p in lab["promises"]
    }
    assert found == wanted


def test_resolution_requested(journal_db: Database) -> None:
    ticket = _ticket_of(journal_db, "free-01-out.eml")
    assert ticket["resolution_requested"] == "Je souhaite être remboursée de ce montant."


def test_provider_timeline(journal_db: Database) -> None:
    rows = list(journal_db.query("select * from provider_timeline where provider = 'free-mobile'"))
    assert [r["entry"] for r in rows].count("exchange") == 5
    assert any(r["entry"] == "promise due (kept_late)" and r["at"] == "2026-03-11" for r in rows)
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)


def test_rebuild_is_deterministic(journal_db: Database) -> None:
    def dump() -> list[list[tuple]]:
        return [
            journal_db.execute(f"select * from [{t}] order by id").fetchall()
            for t in ("tickets", "ticket_messages", "promises", "ticket_keys")
        ]

    before = dump()
    rebuild_journal(journal_db, TODAY)
    assert dump() == before


def test_later_reply_reopens(db: Database) -> None:
    _load(db, [MAIL / f"netflix-0{i}-{kind}.eml" for i, kind in ((1, "out"), (2, "ack"), (3, "in"))])
    assert [r["status"] for r in db.query("select status from tickets")] == ["resolved"]
    _load(db, [MAIL / "netflix-04-out.eml"])
    assert [r["status"] for r in db.query("select status from tickets")] == ["awaiting_provider"]


def test_auto_ack_alone_awaits_provider(db: Database) -> None:
    _load(db, [MAIL / "free-01-out.eml", MAIL / "free-02-ack.eml"])
    assert [r["status"] for r in db.query("select status from tickets")] == ["awaiting_provider"]
    assert db.execute("select count(*) from ticket_messages where auto_ack = 1").fetchone() == (1,)


def test_manual_notes_survive_reprocess(db: Database) -> None:
    _load(db, [MAIL / f"free-0{i}-{k}.eml" for i, k in ((1, "out"), (2, "ack"), (3, "in"))])
    note_id = add_note(
        db,
        provider="free-mobile",
        channel="phone",
        at="2026-03-05T09:02:00+00:00",
        text="Appel : remboursement confirmé par téléphone",
        agent="Julie",
        promise="remboursement sous 2 jours ouvrés",
        ticket_ref="45821937",
    )
    assert db.execute("select due_on from manual_notes where id = ?", [note_id]).fetchone() == ("2026-03-09",)
    before = db.execute(
        "select ticket_id, channel, agent_name, body from ticket_messages where manual_note_id = ?", [note_id]
    ).fetchall()
    assert len(before) == 1 and before[0][1:] == (
        "phone",
        "Julie",
        "Appel : remboursement confirmé par téléphone",
    )
    tickets_before = db.execute("select * from tickets order by id").fetchall()
    reprocess_all(db, IDENTITY, workers=1)
    reprocess_all(db, IDENTITY, workers=1)
    assert db.execute("select * from tickets order by id").fetchall() == tickets_before
    after = db.execute(
        "select ticket_id, channel, agent_name, body from ticket_messages where manual_note_id = ?", [note_id]
    ).fetchall()
    assert after == before
    assert db.table("manual_notes").count == 1
    assert db.execute(
        "select count(*) from promises p join ticket_messages tm on tm.id = p.ticket_message_id where tm.manual_note_id = ?",
        [note_id],
    ).fetchone() == (1,)


def test_note_without_ticket_joins_recent_case_or_opens_one(db: Database) -> None:
    _load(db, [MAIL / "sfr-01-out.eml", MAIL / "sfr-02-in.eml"])
    add_note(
        db,
        provider="sfr",
        channel="chat",
        at="2026-03-11T10:00:00+00:00",
        text="Chat : technicien le 12",
        agent="Nadia",
    )
    add_note(
        db,
        provider="orange",
        channel="letter",
        at="2026-03-11T10:00:00+00:00",
        text="Lettre recommandée envoyée",
    )
    rows = list(
        db.query(
            "select t.provider, tm.channel, tm.joined_by from ticket_messages tm join tickets t on t.id = tm.ticket_id where tm.manual_note_id is not null order by tm.channel"
        )
    )
    assert rows == [
        {"provider": "sfr", "channel": "chat", "joined_by": "note:provider"},
        {"provider": "orange", "channel": "letter", "joined_by": "note:new"},
    ]
    assert db.table("tickets").count == 2


def test_cli_note_add_and_list(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    shutil.copytree(MAIL, mail)
    db_path = str(tmp_path / "cli.db")
    (tmp_path / "subtrail.toml").write_text(
        'timezone = "Europe/Paris"\n[identity]\naddresses = ["alice.martin@example.org"]\n', encoding="utf-8"
    )
    config = str(tmp_path / "subtrail.toml")
    runner = CliRunner()
    result = runner.invoke(
        cli, ["import", str(mail / "free-01-out.eml"), "--db", db_path, "--config", config]
    )
    assert result.exit_code == 0, result.output
    args = ["note", "add", "--provider", "free-mobile", "--channel", "phone", "--at", "2026-03-03 10:02",
            "--agent", "Julie", "--text", "Remboursement promis", "--promise", "remboursement", "--due", "2026-03-10",
            "--ticket", "45821937", "--db", db_path, "--config", config]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "note 1 added to ticket" in result.output
    result = runner.invoke(cli, ["note", "list", "--db", db_path, "--config", config])
    assert (
        "2026-03-03 10:02" in result.output  # local time, stored as 09:02 UTC
        and "Julie" in result.output
        and "by 2026-03-10" in result.output
    )
    bad = runner.invoke(cli, [*args[:7], "yesterday", *args[8:]])
    assert bad.exit_code == 2 and "--at" in bad.output
    db = open_db(db_path)
    assert db.execute("select due_on, status from promises").fetchall() == [("2026-03-10", "overdue")]
    bad_slug = runner.invoke(cli, [*args[:3], "Free Mobile!", *args[4:]])
    assert bad_slug.exit_code == 2 and "--provider" in bad_slug.output
    assert runner.invoke(cli, ["note", "delete", "7", "--db", db_path, "--config", config]).exit_code == 2
    deleted = runner.invoke(cli, ["note", "delete", "1", "--db", db_path, "--config", config])
    assert deleted.exit_code == 0, deleted.output
    assert db.execute("select count(*) from ticket_messages where manual_note_id is not null").fetchone() == (
        0,
    )
    assert db.table("manual_notes").count == 0


def test_plain_reply_joins_by_reference_and_is_completed(db: Database, tmp_path: Path) -> None:
    """A reply of mine that looks like nothing (no desk, no keyword) joins through In-Reply-To, facts complete."""
    reply = tmp_path / "reply.eml"
    reply.write_bytes(
        b"From: Alice Martin <alice.martin@example.org>\r\nTo: karim@partenaire-fibre.example\r\n"
        b"Date: Wed, 11 Mar 2026 08:00:00 +0100\r\nSubject: Re: ma box\r\nMessage-ID: <plain-1@example.org>\r\n"
        b"In-Reply-To: <sfr-0412345-1@sfr.fr>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Bonjour Karim,\r\n\r\nMerci, c'est r\xc3\xa9gl\xc3\xa9.\r\n\r\nAlice Martin\r\n\r\n"
        b"Le mar. 10 mars 2026 \xc3\xa0 16:40, SFR <service-client@sfr.fr> a \xc3\xa9crit :\r\n> Bonjour Madame\r\n"
    )
    friend = tmp_path / "friend.eml"
    friend.write_bytes(
        b"From: Bob <bob@example.net>\r\nTo: alice.martin@example.org\r\nDate: Wed, 11 Mar 2026 09:00:00 +0100\r\n"
        b"Subject: Re: diner\r\nMessage-ID: <bob-1@example.net>\r\nIn-Reply-To: <plain-1@example.org>\r\n\r\nOui !\r\n"
    )
    _load(db, [MAIL / "sfr-01-out.eml", MAIL / "sfr-02-in.eml", reply, friend])
    rows = list(db.query("select body, joined_by, direction from ticket_messages order by sent_at"))
    assert rows[-1] == {
        "body": "Bonjour Karim,\n\nMerci, c'est réglé.",
        "joined_by": "reference:<sfr-0412345-1@sfr.fr>",
        "direction": "outbound",
    }
    assert [r["status"] for r in db.query("select status from tickets")] == ["resolved"]
    assert db.execute("select kind from messages where message_id = '<plain-1@example.org>'").fetchone() == (
        "other",
    )


def test_rebuild_reads_stored_facts_only(tmp_path: Path) -> None:
    """The rebuild works from `support_facts` and `messages`: with every raw message gone it gives the same journal."""
    db = open_db(tmp_path / "subtrail.db")
    _load(db, [MAIL])
    tables = ("tickets", "ticket_messages", "ticket_keys", "promises", "support_facts")
    before = {table: list(db.query(f"select * from [{table}] order by 1")) for table in tables}
    with db.atomic():
        db.execute("delete from raw_messages")
        rebuild_journal(db, TODAY)
    assert {table: list(db.query(f"select * from [{table}] order by 1")) for table in tables} == before
    db.close()


def test_reply_facts_are_complete_when_stored(db: Database, tmp_path: Path) -> None:
    """A reply of mine that joins no ticket still has every fact stored at import: nothing is left to re-read."""
    reply = tmp_path / "reply.eml"
    reply.write_bytes(
        b"From: Alice Martin <alice.martin@example.org>\r\nTo: bob@example.net\r\n"
        b"Date: Wed, 11 Mar 2026 08:00:00 +0100\r\nSubject: Re: diner\r\nMessage-ID: <diner-2@example.org>\r\n"
        b"In-Reply-To: <diner-1@example.net>\r\n\r\nVendredi, parfait.\r\n\r\nAlice\r\n"
    )
    _load(db, [reply])
    facts = json.loads(db.execute("select facts from support_facts").fetchone()[0])
    assert list(facts) == [
        "refs", "ticket_ref", "subject_key", "correspondent", "is_support", "body", "agent_name", "auto_ack",
        "auto_header", "promises", "requests", "asks", "resolved", "courtesy",
    ]  # fmt: skip
    assert facts["is_support"] is False and facts["body"] == "Vendredi, parfait."
    assert facts["correspondent"] == "example.net"
    assert db.table("tickets").count == 0


def test_support_facts_json_keeps_its_shape() -> None:
    """One conversion each way; a token's `is_global` is stored as `global`, and a row an older version
    wrote (threading keys only, `partial`) still loads."""
    facts = SupportFacts(
        refs=[TicketToken(system="salesforce", value="00D1.5001", is_global=True)],
        ticket_ref="00D1.5001",
        subject_key="box en panne",
        correspondent="sfr.fr",
        is_support=True,
        body="Nous vous rembourserons.",
        promises=[Promise(text="Nous vous rembourserons.", due_on="2026-03-20")],
        requests=["Je demande le remboursement."],
    )
    stored = json.loads(support_facts_json(facts))
    assert stored["refs"] == [{"system": "salesforce", "value": "00D1.5001", "global": True}]
    assert stored["promises"] == [{"text": "Nous vous rembourserons.", "due_on": "2026-03-20"}]
    assert support_facts_from_json(support_facts_json(facts)) == facts
    legacy = (
        '{"refs": [{"system": "number", "value": "4521", "global": false}], "ticket_ref": "4521",'
        ' "subject_key": "box", "correspondent": "sfr.fr", "is_support": false, "partial": true}'
    )
    assert support_facts_from_json(legacy) == SupportFacts(
        refs=[TicketToken(system="number", value="4521", is_global=False)],
        ticket_ref="4521",
        subject_key="box",
        correspondent="sfr.fr",
        is_support=False,
    )


def test_message_without_date_is_kept(db: Database, tmp_path: Path) -> None:
    undated = tmp_path / "undated.eml"
    undated.write_bytes(
        b"From: SFR <service-client@sfr.fr>\r\nTo: alice.martin@example.org\r\nSubject: Re: Box en panne\r\n"
        b"Message-ID: <undated@sfr.fr>\r\nIn-Reply-To: <x5a1@example.org>\r\n\r\n"
        b"Bonjour,\r\n\r\nNous avons bien re\xc3\xa7u votre demande.\r\n"
    )
    _load(db, [MAIL / "sfr-01-out.eml", undated])
    rows = db.execute("select sent_at, auto_ack from ticket_messages order by id").fetchall()
    assert len(rows) == 2 and rows[1][0] and rows[1][1] == 1


def test_one_message_linking_two_tickets_merges_them(db: Database, tmp_path: Path) -> None:
    """Two open EDF cases: the unreferenced acknowledgement cannot tell which is its own and opens a ticket;
    the agent's reply carries its case number and an In-Reply-To to my first mail, so the two merge."""
    other = tmp_path / "other.eml"
    other.write_bytes(
        b"From: Alice Martin <alice.martin@example.org>\r\nTo: service-client@edf.fr\r\n"
        b"Date: Mon, 06 Apr 2026 21:00:00 +0200\r\nSubject: Compteur Linky\r\nMessage-ID: <other@example.org>\r\n\r\n"
        b"Bonjour,\r\n\r\nLe compteur affiche une erreur.\r\n"
    )
    _load(db, [other, *(MAIL / f"held-edf-0{i}-{k}.eml" for i, k in ((1, "out"), (2, "ack"), (3, "in")))])
    rows = db.execute(
        "select ticket_id, joined_by from ticket_messages where message_sha256 in (?, ?, ?) order by sent_at",
        [SHA["held-edf-01-out.eml"], SHA["held-edf-02-ack.eml"], SHA["held-edf-03-in.eml"]],
    ).fetchall()
    assert [joined for _, joined in rows] == ["new", "new", "number:edf:4410098765"]
    assert len({ticket for ticket, _ in rows}) == 1
    assert db.table("tickets").count == 2
