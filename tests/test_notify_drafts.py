"""Reminders through Apprise to a local HTTP server, sent once across processes; drafts from the sample."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from email import message_from_bytes
from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.config import ConfigError, parse_config
from ingest.outputs.drafts import build_draft, render_eml, render_pdf
from ingest.outputs.notify import mask_url
from ingest.store.schema import open_db
from tests.conftest import copy_db
from tests.webhook import run_notify

pytest_plugins = ["tests.webhook"]

TODAY = "2026-12-07"  # Netflix and Basic-Fit renew on the 14th; Spotify's refund was due on the 2nd


@pytest.fixture(scope="module")
def sample_db(sample_db_path: Path) -> Database:
    db = open_db(sample_db_path)
    yield db
    db.close()


def _notify(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_notify(config, *args, secret="s3cr3t-token", today=TODAY)


def test_notify_once_across_two_processes_sends_each_reminder_once(
    sample_db_path: Path, tmp_path: Path, receiver: tuple[int, list[dict]]
) -> None:
    port, posts = receiver
    db_copy = tmp_path / "notify.db"
    copy_db(sample_db_path, db_copy)
    config = tmp_path / "subtrail.toml"
    config.write_text(
        f'db = "{db_copy}"\n[identity]\naddresses = ["alice.martin@example.org"]\n'
        f'[notify]\nurls = ["json://alice:${{NOTIFY_SECRET}}@127.0.0.1:{port}/hook"]\ndays_before = [7, 1]\n'
    )
    dry = _notify(config, "--dry-run", "--today", TODAY)
    assert dry.returncode == 0, dry.stderr
    assert "Netflix renews in 7 days" in dry.stdout and not posts
    first = _notify(config, "--once")
    assert first.returncode == 0, first.stderr
    titles = [p["title"] for p in posts]
    assert any("Netflix renews in 7 days" in t for t in titles)
    assert any("promise overdue" in t and "613377" in t for t in titles)
    assert any("Deezer" in t and "after the cancellation" in t for t in titles), titles
    netflix = next(p for p in posts if "Netflix renews" in p["title"])
    assert "https://www.netflix.com/cancelplan" in netflix["message"]
    assert len(titles) == len(set(titles))
    second = _notify(config, "--once")  # a restart: a new process, the same day
    assert second.returncode == 0, second.stderr
    assert [p["title"] for p in posts] == titles, "nothing is sent twice"
    assert "s3cr3t" not in first.stdout + first.stderr + second.stdout + second.stderr


def test_notify_test_reports_a_failing_url_masked(tmp_path: Path, receiver: tuple[int, list[dict]]) -> None:
    port, posts = receiver
    config = tmp_path / "subtrail.toml"
    config.write_text(
        f'[notify]\nurls = ["json://127.0.0.1:{port}/ok", "json://bob:hunter2@127.0.0.1:9/dead"]\n'
    )
    result = _notify(config, "--test")
    assert result.returncode == 1
    assert "ok     json://127.0.0.1/***" in result.stdout
    assert "FAILED json://***@127.0.0.1/***" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr
    assert len(posts) == 1


def test_mask_url_hides_credentials_and_tokens() -> None:
    assert mask_url("tgram://123456:ABCDEF@chat/42") == "tgram://***@chat/***"
    assert mask_url("ntfy://ntfy.sh/my-secret-topic") == "ntfy://ntfy.sh/***"


def test_notify_config_is_checked() -> None:
    assert parse_config({"notify": {"urls": ["ntfy://x/y"]}}).notify.days_before == [7, 1]
    with pytest.raises(ConfigError, match="weekly_digest"):
        parse_config({"notify": {"weekly_digest": "someday"}})
    with pytest.raises(ConfigError, match="unknown key `url` in \[notify\] \(did you mean `urls`\?\)"):
        parse_config({"notify": {"url": "ntfy://x/y"}})


def _draft(db: Database, kind: str, target: str, lang: str = "fr"):  # type: ignore[no-untyped-def]
    return build_draft(db, kind, target, lang=lang, today=date.fromisoformat(TODAY),
                       my_addresses=("alice.martin@example.org",))  # fmt: skip


def test_cancel_drafts_hold_the_facts_and_placeholders(sample_db: Database) -> None:
    free = _draft(sample_db, "cancel", "free").text
    assert "Freebox" in free and "8 novembre 2026" in free and "alice.martin@example.org" in free
    assert "L224-39" in free and "https://www.service-public.fr/particuliers/vosdroits/F22486" in free
    assert "https://subscribe.free.fr/login/" in free
    assert "[numéro de contrat]" in free  # the sample's mail shows none: never invented
    duolingo = _draft(sample_db, "cancel", "duolingo").text
    assert "Google Play" in duolingo and "play.google.com" in duolingo
    english = _draft(sample_db, "cancel", "netflix", lang="en").text
    assert "Subject: Cancellation of my Netflix subscription" in english and "[contract number]" in english


def test_follow_up_quotes_the_promise_and_the_evidence(sample_db: Database) -> None:
    draft = _draft(sample_db, "follow-up", "613377")
    assert "« You will receive a refund within 5-7 business days. »" in draft.text
    assert "Kevin" in draft.text and "2 décembre 2026" in draft.text and "ne l'est pas" in draft.text
    assert draft.text.count("[sha256 ") == 3
    eml = message_from_bytes(render_eml(draft))
    assert eml["To"] == "support@spotify.com" and eml["X-Unsent"] == "1"
    assert "613377" in eml["Subject"]


def test_claim_lists_the_bank_line_deadline_and_next_step(sample_db: Database, tmp_path: Path) -> None:
    draft = _draft(sample_db, "claim", "deezer")
    for fact in ("10 octobre 2026", "11,99", "CB DEEZER 25/10", "26 octobre 2026", "15 décembre 2026",
                 "https://signal.conso.gouv.fr", "[le médiateur de la consommation de votre secteur]"):  # fmt: skip
        assert fact in draft.text, fact
    pdf = tmp_path / "claim.pdf"
    pdf.write_bytes(render_pdf(draft))
    if not shutil.which("pdftotext"):
        pytest.skip("pdftotext not installed (Debian poppler-utils; scripts/test.sh installs it)")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "Mise en demeure" in text and "CB DEEZER 25/10" in text and "11,99" in text


def test_a_template_beside_the_config_overrides_the_packaged_one(sample_db: Database, tmp_path: Path) -> None:
    (tmp_path / "fr").mkdir()
    (tmp_path / "fr" / "cancel.txt.j2").write_text(
        "Objet : fin\n{{ provider.name }} {{ contract_number | ph('n°') }}\n"
    )
    draft = build_draft(sample_db, "cancel", "netflix", today=date(2026, 12, 7), user_templates=tmp_path)
    assert draft.text == "Objet : fin\nNetflix [n°]\n" and draft.subject == "fin"
