"""The one entry point: classify a parsed message and extract what it proves.

Runs in a worker process, so it must not touch the database; turning facts into the
inventory and the journal happens later, in `ingest.derived`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from extractors.model import Extraction, Identity
from extractors.subscriptions.run import run as find_subscription_facts
from extractors.support.collect import run as find_support_facts

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage


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
    result = Extraction(direction=direction_of(parsed, identity))
    for step in (find_subscription_facts, find_support_facts):
        step(parsed, identity, result)
    return result
