"""ingest.web."""
