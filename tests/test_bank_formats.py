"""One bank account exported twice, as CSV and as OFX, is one set of bank lines.

The fixtures are the same account's statements from its bank in both formats: the CSV
(1 January - 30 March) names the account by its IBAN above the table and writes the full
labels; the OFX (1 February - 31 March) names it by BANKID/BRANCHID/ACCTID, cuts NAME at 32
characters and words MEMO its own way. 14 lines are in both, 7 only in the CSV, 1 only in the
OFX: 22 lines whatever the order of import, both files kept as evidence, and the recurring
charges found are those of one statement, not twice as many.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.bank.accounts import same_account
from ingest.cli import cli
from tests.conftest import FIXTURES

BANK = FIXTURES / "bank"
CSV = BANK / "two_formats" / "sg_courant_2026-01_2026-03.csv"
OFX = BANK / "two_formats" / "sg_courant_2026-02_2026-03.ofx"
OTHER_ACCOUNT = BANK / "lcl_2025-09_2026-02.ofx"  # another account at another bank
IBAN = "FR7630003012340005012345665"
UNION = 22  # 21 CSV lines + the one OFX line after the CSV's end


def run(db_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["bank", "import", "--db", str(db_path), *args])
    assert result.exit_code == 0, result.output
    return result.output


def lines(db_path: Path) -> list[tuple[str, str, int]]:
    with Database(db_path) as db:
        return [
            tuple(row)
            for row in db.execute(
                "select account, booked_on, amount_minor from bank_transactions order by 2, 3"
            )
        ]


@pytest.mark.parametrize("order", [(CSV, OFX), (OFX, CSV)], ids=["csv-then-ofx", "ofx-then-csv"])
def test_csv_and_ofx_of_one_account_are_one_set_of_lines(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, order: tuple[Path, Path]
) -> None:
    monkeypatch.chdir(db_path.parent)
    run(db_path, str(order[0]))
    output = run(db_path, str(order[1]))
    stored = lines(db_path)
    assert len(stored) == UNION, Counter((d, a) for _, d, a in stored).most_common(3)
    assert len({account for account, _, _ in stored}) == 1
    assert ("14 already stored" in output) and ("1 new" in output or "7 new" in output), output
    by_day = Counter((day, amount) for _, day, amount in stored)
    assert by_day[("2026-02-20", -450)] == 2  # two coffees that day, in both files: still two
    assert by_day[("2026-02-05", -1199)] == 2  # Deezer and Disney+, same day, same price: two
    assert by_day[("2026-03-31", -4500)] == 1  # only in the OFX
    assert by_day[("2026-01-05", -8413)] == 1  # only in the CSV


def test_reimporting_either_file_stays_a_no_op(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db_path.parent)
    run(db_path, str(CSV), str(OFX))
    before = lines(db_path)
    output = run(db_path, str(OFX), str(CSV), str(OFX))
    assert output.count("0 new") == 3, output
    assert lines(db_path) == before
    with Database(db_path) as db:
        assert db["bank_statements"].count == 2


def test_both_statement_files_are_kept_as_evidence(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db_path.parent)
    run(db_path, str(CSV), str(OFX))
    with Database(db_path) as db:
        kept = {row["name"]: row for row in db["bank_statements"].rows}
        account = db.execute("select distinct account from bank_transactions").fetchone()[0]
    assert set(kept) == {CSV.name, OFX.name}
    assert kept[CSV.name]["raw"] == CSV.read_bytes() and kept[OFX.name]["raw"] == OFX.read_bytes()
    assert (kept[CSV.name]["kind"], kept[OFX.name]["kind"]) == ("csv", "ofx")
    assert kept[CSV.name]["account"] == kept[OFX.name]["account"] == account
    assert (kept[CSV.name]["lines"], kept[OFX.name]["lines"]) == (21, 15)


def test_an_account_named_on_import_is_found_again_by_its_number(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db_path.parent)
    run(db_path, str(CSV), "--account", "courant")
    output = run(db_path, str(OFX))  # the OFX only says ACCTID 00050123456
    assert "account courant" in output
    assert {account for account, _, _ in lines(db_path)} == {"courant"}
    assert len(lines(db_path)) == UNION


def test_bank_findings_do_not_double_with_both_formats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    one, both = tmp_path / "one.db", tmp_path / "both.db"
    run(one, str(CSV))
    run(both, str(CSV), str(OFX))
    query = "select merchant, billing_period, occurrences, amount_minor from recurring_charges order by 1"
    with Database(one) as a, Database(both) as b:
        found_once = a.execute(query).fetchall()
        found_both = b.execute(query).fetchall()
    assert found_once, "the CSV alone has recurring charges (Netflix, Spotify, ...)"
    assert {row[0] for row in found_both} == {row[0] for row in found_once}
    assert len(found_both) == len(found_once)
    for row in found_both:  # a charge counted once even though two files show it
        assert row[2] <= 3, row


def test_other_accounts_stay_apart(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db_path.parent)
    run(db_path, str(CSV), str(OTHER_ACCOUNT))
    assert len({account for account, _, _ in lines(db_path)}) == 2
    assert len(lines(db_path)) == 21 + 19


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (IBAN, "00050123456", True),  # the IBAN holds the account number (and bank, branch, key)
        ("FR76 3000 3012 3400 0501 2345 665", IBAN, True),  # as printed, in groups of four
        (IBAN, "0005012345665", True),  # account number with its RIB key
        ("00050123456", "50123456", True),  # leading zeros dropped by one export
        (IBAN, "00050123457", False),
        ("00050123456", "00098765432", False),
        (IBAN, "FR7630003012340005012345666", False),  # another IBAN, even a mistyped one
        (IBAN, "1234", False),  # too short to say
        ("default", "default", True),
        ("", "", False),
    ],
)
def test_same_account(a: str, b: str, same: bool) -> None:
    assert same_account(a, b) is same and same_account(b, a) is same


def _store_as_before(db: Database, path: Path) -> None:
    """What `bank import` stored before formats were tied: the file's own account name, no number."""
    from ingest.bank.statements import read_statement

    rows = [
        {"account": t.account, "booked_on": t.booked_on, "label": t.label, "amount_minor": t.amount_minor,
         "currency": t.currency, "source": t.source, "txn_key": t.key, "fitid": t.fitid}
        for t in read_statement(path).transactions
    ]  # fmt: skip
    db["bank_transactions"].insert_all(rows)


def test_an_account_stored_twice_before_is_merged_once_on_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that already holds both files twice over (one account per format) is repaired
    when opened: one account, each line once, the FITID kept; done once, like every migration."""
    from ingest.store.schema import ensure_db_shape, open_db

    monkeypatch.chdir(tmp_path)
    path = tmp_path / "old.db"
    db = open_db(path)
    _store_as_before(db, CSV)
    _store_as_before(db, OFX)
    _store_as_before(db, OTHER_ACCOUNT)
    assert db["bank_transactions"].count == 21 + 15 + 19
    db.execute("delete from _sqlite_migrations where name = '0003_bank_lines_once'")
    db.conn.commit()
    ensure_db_shape(db)
    db.close()
    stored = lines(path)
    assert len(stored) == UNION + 19
    assert Counter(account for account, _, _ in stored) == {IBAN: UNION, "00012345678": 19}
    with Database(path) as again:
        fitids = again.execute(
            "select count(*) from bank_transactions where account = ? and fitid is not null", [IBAN]
        ).fetchone()[0]
    assert fitids == 15  # every OFX line still answers to its FITID
    run(path, str(OFX), str(CSV))  # and importing the files again adds nothing
    assert len(lines(path)) == UNION + 19
