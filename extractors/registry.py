"""The provider registry: who sends what, declared as data so adding a provider touches no code.

Each provider is one TOML file in `extractors/providers/` (an optional `<slug>.py`
next to it may define `refine(parsed, fact, text)` for what a pattern cannot say).
Packages can add providers through the `subtrail.extractors` entry-point group: the
loaded object is a `Provider`, a mapping shaped like the TOML files, a path to a
TOML file or folder, or an iterable of these. Later definitions of a slug win, so a
user can override a bundled provider.

Mail from consumer mailbox domains (free.fr, orange.fr, sfr.fr...) is only credited
to the provider through exact `senders` addresses: a friend writing from
`bob@free.fr` is not Free.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROVIDERS_DIR = Path(__file__).resolve().parent / "providers"
ENTRY_POINT_GROUP = "subtrail.extractors"
ROLES = ("service", "platform")

Refine = Callable[..., None]


@dataclass(frozen=True)
class Provider:
    """One sender of subscription mail: a service (Netflix) or a billing platform (Apple)."""

    slug: str
    name: str
    domains: tuple[str, ...] = ()  # every address at these domains (and subdomains) is the provider's
    senders: tuple[str, ...] = ()  # exact addresses, for shared consumer domains
    role: str = "service"
    platform: str = "direct"  # how it bills: closed vocabulary of subscriptions.platform
    via: tuple[str, ...] = ()  # platform slugs whose mail may be about this service (icloud via apple)
    keywords: tuple[str, ...] = ()  # names of the service in text: attribute shared-domain mail
    brands: tuple[str, ...] = ()  # what a spoofer would put in a display name or a lookalike domain
    service_name: str | None = None
    period: str | None = None  # default billing period when a mail does not say
    plans: tuple[str, ...] = ()
    only_if: tuple[re.Pattern[str], ...] = ()  # events only when the text matches (retail-heavy senders)
    subjects: tuple[tuple[str, re.Pattern[str]], ...] = ()  # (kind, pattern), checked in order
    refine: Refine | None = field(default=None, compare=False)

    def matches_keyword(self, text: str) -> bool:
        low = text.lower()
        return any(k.lower() in low for k in self.keywords)


def provider_from_mapping(data: Mapping[str, Any], refine: Refine | None = None) -> Provider:
    """Build a Provider from the TOML shape; raises ValueError naming the bad field."""
    slug = str(data.get("slug", "")).strip()
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        raise ValueError(f"provider slug {slug!r} is not a lowercase ASCII slug")
    role = data.get("role", "service")
    if role not in ROLES:
        raise ValueError(f"{slug}: role {role!r} is not one of {ROLES}")
    subjects = tuple(
        (kind, re.compile(pattern, re.IGNORECASE))
        for kind, patterns in dict(data.get("subjects", {})).items()
        for pattern in patterns
    )
    name = str(data.get("name", slug))
    return Provider(
        slug=slug,
        name=name,
        domains=tuple(d.lower() for d in data.get("domains", ())),
        senders=tuple(s.lower() for s in data.get("senders", ())),
        role=role,
        platform=str(data.get("platform", "direct")),
        via=tuple(data.get("via", ())),
        keywords=tuple(data.get("keywords", (name,))),
        brands=tuple(b.lower() for b in data.get("brands", ())),
        service_name=data.get("service_name", name),
        period=data.get("period"),
        plans=tuple(sorted(data.get("plans", ()), key=len, reverse=True)),
        only_if=tuple(re.compile(p, re.IGNORECASE) for p in data.get("only_if", ())),
        subjects=subjects,
        refine=data.get("refine", refine),
    )


def _load_refine(toml_path: Path) -> Refine | None:
    code = toml_path.with_suffix(".py")
    if not code.exists():
        return None
    spec = importlib.util.spec_from_file_location(f"subtrail_provider_{code.stem}", code)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "refine", None)


def _from_path(path: Path) -> list[Provider]:
    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
    providers = []
    for file in files:
        with file.open("rb") as fh:
            providers.append(provider_from_mapping(tomllib.load(fh), _load_refine(file)))
    return providers


def _from_object(obj: Any) -> list[Provider]:
    if isinstance(obj, Provider):
        return [obj]
    if isinstance(obj, Mapping):
        return [provider_from_mapping(obj)]
    if isinstance(obj, str | Path):
        return _from_path(Path(obj))
    if isinstance(obj, Iterable):
        return [p for item in obj for p in _from_object(item)]
    raise TypeError(f"cannot read providers from {type(obj).__name__}")


def _plugin_providers() -> list[Provider]:
    found: list[Provider] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            found.extend(_from_object(ep.load()))
        except Exception as exc:  # a broken plugin must not stop ingestion
            log.warning("provider plugin %s ignored: %s", ep.name, exc)
    return found


@dataclass
class Registry:
    """Lookups over all providers; built once per process."""

    providers: dict[str, Provider]

    def __post_init__(self) -> None:
        self._by_domain: dict[str, Provider] = {}
        self._by_sender: dict[str, Provider] = {}
        for provider in self.providers.values():
            for domain in provider.domains:
                self._by_domain.setdefault(domain, provider)
            for sender in provider.senders:
                self._by_sender.setdefault(sender, provider)
        self._by_name = {
            _name_key(k): p for p in self.providers.values() for k in (p.name, p.slug, *p.keywords)
        }

    def for_domain(self, domain: str | None) -> Provider | None:
        """The provider owning `domain` or one of its parent domains."""
        if not domain:
            return None
        labels = domain.lower().strip(".").split(".")
        for start in range(len(labels) - 1):
            found = self._by_domain.get(".".join(labels[start:]))
            if found:
                return found
        return None

    def for_address(self, addr: str | None) -> Provider | None:
        if not addr or "@" not in addr:
            return None
        addr = addr.lower()
        return self._by_sender.get(addr) or self.for_domain(addr.rsplit("@", 1)[1])

    def for_name(self, name: str) -> Provider | None:
        """A service provider named `name` ("Netflix", "Spotify AB", "Netflix.com"), for platform receipts.

        Only the name itself or the name plus a company suffix counts: "Freeletics" is not Free
        and "Le Monde diplomatique" is not Le Monde.
        """
        key = _name_key(name)
        found = self._by_name.get(key)
        if found is None and "-" in key:
            base, _, suffix = key.rpartition("-")
            found = self._by_name.get(base) if suffix in _COMPANY_SUFFIXES else None
        return found

    def via(self, platform_slug: str) -> list[Provider]:
        return [p for p in self.providers.values() if platform_slug in p.via]

    def domains(self) -> set[str]:
        out = {d for p in self.providers.values() for d in p.domains}
        out.update(s.rsplit("@", 1)[1] for p in self.providers.values() for s in p.senders)
        return out


_COMPANY_SUFFIXES = {
    "com",
    "fr",
    "inc",
    "sa",
    "sas",
    "ab",
    "ltd",
    "llc",
    "gmbh",
    "limited",
    "corp",
    "app",
    "tv",
}


def _name_key(name: str) -> str:
    return slugify(name)


def slugify(name: str) -> str:
    """'Headspace: Meditation & Sleep' -> 'headspace-meditation-sleep'; ASCII, lowercase."""
    ascii_name = unicodedata.normalize("NFKD", name.replace("+", " plus")).encode("ascii", "ignore")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.decode().lower()).strip("-")


@cache
def registry() -> Registry:
    """Bundled providers, then plugins (a plugin may override a bundled slug)."""
    providers: dict[str, Provider] = {}
    for provider in [*_from_path(PROVIDERS_DIR), *_plugin_providers()]:
        providers[provider.slug] = provider
    return Registry(providers)


def all_domains() -> set[str]:
    """Every sender domain of every provider: the poller fetches bodies of mail from these."""
    return registry().domains()


def provider_for_domain(domain: str | None) -> Provider | None:
    return registry().for_domain(domain)


def provider_for_address(addr: str | None) -> Provider | None:
    return registry().for_address(addr)
