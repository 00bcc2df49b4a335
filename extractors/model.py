"""The typed facts extraction hands to the application: what a message proves, nothing stored.

`Identity` (whose mail it is), `EventFact` (one subscription fact), `Extraction` (all a
message yields) and the vocabularies their fields take. Everything here is plain data, so
it crosses process boundaries (the parser pool) and needs no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    support: dict[str, Any] | None = None  # journal facts for support mail (see extractors.support.collect)
    needs_review: bool = False
