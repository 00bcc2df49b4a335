"""Statement import: real CSV exports (French and others) and a real OFX file into a real database."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.bank import BankError
from ingest.bank.csv_import import parse_amount, parse_date, read_csv, role_of
from ingest.bank.ofx_import import read_ofx
from ingest.bank.statements import read_statement
from ingest.bank.store import save_transactions
from ingest.cli import cli
from tests.conftest import FIXTURES

BANK = FIXTURES / "bank"
CA_AUTUMN = BANK / "credit_agricole_2025-09_2026-02.csv"
CA_Q1 = BANK / "credit_agricole_2026-01_2026-03.csv"
OFX = BANK / "lcl_2025-09_2026-02.ofx"


def run(db_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["bank", "import", "--db", str(db_path), *args])
    return result.exit_code, result.output


def test_french_csv_with_header_lines_latin1_and_debit_credit_columns() -> None:
    result = read_csv(CA_AUTUMN)
    assert result.account == "00098765432"  # from "Compte de Dépôt carte n° 00098765432" above the table
    assert len(result.transactions) == 121 and not result.problems
    by_label = {t.label: t for t in result.transactions}
    # a label wrapped over two lines inside quotes becomes one line
    netflix = next(t for t in result.transactions if t.label.startswith("PRLV SEPA NETFLIX.COM ECH/140925"))
    assert (netflix.booked_on, netflix.amount_minor, netflix.currency) == ("2025-09-15", -1349, "EUR")
    salary = by_label["VIR SEPA RECU /DE ACME SAS /MOTIF SALAIRE"]
    assert salary.amount_minor == 245000  # "2 450,00" in the Crédit column


def test_overlapping_statements_add_no_duplicates(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db_path.parent)
    assert run(db_path, str(CA_AUTUMN))[0] == 0
    code, output = run(db_path, str(CA_Q1))
    assert code == 0 and "18 new, 45 already stored" in output
    code, output = run(db_path, str(CA_AUTUMN), str(CA_Q1))
    assert "0 new, 121 already stored" in output and "0 new, 63 already stored" in output
    db = Database(db_path)
    assert db["bank_transactions"].count == 139
    # two identical coffees on one day are two purchases, and stay two after the overlap is re-read
    coffees = db.execute(
        "select count(*) from bank_transactions where label like 'CB CAFE DE LA PAIX%'"
    ).fetchone()
    assert coffees[0] == 2


def test_ofx_statement(db: Database) -> None:
    txns = read_ofx(OFX)
    assert len(txns) == 19
    first = txns[0]
    assert (first.account, first.booked_on, first.amount_minor, first.fitid) == (
        "00012345678",
        "2025-09-05",
        -1199,
        "202509050000AB",
    )
    assert first.label == "CB SPOTIFY P2F3A4 14/09"  # NAME and MEMO joined
    assert save_transactions(db, txns).new == 19
    again = save_transactions(db, read_ofx(OFX, account=None))
    assert (again.new, again.duplicates) == (0, 19)
    assert db.execute("select sum(amount_minor > 0) from bank_transactions").fetchone()[0] == 1


def test_qfx_credit_card_in_ofx2_xml_keeps_the_banks_dates() -> None:
    txns = read_statement(BANK / "card_2026-q1.qfx").transactions
    assert [(t.account, t.booked_on, t.amount_minor, t.currency) for t in txns] == [
        ("4111111111111111", "2026-01-05", -1549, "USD"),
        ("4111111111111111", "2026-02-05", -1549, "USD"),  # midnight CET: 4 February 23:00 in UTC
        ("4111111111111111", "2026-02-10", 12000, "USD"),
    ]


@pytest.mark.parametrize(
    "name, content, encoding, expected",
    [
        (  # Boursorama-like: UTF-8 with BOM, quoted cells, signed amounts, value-date and balance columns
            "boursorama.csv",
            "dateOp;dateVal;label;category;categoryParent;supplierFound;amount;accountNum;accountLabel;accountbalance\n"
            '2026-03-14;2026-03-14;"PRLV SEPA NETFLIX.COM";"Abonnements";"Loisirs";"netflix";"-13,49";"00040123";"BoursoBank";"1 204,51"\n'
            '2026-03-12;2026-03-12;"VIR SEPA ACME";"Salaire";"Revenus";"";"2 450,00";"00040123";"BoursoBank";"1 218,00"\n',
            "utf-8-sig",
            [("2026-03-14", "PRLV SEPA NETFLIX.COM", -1349), ("2026-03-12", "VIR SEPA ACME", 245000)],
        ),
        (  # BNP-like: account line first, short and long labels (the longer one wins)
            "bnp.csv",
            "Compte de chèques ****4567;Solde au 15/03/2026;1 532,10\n"
            "Date operation;Libelle court;Type operation;Libelle operation;Montant operation\n"
            "14/03/2026;PRLV SEPA;PRELEVEMENT;PRLV SEPA FREE MOBILE ECH/140326;-19,99\n",
            "cp1252",
            [("2026-03-14", "PRLV SEPA FREE MOBILE ECH/140326", -1999)],
        ),
        (  # English bank: commas, dot decimals, US dates, separate paid out / paid in
            "uk.csv",
            "Date,Description,Paid out,Paid in\n03/14/2026,SPOTIFY P2F3A4,11.99,\n03/15/2026,REFUND AMAZON,,1234.50\n",
            "utf-8",
            [("2026-03-14", "SPOTIFY P2F3A4", -1199), ("2026-03-15", "REFUND AMAZON", 123450)],
        ),
        (  # German-style export: tab separated, dotted dates, thousands with dots
            "giro.csv",
            "Buchungstag\tVerwendungszweck\tBetrag\tWährung\n14.03.2026\tNETFLIX.COM\t-1.013,49\tEUR\n",
            "utf-8",
            [("2026-03-14", "NETFLIX.COM", -101349)],
        ),
        (  # no header row at all: columns inferred from their content
            "headerless.csv",
            "14/03/2026;-13,49;PRLV SEPA NETFLIX.COM\n15/03/2026;-4,50;CB CAFE DE LA PAIX\n",
            "utf-8",
            [("2026-03-14", "PRLV SEPA NETFLIX.COM", -1349), ("2026-03-15", "CB CAFE DE LA PAIX", -450)],
        ),
    ],
)
def test_csv_dialects(
    tmp_path: Path, name: str, content: str, encoding: str, expected: list[tuple[str, str, int]]
) -> None:
    path = tmp_path / name
    path.write_bytes(content.encode(encoding))
    result = read_csv(path)
    assert [(t.booked_on, t.label, t.amount_minor) for t in result.transactions] == expected


def test_account_column_and_account_option(tmp_path: Path) -> None:
    path = tmp_path / "two_accounts.csv"
    path.write_text(
        "dateOp;label;amount;accountNum\n2026-03-14;NETFLIX.COM;-13,49;00040123\n2026-03-14;NETFLIX.COM;-13,49;00040999\n",
        encoding="utf-8",
    )
    assert sorted(t.account for t in read_csv(path).transactions) == ["00040123", "00040999"]
    assert {t.account for t in read_csv(path, account="joint").transactions} == {"joint"}


@pytest.mark.parametrize("spec", ["date=1,label=3,amount=4", "date=Jour,label=Texte,amount=Somme ?"])
def test_columns_override(tmp_path: Path, spec: str) -> None:
    path = tmp_path / "odd.csv"
    path.write_text("Jour;Code;Texte;Somme ?\n14/03/2026;X1;ABONNEMENT MEDIAPART;-11,00\n", encoding="utf-8")
    if "Somme" in spec:  # without the override, "Somme ?" is already an amount; "Texte" is no label word
        with pytest.raises(BankError):
            read_csv(path)
    result = read_csv(path, columns=spec)
    assert [(t.booked_on, t.label, t.amount_minor) for t in result.transactions] == [
        ("2026-03-14", "ABONNEMENT MEDIAPART", -1100)
    ]


def test_bad_columns_spec_is_usage_error(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(db_path.parent)
    code, output = run(db_path, "--columns", "when=1", str(CA_AUTUMN))
    assert code == 2 and "--columns" in output


def test_unreadable_file_is_recorded_and_others_imported(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db_path.parent)
    junk = db_path.parent / "notes.txt"
    junk.write_text("shopping list\nmilk\neggs\n", encoding="utf-8")
    code, output = run(db_path, str(junk), str(OFX))
    assert code == 1 and "19 new" in output
    errors = Database(db_path).execute("select stage, source from ingest_errors").fetchall()
    assert errors == [("bank", str(junk))]


def test_unreadable_amount_is_recorded_and_the_rest_imported(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(db_path.parent)
    path = db_path.parent / "export.csv"
    path.write_text(
        "Date;Libellé;Montant\n14/03/2026;NETFLIX.COM;-13,49\n15/03/2026;SPOTIFY;douze euros\n",
        encoding="utf-8",
    )
    code, output = run(db_path, str(path))
    assert code == 1 and "1 new" in output and "1 unreadable" in output
    (error,) = Database(db_path).execute("select error from ingest_errors where stage = 'bank'").fetchall()
    assert "line 3" in error[0] and "douze euros" in error[0]


@pytest.mark.parametrize(
    "text, comma, value",
    [
        ("-13,49", True, "-13.49"),
        ("1 234,56 €", True, "1234.56"),
        ("1\u202f234,56", True, "1234.56"),
        ("13,49-", True, "-13.49"),
        ("(13.49)", False, "-13.49"),
        ("1,234.56", False, "1234.56"),
        ("\u221213,49", True, "-13.49"),
        ("", True, None),
        ("n/a", True, None),
    ],
)
def test_parse_amount(text: str, comma: bool, value: str | None) -> None:
    parsed = parse_amount(text, comma)
    assert (str(parsed) if parsed is not None else None) == value


@pytest.mark.parametrize(
    "text, month_first, iso",
    [
        ("14/03/2026", False, "2026-03-14"),
        ("14.03.26", False, "2026-03-14"),
        ("2026-03-14", False, "2026-03-14"),
        ("20260314", False, "2026-03-14"),
        ("03/14/2026", True, "2026-03-14"),
        ("31/02/2026", False, None),
        ("Solde au", False, None),
    ],
)
def test_parse_date(text: str, month_first: bool, iso: str | None) -> None:
    assert parse_date(text, month_first) == iso


@pytest.mark.parametrize(
    "cell, role",
    [
        ("Date", "date"),
        ("dateOp", "date"),
        ("dateVal", None),
        ("Date de valeur", None),
        ("Libellé", "label"),
        ("accountLabel", None),
        ("accountNum", "account"),
        ("Numéro de compte", "account"),
        ("Débit euros", "debit"),
        ("Crédit euros", "credit"),
        ("Montant de l'opération", "amount"),
        ("accountbalance", None),
        ("Devise", "currency"),
    ],
)
def test_header_roles(cell: str, role: str | None) -> None:
    assert role_of(cell) == role
