"""Provider knowledge files: every bundled file loads, every stated fact has a source, user edits survive."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.derived.knowledge import (
    PROVIDERS_DIR,
    ProviderFileError,
    get_provider,
    load_providers,
    read_provider_files,
)

CONTRACT_SLUGS = """netflix spotify deezer canal-plus disney-plus amazon-prime youtube-premium google-one icloud
apple-one microsoft-365 adobe dropbox openai audible free free-mobile orange sosh sfr red-by-sfr bouygues-telecom
edf basic-fit le-monde mediapart apple-app-store google-play paypal""".split()


def test_every_provider_has_a_file() -> None:
    slugs = {row["slug"] for row in read_provider_files()}
    assert set(CONTRACT_SLUGS) <= slugs, set(CONTRACT_SLUGS) - slugs


@pytest.mark.parametrize("path", sorted(PROVIDERS_DIR.glob("*.toml")), ids=lambda p: p.stem)
def test_facts_have_sources(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["slug"] == path.stem
    assert data["domains"], "sender domains are needed to tie mails to the provider"
    cancel, commitment = data.get("cancel", {}), data.get("commitment", {})
    if cancel.get("url") or cancel.get("steps"):
        assert cancel.get("source", "").startswith("https://")
    if commitment.get("notice"):
        assert commitment.get("source", "").startswith("https://")
    for law in data.get("legal", []):
        assert law["basis"] and law["text"] and law["source"].startswith("https://")
    for value in [cancel.get("url"), data.get("support", {}).get("url")]:
        assert not value or value.startswith("https://")


def test_platform_routes_exist() -> None:
    rows = {row["slug"]: row for row in read_provider_files()}
    assert rows["apple-app-store"]["platform"] == "apple"
    assert rows["google-play"]["cancel_url"] == "https://play.google.com/store/account/subscriptions"
    assert rows["paypal"]["platform"] == "paypal"


def test_load_is_idempotent_and_keeps_user_edits(db: Database) -> None:
    files = len(read_provider_files())
    first = load_providers(db)
    assert first.loaded == files
    again = load_providers(db)
    assert (again.loaded, again.unchanged) == (0, files)
    db.execute("update providers set cancel_url = 'https://example.org/my-own-notes' where slug = 'netflix'")
    db.table("providers").insert({"slug": "my-gym", "name": "My gym"})
    report = load_providers(db)
    assert report.kept_user_edits == ["netflix"]
    assert get_provider(db, "netflix")["cancel_url"] == "https://example.org/my-own-notes"
    assert get_provider(db, "my-gym")["name"] == "My gym"
    load_providers(db, force=True)
    assert get_provider(db, "netflix")["cancel_url"] == "https://www.netflix.com/cancelplan"


def test_json_columns_decode(db: Database) -> None:
    load_providers(db)
    free = get_provider(db, "free")
    assert "freetelecom.fr" in free["domains"]
    assert any("L224-39" in law["basis"] for law in free["legal_basis"])
    assert all(url.startswith("https://") for url in free["sources"])
    assert json.loads(db.execute("select domains from providers where slug = 'free'").fetchone()[0])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('slug = "Bad Slug"\nname = "x"\n', "lowercase"),
        ('slug = "ok"\n', "name"),
        ("slug = [", "ok.toml"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "ok.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ProviderFileError, match=problem):
        read_provider_files(tmp_path)
