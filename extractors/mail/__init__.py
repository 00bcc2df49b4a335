"""extractors.mail."""
