"""Is the sender who it claims to be? A provider is credited only on evidence.

Evidence is the sender's domain belonging to the provider, or an
Authentication-Results header (the first one: added by our own receiving server)
saying DKIM passed for one of the provider's domains — mail sent through a
provider's e-mail vendor aligns that way. A DKIM-Signature header alone proves
nothing (anyone can write one), so it is not trusted without a verdict.

Suspicion is a reason in words, shown in the `suspicious_messages` view:
a display name or a lookalike domain claiming a provider without evidence, or
the provider's own domain with DMARC failing.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from extractors.registry import Provider, Registry

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage

_DKIM_PASS = re.compile(r"dkim=pass[^;]*?header\.(?:d|i)=@?([a-z0-9.-]+)", re.IGNORECASE)
_DMARC_FAIL = re.compile(r"dmarc=fail", re.IGNORECASE)
_LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"})
# Cyrillic and Greek letters that look Latin in a domain (IDN homographs: nеtflix.com with a Cyrillic е).
_HOMOGLYPHS = str.maketrans(dict(zip("аеорсхуіјѕԁһӏοαεικνρτυ", "aeopcxyijsdhloaeikvptu", strict=True)))
_TRANSACTIONAL = re.compile(
    r"paiement|payment|facture|invoice|receipt|reçu|compte|account|abonnement|subscription|membership|"
    r"suspend|verif|vérif|mise à jour|update|carte|card|billing|facturation|renouvel|renew|expir",
    re.IGNORECASE,
)


def dkim_pass_domains(parsed: ParsedMessage) -> set[str]:
    """Domains our receiving server vouched for (DKIM pass in Authentication-Results)."""
    results = parsed.headers.get("authentication-results", "")
    return {d.lower().rstrip(".") for d in _DKIM_PASS.findall(results)}


def dmarc_failed(parsed: ParsedMessage) -> bool:
    return bool(_DMARC_FAIL.search(parsed.headers.get("authentication-results", "")))


def _brands(provider: Provider) -> tuple[str, ...]:
    return provider.brands or (provider.slug.replace("-", ""),)


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower().translate(_HOMOGLYPHS).translate(_LEET))


def _idna_label(label: str) -> str:
    """A punycode label as its reader sees it (xn--ntflix-3of is nеtflix)."""
    if label.startswith("xn--"):
        try:
            return label.encode("ascii").decode("idna")
        except (UnicodeError, ValueError):
            return label
    return label


def _readings(label: str) -> set[str]:
    """A domain label as a reader sees it: a "1" passes for an "l" or an "i" (paypa1, netf1ix)."""
    squashed = _squash(label)
    return {squashed, squashed.replace("1", "l"), squashed.replace("1", "i")}


def _near(a: str, b: str) -> bool:
    """Edit distance at most 1 (netfl1x, netfiix, spotifv)."""
    if abs(len(a) - len(b)) > 1 or a == b:
        return a == b
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i + (len(a) == len(b)) :] == b[i + 1 :]


class _Brands:
    """The registry's brands, prepared once: one pattern for display names, squashed keys for domains."""

    def __init__(self, registry: Registry) -> None:
        self.by_brand: dict[str, Provider] = {}
        for provider in registry.providers.values():
            for brand in _brands(provider):
                self.by_brand.setdefault(brand, provider)
        alternatives = "|".join(re.escape(b) for b in sorted(self.by_brand, key=len, reverse=True))
        self.in_name = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")
        self.keys = [(key, p) for b, p in self.by_brand.items() if len(key := _squash(b)) >= 4]


_PREPARED: dict[int, _Brands] = {}


def _prepared(registry: Registry) -> _Brands:
    brands = _PREPARED.get(id(registry))
    if brands is None:
        brands = _PREPARED[id(registry)] = _Brands(registry)
    return brands


def claimed_by_name(registry: Registry, name: str) -> Provider | None:
    """The provider a display name claims to be ("Netflix", "Service client PayPal")."""
    brands = _prepared(registry)
    match = brands.in_name.search(name.lower())
    return brands.by_brand[match.group(0)] if match else None


def lookalike_of(registry: Registry, domain: str) -> Provider | None:
    """The provider whose brand a domain imitates (netflix-billing.com, paypa1.com)."""
    labels = [_idna_label(label) for label in domain.lower().split(".")[:-1]]
    readings = {reading for label in labels if label for reading in _readings(label)}
    for key, provider in _prepared(registry).keys:
        for label in readings:
            if key in label or (len(key) >= 6 and _near(label, key)):
                return provider
    return None


def vet_sender(
    parsed: ParsedMessage, registry: Registry, owner: Provider | None
) -> tuple[Provider | None, str | None]:
    """(provider to credit, reason for suspicion) for an inbound message.

    `owner` is the provider owning the sender's address, if any.
    """
    domain = parsed.from_domain or ""
    if owner is not None:
        if dmarc_failed(parsed):
            return None, f"claims {owner.name} ({domain}) but DMARC failed"
        return owner, None
    for vouched in dkim_pass_domains(parsed):
        aligned = registry.for_domain(vouched)
        if aligned is not None:
            return aligned, None
    claimed = claimed_by_name(registry, parsed.from_name or "")
    if claimed is not None:
        return None, f"display name claims {claimed.name} but the sender is {domain or 'unknown'}"
    lookalike = lookalike_of(registry, domain) if domain else None
    if lookalike is not None and _TRANSACTIONAL.search(parsed.subject):
        return None, f"lookalike of {lookalike.name}: {domain} is not one of its domains"
    return None, None
