"""The worked example of docs/providers.md, as written: a provider from a user folder
(`SUBTRAIL_PROVIDERS_DIR`) is seen by extraction, relevance, bank matching, the providers table and the dossier."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from extractors import Identity, extract, relevance
from extractors.mail.parse import parse_message
from extractors.registry import registry
from ingest.bank.merchants import normalise
from ingest.cli import cli
from tests.test_extract_fixtures import EVENT_FIELDS

DOC = Path(__file__).resolve().parents[1] / "docs" / "providers.md"
_FILE_BLOCK = re.compile(r"^\*\*`(?P<path>[^`]+)`\*\*.*?\n\n```\w*\n(?P<body>.*?)\n```$", re.M | re.S)
ME = Identity(frozenset({"alice@example.org"}))


def example_files() -> dict[str, str]:
    """Each file the page shows in full: a bold `path` line, then its fenced block."""
    return {m["path"]: m["body"] + "\n" for m in _FILE_BLOCK.finditer(DOC.read_text(encoding="utf-8"))}


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The page's files written under tmp_path, its provider folder named by SUBTRAIL_PROVIDERS_DIR."""
    for name, body in example_files().items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.setenv("SUBTRAIL_PROVIDERS_DIR", str(tmp_path / "my-providers"))
    caches = (registry, relevance.known_domains, relevance.known_senders, relevance.rules_fingerprint)
    for cache in caches:
        cache.cache_clear()
    yield tmp_path
    for cache in caches:
        cache.cache_clear()


def test_the_page_shows_one_provider_file_and_its_fixtures() -> None:
    assert set(example_files()) == {
        "my-providers/velo-club.toml",
        "tests/fixtures/extract/velo-club/receipt.eml",
        "tests/fixtures/extract/velo-club/receipt.expected.toml",
    }


def test_extraction_and_relevance_see_the_user_provider(example: Path) -> None:
    fixture = example / "tests/fixtures/extract/velo-club"
    expected = tomllib.loads((fixture / "receipt.expected.toml").read_text(encoding="utf-8"))
    result = extract(parse_message((fixture / "receipt.eml").read_bytes()), ME)
    assert (result.kind, result.provider, result.suspicious) == (expected["kind"], expected["provider"], None)
    assert [fact.event_type for fact in result.events] == [expected["event"]]
    fields = {key: attr for key, attr in EVENT_FIELDS.items() if key in expected}
    assert {key: getattr(result.events[0], attr) for key, attr in fields.items()} == {
        key: expected[key] for key in fields
    }
    assert registry().for_address("factures@veloclub.example").slug == "velo-club"
    assert relevance.is_provider_domain("factures@veloclub.example", relevance.known_domains())
    assert "netflix" in registry().providers  # added to the bundled providers, not instead of them


def test_bank_matching_sees_the_user_provider(example: Path) -> None:
    merchant = normalise("PRLV SEPA VELO CLUB SAS ECH/030326 MDT/VC123")
    assert (merchant.name, merchant.providers) == ("Vélo Club", ("velo-club",))


def test_the_dossier_sees_the_user_provider(example: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "subtrail.db")
    runner = CliRunner()
    eml = example / "tests/fixtures/extract/velo-club/receipt.eml"
    result = runner.invoke(cli, ["import", str(eml), "--db", db, "--workers", "1"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "velo-club.md"
    result = runner.invoke(cli, ["dossier", "velo-club", "--db", db, "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Dossier: Vélo Club\n")
    assert "https://veloclub.example/compte/resilier" in text
    assert "Choose Cancel my subscription and confirm." in text
    assert "01 23 45 67 89" in text
    assert "L215-1-1" in text  # the legal key, resolved from the bundled _legal.toml
    assert "Votre reçu Vélo Club" in text  # the imported receipt is the provider's evidence
