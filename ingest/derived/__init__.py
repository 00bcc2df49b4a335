"""ingest.derived."""
