"""What the commands say to a person, in the configured language: the summaries of `import`,
`bank import`, `reprocess` and `verify`, the "wrote …" lines, `note add|list|delete` — counts,
sizes and dates as people write them. The bundled sample, a French config, today pinned; the
same commands without a language stay in English (tests/test_user_walkthrough.py and others)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.store.schema import open_db
from tests.conftest import SAMPLE, copy_db, import_sample

TODAY = "2026-11-27"
NNBSP = "\u202f"  # babel's French thousands separator


@pytest.fixture(scope="module")
def mail_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample mailbox imported once, without its bank statement."""
    return import_sample(tmp_path_factory.mktemp("cli-words") / "subtrail.db", bank=False)


def home(folder: Path, language: str | None = "fr") -> Path:
    """A config for Alice in Paris, in `language` (none: the system's, English under LANG=C)."""
    said = f'language = "{language}"\n' if language else ""
    path = folder / "subtrail.toml"
    path.write_text(
        f'db = "subtrail.db"\n{said}timezone = "Europe/Paris"\n\n'
        '[identity]\naddresses = ["alice.martin@example.org", "alice@example.org"]\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def french(mail_only: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample database beside a French config; returns the config."""
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)
    monkeypatch.setenv("SUBTRAIL_ECB_URL", "off")
    copy_db(mail_only, tmp_path / "subtrail.db")
    return home(tmp_path)


def run(config: Path, *args: str, code: int = 0) -> str:
    result = CliRunner().invoke(cli, [*args, "--config", str(config)])
    assert result.exit_code == code, result.output
    return result.output


def test_import_summary_is_in_french_with_a_decimal_comma(tmp_path: Path) -> None:
    config = home(tmp_path)
    said = run(config, "import", str(SAMPLE / "mailbox"))
    assert re.fullmatch(
        r"42 messages lus en \d+,\d s \([\d\u202f]+/s\) : nouveaux : 42, déjà enregistrés : 0, en erreur : 0\n",
        said,
    ), said
    one = run(config, "import", str(SAMPLE / "mailbox" / "inbox" / "sub-netflix-fr-receipt-nov.eml"))
    assert one.startswith("1 message lu en ") and "nouveaux : 0, déjà enregistrés : 1" in one


def test_bank_import_summary_is_in_french(french: Path) -> None:
    statement = SAMPLE / "bank" / "boursobank_alice_2025-11_2026-11.csv"
    said = run(french, "bank", "import", str(statement))
    assert (
        f"{statement} : 358 lignes (csv, compte 00040123456) — nouvelles : 358, déjà enregistrées : 0\n"
        in said
    )
    assert (
        "16 prélèvements récurrents (confirmés : 15), sans abonnement connu : 1 — "
        "select * from bank_unknown_recurring\n" in said
    )
    assert "recurring charges" not in said and "already stored" not in said


def test_verify_and_reprocess_summaries_are_in_french(french: Path) -> None:
    assert run(french, "verify") == "42 messages bruts vérifiés, 0 problème\n"
    assert re.fullmatch(r"42 messages retraités en \d+,\d s, en erreur : 0\n", run(french, "reprocess"))


def test_wrote_lines_of_export_draft_and_dossier_are_in_french_with_sizes_as_french_write_them(
    french: Path,
) -> None:
    folder = french.parent
    for args, name in (
        (("export", "calendar"), "renewals.ics"),
        (("export", "evidence"), "evidence.csv"),
        (("draft", "cancel", "free"), "resiliation.txt"),
        (("dossier", "free"), "free.md"),
    ):
        said = run(french, *args, "-o", str(folder / name))
        size = (folder / name).stat().st_size
        assert size > 999, "a size with a thousands separator"
        grouped = f"{size:,}".replace(",", NNBSP)
        assert said == f"fichier écrit : {folder / name} ({grouped} octets)\n", said


def test_note_add_list_and_delete_speak_french_with_dates_as_french_write_them(french: Path) -> None:
    added = run(french, "note", "add", "--provider", "spotify", "--at", "2026-11-26 14:30", "--agent", "Kevin",
                "--text", "Remboursement confirmé", "--promise", "remboursement sous 5 jours ouvrés")  # fmt: skip
    assert added == "note 1 ajoutée au dossier 2 (613377, en attente de leur part)\n"
    listed = run(french, "note", "list")
    assert "26/11/2026 14:30" in listed and "téléphone" in listed
    assert "[promesse : remboursement sous 5 jours ouvrés, pour le 03/12/2026]" in listed
    assert " phone " not in listed and "promise:" not in listed and "2026-12-03" not in listed
    assert run(french, "note", "delete", "1") == "note 1 supprimée\n"


def test_a_note_time_listed_in_french_reads_back_as_the_same_moment(french: Path) -> None:
    run(french, "note", "add", "--provider", "spotify", "--at", "2026-11-26 00:30", "--text", "Appel")
    typed = re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d", run(french, "note", "list")).group(0)
    assert typed == "26/11/2026 00:30"
    run(french, "note", "add", "--provider", "spotify", "--at", typed, "--text", "Le même")
    with open_db(french.parent / "subtrail.db") as db:
        stamps = [row[0] for row in db.execute("select at from manual_notes order by id")]
    assert stamps == ["2026-11-25T23:30:00+00:00"] * 2


def test_without_a_language_the_same_lines_stay_english(
    mail_only: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)
    for name in ("LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    copy_db(mail_only, tmp_path / "subtrail.db")
    config = home(tmp_path, language=None)
    out = tmp_path / "renewals.ics"
    assert (
        run(config, "export", "calendar", "-o", str(out)) == f"wrote {out} ({out.stat().st_size:,} bytes)\n"
    )
    assert run(config, "verify") == "42 raw messages checked, 0 problems\n"
    run(config, "note", "add", "--provider", "spotify", "--at", "2026-11-26 14:30", "--text", "Call",
        "--promise", "refund within 5 business days")  # fmt: skip
    listed = run(config, "note", "list")
    assert "2026-11-26 14:30" in listed and " phone " in listed
    assert "[promise: refund within 5 business days by 2026-12-03]" in listed


def test_a_bank_file_that_cannot_be_read_is_said_in_french(french: Path) -> None:
    junk = french.parent / "pas-un-releve.csv"
    junk.write_text("rien à lire ici\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["bank", "import", str(junk), "--config", str(french)])
    assert result.exit_code == 1, result.output
    assert f"fichier ignoré : {junk} : " in result.output
    assert "détails : select * from ingest_errors where stage = 'bank'" in result.output
    assert "skipped" not in result.output and "details:" not in result.output
