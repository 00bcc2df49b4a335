"""Subscription facts: provider identification, spoofing checks, events (filled by the extractor work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractors import Extraction, Identity
    from ingest.parse import ParsedMessage


def run(parsed: ParsedMessage, identity: Identity, result: Extraction) -> None:
    """Identify the provider and record subscription events on `result`."""
