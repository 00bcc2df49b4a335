"""Classification and extraction: pure functions of a parsed message.

`extract(parsed, identity)` is the single entry point the ingest pipeline calls for
every message (in a worker process, so it must not touch the database). It returns
an `Extraction`: the message's kind and provider, whether it is suspicious, the
subscription facts it proves (`EventFact`) and, for support mail, what the journal
needs. Turning facts into the inventory and the journal happens later, in the
database (`ingest.pipeline`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ingest.parse import ParsedMessage

KINDS = (
    "receipt", "renewal_notice", "trial", "cancellation", "payment_failed",
    "price_change", "signup", "support", "other",
)  # fmt: skip
EVENT_TYPES = (
    "charge", "renewal_notice", "trial_started", "trial_ending", "price_change",
    "cancellation_confirmed", "payment_failed", "signup", "refund",
)  # fmt: skip
PLATFORMS = ("direct", "apple", "google_play", "paypal", "stripe", "amazon", "bundle", "unknown")


@dataclass(frozen=True)
class Identity:
    """The user's own addresses (`[identity]` in subtrail.toml): they decide a message's direction."""

    addresses: frozenset[str] = frozenset()

    def is_mine(self, addr: str | None) -> bool:
        return bool(addr) and addr.lower() in self.addresses


@dataclass
class EventFact:
    """One subscription fact proven by one message; becomes a `subscription_events` row."""

    event_type: str
    provider: str
    extractor: str  # "name@version"
    confidence: float
    occurred_on: str | None = None  # YYYY-MM-DD
    amount_minor: int | None = None
    currency: str | None = None
    billing_period: str | None = None  # P1M, P1Y, ...
    next_renewal_on: str | None = None
    # Facts about the subscription itself, used to find or create its row.
    service_name: str | None = None
    plan: str | None = None
    platform: str | None = None
    account_email: str | None = None
    trial_ends_on: str | None = None
    ends_on: str | None = None


@dataclass
class Extraction:
    kind: str = "other"
    provider: str | None = None
    direction: str | None = None  # inbound / outbound, from Identity
    suspicious: str | None = None  # why the sender is not who it claims to be
    events: list[EventFact] = field(default_factory=list)
    support: dict[str, Any] | None = None  # journal facts for support mail (see extractors.support)
    needs_review: bool = False


def direction_of(parsed: ParsedMessage, identity: Identity) -> str | None:
    if identity.is_mine(parsed.from_addr):
        return "outbound"
    if identity.addresses:
        return "inbound"
    return None


def extract(parsed: ParsedMessage, identity: Identity) -> Extraction:
    """Classify and extract one message: each step reads and fills the same `Extraction`.

    Order matters: `subscriptions` identifies the provider (sender domain, or the
    recipient's for my own mail), checks spoofing and records subscription facts;
    `support` then recognises customer-service mail and collects what the journal needs.
    """
    from extractors import subscriptions, support

    result = Extraction(direction=direction_of(parsed, identity))
    for step in (subscriptions.run, support.run):
        step(parsed, identity, result)
    return result
