"""extractors.support.collect."""
