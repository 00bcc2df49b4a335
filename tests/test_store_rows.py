"""The writer's hand-rolled fast paths say exactly what the library calls they replace said (#19)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlite_utils import Database

from extractors import Identity, extract
from extractors.mail.parse import parse_message
from ingest.store import insert_rows, support_facts_from_json, support_facts_json

JOURNAL_MAIL = Path(__file__).parent / "fixtures" / "journal" / "mail"


def _asdict_json(facts: object) -> str:
    """What `support_facts_json` wrote before: `dataclasses.asdict`, tokens' `is_global` as `global`."""
    data = dataclasses.asdict(facts)  # type: ignore[call-overload]
    data["refs"] = [
        {"system": r["system"], "value": r["value"], "global": r["is_global"]} for r in data["refs"]
    ]
    return json.dumps(data, ensure_ascii=False)


def test_support_facts_json_is_byte_for_byte_what_asdict_wrote() -> None:
    identity = Identity(frozenset({"alice.martin@example.org", "moi@example.fr"}))
    seen = 0
    for path in sorted(JOURNAL_MAIL.rglob("*.eml")):
        facts = extract(parse_message(path.read_bytes()), identity).support
        if facts is None:
            continue
        seen += 1
        assert support_facts_json(facts) == _asdict_json(facts), path.name
        assert support_facts_from_json(support_facts_json(facts)) == facts
    assert seen >= 40  # the journal fixtures are support mail: most of them carry facts


@pytest.mark.parametrize("count", [0, 1, 99, 100, 101, 2_345])
def test_insert_rows_stores_what_insert_all_stores(count: int) -> None:
    rows = [
        {"id": i, "name": f"n{i}", "amount": i * 1.5 if i % 3 else None, "blob": bytes([i % 256]) * 3}
        for i in range(count)
    ]
    fast, slow = Database(memory=True), Database(memory=True)
    for db in (fast, slow):
        db["t"].create({"id": int, "name": str, "amount": float, "blob": bytes}, pk="id")
    insert_rows(fast, "t", rows)
    slow["t"].insert_all(rows)
    assert list(fast["t"].rows) == list(slow["t"].rows) == rows


def test_insert_rows_ignore_keeps_the_first_and_abort_raises() -> None:
    db = Database(memory=True)
    db["t"].create({"id": int, "name": str}, pk="id")
    insert_rows(db, "t", [{"id": 1, "name": "first"}])
    insert_rows(db, "t", [{"id": 1, "name": "second"}, {"id": 2, "name": "new"}], conflict="ignore")
    assert [r["name"] for r in db["t"].rows] == ["first", "new"]
    with pytest.raises(Exception, match="UNIQUE"):
        insert_rows(db, "t", [{"id": 2, "name": "again"}])


def test_insert_rows_splits_wide_rows_under_sqlites_variable_limit() -> None:
    columns = {f"c{i}": int for i in range(400)}
    db = Database(memory=True)
    db["t"].create(columns)
    rows = [{name: n for name in columns} for n in range(300)]  # 120,000 values in all
    insert_rows(db, "t", rows)
    assert db["t"].count == 300


def test_reprocess_writes_only_the_rows_that_changed_and_keeps_the_search_index_right(tmp_path: Path) -> None:
    """`update_processed` skips a row whose columns are unchanged (writing the searched ones re-indexed
    the whole body through the FTS trigger) and still rewrites, and re-indexes, a row that changed."""
    from ingest.pipeline import prepare
    from ingest.pipeline.importer import import_paths
    from ingest.store import Location, update_processed
    from ingest.store.schema import open_db

    mail = sorted(JOURNAL_MAIL.rglob("*.eml"))[:6]
    db = open_db(tmp_path / "t.db")
    import_paths(db, [str(p) for p in mail], workers=1, progress=False)
    stored = db.execute("select raw from raw_messages order by sha256").fetchall()
    batch = [prepare(raw, Location(account="", folder=""), Identity()) for (raw,) in stored]

    def search(word: str) -> int:
        return db.execute("select count(*) from messages_fts where messages_fts match ?", [word]).fetchone()[
            0
        ]

    def rows() -> list[tuple]:
        return db.execute("select * from messages order by id").fetchall()

    before, changes = rows(), db.conn.total_changes
    with db.atomic():
        update_processed(db, batch)
    assert db.conn.total_changes == changes and rows() == before  # nothing written: nothing changed

    target = batch[0].parsed.sha256
    with db.atomic():  # what an older parser and extractor made of one message
        db.execute("update messages set body_text = 'zyxwvu', kind = 'other' where sha256 = ?", [target])
        db.execute("update messages set kind = 'other' where sha256 = ?", [batch[1].parsed.sha256])
    assert search("zyxwvu") == 1
    with db.atomic():
        update_processed(db, batch)
    assert rows() == before and search("zyxwvu") == 0
    word = max(batch[0].parsed.body_text.split(), key=len).strip(".,:;!?()«»\"'")
    assert search(f'"{word}"') >= 1
