"""Provider files: every bundled file loads, every stated fact has a source, one owner per domain,
the `providers` table is filled from them, user edits survive and the wheel carries them."""

from __future__ import annotations

import json
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from sqlite_utils import Database

from extractors.registry import (
    LEGAL_FILE,
    PROVIDERS_DIR,
    Registry,
    provider_from_mapping,
    read_legal,
    read_providers,
    registry,
)
from ingest.derived.knowledge import (
    ProviderFileError,
    derive_providers,
    get_provider,
    load_providers,
    provider_rows,
)

PROVIDER_FILES = sorted(p for p in PROVIDERS_DIR.glob("*.toml") if not p.name.startswith("_"))
CONTRACT_SLUGS = """netflix spotify deezer canal-plus disney-plus amazon-prime youtube-premium google-one icloud
apple-one microsoft-365 adobe dropbox openai audible free free-mobile orange sosh sfr red-by-sfr bouygues-telecom
edf basic-fit le-monde mediapart apple-app-store google-play paypal""".split()


def test_every_provider_has_a_file() -> None:
    slugs = {row["slug"] for row in provider_rows()}
    assert set(CONTRACT_SLUGS) <= slugs, set(CONTRACT_SLUGS) - slugs


def test_every_bundled_provider_has_a_row() -> None:
    assert {row["slug"] for row in provider_rows()} == {p.stem for p in PROVIDER_FILES}


@pytest.mark.parametrize("path", PROVIDER_FILES, ids=lambda p: p.stem)
def test_facts_have_sources(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["slug"] == path.stem
    # sender domains, exact senders, or the platform that mails for it tie mails to the provider
    assert data.get("domains") or data.get("senders") or data.get("via")
    cancel, commitment = data.get("cancel", {}), data.get("commitment", {})
    if cancel.get("url") or cancel.get("steps"):
        assert cancel.get("source", "").startswith("https://")
    if commitment.get("notice"):
        assert commitment.get("source", "").startswith("https://")
    legal = read_legal(PROVIDERS_DIR / LEGAL_FILE)
    for key in data.get("legal", []):
        law = legal[key]
        assert law.basis and law.text and law.source.startswith("https://")
    for value in [cancel.get("url"), data.get("support", {}).get("url")]:
        assert not value or value.startswith("https://")


def test_each_legal_basis_is_written_once() -> None:
    assert {"three-clicks", "chatel", "telecom-termination", "telecom-commitment"} <= set(
        read_legal(PROVIDERS_DIR / LEGAL_FILE)
    )
    for path in PROVIDER_FILES:
        assert "basis =" not in path.read_text(encoding="utf-8"), f"{path.name}: use `legal = [keys]`"
    uses = [
        p.slug
        for p in registry().providers.values()
        if "three-clicks" in {law.key for law in p.knowledge.legal}
    ]
    assert len(uses) == 26


def test_platform_routes_exist() -> None:
    rows = {row["slug"]: row for row in provider_rows()}
    assert rows["apple-app-store"]["platform"] == "apple"
    assert rows["google-play"]["cancel_url"] == "https://play.google.com/store/account/subscriptions"
    assert rows["paypal"]["platform"] == "paypal"
    assert rows["icloud"]["platform"] == "apple"  # billed through Apple, so cancelled there
    assert registry().platform_providers == {
        "apple": "apple-app-store",
        "google_play": "google-play",
        "paypal": "paypal",
    }


def test_load_is_idempotent_and_keeps_user_edits(db: Database) -> None:
    files = len(provider_rows())
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
        ('slug = "other"\nname = "x"\n', "file's name"),
        ('slug = "ok"\nname = "x"\nlegal = ["no-such-law"]\n', "no-such-law"),
        ('slug = "ok"\nname = "x"\ncategory = "gardening"\n', "category"),
        ('slug = "ok"\nname = "x"\n[cancel]\nulr = "https://x.example"\n', "ulr"),
    ],
)
def test_bad_files_are_named(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "ok.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ProviderFileError, match=problem):
        read_providers(tmp_path)


# --- one owner per domain, sender and bank name --------------------------------------------


def test_the_bundled_files_agree_among_themselves() -> None:
    providers = read_providers(PROVIDERS_DIR)
    Registry({p.slug: p for p in providers})  # raises on a domain, sender or bank name declared twice
    assert len({p.slug for p in providers}) == len(providers) == len(PROVIDER_FILES)
    assert registry().problems == []


@pytest.mark.parametrize(
    ("second", "claim"),
    [
        ({"domains": ["netflix.com"]}, "domain 'netflix.com' is declared by .*netflix.toml and evil.toml"),
        (
            {"senders": ["freebox@free.fr"]},
            "sender 'freebox@free.fr' is declared by .*free.toml and evil.toml",
        ),
        (
            {"bank": {"name": "Netflix", "labels": ["EVIL"]}},
            "bank name 'Netflix' is declared by .*netflix.toml",
        ),
    ],
)
def test_a_domain_sender_or_bank_name_declared_in_two_files_is_refused(second: dict, claim: str) -> None:
    evil = provider_from_mapping({"slug": "evil", "name": "Evil", **second}, source="evil.toml")
    with pytest.raises(ProviderFileError, match=claim):
        Registry({**registry().providers, "evil": evil})


def test_a_bad_user_file_is_left_out_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db: Database
) -> None:
    (tmp_path / "copycat.toml").write_text('slug = "copycat"\nname = "Copycat"\ndomains = ["netflix.com"]\n')
    (tmp_path / "broken.toml").write_text("slug = [")
    monkeypatch.setenv("SUBTRAIL_PROVIDERS_DIR", str(tmp_path))
    registry.cache_clear()
    try:
        assert registry().for_domain("netflix.com").slug == "netflix"
        assert "copycat" not in registry().providers
        derive_providers(db)
    finally:
        registry.cache_clear()
    errors = [row["error"] for row in db.query("select error from ingest_errors where stage = 'providers'")]
    assert any("broken.toml" in e for e in errors)
    assert any("netflix.com" in e and "copycat.toml" in e for e in errors)
    assert get_provider(db, "netflix")["name"] == "Netflix"


# --- packaging -----------------------------------------------------------------------------


def test_the_wheel_carries_the_provider_files_and_the_legal_texts() -> None:
    pyproject = tomllib.loads((PROVIDERS_DIR.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["extractors"]
    data_files = [p for p in PROVIDERS_DIR.iterdir() if p.is_file() and p.suffix != ".py"]
    assert {p.name for p in data_files} >= {LEGAL_FILE, "netflix.toml"}
    for path in data_files:
        relative = path.relative_to(PROVIDERS_DIR.parent).as_posix()
        assert any(fnmatch(relative, pattern) for pattern in patterns), relative
    # the optional `<slug>.py` refines are modules of the extractors.providers package
    assert (PROVIDERS_DIR / "__init__.py").exists()
    assert "extractors*" in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
