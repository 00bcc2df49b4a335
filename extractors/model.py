"""The typed facts extraction hands to the application: what a message proves, nothing stored.

`Identity` (whose mail it is), `EventFact` (one subscription fact), `SupportFacts` (what the
journal keeps about one customer-service exchange), `Extraction` (all a message yields) and
the vocabularies their fields take. Everything here is plain data, so
it crosses process boundaries (the parser pool) and needs no database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

KINDS = (
    "receipt", "renewal_notice", "trial", "cancellation", "payment_failed",
    "price_change", "signup", "support", "other",
)  # fmt: skip
EVENT_TYPES = (
    "charge", "renewal_notice", "trial_started", "trial_ending", "price_change",
    "cancellation_confirmed", "payment_failed", "signup", "refund",
)  # fmt: skip
PLATFORMS = ("direct", "apple", "google_play", "paypal", "stripe", "amazon", "reseller", "bundle", "unknown")


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
    previous_amount_minor: int | None = None  # price_change: the price it replaces, until occurred_on
    commitment_ends_on: str | None = None  # a stated minimum term's end: it runs at least until then
    # Facts about the subscription itself, used to find or create its row.
    service_name: str | None = None
    plan: str | None = None
    platform: str | None = None
    billed_by: str | None = None  # slug of the store or reseller that billed; None when billed directly
    account_email: str | None = None
    trial_ends_on: str | None = None
    ends_on: str | None = None


@dataclass(frozen=True)
class TicketToken:
    """A helpdesk reference found in a message: a threading key."""

    system: str  # "salesforce", "zendesk-id", "number", "reference", ...
    value: str
    is_global: bool  # unique on its own (a Salesforce thread id); else only within one provider's desk


@dataclass(frozen=True)
class Promise:
    """A commitment the provider made ("nous vous rembourserons sous 5 jours ouvrés")."""

    text: str
    due_on: str | None = None  # YYYY-MM-DD; None when no date is given


@dataclass(frozen=True)
class SupportFacts:
    """What the journal keeps about one exchange; becomes a `support_facts` row, threaded at rebuild.

    `is_support` is False for a reply that only *may* continue a case (mine, or a provider's):
    the journal keeps it only if it joins a ticket through its references or tokens.
    """

    refs: list[TicketToken]
    ticket_ref: str | None  # the reference a person quotes on the phone
    subject_key: str  # normalised subject, the weakest threading key
    correspondent: str | None  # the other side's registrable domain
    is_support: bool
    body: str = ""  # the new text, without quoted history or signature
    agent_name: str | None = None
    auto_ack: bool = False  # an acknowledgement, not an answer
    auto_header: bool = False  # RFC 3834 headers said automatic (a hint only)
    promises: list[Promise] = field(default_factory=list)  # the provider's
    requests: list[str] = field(default_factory=list)  # what I asked for, in my mail
    asks: bool = False  # the provider asks me something
    resolved: bool = False  # a confirmation that the case is settled
    courtesy: bool = False  # my thank-you after a settlement: it does not reopen the case


@dataclass
class Extraction:
    kind: str = "other"
    provider: str | None = None
    direction: str | None = None  # inbound / outbound, from Identity
    suspicious: str | None = None  # why the sender is not who it claims to be
    events: list[EventFact] = field(default_factory=list)
    support: SupportFacts | None = None  # for support mail and replies that may continue a case
    needs_review: bool = False
