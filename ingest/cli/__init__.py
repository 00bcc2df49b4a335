"""The `subtrail` command line: thin click commands over plain functions.

Errors from the library become one-line messages here and nowhere else.
Exit status: 0 success, 1 a run that recorded errors but kept going,
2 bad usage or bad configuration.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlite_utils import Database

from ingest.config import CONFIG_TEMPLATE, Config, ConfigError, load_config
from ingest.store.schema import open_db

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command gets: the loaded config and the database path it resolves to."""

    def __init__(self, config: Config, db_path: str) -> None:
        self.config = config
        self.db_path = db_path

    def db(self) -> Database:
        return open_db(self.db_path)


def fail(message: str, status: int = 2) -> None:
    click.echo(f"subtrail: error: {message}", err=True)
    sys.exit(status)


def with_context(fn: F) -> F:
    """Add --config and --db to a command and pass a `Context` as its first argument."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="Config file (default ./subtrail.toml or $SUBTRAIL_CONFIG).",
    )
    @click.option(
        "--db",
        "db_path",
        type=click.Path(dir_okay=False),
        help="Database file (default data/subtrail.db or `db` in the config).",
    )
    @functools.wraps(fn)
    def wrapper(*args: Any, config_path: str | None, db_path: str | None, **kwargs: Any) -> Any:
        try:
            config = load_config(config_path)
        except ConfigError as exc:
            fail(str(exc))
        ctx = Context(config, db_path or config.db)
        try:
            return fn(ctx, *args, **kwargs)
        except ConfigError as exc:
            fail(str(exc))

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="subtrail")
def cli() -> None:
    """subtrail: your mailbox as a subscription inventory and a customer-service journal."""


@cli.command()
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Config file to write (default DIR/subtrail.toml).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="Database to create (default DIR/data/subtrail.db).",
)
def init(directory: str, config_path: str | None, db_path: str | None) -> None:
    """Write a commented subtrail.toml and create data/ in DIRECTORY.

    Example: subtrail init ~/subtrail
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    target = Path(config_path) if config_path else root / "subtrail.toml"
    database = Path(db_path) if db_path else root / "data" / "subtrail.db"
    if target.exists():
        click.echo(f"{target} already exists; left as it is")
    else:
        text = CONFIG_TEMPLATE
        if db_path:
            text = text.replace(
                'db = "data/subtrail.db"', f"db = {str(database.resolve())!r}".replace("'", '"')
            )
        target.write_text(text, encoding="utf-8")
        click.echo(f"wrote {target}")
    open_db(database).close()
    click.echo(f"database ready at {database}")


@cli.command(name="import")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--workers", type=click.IntRange(1, 64), help="Parser processes (default: one per core).")
@with_context
def import_(ctx: Context, paths: tuple[str, ...], workers: int | None) -> None:
    """Import .eml files, Maildir folders and mbox files (recursing into directories).

    Every message is stored byte-exact with its sha256; importing the same mail
    again stores nothing new. Problems are recorded in `ingest_errors` and the
    import goes on; the exit status is then 1.

    Example: subtrail import ~/Takeout/Mail/All\\ mail.mbox ~/Maildir
    """
    from ingest.pipeline.importer import import_paths

    db = ctx.db()
    summary = import_paths(db, paths, identity=ctx.config.identity, workers=workers)
    click.echo(
        f"{summary.seen} messages read in {summary.seconds:.1f}s ({summary.rate:,.0f}/s): "
        f"{summary.new} new, {summary.duplicates} already stored, {summary.errors} with errors"
    )
    for line in summary.error_sources[:10]:
        click.echo(f"  skipped {line}", err=True)
    if summary.errors:
        click.echo("details: select * from ingest_errors order by id desc", err=True)
        sys.exit(1)


@cli.command()
@with_context
def reprocess(ctx: Context) -> None:
    """Re-run every extractor over the stored raw messages and rebuild the derived tables.

    Run it after an upgrade; running it twice changes nothing.

    Example: subtrail reprocess --db data/subtrail.db
    """
    from ingest.pipeline.reprocess import reprocess_all

    summary = reprocess_all(ctx.db(), ctx.config.identity)
    click.echo(
        f"{summary.messages} messages reprocessed in {summary.seconds:.1f}s, {summary.errors} with errors"
    )
    if summary.errors:
        sys.exit(1)


@cli.command()
@with_context
def verify(ctx: Context) -> None:
    """Re-hash every stored raw message and report any mismatch (a tampered database).

    Example: subtrail verify
    """
    from ingest.store.verify import verify_store

    report = verify_store(ctx.db())
    for problem in report.problems:
        click.echo(f"MISMATCH {problem}")
    click.echo(f"{report.checked} raw messages checked, {len(report.problems)} problems")
    if report.problems:
        sys.exit(1)


# Commands that live in their own modules register themselves on `cli` when imported.
from ingest.cli import serve as cli_serve  # noqa: E402,F401

# isort: split
from ingest.cli import export as cli_export  # noqa: E402,F401

# isort: split
from ingest.cli import bank as cli_bank  # noqa: E402,F401

# isort: split
from ingest.cli import poll as cli_poll  # noqa: E402,F401

# isort: split
from ingest.cli import note as cli_journal  # noqa: E402,F401
