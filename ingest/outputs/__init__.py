"""ingest.outputs."""
