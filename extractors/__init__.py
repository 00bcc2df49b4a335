"""Classification and extraction: pure functions of a parsed message, with no database.

`extract(parsed, identity)` is the single entry point the application calls for every
message. It returns an `Extraction`: the message's kind and provider, whether it is
suspicious, the subscription facts it proves (`EventFact`) and, for support mail, what
the journal needs (`SupportFacts`). This package imports nothing from `ingest`: bytes
come in through `extractors.mail`, typed facts go out through `extractors.model`.
"""

from extractors.extract import direction_of, extract
from extractors.model import (
    EVENT_TYPES,
    KINDS,
    PLATFORMS,
    EventFact,
    Extraction,
    Identity,
    Promise,
    SupportFacts,
    TicketToken,
)

__all__ = [
    "EVENT_TYPES",
    "KINDS",
    "PLATFORMS",
    "EventFact",
    "Extraction",
    "Identity",
    "Promise",
    "SupportFacts",
    "TicketToken",
    "direction_of",
    "extract",
]
