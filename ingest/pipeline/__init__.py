"""What a parser worker runs: `prepare` turns raw bytes plus a location into a `Prepared`.

Pure and safe in a worker process: parsing and the extractors, nothing from the
database. The rest of the path is in the submodules: `pool` runs `prepare` in worker
processes, `run` is the one loop (pool -> store -> steps) that import, the parse queue
and reprocess share, and `steps` lists what is derived from the stored messages, in order.
"""

from __future__ import annotations

import extractors
from extractors import Extraction, Identity
from extractors.mail.parse import ParsedMessage, parse_message
from ingest.store import Location, Prepared


def analyse(parsed: ParsedMessage, identity: Identity) -> tuple[Extraction, list[tuple[str, str]]]:
    """Run the extractors; an extractor crash is an `ingest_errors` row, not a lost message."""
    try:
        return extractors.extract(parsed, identity), []
    except Exception as exc:  # a bug in one extractor must not stop the import
        fallback = Extraction(direction=extractors.direction_of(parsed, identity))
        return fallback, [("extract", f"{type(exc).__name__}: {exc}")]


def prepare(raw: bytes, location: Location, identity: Identity, sha256: str | None = None) -> Prepared:
    parsed = parse_message(raw, sha256)
    extraction, errors = analyse(parsed, identity)
    return Prepared(parsed, extraction, location, extra_errors=errors)
