"""Every labelled fixture message gives exactly the labelled kind, provider, event and fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from extractors import Extraction, Identity, direction_of
from extractors.mail.parse import parse_message
from extractors.registry import provider_for_address
from extractors.subscriptions import run as subscriptions
from tests.conftest import FIXTURES, SAMPLE
from tests.extract_fixtures import ROOT, Fixture, fixtures

IDENTITY = Identity(frozenset({"alice.martin@example.org", "alice@example.org"}))
EVENT_FIELDS = {
    "amount": "amount_minor",
    "currency": "currency",
    "period": "billing_period",
    "platform": "platform",
    "next_renewal_on": "next_renewal_on",
    "trial_ends_on": "trial_ends_on",
    "ends_on": "ends_on",
    "occurred_on": "occurred_on",
    "plan": "plan",
}


def run_step(path: Path) -> Extraction:
    parsed = parse_message(path.read_bytes())
    result = Extraction(direction=direction_of(parsed, IDENTITY))
    subscriptions.run(parsed, IDENTITY, result)
    return result


def test_fixture_set_covers_the_brief() -> None:
    main = fixtures("main")
    providers = {f.expected["provider"] for f in main if f.expected["event"]}
    assert len(providers) >= 25
    assert sum(f.name.startswith("neg-") for f in main) >= 15


def test_every_message_has_its_expected_values() -> None:
    """Each .eml has its .expected.toml beside it and the other way round, so none is silently skipped."""
    emls = {p.with_suffix("") for p in ROOT.glob("*/*.eml")}
    expected = {p.with_name(p.name.removesuffix(".expected.toml")) for p in ROOT.glob("*/*.expected.toml")}
    assert emls == expected == {f.eml.with_suffix("") for f in fixtures()}


def test_the_sample_mailbox_copies_fixtures_byte_for_byte() -> None:
    """The sample's sub-/neg- messages are labelled fixtures: a copy that drifts is no longer labelled."""
    labelled = {f.raw() for f in fixtures("main")}
    copies = sorted(
        p for pattern in ("*/sub-*.eml", "*/neg-*.eml") for p in (SAMPLE / "mailbox").glob(pattern)
    )
    assert len(copies) >= 30
    assert [p.name for p in copies if p.read_bytes() not in labelled] == []


CASES = fixtures()


@pytest.mark.parametrize("case", CASES, ids=[f"{f.slug}/{f.name}" for f in CASES])
def test_fixture(case: Fixture) -> None:
    label = case.expected
    result = run_step(case.eml)
    assert (result.kind, result.provider) == (label["kind"], label["provider"])
    assert bool(result.suspicious) == bool(label.get("suspicious"))
    assert result.needs_review == bool(label.get("needs_review"))
    if label["event"] is None:
        assert result.events == []
        return
    # a receipt may bill several services (App Store): the first event, then the others under "also"
    wanted = [
        {**label, "provider": label.get("provider_of_event", label["provider"])},
        *label.get("also", []),
    ]
    assert len(result.events) == len(wanted)
    for fact, want in zip(result.events, wanted, strict=True):
        assert (fact.event_type, fact.provider) == (want["event"], want["provider"])
        for key, attr in EVENT_FIELDS.items():
            if key in want:
                assert getattr(fact, attr) == want[key], key
        assert fact.account_email in IDENTITY.addresses
        assert 0 < fact.confidence <= 1 and "@" in fact.extractor


SUPPORT_MAIL = sorted(
    [*(FIXTURES / "journal" / "mail").glob("*.eml"), *(SAMPLE / "mailbox").glob("*/support-*.eml")]
)


@pytest.mark.parametrize("path", SUPPORT_MAIL, ids=[p.name for p in SUPPORT_MAIL])
def test_support_threads_name_the_provider_and_prove_no_subscription_fact(path: Path) -> None:
    """ "Re: Résiliation de mon abonnement" is a conversation, not a confirmation: the journal's mail."""
    result = run_step(path)
    parsed = parse_message(path.read_bytes())
    side = parsed.to_addrs if result.direction == "outbound" else [parsed.from_addr]
    known = [p.slug for p in map(provider_for_address, side) if p is not None]
    assert result.provider == (known[0] if known else None)
    assert (result.kind, result.events, result.suspicious) == ("other", [], None)
