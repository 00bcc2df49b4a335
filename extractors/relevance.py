"""Header-only relevance: is a message worth downloading in full (IMAP `fetch = "relevant"`)?

The poller first fetches a few headers of every new message and downloads the body only of
those this module calls relevant, so a large mailbox syncs in a fraction of the time. The
rules are deliberately generous — a missed receipt costs more than a downloaded newsletter —
and each answer names its reason, which the poller logs. Messages judged irrelevant are still
recorded (`pending_bodies`), and judged again when these rules change (`rules_fingerprint`),
so a later widening of the rules fetches what it now finds relevant.

A message is relevant when any of these holds:
- the sender's domain (or a parent of it) belongs to a known provider, or the sender is one of a
  provider's exact addresses on a consumer domain (`extractors.registry`);
- the subject uses receipt / billing / subscription / support vocabulary, in French or English;
- it replies to (In-Reply-To / References) a message already stored;
- I sent it (a `[identity]` address) to a known provider's domain.
"""

from __future__ import annotations

import email
import email.utils
import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC
from functools import lru_cache

from extractors.model import Identity
from extractors.registry import registry

# Word stems, matched at word starts on the lower-cased subject (accents kept and stripped).
_VOCABULARY = (
    # English: money and subscriptions
    "receipt", "invoice", "payment", "order", "subscription", "subscribe", "renewal", "renew",
    "billing", "bill", "charged", "charge", "refund", "trial", "membership",
    "price", "cancel", "purchase", "transaction", "welcome",
    # English: support
    "support", "ticket", "case", "request", "complaint", "claim", "customer service",
    # French: argent et abonnements
    "reçu", "recu", "facture", "paiement", "commande", "abonnement", "abonne", "abonné",
    "renouvellement", "prélèvement", "prelevement", "remboursement", "essai", "résiliation",
    "resiliation", "résilier", "resilier", "tarif", "prix", "achat", "échéance", "echeance",
    "bienvenue", "forfait",
    # French: service client
    "réclamation", "reclamation", "demande", "dossier", "service client", "assistance",
    "litige", "requête", "requete",
)  # fmt: skip
_SUBJECT = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(w) for w in _VOCABULARY) + r")", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]{1,900}>")
# "#12345", "n° AB1234", "No. 4455", "Ref: X-991": a reference has a digit, and "no"/"ref" start a
# word ("November", "notification" and "reference" are not references).
_TICKET_REF = re.compile(
    r"(?<!\w)(?:#|n°\s?|no\.?\s?|ref\.?\s?:?\s?)(?=[A-Z-]*\d)[A-Z0-9-]{4,}", re.IGNORECASE
)


@dataclass
class Headers:
    """The few header values the decision needs, as fetched by `BODY.PEEK[HEADER.FIELDS (...)]`."""

    from_addr: str | None = None
    to_addrs: list[str] = field(default_factory=list)
    subject: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    date: str | None = None  # ISO-8601 UTC

    def thread_ids(self) -> list[str]:
        ids = list(self.references)
        if self.in_reply_to:
            ids.append(self.in_reply_to)
        return list(dict.fromkeys(ids))


HEADER_FIELDS = ("FROM", "TO", "CC", "SUBJECT", "DATE", "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES")


def parse_headers(raw: bytes) -> Headers:
    """Read the `HEADER_FIELDS` block; never raises (bad headers just make a message less relevant).

    Much lighter than `extractors.mail.parse.parse_message` (about 10x on a header block): it runs for
    every new message in `relevant` mode, most of which are then never downloaded. 8-bit
    headers are read as UTF-8, RFC 2047 words are decoded with the parser's own function.
    """
    from extractors.mail.parse import decode_header

    msg = email.message_from_string(raw.decode("utf-8", "replace"))

    def get(name: str) -> str:
        values = msg.get_all(name) or []
        return decode_header(values[0]) if values else ""

    def addresses(*names: str) -> list[str]:
        found = email.utils.getaddresses([value for value in map(get, names) if value])
        return [a.strip().lower() for _, a in found if "@" in a]

    senders = addresses("from")
    ids = _MSGID.findall(get("message-id"))
    replied = _MSGID.findall(get("in-reply-to"))
    return Headers(
        from_addr=senders[0] if senders else None,
        to_addrs=addresses("to", "cc"),
        subject=get("subject")[:2000],
        message_id=ids[0] if ids else None,
        in_reply_to=replied[0] if replied else None,
        references=_MSGID.findall(get("references"))[:200],
        date=_iso_date(get("date")),
    )


def _iso_date(value: str) -> str | None:
    """The Date header as ISO-8601 UTC, like `messages.date`; None when unreadable."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC).isoformat(timespec="seconds")


@lru_cache(maxsize=1)
def known_domains() -> frozenset[str]:
    """Provider domains from the registry; consumer mailbox domains (free.fr) are never among them."""
    return frozenset(registry().domains())


@lru_cache(maxsize=1)
def known_senders() -> frozenset[str]:
    """Exact provider addresses on consumer mailbox domains (freebox@free.fr), from the registry."""
    return frozenset(registry().senders())


@lru_cache(maxsize=1)
def rules_fingerprint() -> str:
    """A short hash of what the decision depends on (vocabulary, provider domains, reference
    pattern). The poller keeps it per folder: when an upgrade or a new provider file changes
    it, messages left header-only are judged again (`ingest.imap.sync`)."""
    parts = [
        *sorted(_VOCABULARY),
        "|",
        *sorted(known_domains()),
        *sorted(known_senders()),
        "|",
        _TICKET_REF.pattern,
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def is_provider_domain(addr: str | None, domains: frozenset[str]) -> bool:
    """`billing.netflix.com` counts as `netflix.com`; a provider's exact sender address counts too."""
    if not addr or "@" not in addr:
        return False
    if addr.lower() in known_senders():
        return True
    host = addr.rsplit("@", 1)[1].lower().strip(".>")
    parts = host.split(".")
    return any(".".join(parts[i:]) in domains for i in range(len(parts) - 1))


def relevance(
    headers: Headers,
    identity: Identity,
    known_message_ids: Callable[[Iterable[str]], set[str]] | None = None,
    domains: frozenset[str] | None = None,
) -> str | None:
    """The reason this message deserves its body downloaded, or None.

    `known_message_ids(ids)` returns which of `ids` are already stored (the poller asks the
    database); it makes replies in a known thread relevant even from an unknown address.
    """
    domains = domains if domains is not None else known_domains()
    if identity.is_mine(headers.from_addr):
        if any(is_provider_domain(a, domains) for a in headers.to_addrs):
            return "sent to a provider"
    elif is_provider_domain(headers.from_addr, domains):
        return "provider domain"
    if _SUBJECT.search(headers.subject) or _TICKET_REF.search(headers.subject):
        return "subject vocabulary"
    thread = headers.thread_ids()
    if thread and known_message_ids is not None and known_message_ids(thread):
        return "reply in a known thread"
    return None
