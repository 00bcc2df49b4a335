"""Defects a new user meets walking through the sample (French, then English), each pinned by a test.

The sample mailbox and bank statement are imported once; tests that change the database work on a copy.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.config import load_config
from ingest.outputs.drafts import build_draft
from ingest.outputs.humanize import Humanizer
from ingest.pipeline.importer import import_paths
from ingest.store.schema import open_db
from tests.conftest import SAMPLE

TODAY = "2026-11-27"  # Spotify's refund (due 2 Dec) is not due yet; Free Mobile's was kept late on the 23rd
FR = Humanizer(language="fr", timezone="Europe/Paris")
EN = Humanizer(language="en", timezone="Europe/Paris")


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = load_config(str(SAMPLE / "subtrail.toml"))
    path = tmp_path_factory.mktemp("walkthrough") / "subtrail.db"
    db = open_db(path)
    import_paths(db, [str(SAMPLE / "mailbox")], identity=config.identity, workers=1, progress=False)
    db.close()
    csvs = [str(p) for p in sorted((SAMPLE / "bank").glob("*.csv"))]
    result = CliRunner().invoke(cli, ["bank", "import", *csvs, "--db", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def copy(sample_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample database, with a French config beside it and today pinned."""
    path = tmp_path / "subtrail.db"
    shutil.copy(sample_path, path)
    (tmp_path / "subtrail.toml").write_text(
        'db = "subtrail.db"\nlanguage = "fr"\ntimezone = "Europe/Paris"\n\n'
        '[identity]\naddresses = ["alice.martin@example.org"]\n'
    )
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)
    monkeypatch.setenv("SUBTRAIL_ECB_URL", "off")
    return path


def _run(path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--config", str(path.parent / "subtrail.toml")])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_draft_is_dated_as_of_the_pinned_day_not_the_clock(copy: Path) -> None:
    letter = _run(copy, "draft", "claim", "deezer")
    assert "Le 27 novembre 2026" in letter
    assert "au plus tard le 5 décembre 2026" in letter  # 8 days from the pinned day


def test_a_follow_up_of_a_case_whose_promise_was_kept_does_not_claim_it_again(sample_path: Path) -> None:
    db = open_db(sample_path)
    draft = build_draft(db, "follow-up", "51190342", today=date.fromisoformat(TODAY))
    db.close()
    assert "Nous procéderons au remboursement" not in draft.text  # kept (late) on the 23rd
    assert "[l'engagement pris, sa date et l'agent]" in draft.text


def test_a_follow_up_before_the_due_day_says_it_is_due_not_that_it_was(sample_path: Path) -> None:
    db = open_db(sample_path)
    fr = build_draft(db, "follow-up", "613377", today=date.fromisoformat(TODAY)).text
    en = build_draft(db, "follow-up", "613377", lang="en", today=date.fromisoformat(TODAY)).text
    db.close()
    assert "doit être tenu au plus tard le 2 décembre 2026" in fr and "devait" not in fr
    assert "This is due by December 2, 2026" in en and "was due" not in en


def test_a_follow_up_says_a_promise_made_on_the_phone_was_said_not_written(copy: Path) -> None:
    _run(copy, "note", "add", "--provider", "spotify", "--channel", "phone", "--at", "2026-11-26 14:30",
         "--agent", "Sarah", "--text", "Remboursement confirmé", "--promise", "remboursement sous 5 jours ouvrés")  # fmt: skip
    letter = _run(copy, "draft", "follow-up", "613377")
    assert "Sarah m'a dit par téléphone : « remboursement sous 5 jours ouvrés »" in letter
    assert "Sarah m'a écrit" not in letter
    assert "26 novembre 2026 — appel téléphonique (Sarah)" in letter
