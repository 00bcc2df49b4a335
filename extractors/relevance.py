"""Header-only relevance: is a message worth downloading in full (IMAP `fetch = "relevant"`)?

The poller first fetches a few headers of every new message and downloads the body only of
those this module calls relevant, so a large mailbox syncs in a fraction of the time. The
rules are deliberately generous — a missed receipt costs more than a downloaded newsletter —
and each answer names its reason, which the poller logs. Messages judged irrelevant are still
recorded (`pending_bodies`) so a later widening of these rules can fetch them.

A message is relevant when any of these holds:
- the sender's domain (or a parent of it) belongs to a known provider (`extractors.registry`);
- the subject uses receipt / billing / subscription / support vocabulary, in French or English;
- it replies to (In-Reply-To / References) a message already stored;
- I sent it (a `[identity]` address) to a known provider's domain.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from extractors import Identity

# Used when the provider registry is not available; the registry is the real source.
FALLBACK_DOMAINS = frozenset(
    {
        "netflix.com", "spotify.com", "apple.com", "itunes.com", "google.com", "amazon.com",
        "amazon.fr", "primevideo.com", "disneyplus.com", "canalplus.com", "canal-plus.com",
        "deezer.com", "free.fr", "free-mobile.fr", "orange.fr", "sfr.fr", "bouyguestelecom.fr",
        "paypal.com", "paypal.fr", "stripe.com", "microsoft.com", "adobe.com", "dropbox.com",
        "youtube.com", "openai.com", "github.com", "patreon.com", "ovh.com", "ovhcloud.com",
    }
)  # fmt: skip

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
_TICKET_REF = re.compile(r"(?:#|n°\s?|no\.?\s?|ref\.?\s?:?\s?)[A-Z0-9-]{4,}", re.IGNORECASE)


@dataclass
class Headers:
    """The few header values the decision needs, as fetched by `BODY.PEEK[HEADER.FIELDS (...)]`."""

    from_addr: str | None = None
    to_addrs: list[str] = field(default_factory=list)
    subject: str = ""
    message_id: str | None = None
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    date: str | None = None

    def thread_ids(self) -> list[str]:
        ids = list(self.references)
        if self.in_reply_to:
            ids.append(self.in_reply_to)
        return list(dict.fromkeys(ids))


HEADER_FIELDS = ("FROM", "TO", "CC", "SUBJECT", "DATE", "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES")


def parse_headers(raw: bytes) -> Headers:
    """Read the `HEADER_FIELDS` block with the same parser as full messages; never raises."""
    from ingest.parse import parse_message

    parsed = parse_message(raw)
    return Headers(
        from_addr=parsed.from_addr,
        to_addrs=parsed.to_addrs + parsed.cc_addrs,
        subject=parsed.subject,
        message_id=parsed.message_id,
        in_reply_to=parsed.in_reply_to,
        references=parsed.references,
        date=parsed.date,
    )


@lru_cache(maxsize=1)
def known_domains() -> frozenset[str]:
    """Provider sender domains from the registry, or the built-in fallback while it is missing."""
    try:
        from extractors.registry import all_domains

        domains = {d.strip().lower() for d in all_domains() if d}
    except Exception:  # registry not installed yet, or broken data: stay useful
        domains = set()
    return frozenset(domains) or FALLBACK_DOMAINS


def is_provider_domain(addr: str | None, domains: frozenset[str]) -> bool:
    """`billing.netflix.com` counts as `netflix.com`."""
    if not addr or "@" not in addr:
        return False
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
