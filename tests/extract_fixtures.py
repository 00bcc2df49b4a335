"""The labelled extraction fixtures: one folder per provider, each message's expected values beside it.

`tests/fixtures/extract/<slug>/<name>.eml` is a message as received, `<name>.expected.toml` what the
subscription extractors must say about it; `inventory.expected.toml` is what the main set adds up to.
The layout and the keys are described in tests/fixtures/extract/README.md. Read by the tests and by
bench/bench_extract_accuracy.py, so both score the same messages against the same expectations.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent / "fixtures" / "extract"
NO_PROVIDER = "_no-provider"  # the folder of mail that must be credited to no provider
EXPECTED_SUFFIX = ".expected.toml"
# "main" is the tuning set (its mail makes the expected inventory); the others were each written after
# a freeze of the extractors, so their first run was an honest figure.
SETS = ("main", "heldout", "heldout2", "heldout3")


@dataclass(frozen=True)
class Fixture:
    """One labelled message: where it is, which set it belongs to, and what extraction must find."""

    name: str
    set_name: str
    eml: Path
    expected: dict[str, Any]  # kind, provider and event always present (None: must find none)

    @property
    def slug(self) -> str:
        return self.eml.parent.name

    def raw(self) -> bytes:
        return self.eml.read_bytes()


@dataclass(frozen=True)
class ExpectedInventory:
    as_of: date
    subscriptions: list[dict[str, Any]]  # a column left out must be empty (None)


def _read(expected_file: Path) -> Fixture:
    name = expected_file.name.removesuffix(EXPECTED_SUFFIX)
    eml = expected_file.with_name(f"{name}.eml")
    if not eml.is_file():
        raise ValueError(f"{expected_file}: no {eml.name} beside it")
    expected = tomllib.loads(expected_file.read_text(encoding="utf-8"))
    set_name = expected.pop("set", None)
    if set_name not in SETS:
        raise ValueError(f"{expected_file}: set {set_name!r} is not one of {SETS}")
    expected.setdefault("provider", None)
    expected.setdefault("event", None)
    folder = expected["provider"] or NO_PROVIDER
    if eml.parent.name != folder:
        raise ValueError(f"{eml}: expected provider {expected['provider']!r}, so it belongs in {folder}/")
    return Fixture(name=name, set_name=set_name, eml=eml, expected=expected)


@cache
def _all() -> tuple[Fixture, ...]:
    found = sorted((_read(path) for path in ROOT.glob(f"*/*{EXPECTED_SUFFIX}")), key=lambda f: f.name)
    unlabelled = {p.stem for p in ROOT.glob("*/*.eml")} - {f.name for f in found}
    if unlabelled:
        raise ValueError(f"fixtures without an expected file: {sorted(unlabelled)}")
    names = [f.name for f in found]
    if len(names) != len(set(names)):
        raise ValueError("two fixtures share a name: names are unique across folders")
    return tuple(found)


def fixtures(set_name: str | None = None) -> list[Fixture]:
    """Every fixture (or one set's), sorted by name: the order a folder import would read them in."""
    return [f for f in _all() if set_name is None or f.set_name == set_name]


def fixture(name: str) -> Fixture:
    for found in _all():
        if found.name == name:
            return found
    raise KeyError(f"no extraction fixture named {name!r}")


def expected_inventory() -> ExpectedInventory:
    data = tomllib.loads((ROOT / "inventory.expected.toml").read_text(encoding="utf-8"))
    return ExpectedInventory(date.fromisoformat(data["as_of"]), data["subscription"])
