"""extractors.subscriptions.run."""
