"""`subtrail init`, `import`, `reprocess`, `verify`: the mail store, from nothing to checked evidence."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingest.cli.context import Context, fail, with_context
from ingest.config import CONFIG_TEMPLATE
from ingest.store.schema import open_db


@click.command()
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


@click.command(name="import")
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

    ctx.config.check_identity()
    missing = [p for p in paths if not Path(p).exists()]
    if missing:  # a mistyped path, like a mistyped --db, is said before anything is created
        fail(f"{missing[0]}: no such file or directory (nothing imported)")
    db = ctx.db(create=True)
    summary = import_paths(db, paths, identity=ctx.config.identity, workers=workers)
    h = ctx.reader()
    said = h.ngettext(
        "%(count)d message read in %(seconds)ss (%(rate)s/s): "
        "%(new)d new, %(stored)d already stored, %(errors)d with errors",
        "%(count)d messages read in %(seconds)ss (%(rate)s/s): "
        "%(new)d new, %(stored)d already stored, %(errors)d with errors",
        summary.seen,
    )
    click.echo(said % {"count": summary.seen, "seconds": h.number(summary.seconds, 1),
                       "rate": h.number(summary.rate), "new": summary.new, "stored": summary.duplicates,
                       "errors": summary.errors})  # fmt: skip
    for line in summary.error_sources[:10]:
        click.echo(h.gettext("  skipped %(source)s") % {"source": line}, err=True)
    if summary.errors:
        click.echo(
            h.gettext("details: %(sql)s") % {"sql": "select * from ingest_errors order by id desc"}, err=True
        )
        sys.exit(1)


@click.command()
@with_context
def reprocess(ctx: Context) -> None:
    """Re-run every extractor over the stored raw messages and rebuild the derived tables.

    Run it after an upgrade; running it twice changes nothing.

    Example: subtrail reprocess --db data/subtrail.db
    """
    from ingest.pipeline.reprocess import reprocess_all

    ctx.config.check_identity()  # directions are decided again: the placeholder would make all inbound
    summary = reprocess_all(ctx.db(), ctx.config.identity)
    h = ctx.reader()
    said = h.ngettext(
        "%(count)d message reprocessed in %(seconds)ss, %(errors)d with errors",
        "%(count)d messages reprocessed in %(seconds)ss, %(errors)d with errors",
        summary.messages,
    )
    click.echo(
        said % {"count": summary.messages, "seconds": h.number(summary.seconds, 1), "errors": summary.errors}
    )
    if summary.errors:
        sys.exit(1)


@click.command()
@with_context
def verify(ctx: Context) -> None:
    """Re-hash every stored raw message and report any mismatch (a tampered database).

    Example: subtrail verify
    """
    from ingest.store.verify import verify_store

    report = verify_store(ctx.db())
    for problem in report.problems:
        click.echo(f"MISMATCH {problem}")
    h, count = ctx.reader(), len(report.problems)
    checked = h.ngettext("%(count)d raw message checked", "%(count)d raw messages checked", report.checked)
    problems = h.ngettext("%(count)d problem", "%(count)d problems", count)
    click.echo(f"{checked % {'count': report.checked}}, {problems % {'count': count}}")
    if report.problems:
        sys.exit(1)
