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
