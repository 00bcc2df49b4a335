"""A letter goes with its evidence, and a draft e-mail goes to the address the provider file gives.

`draft claim --pdf` (and `draft cancel --pdf` when the cancellation is a registered letter) writes
the evidence ZIP of `export evidence` beside the PDF; `[support] email` in a provider file addresses
`draft --eml` ahead of the last desk address seen in the mails.
"""

from __future__ import annotations

import hashlib
import zipfile
from datetime import date
from email import message_from_bytes
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from extractors.registry import ProviderFileError, provider_from_mapping, registry
from ingest.cli import cli
from ingest.outputs.drafts import build_draft, render_eml
from tests.conftest import copy_db

TODAY = "2026-12-07"


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [*args, "--today", TODAY])
    return result.exit_code, result.stderr


def _checked_sums(archive: Path) -> dict[str, str]:
    """Every entry of the ZIP hashed and compared with its SHA256SUMS line."""
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        sums = {}
        for line in zf.read("SHA256SUMS").decode("ascii").splitlines():
            digest, name = line.split("  ", 1)
            assert hashlib.sha256(zf.read(name)).hexdigest() == digest, name
            sums[name] = digest
    assert names - set(sums) == {"SHA256SUMS"}, "every other entry is summed"
    return sums


def test_claim_pdf_writes_the_evidence_zip_beside_it(sample_db_path: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "mise-en-demeure-deezer.pdf"
    status, err = _run("draft", "claim", "deezer", "--pdf", "-o", str(pdf), "--db", str(sample_db_path))
    assert status == 0, err
    archive = tmp_path / "mise-en-demeure-deezer-evidence.zip"
    assert pdf.read_bytes().startswith(b"%PDF") and archive.exists()
    assert str(archive) in err, "says where the evidence is"
    sums = _checked_sums(archive)
    assert any(name.endswith(".eml") for name in sums), sums
    assert any(name.startswith("bank/") for name in sums), "the debit the letter cites, in its statement"
    exported = tmp_path / "export.zip"
    export = ["export", "evidence", "--provider", "deezer", "--format", "zip", "-o", str(exported)]
    assert CliRunner().invoke(cli, [*export, "--db", str(sample_db_path)]).exit_code == 0
    assert archive.read_bytes() == exported.read_bytes(), "the same bundle as export evidence"


def test_claim_pdf_on_stdout_leaves_its_evidence_in_the_current_folder(
    sample_db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["draft", "claim", "deezer", "--pdf", "--db", str(sample_db_path)])
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"%PDF")
    assert "claim-deezer-evidence.zip" in result.stderr
    _checked_sums(tmp_path / "claim-deezer-evidence.zip")


def test_cancel_pdf_by_registered_letter_has_its_evidence_but_an_online_one_not(
    sample_db_path: Path, tmp_path: Path
) -> None:
    letter = tmp_path / "resiliation-basic-fit.pdf"
    status, err = _run(
        "draft", "cancel", "basic-fit", "--pdf", "-o", str(letter), "--db", str(sample_db_path)
    )
    assert status == 0, err
    _checked_sums(tmp_path / "resiliation-basic-fit-evidence.zip")
    online = tmp_path / "resiliation-netflix.pdf"
    status, err = _run("draft", "cancel", "netflix", "--pdf", "-o", str(online), "--db", str(sample_db_path))
    assert status == 0, err
    assert online.exists() and not (tmp_path / "resiliation-netflix-evidence.zip").exists()
    assert "evidence" not in err


def test_follow_up_pdf_has_the_case_exchanges_as_evidence(sample_db_path: Path, tmp_path: Path) -> None:
    letter = tmp_path / "relance.pdf"
    status, err = _run(
        "draft", "follow-up", "613377", "--pdf", "-o", str(letter), "--db", str(sample_db_path)
    )
    assert status == 0, err
    sums = _checked_sums(tmp_path / "relance-evidence.zip")
    with Database(sample_db_path) as db:
        case = {
            r[0]
            for r in db.execute(
                """select message_sha256 from ticket_messages tm join tickets t on t.id = tm.ticket_id
                   where t.ticket_ref = '613377' and message_sha256 is not null"""
            )
        }
    emls = {digest for name, digest in sums.items() if name.endswith(".eml")}
    assert emls == case and len(case) == 3, "the case's mails, no other"


def test_text_and_eml_drafts_write_no_zip(sample_db_path: Path, tmp_path: Path) -> None:
    status, err = _run("draft", "claim", "deezer", "--eml", "-o", str(tmp_path / "claim.eml"),
                       "--db", str(sample_db_path))  # fmt: skip
    assert status == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claim.eml"]


def test_support_email_key_is_read_and_checked() -> None:
    base = {"slug": "velo-club", "name": "Vélo Club"}
    known = provider_from_mapping({**base, "support": {"email": " aide@veloclub.example "}})
    assert dict(known.knowledge.support_channels)["email"] == "aide@veloclub.example"
    for bad in ("not an address", "a@b.example, c@d.example", 42):
        with pytest.raises(ProviderFileError, match=r"\[support\] email"):
            provider_from_mapping({**base, "support": {"email": bad}})
    assert (
        dict(registry().providers["orange"].knowledge.support_channels)["email"] == "service.client@orange.fr"
    )


def test_eml_goes_to_the_provider_file_address_before_the_desk_seen(
    sample_db_path: Path, tmp_path: Path
) -> None:
    db = Database(copy_db(sample_db_path, tmp_path / "copy.db"))
    day = date.fromisoformat(TODAY)
    assert build_draft(db, "follow-up", "613377", today=day).to_addr == "support@spotify.com"
    db.execute(
        """update providers set support_channels = json_set(coalesce(support_channels, '{}'),
           '$.email', 'aide@spotify.example') where slug = 'spotify'"""
    )
    db.conn.commit()
    eml = message_from_bytes(render_eml(build_draft(db, "follow-up", "613377", today=day)))
    assert eml["To"] == "aide@spotify.example"


def test_a_provider_known_only_from_its_file_gets_its_address_and_placeholders(
    sample_db_path: Path, tmp_path: Path
) -> None:
    """No Orange mail in the sample: the cancellation still drafts, to the file's address, with
    every missing fact a placeholder."""
    out = tmp_path / "orange.eml"
    status, err = _run("draft", "cancel", "orange", "--eml", "-o", str(out), "--db", str(sample_db_path))
    assert status == 0, err
    eml = message_from_bytes(out.read_bytes())
    assert eml["To"] == "service.client@orange.fr"
    body = eml.get_payload(decode=True).decode("utf-8")
    assert "[date de souscription]" in body and "[numéro de client]" in body
