"""The extraction layers one by one: registry, spoofing, platforms, structured data, robustness."""

from __future__ import annotations

import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from extractors import KINDS, PLATFORMS, Extraction, Identity, extract
from extractors.mail.parse import parse_message
from extractors.registry import (
    Registry,
    _from_object,
    all_domains,
    provider_for_address,
    provider_for_domain,
    provider_from_mapping,
    registry,
    slugify,
)
from extractors.relevance import is_provider_domain
from extractors.subscriptions.platforms import clean_name
from extractors.subscriptions.structured import read as read_structured

ME = Identity(frozenset({"alice.martin@example.org"}))
SLUGS = (
    "netflix spotify deezer canal-plus disney-plus amazon-prime youtube-premium google-one icloud apple-one "
    "microsoft-365 adobe dropbox openai audible free free-mobile orange sosh sfr red-by-sfr bouygues-telecom "
    "edf basic-fit le-monde mediapart"
).split()


def mail(
    sender: str,
    subject: str,
    body: str,
    to: str = "alice.martin@example.org",
    auth: str | None = None,
    html: str | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = "Sat, 14 Nov 2026 08:00:00 +0100"
    message["Message-ID"] = "<t@example.org>"
    if auth:
        message["Authentication-Results"] = auth
    message.set_content(body)
    if html:
        message.add_alternative(html, subtype="html")
    return message.as_bytes()


def run(raw: bytes, identity: Identity = ME) -> Extraction:
    return extract(parse_message(raw), identity)


# --- registry ------------------------------------------------------------------------------


def test_every_contract_slug_has_a_provider_file() -> None:
    assert set(SLUGS) <= set(registry().providers)


def test_provider_files_are_consistent() -> None:
    """No address claimed twice, platforms and `via` links valid, subject kinds from the vocabulary."""
    providers = registry().providers.values()
    claimed = [d for p in providers for d in (*p.domains, *p.senders)]
    assert len(claimed) == len(set(claimed))
    platforms = {p.slug for p in providers if p.role == "platform"}
    for provider in providers:
        assert provider.platform in PLATFORMS
        assert set(provider.via) <= platforms, provider.slug
        assert {kind for kind, _ in provider.subjects} <= set(KINDS), provider.slug
        assert provider.period is None or re.fullmatch(r"P\d+[DWMY]", provider.period)
        assert provider.domains or provider.senders or provider.via, f"{provider.slug} can never be credited"


@pytest.mark.parametrize(
    ("domain", "slug"),
    [
        ("netflix.com", "netflix"),
        ("account.netflix.com", "netflix"),
        ("mail.disneyplus.com", "disney-plus"),
        ("email.apple.com", "apple-app-store"),
        ("free-mobile.fr", "free-mobile"),
        ("free.fr", None),  # a consumer mailbox domain: exact senders only
        ("orange.fr", None),
        ("gmail.com", None),
        ("netflix.com.evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_provider_for_domain(domain: str | None, slug: str | None) -> None:
    found = provider_for_domain(domain)
    assert (found.slug if found else None) == slug


@pytest.mark.parametrize(
    ("addr", "slug"),
    [("freebox@free.fr", "free"), ("bob.durand@free.fr", None), ("facture@orange.fr", "orange"), ("x", None)],
)
def test_provider_for_address(addr: str, slug: str | None) -> None:
    found = provider_for_address(addr)
    assert (found.slug if found else None) == slug


def test_all_domains_feeds_the_poller_filter() -> None:
    domains = all_domains()
    assert {"netflix.com", "free-mobile.fr", "stripe.com"} <= domains
    assert all(d == d.lower() and "@" not in d for d in domains)
    # consumer mailbox domains are never provider domains: Free's own mail is known by its exact senders
    assert not {"free.fr", "orange.fr", "sfr.fr"} & domains
    assert is_provider_domain("freebox@free.fr", frozenset(domains))
    assert not is_provider_domain("bob.durand@free.fr", frozenset(domains))


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Disney+", "disney-plus"), ("Canal+", "canal-plus"), ("Élan Vital: Yoga", "elan-vital-yoga"), ("", "")],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize(
    "data",
    [{"slug": "Bad Slug"}, {"slug": "ok", "role": "boss"}, {}],
)
def test_bad_provider_definitions_are_refused(data: dict) -> None:
    with pytest.raises(ValueError):
        provider_from_mapping(data)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Netflix", "netflix"),
        ("Netflix.com", "netflix"),
        ("Spotify AB", "spotify"),
        ("Disney+", "disney-plus"),
        ("iCloud+", "icloud"),
        ("Freeletics", None),
        ("Le Monde diplomatique", None),
        ("", None),
    ],
)
def test_provider_for_a_name_on_a_receipt(name: str, slug: str | None) -> None:
    found = registry().for_name(name)
    assert (found.slug if found else None) == slug


def test_a_plugin_provider_is_credited_without_touching_the_core(tmp_path: Path) -> None:
    """What the `subtrail.extractors` entry point loads: a TOML folder, a mapping or a Provider."""
    (tmp_path / "molotov.toml").write_text(
        'slug = "molotov"\nname = "Molotov"\ndomains = ["molotov.tv"]\nperiod = "P1M"\n'
    )
    providers = _from_object([tmp_path, {"slug": "ocs", "name": "OCS", "domains": ["ocs.fr"]}])
    reg = Registry({p.slug: p for p in [*registry().providers.values(), *providers]})
    assert reg.for_domain("mail.molotov.tv").slug == "molotov"
    assert reg.for_name("OCS").slug == "ocs"


def test_entry_point_plugins_are_loaded_and_a_broken_one_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    from extractors import registry as registry_module

    class EntryPoint:
        def __init__(self, name: str, value: object) -> None:
            self.name, self.value = name, value

        def load(self) -> object:
            if isinstance(self.value, Exception):
                raise self.value
            return self.value

    plugins = [
        EntryPoint("ocs", {"slug": "ocs", "name": "OCS", "domains": ["ocs.fr"]}),
        EntryPoint("broken", ImportError("no module named subtrail_broken")),
    ]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: plugins)
    registry_module.registry.cache_clear()
    try:
        assert registry_module.provider_for_domain("mail.ocs.fr").slug == "ocs"
        assert registry_module.provider_for_domain("netflix.com").slug == "netflix"
    finally:
        registry_module.registry.cache_clear()


# --- spoofing ------------------------------------------------------------------------------

BILL = "Votre paiement de 13,49 € a échoué. Mettez à jour votre moyen de paiement."


@pytest.mark.parametrize(
    ("sender", "auth", "reason"),
    [
        ("Netflix <info@netflix-billing.example>", None, "display name claims Netflix"),
        ("Service client <billing@netfl1x-account.com>", None, "lookalike of Netflix"),
        ("Support <help@spotifv.com>", None, "lookalike of Spotify"),
        ("Netflix <info@account.netflix.com>", "mx; spf=fail; dkim=fail; dmarc=fail", "DMARC failed"),
    ],
)
def test_spoofed_senders_are_flagged_and_credit_nothing(sender: str, auth: str | None, reason: str) -> None:
    result = run(mail(sender, "Votre paiement a été refusé", BILL, auth=auth))
    assert reason in (result.suspicious or "")
    assert result.events == [] and result.provider is None


def test_dkim_alignment_credits_a_provider_sending_from_another_domain() -> None:
    auth = "mx.example.org; dkim=pass header.d=netflix.com header.s=s1; spf=pass; dmarc=pass"
    result = run(
        mail("Netflix <billing@netflix-mail.example>", "Votre paiement a été refusé", BILL, auth=auth)
    )
    assert result.suspicious is None
    assert result.provider == "netflix" and result.events[0].event_type == "payment_failed"


def test_a_dkim_signature_header_alone_proves_nothing() -> None:
    raw = mail("Netflix <billing@netflix-mail.example>", "Votre paiement a été refusé", BILL)
    raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=netflix.com; s=s1; b=abc\n" + raw
    assert run(raw).suspicious and not run(raw).events


def test_lookalike_domains_in_personal_mail_are_not_flagged() -> None:
    result = run(mail("Claire <claire@orange.fr>", "Photos du week-end", "Coucou !"))
    assert (result.suspicious, result.provider, result.kind) == (None, None, "other")


# --- direction, platforms, structured data -------------------------------------------------


def test_my_own_mail_to_a_provider_names_it_and_proves_nothing() -> None:
    raw = mail(
        "Alice <alice.martin@example.org>", "Résiliation", "Je résilie mon abonnement.", to="help@netflix.com"
    )
    result = run(raw)
    assert result.direction == "outbound"
    assert result.provider == "netflix" and result.events == []


@pytest.mark.parametrize(
    ("name", "inner", "cleaned"),
    [
        ("Headspace: Meditation & Sleep", False, "Headspace"),
        ("Spotify AB", False, "Spotify"),
        ("Dropbox, Inc.", False, "Dropbox"),
        ("Super Duolingo (Duolingo : Apprendre les langues)", True, "Duolingo"),
        ("Mediapart (Société Editrice de Mediapart)", False, "Mediapart"),
        ("Calm - Sleep & Meditation", False, "Calm"),
    ],
)
def test_platform_item_names(name: str, inner: bool, cleaned: str) -> None:
    assert clean_name(name, inner_app=inner) == cleaned


def test_spotify_billed_through_apple_is_spotify_on_the_apple_platform() -> None:
    body = "App: Spotify: Music and Podcasts\nSubscription: Premium Individual (Monthly)\nPrice: €12.14 per month"
    result = run(mail("Apple <no_reply@email.apple.com>", "Your subscription confirmation", body))
    [fact] = result.events
    assert (result.provider, fact.platform, fact.amount_minor, fact.billing_period) == (
        "spotify", "apple", 1214, "P1M",
    )  # fmt: skip


JSONLD = """<html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@type": "Invoice", "provider": {"name": "Netflix"},
 "totalPaymentDue": {"@type": "PriceSpecification", "price": "17.99", "priceCurrency": "EUR"},
 "paymentDueDate": "2026-11-14"}</script></head><body><p>Total 99,99 €</p></body></html>"""
MICRODATA = (
    '<div itemscope><meta itemprop="price" content="4.99"><meta itemprop="priceCurrency" content="usd"></div>'
)


@pytest.mark.parametrize(
    ("html", "amount", "currency"),
    [(JSONLD, 1799, "EUR"), (MICRODATA.replace("<div", '<div x="schema.org"'), 499, "USD")],
)
def test_structured_data(html: str, amount: int, currency: str) -> None:
    data = read_structured(html)
    assert data is not None and (data.amount_minor, data.currency) == (amount, currency)


def test_structured_data_wins_over_patterns_for_a_known_sender() -> None:
    raw = mail("Netflix <info@account.netflix.com>", "Votre facture Netflix", "Total 99,99 €", html=JSONLD)
    [fact] = run(raw).events
    assert (fact.amount_minor, fact.extractor, fact.confidence) == (1799, "structured@1", 0.95)


@pytest.mark.parametrize(
    "html", ["<script type='application/ld+json'>{not json</script> schema.org", "", None]
)
def test_broken_structured_data_is_ignored(html: str | None) -> None:
    assert read_structured(html) is None


# --- robustness -----------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(subject=st.text(max_size=80), body=st.text(max_size=400), sender=st.text(max_size=40))
def test_extractors_never_raise(subject: str, body: str, sender: str) -> None:
    raw = b"From: " + sender.encode("utf-8", "replace") + b"\nSubject: " + subject.encode("utf-8", "replace")
    result = run(raw + b"\n\n" + body.encode("utf-8", "replace"))
    assert result.kind in ("receipt", "renewal_notice", "trial", "cancellation", "payment_failed",
                           "price_change", "signup", "support", "other")  # fmt: skip


@pytest.mark.parametrize(
    ("sender", "subject", "body", "events", "review", "provider"),
    [
        (
            "Molotov <facturation@molotov.tv>",
            "Votre facture Molotov",
            "Molotov Extra : 4,99 €/mois",
            1,
            True,
            "molotov",
        ),
        ("Service client <noreply@mag.example>", "Votre reçu", "Abonnement mensuel : 3,00 €", 1, True, "mag"),
        (
            "François <francois@example.fr>",
            "Résiliation de votre abonnement",
            "C'est confirmé.",
            0,
            True,
            None,
        ),
        ("Boutique <shop@boutique.example>", "Votre commande n° 42", "1 lampe : 35,00 €", 0, False, None),
        ("Marie <marie@example.fr>", "Dîner samedi ?", "On se voit à 20 h ?", 0, False, None),
    ],
)
def test_generic_fallback_for_unknown_senders(
    sender: str, subject: str, body: str, events: int, review: bool, provider: str | None
) -> None:
    result = run(mail(sender, subject, body))
    assert (len(result.events), result.needs_review, result.provider) == (events, review, provider)
    assert all(e.confidence < 0.7 and e.extractor == "generic@1" for e in result.events)
