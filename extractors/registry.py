"""The provider registry: everything the project knows about a provider, one TOML file each.

`extractors/providers/<slug>.toml` holds a provider's identity (name, domains, senders,
brands, platform), its mail patterns, what a person needs to leave it (`[cancel]`,
`[support]`, `[commitment]`, `legal` keys into `_legal.toml`, where each legal basis is
written once), its category and its bank-statement labels (`[bank]`). An optional
`<slug>.py` beside it may define `refine(parsed, fact, text)` for what a pattern cannot
say. Every other list (relevance domains, bank merchants, brand words, the `providers`
table) is derived from here, and `Registry.for_address` / `for_domain` is the one answer
to "whose address is this?".

Users add providers without touching the package: a folder named by
`$SUBTRAIL_PROVIDERS_DIR`, or the `subtrail.extractors` entry-point group (the loaded
object is a `Provider`, a mapping shaped like the TOML files, a path to a TOML file or
folder, or an iterable of these). Later definitions of a slug win, so a user can
override a bundled provider; a domain, sender or bank label name claimed by two
providers is refused (`ProviderFileError` names both files).

Mail from consumer mailbox domains (free.fr, orange.fr, sfr.fr...) is only credited
to the provider through exact `senders` addresses: a friend writing from
`bob@free.fr` is not Free.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PROVIDERS_DIR = Path(__file__).resolve().parent / "providers"
LEGAL_FILE = "_legal.toml"  # beside the provider files; `_`-prefixed files are not providers
USER_DIR_ENV = "SUBTRAIL_PROVIDERS_DIR"
ENTRY_POINT_GROUP = "subtrail.extractors"
ROLES = ("service", "platform")
CATEGORIES = ("streaming", "telecom", "energy", "press", "software", "fitness", "insurance", "other")
SUPPORT_CHANNELS = ("email", "form_url", "chat", "phone", "postal_address", "mediator")
_ADDRESS = re.compile(r"[^@\s<>,;]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.I)
_KEYS = {
    "slug", "name", "domains", "senders", "role", "platform", "via", "keywords", "brands", "service_name",
    "period", "plans", "only_if", "subjects", "category", "legal", "sources", "cancel", "support",
    "commitment", "bank", "refine",
}  # fmt: skip
_TABLE_KEYS = {
    "cancel": {"url", "steps", "platform", "platform_route", "source"},
    "support": {"url", "source", *SUPPORT_CHANNELS},
    "commitment": {"notice", "source"},
    "bank": {"name", "labels", "providers"},
}

Refine = Callable[..., None]


class ProviderFileError(ValueError):
    """A provider definition cannot be used as written; the message names the file and the problem."""


@dataclass(frozen=True)
class LegalBasis:
    """One law a person can invoke, written once in `_legal.toml` and referenced by key."""

    key: str
    basis: str
    text: str
    source: str


@dataclass(frozen=True)
class Knowledge:
    """What a person needs to leave or reach the provider; every fact has its `source` URL."""

    cancel_url: str | None = None
    cancel_steps: tuple[str, ...] = ()
    billed_through: str | None = None  # subscriptions.platform where it is cancelled (icloud: apple)
    platform_route: str | None = None
    support_url: str | None = None
    support_channels: tuple[tuple[str, str], ...] = ()  # (channel, value) in SUPPORT_CHANNELS order
    notice: str | None = None
    legal: tuple[LegalBasis, ...] = ()
    sources: tuple[str, ...] = ()  # every source URL of the facts above, sorted


@dataclass(frozen=True)
class BankLabel:
    """How bank statements show the provider: the merchant name and the label patterns."""

    name: str  # grouping key and display name of the merchant ("Apple")
    pattern: re.Pattern[str]  # on the cleaned, upper-case ASCII label
    providers: tuple[str, ...]  # candidate slugs: the provider, or a platform's services (Apple: icloud...)


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
    category: str = "other"  # one of CATEGORIES
    knowledge: Knowledge = Knowledge()
    bank: BankLabel | None = None
    source: str = ""  # the file (or plugin) it was read from, for error messages and `providers.source_file`
    refine: Refine | None = field(default=None, compare=False)

    def matches_keyword(self, text: str) -> bool:
        low = text.lower()
        return any(k.lower() in low for k in self.keywords)


def _table(data: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    table = dict(data.get(name) or {})
    unknown = set(table) - _TABLE_KEYS[name]
    if unknown:
        raise ProviderFileError(f"{where}: unknown key(s) in [{name}]: {', '.join(sorted(unknown))}")
    return table


def _text(value: Any) -> str | None:
    """A stripped string, None for a missing or empty value (an unknown fact stays empty)."""
    if value is None:
        return None
    return str(value).strip() or None


def _knowledge(data: Mapping[str, Any], legal_texts: Mapping[str, LegalBasis], where: str) -> Knowledge:
    cancel, support = _table(data, "cancel", where), _table(data, "support", where)
    commitment = _table(data, "commitment", where)
    legal = []
    for key in data.get("legal", ()):
        if key not in legal_texts:
            raise ProviderFileError(f"{where}: legal key {key!r} is not in {LEGAL_FILE}")
        legal.append(legal_texts[key])
    email = support.get("email")
    if email is not None and not (isinstance(email, str) and _ADDRESS.fullmatch(email.strip())):
        raise ProviderFileError(f"{where}: [support] email {email!r} is not one e-mail address")
    cited = [cancel.get("source"), support.get("source"), commitment.get("source"), *data.get("sources", ())]
    return Knowledge(
        cancel_url=_text(cancel.get("url")),
        cancel_steps=tuple(s for s in (str(step).strip() for step in cancel.get("steps", ())) if s),
        billed_through=_text(cancel.get("platform")),
        platform_route=_text(cancel.get("platform_route")),
        support_url=_text(support.get("url")),
        support_channels=tuple((c, str(support[c]).strip()) for c in SUPPORT_CHANNELS if support.get(c)),
        notice=_text(commitment.get("notice")),
        legal=tuple(legal),
        sources=tuple(sorted({url for url in [*cited, *(law.source for law in legal)] if url})),
    )


def _bank(data: Mapping[str, Any], slug: str, name: str, role: str, where: str) -> BankLabel | None:
    bank = _table(data, "bank", where)
    if not bank:
        return None
    labels = list(bank.get("labels", ()))
    if not labels:
        raise ProviderFileError(f"{where}: [bank] needs `labels`")
    try:
        pattern = re.compile("|".join(f"(?:{label})" for label in labels))
    except re.error as exc:
        raise ProviderFileError(f"{where}: [bank] labels: {exc}") from None
    default = () if role == "platform" else (slug,)  # a store's label does not say which app
    return BankLabel(str(bank.get("name", name)), pattern, tuple(bank.get("providers", default)))


def provider_from_mapping(
    data: Mapping[str, Any],
    refine: Refine | None = None,
    legal_texts: Mapping[str, LegalBasis] | None = None,
    source: str = "",
) -> Provider:
    """Build a Provider from the TOML shape; raises ProviderFileError naming the file and the bad field."""
    slug = str(data.get("slug", "")).strip()
    where = source or slug or "provider"
    if not re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug):
        raise ProviderFileError(f"{where}: `slug` {slug!r} must be lowercase ASCII letters, digits and '-'")
    unknown = set(data) - _KEYS
    if unknown:
        raise ProviderFileError(f"{where}: unknown key(s): {', '.join(sorted(unknown))}")
    name = _text(data.get("name"))
    if not name:
        raise ProviderFileError(f"{where}: `name` is missing")
    role = data.get("role", "service")
    if role not in ROLES:
        raise ProviderFileError(f"{where}: role {role!r} is not one of {ROLES}")
    category = data.get("category", "other")
    if category not in CATEGORIES:
        raise ProviderFileError(f"{where}: category {category!r} is not one of {CATEGORIES}")
    subjects = tuple(
        (kind, re.compile(pattern, re.IGNORECASE))
        for kind, patterns in dict(data.get("subjects", {})).items()
        for pattern in patterns
    )
    return Provider(
        slug=slug,
        name=name,
        domains=tuple(d.lower().strip() for d in data.get("domains", ())),
        senders=tuple(s.lower().strip() for s in data.get("senders", ())),
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
        category=category,
        knowledge=_knowledge(data, legal_texts if legal_texts is not None else bundled_legal(), where),
        bank=_bank(data, slug, name, role, where),
        source=source,
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
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # a user's refine module is their code: name it instead of crashing
        raise ProviderFileError(f"{code}: {type(exc).__name__}: {exc}") from exc
    return getattr(module, "refine", None)


def read_legal(path: Path) -> dict[str, LegalBasis]:
    """`_legal.toml`: one table per legal basis, `[key]` with `basis`, `text` and `source`."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProviderFileError(f"{path.name}: {exc}") from None
    legal = {}
    for key, law in data.items():
        if not isinstance(law, dict) or not all(law.get(k) for k in ("basis", "text", "source")):
            raise ProviderFileError(f"{path.name}: [{key}] needs `basis`, `text` and `source`")
        legal[key] = LegalBasis(key, str(law["basis"]), str(law["text"]), str(law["source"]))
    return legal


@cache
def bundled_legal() -> dict[str, LegalBasis]:
    return read_legal(PROVIDERS_DIR / LEGAL_FILE)


def read_providers(path: Path) -> list[Provider]:
    """The providers of one TOML file or folder; a folder's own `_legal.toml` adds legal bases."""
    folder = path if path.is_dir() else path.parent
    legal = dict(bundled_legal())
    if (folder / LEGAL_FILE).exists() and folder != PROVIDERS_DIR:
        legal.update(read_legal(folder / LEGAL_FILE))
    files = (
        sorted(f for f in folder.glob("*.toml") if not f.name.startswith("_")) if path.is_dir() else [path]
    )
    providers = []
    for file in files:
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProviderFileError(f"{file}: {exc}") from None
        provider = provider_from_mapping(data, _load_refine(file), legal, str(file))
        if provider.slug != file.stem:
            raise ProviderFileError(f"{file}: slug {provider.slug!r} must be the file's name ({file.stem})")
        providers.append(provider)
    return providers


def _from_object(obj: Any) -> list[Provider]:
    if isinstance(obj, Provider):
        return [obj]
    if isinstance(obj, Mapping):
        return [provider_from_mapping(obj)]
    if isinstance(obj, str | Path):
        return read_providers(Path(obj))
    if isinstance(obj, Iterable):
        return [p for item in obj for p in _from_object(item)]
    raise TypeError(f"cannot read providers from {type(obj).__name__}")


def _user_providers(problems: list[str]) -> list[Provider]:
    """`$SUBTRAIL_PROVIDERS_DIR`: a user's own provider files; a bad file is skipped and reported."""
    folder = os.environ.get(USER_DIR_ENV)
    if not folder:
        return []
    if not Path(folder).is_dir():
        problems.append(f"{USER_DIR_ENV}={folder}: not a folder")
        return []
    found = []
    for file in sorted(Path(folder).glob("*.toml")):
        if file.name.startswith("_"):
            continue
        try:
            found.extend(read_providers(file))
        except ProviderFileError as exc:
            problems.append(str(exc))
    return found


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
    """Lookups over all providers; built once per process. Refuses a domain, a sender or a
    bank merchant name claimed by two providers: which one a mail belongs to would depend on order."""

    providers: dict[str, Provider]
    problems: list[str] = field(default_factory=list)  # user providers left out, and why

    def __post_init__(self) -> None:
        self._by_domain: dict[str, Provider] = {}
        self._by_sender: dict[str, Provider] = {}
        by_bank_name: dict[str, Provider] = {}
        for provider in self.providers.values():
            for domain in provider.domains:
                _claim(self._by_domain, domain, provider, "domain")
            for sender in provider.senders:
                _claim(self._by_sender, sender, provider, "sender")
            if provider.bank:
                _claim(by_bank_name, provider.bank.name, provider, "bank name")
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
        """Every provider domain; never a consumer mailbox domain (free.fr is in `senders` only)."""
        return {d for p in self.providers.values() for d in p.domains}

    def senders(self) -> set[str]:
        """The exact addresses providers write from on shared consumer domains (freebox@free.fr)."""
        return {s for p in self.providers.values() for s in p.senders}

    @cached_property
    def bank_labels(self) -> tuple[BankLabel, ...]:
        """Statement labels, services before platforms (a store's label is the general one), then by slug."""
        ordered = sorted(self.providers.values(), key=lambda p: (p.role == "platform", p.slug))
        return tuple(p.bank for p in ordered if p.bank)

    @cached_property
    def store_labels(self) -> dict[str, str]:
        """Bank merchant names of stores ("Apple") -> the `subscriptions.platform` they bill under it."""
        return {p.bank.name: p.platform for p in self.providers.values() if p.role == "platform" and p.bank}

    @cached_property
    def platform_providers(self) -> dict[str, str]:
        """`subscriptions.platform` -> the slug of the platform where its subscriptions are cancelled."""
        return {
            p.platform: p.slug
            for p in self.providers.values()
            if p.role == "platform" and p.knowledge.cancel_url
        }

    @cached_property
    def name_words(self) -> frozenset[str]:
        """Words that name a provider ("netflix", "canal+", "basicfit"): never a person's name."""
        words: set[str] = set()
        for p in self.providers.values():
            for text in (p.name, *p.slug.split("-"), *p.brands):
                for word in re.split(r"[\s()]+", text.lower()):
                    if word:
                        words.update({word, word.rstrip("+"), word.replace("-", "")})
        words.discard("")
        return frozenset(words)


def _claim(index: dict[str, Provider], key: str, provider: Provider, what: str) -> None:
    """One owner per domain, sender and bank name: a second claim is a load error naming both files."""
    owner = index.setdefault(key, provider)
    if owner is not provider:
        raise ProviderFileError(
            f"{what} {key!r} is declared by {owner.source or owner.slug} and {provider.source or provider.slug}"
        )


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
    """Bundled providers, then the user's folder, then plugins (a later one may override a slug).

    A user's or a plugin's provider that cannot be used (a bad file, a domain another provider
    already claims) is left out and listed in `problems`, so one bad file stops nothing else.
    """
    providers = {p.slug: p for p in read_providers(PROVIDERS_DIR)}
    Registry(providers)  # the bundled files must agree among themselves: raises otherwise
    problems: list[str] = []
    for provider in [*_user_providers(problems), *_plugin_providers()]:
        candidate = {**providers, provider.slug: provider}
        try:
            Registry(candidate)
        except ProviderFileError as exc:
            problems.append(str(exc))
            continue
        providers = candidate
    for problem in problems:
        log.warning("provider left out: %s", problem)
    return Registry(providers, problems)


def all_domains() -> set[str]:
    """Every provider domain: the poller fetches bodies of mail from these."""
    return registry().domains()


def provider_for_domain(domain: str | None) -> Provider | None:
    """Whose domain is this (or one of its parents)? The one answer extraction, journal and relevance use."""
    return registry().for_domain(domain)


def provider_for_address(addr: str | None) -> Provider | None:
    """Whose address is this: an exact sender first, then the domain (`provider_for_domain`)."""
    return registry().for_address(addr)
