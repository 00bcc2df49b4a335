"""`python -m ingest` is the same as the `subtrail` command."""

from ingest.cli import cli

if __name__ == "__main__":
    cli()
