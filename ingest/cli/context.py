"""What every command shares: the loaded config and database, one-line errors, output files.

Errors from the library become one-line messages here and nowhere else.
Exit status: 0 success, 1 a run that recorded errors but kept going,
2 bad usage or bad configuration.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import click
from sqlite_utils import Database

from ingest.config import Config, ConfigError, load_config
from ingest.outputs.humanize import Humanizer
from ingest.store.schema import database_problem, open_db

F = TypeVar("F", bound=Callable[..., Any])


class Context:
    """What every command gets: the loaded config and the database path it resolves to."""

    def __init__(self, config: Config, db_path: str) -> None:
        self.config = config
        self.db_path = db_path

    def reader(self) -> Humanizer:
        """The person the command's words are for: the config's language and clock, as `status` reads them."""
        return Humanizer.of(self.config.display)

    def db(self, create: bool = False) -> Database:
        """The database; only commands that store mail `create` it, the others refuse a missing one.
        A file that is not a subtrail database is refused by both (an import never writes into it)."""
        path = Path(self.db_path)
        fresh = create and (not path.exists() or path.stat().st_size == 0)
        if not fresh and (problem := database_problem(path)):
            fail(problem)  # missing for a read, or someone else's file: never written into
        return open_db(path)


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


def write_output_with(
    output: str | None, produce: Callable[[BinaryIO], None], h: Humanizer | None = None
) -> None:
    """Let `produce` write a seekable file, then move it to `output` or copy it to stdout
    (and say so to `h`, the reader: English by default).

    Seekable, so a ZIP has the same bytes whether written to a file or piped; through a
    `.part` file renamed at the end, so a failed export never leaves a half-written one.
    """
    with tempfile.TemporaryDirectory(prefix="subtrail-") as spool:
        to_stdout = not output or output == "-"
        target = Path(spool, "output") if to_stdout else Path(output)  # type: ignore[arg-type]
        partial = target.with_name(f".{target.name}.part")
        try:
            # Private mail: readable by its owner only, whatever the umask.
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        except OSError as exc:  # a missing folder, no permission: the -o given, not a crash
            fail(f"cannot write {target}: {exc.strerror or exc}")
        try:
            with os.fdopen(descriptor, "wb") as fh:
                produce(fh)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(target)
        if to_stdout:
            stdout = click.get_binary_stream("stdout")
            with target.open("rb") as fh:
                shutil.copyfileobj(fh, stdout)
            stdout.flush()
        else:
            h = h or Humanizer()
            size = target.stat().st_size
            said = h.ngettext("wrote %(path)s (%(size)s byte)", "wrote %(path)s (%(size)s bytes)", size)
            click.echo(said % {"path": target, "size": h.number(size)}, err=True)


def write_output(data: bytes, output: str | None, h: Humanizer | None = None) -> None:
    write_output_with(output, lambda fh: fh.write(data), h)


def providers_db(ctx: Context) -> Database:
    """Open the database with the provider files loaded, so cancel routes are current."""
    from ingest.derived.knowledge import ProviderFileError, load_providers

    db = ctx.db()
    try:
        with db.atomic():
            load_providers(db)
    except ProviderFileError as exc:
        fail(f"provider file: {exc}")
    return db


def parse_day(value: str | None, name: str) -> date | None:
    """A day option (`--today`) as people write it: 2026-11-27, 27/11/2026, 27 novembre 2026."""
    from ingest.cli.when import parse_day_text

    if value is None:
        return None
    try:
        return parse_day_text(value, "UTC")  # a date alone is the same day in every zone
    except ValueError:
        fail(f'{name} must be a date such as "2026-11-27", "27/11/2026" or "27 novembre 2026", not {value!r}')
    return None
