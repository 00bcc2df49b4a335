"""Customer-service mail: recognise it and collect what the journal needs (filled by the journal work)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractors import Extraction, Identity
    from ingest.parse import ParsedMessage


def run(parsed: ParsedMessage, identity: Identity, result: Extraction) -> None:
    """Mark support mail (`result.kind = "support"`) and fill `result.support`."""
