"""subtrail ingestion: sources (files, IMAP), parsing, the evidence store, derived tables and the CLI."""
