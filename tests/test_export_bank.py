"""The evidence export carries the bank lines a letter cites: debit rows and the statement files.

A formal notice says "you debited 11.99 EUR on 26 October"; its evidence ZIP must hold that line
and the statement it came from, byte-exact and in SHA256SUMS. A database without statements
exports exactly what it did before bank lines were evidence.
"""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.outputs.export import Filters, export_evidence
from ingest.outputs.humanize import Humanizer
from ingest.store.schema import open_db
from tests.casefile import build_case
from tests.conftest import SAMPLE

STATEMENT = SAMPLE / "bank" / "boursobank_alice_2025-11_2026-11.csv"
PARIS_FR = Humanizer(language="fr", timezone="Europe/Paris")


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def _export_zip(db_path: Path, *args: str) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "evidence.zip"
        command = ["export", "evidence", *args, "--format", "zip", "-o", str(out), "--db", str(db_path)]
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 0, result.output
        return out.read_bytes()


def test_deezer_evidence_zip_holds_its_26_oct_debit_and_the_statement(
    sample_db_path: Path, tmp_path: Path
) -> None:
    bundle = _export_zip(sample_db_path, "--provider", "deezer")
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        names = zf.namelist()
        rows = _rows(zf.read("evidence.csv"))
        readme = zf.read("README.txt").decode("utf-8")
        zf.extractall(tmp_path / "bundle")
    debits = [r for r in rows if r["record"] == "bank debit"]
    october = [r for r in debits if r["date_time"] == "2026-10-26"]
    assert len(october) == 1, debits
    row = october[0]
    assert (row["provider"], row["amount"], row["currency"], row["subject"]) == (
        "deezer", "-11.99", "EUR", "CB DEEZER 25/10",
    )  # fmt: skip
    assert row["date_time_local"] == "2026-10-26" and row["channel"] == "bank"
    statement_sha = hashlib.sha256(STATEMENT.read_bytes()).hexdigest()
    assert row["sha256"] == statement_sha, "the row points at the file that proves it"
    entries = [n for n in names if n.startswith("bank/")]
    assert len(entries) == 1 and entries[0].endswith(STATEMENT.name), names
    assert row["location"].startswith(f"00040123456/{entries[0]}:"), "account/file:line"
    assert (tmp_path / "bundle" / entries[0]).read_bytes() == STATEMENT.read_bytes(), "byte-exact"
    assert "bank/" in readme and f"{len(debits)} " in readme
    assert all(r["provider"] == "deezer" for r in debits) and len(debits) == 12
    sums = (tmp_path / "bundle/SHA256SUMS").read_text("ascii")
    assert f"{statement_sha}  {entries[0]}\n" in sums
    if not shutil.which("sha256sum"):
        pytest.skip("sha256sum not installed")
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "bundle", capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(b": OK") == len(names) - 1


def test_bank_debits_follow_the_since_until_filters(sample_db_path: Path) -> None:
    db = Database(sample_db_path)
    october = Filters(provider="deezer", since="2026-10-01", until="2026-10-31")
    rows = _rows(export_evidence(db, october))
    assert [r["date_time"] for r in rows if r["record"] == "bank debit"] == ["2026-10-26"]
    none = Filters(provider="deezer", since="2026-10-27", until="2026-10-31")
    with zipfile.ZipFile(io.BytesIO(export_evidence(db, none, fmt="zip"))) as zf:
        assert not [n for n in zf.namelist() if n.startswith("bank/")], "no line, no statement"
        assert "bank debit" not in zf.read("evidence.csv").decode()


def test_french_readme_says_what_the_bank_files_are(sample_db_path: Path) -> None:
    db = Database(sample_db_path)
    with zipfile.ZipFile(
        io.BytesIO(export_evidence(db, Filters(provider="deezer"), "zip", h=PARIS_FR))
    ) as zf:
        readme = zf.read("README.txt").decode("utf-8")
    assert "Débits bancaires dans evidence.csv : " in readme and "bank/" in readme
    assert "bank statements" not in readme


def test_ticket_export_has_no_bank_lines(sample_db_path: Path) -> None:
    db = Database(sample_db_path)
    ref, provider = db.execute("select ticket_ref, provider from tickets order by id").fetchone()
    assert "bank debit" in export_evidence(db, Filters(provider=provider)).decode(), "the provider has some"
    assert "bank debit" not in export_evidence(db, Filters(ticket=ref)).decode(), "a case is its mails"


# sha256 of the exports of tests/casefile.py (no bank statement) as written before bank lines
# were evidence: a database without statements must keep giving these bytes.
BEFORE_BANK = {
    (None, None, "zip"): "61cc7e8d417ed7199fd440401cbe42c36f3277108e7602961a4be6f3a9495fd7",
    (None, None, "csv"): "a4524820cd5c7441b8d4c1ee77e1081ef0290642e7111ef06a2ecbb652d938f3",
    (None, "fr", "zip"): "d41e443ab301d938f08d7c02d910186aa6339612bd8b6b0762716fafbd8d8cc1",
    (None, "fr", "csv"): "460d619700f57b4f6bcc9e036abf8da9cf8b9d06e85b66c3209c75d697b904f3",
    ("free", None, "zip"): "3e7231c1337f2ebb411b3981a238f33cd6204e871561668e9aef6de1ab45357d",
    ("free", None, "csv"): "85241e542d065e617f2a9e6d43ced3c3cc93c3f64a94a62fd22d552d784793c1",
    ("free", "fr", "zip"): "615607e668e838e010bd1e830b622f41f291b8ae99688988b4df575fbf9d33ac",
    ("free", "fr", "csv"): "4b95dae8e8db4437f988238a24928fce8fd2869b77ee2f119a9c27b4bd54ed97",
}


def test_export_without_statements_is_byte_identical_to_before(tmp_path: Path) -> None:
    db = open_db(tmp_path / "case.db")
    build_case(db)
    for (provider, lang, fmt), digest in BEFORE_BANK.items():
        h = Humanizer(language="fr", timezone="Europe/Paris") if lang else None
        data = export_evidence(db, Filters(provider=provider), fmt=fmt, h=h)
        assert hashlib.sha256(data).hexdigest() == digest, (provider, lang, fmt)
