"""`subtrail export evidence`: CSV rows, formula neutralisation, a ZIP that `sha256sum -c` verifies, same bytes twice."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.config import load_config
from ingest.outputs.export import ExportError, Filters, evidence_rows, export_evidence, neutralise
from ingest.outputs.humanize import Humanizer
from ingest.store.schema import open_db
from tests.casefile import CASE_DIR, build_case


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12", "'+33 6 12"),
        ("-cmd|' /C calc'!A0", "'-cmd|' /C calc'!A0"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),  # a plain number stays a number
        ("Re: facture", "Re: facture"),
        (None, ""),
    ],
)
def test_neutralise(cell: str | None, expected: str) -> None:
    assert neutralise(cell) == expected


def test_csv_has_one_row_per_exchange_and_event(db: Database) -> None:
    case = build_case(db)
    rows = read_csv(export_evidence(db, fmt="csv"))
    assert [(r["record"], r["provider"]) for r in rows] == [
        ("subscription_event", "netflix"),
        ("subscription_event", "netflix"),
        ("exchange", "free"),
        ("exchange", "free"),
        ("exchange", "free"),
    ]
    julien = rows[3]
    assert julien["agent"] == "Julien"
    assert julien["direction"] == "inbound"
    assert julien["message_id"] == "<ticket-2026-ABC-1-1@free.fr>"
    assert julien["sha256"] == case.sha["free-in-1.eml"]
    assert julien["location"] == "perso/INBOX/1"
    assert julien["promises"] == "Un technicien passera sous 48 heures (due 2026-03-05): pending"
    assert rows[1]["amount"] == "13.49" and rows[1]["currency"] == "EUR"
    assert rows[4]["channel"] == "phone" and rows[4]["sha256"] == ""


def test_csv_injection_is_neutralised(db: Database) -> None:
    build_case(db)
    rows = read_csv(export_evidence(db, fmt="csv"))
    cells = [value for row in rows for value in row.values()]
    assert '\'=HYPERLINK("http://evil.example/x","Panne de ligne")' in cells
    assert "'@Sophie" in cells and "'+33 geste commercial promis" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@", "\t", "\r") or c.startswith("-c")]


def test_bom_and_line_ends(db: Database) -> None:
    build_case(db)
    data = export_evidence(db, fmt="csv", bom=True)
    assert data.startswith("\ufeffdate_time,".encode())
    assert data.count(b"\r\n") == 6  # header + 5 rows, no bare LF inside these cells
    assert not export_evidence(db, fmt="csv").startswith(b"\xef\xbb\xbf")


@pytest.mark.parametrize(
    ("filters", "records"),
    [
        (Filters(provider="netflix"), ["subscription_event"] * 2),
        (Filters(ticket="2026-ABC-1"), ["exchange"] * 3),
        (Filters(since="2026-02-01", until="2026-03-02"), ["subscription_event", "exchange"]),
        (Filters(provider="free", since="2026-03-04"), ["exchange"]),
        (Filters(provider="nobody"), []),
    ],
)
def test_filters(db: Database, filters: Filters, records: list[str]) -> None:
    build_case(db)
    assert [r["record"] for r in evidence_rows(db, filters)] == records


def test_unknown_ticket_and_bad_date_are_errors(db: Database) -> None:
    build_case(db)
    with pytest.raises(ExportError, match="no ticket"):
        evidence_rows(db, Filters(ticket="NOPE"))
    with pytest.raises(ExportError, match="YYYY-MM-DD"):
        evidence_rows(db, Filters(since="March"))


def test_zip_verifies_with_sha256sum_and_is_byte_identical(db: Database, tmp_path: Path) -> None:
    case = build_case(db)
    first = export_evidence(db, fmt="zip")
    assert export_evidence(db, fmt="zip") == first
    with zipfile.ZipFile(io.BytesIO(first)) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        zf.extractall(tmp_path / "bundle")
    assert names[:3] == ["README.txt", "SHA256SUMS", "evidence.csv"]
    assert "messages/20260303T133000Z_511766e18a87.eml" in names
    assert len([n for n in names if n.endswith(".eml")]) == 4
    raw = (tmp_path / "bundle/messages/20260303T133000Z_511766e18a87.eml").read_bytes()
    assert raw == (CASE_DIR / "free-in-1.eml").read_bytes()
    assert hashlib.sha256(raw).hexdigest() == case.sha["free-in-1.eml"]
    if not shutil.which("sha256sum"):
        pytest.skip("sha256sum not installed")
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "bundle", capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == 6  # CSV, README, four messages
    # A changed byte is caught.
    (tmp_path / "bundle/evidence.csv").write_bytes(b"tampered")
    again = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "bundle", capture_output=True)
    assert again.returncode != 0


def test_zip_for_one_ticket_holds_only_its_mails(db: Database) -> None:
    case = build_case(db)
    with zipfile.ZipFile(io.BytesIO(export_evidence(db, Filters(ticket="2026-ABC-1"), fmt="zip"))) as zf:
        emls = [n for n in zf.namelist() if n.endswith(".eml")]
        readme = zf.read("README.txt").decode()
    assert sorted(n[-16:-4] for n in emls) == sorted(
        case.sha[f][:12] for f in ("free-in-1.eml", "free-out-1.eml")
    )
    assert "ticket=2026-ABC-1" in readme


def test_cli_writes_zip_and_csv(db: Database, db_path: Path, tmp_path: Path) -> None:
    build_case(db)
    runner = CliRunner()
    out = tmp_path / "free.zip"
    result = runner.invoke(
        cli,
        ["export", "evidence", "--db", str(db_path), "--provider", "free", "--format", "zip", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert zipfile.ZipFile(out).testzip() is None
    result = runner.invoke(cli, ["export", "evidence", "--db", str(db_path), "--ticket", "2026-ABC-1"])
    assert result.exit_code == 0
    assert len(read_csv(result.stdout_bytes)) == 3
    bad = runner.invoke(cli, ["export", "evidence", "--db", str(db_path), "--ticket", "missing"])
    assert bad.exit_code == 2 and "no ticket" in bad.output


@pytest.mark.parametrize(
    "command",
    [["export"], ["export", "evidence"], ["export", "calendar"], ["dossier"], ["status"]],
)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0
    if command != ["export"]:
        assert "Example: subtrail " + " ".join(command) in result.output


@pytest.mark.slow
@pytest.mark.skipif(not shutil.which("soffice"), reason="LibreOffice not installed")
def test_libreoffice_opens_the_csv_as_text(db: Database, tmp_path: Path) -> None:
    """A real LibreOffice import: neutralised cells stay text, while the raw control does become a formula."""
    build_case(db)
    neutral = export_evidence(db, fmt="csv", bom=True)
    (tmp_path / "evidence.csv").write_bytes(neutral)
    control = neutral.decode("utf-8-sig").replace("\"'=HYPERLINK", '"=HYPERLINK')
    (tmp_path / "control.csv").write_text(control, encoding="utf-8", newline="")
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run(
        # CSV import options as a user picks them in the dialog: comma, double quote, UTF-8 (76), from row 1
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--infilter=CSV:44,34,76,1",
         "--convert-to", "ods", "--outdir", str(tmp_path), str(tmp_path / "evidence.csv"),
         str(tmp_path / "control.csv")],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    content = zipfile.ZipFile(tmp_path / "evidence.ods").read("content.xml").decode("utf-8")
    assert "table:formula" not in content
    assert "février" in content and "10 € sur" in content  # UTF-8 read as UTF-8
    assert "&apos;=HYPERLINK" in content or "'=HYPERLINK" in content
    control_xml = zipfile.ZipFile(tmp_path / "control.ods").read("content.xml").decode("utf-8")
    assert "table:formula" in control_xml


def test_zip_bytes_do_not_depend_on_the_target(db: Database, db_path: Path, tmp_path: Path) -> None:
    build_case(db)
    runner = CliRunner()
    piped = runner.invoke(cli, ["export", "evidence", "--db", str(db_path), "--format", "zip"])
    to_file = runner.invoke(
        cli, ["export", "evidence", "--db", str(db_path), "--format", "zip", "-o", str(tmp_path / "b.zip")]
    )
    assert piped.exit_code == 0 and to_file.exit_code == 0
    reader = Humanizer.of(load_config(None).display)  # the CLI's reader: the system's zone and language
    assert piped.stdout_bytes == (tmp_path / "b.zip").read_bytes() == export_evidence(db, fmt="zip", h=reader)
    assert not list(tmp_path.glob(".*.part"))


def test_tampered_evidence_is_refused(db: Database, db_path: Path, tmp_path: Path) -> None:
    case = build_case(db)
    db.execute(
        "update raw_messages set raw = cast('forged' as blob) where sha256 = ?", [case.sha["free-in-1.eml"]]
    )
    with pytest.raises(ExportError, match="no longer match"):
        export_evidence(db, fmt="zip")
    out = tmp_path / "x.zip"
    result = CliRunner().invoke(
        cli, ["export", "evidence", "--db", str(db_path), "--format", "zip", "-o", str(out)]
    )
    assert result.exit_code == 2 and "subtrail verify" in result.output
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_export_file_is_private(tmp_path: Path) -> None:
    """Exports hold private mail: the file is readable by its owner only, whatever the umask."""
    target = tmp_path / "evidence.csv"
    open_db(tmp_path / "x.db").close()  # an empty database: a missing one is refused (exit 2)
    old = os.umask(0o022)
    try:
        result = CliRunner().invoke(
            cli, ["export", "evidence", "--db", str(tmp_path / "x.db"), "-o", str(target)]
        )
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600
