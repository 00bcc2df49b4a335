"""`subtrail export evidence|calendar`, `subtrail dossier`, `subtrail status`: outputs for people.

Thin commands over `ingest.outputs.export`, `ingest.outputs.dossier`, `ingest.outputs.status` and
`ingest.outputs.calendar`; library errors become one-line messages (exit 2) here.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import BinaryIO

import click
from sqlite_utils import Database

from ingest.cli import Context, cli, fail, with_context


def _write_with(output: str | None, produce: Callable[[BinaryIO], None]) -> None:
    """Let `produce` write a seekable file, then move it to `output` or copy it to stdout.

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
            click.echo(f"wrote {target} ({target.stat().st_size:,} bytes)", err=True)


def _write(data: bytes, output: str | None) -> None:
    _write_with(output, lambda fh: fh.write(data))


def _refresh_providers(ctx: Context) -> Database:
    """Open the database with the provider files loaded, so cancel routes are current."""
    from ingest.derived.knowledge import ProviderFileError, load_providers

    db = ctx.db()
    try:
        with db.atomic():
            load_providers(db)
    except ProviderFileError as exc:
        fail(f"provider file: {exc}")
    return db


def _parse_day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date YYYY-MM-DD, not {value!r}")
    return None


@cli.group()
def export() -> None:
    """Export evidence (CSV / ZIP) and a calendar of renewals and due dates."""


@export.command()
@click.option("--provider", metavar="SLUG", help="Only this provider (e.g. netflix, free-mobile).")
@click.option("--ticket", metavar="REF", help="Only this support case (its ticket_ref, or #id).")
@click.option("--since", metavar="YYYY-MM-DD", help="From this day (inclusive).")
@click.option("--until", metavar="YYYY-MM-DD", help="Up to this day (inclusive).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "zip"]),
    default="csv",
    show_default=True,
    help="Output format.",
)
@click.option("--bom", is_flag=True, help="Start the CSV with a UTF-8 BOM (for Excel on Windows).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (default: stdout).")
@with_context
def evidence(
    ctx: Context,
    provider: str | None,
    ticket: str | None,
    since: str | None,
    until: str | None,
    fmt: str,
    bom: bool,
    output: str | None,
) -> None:
    """Export exchanges and subscription events as CSV, or a ZIP with the raw e-mails and SHA256SUMS.

    The same database and options give byte-identical files. Check a bundle
    with `unzip bundle.zip -d bundle && cd bundle && sha256sum -c SHA256SUMS`.

    Example: subtrail export evidence --provider free --format zip -o free-evidence.zip
    """
    from ingest.outputs.export import ExportError, Filters, write_evidence

    filters = Filters(provider=provider, ticket=ticket, since=since, until=until)
    if fmt == "zip" and (not output or output == "-") and click.get_binary_stream("stdout").isatty():
        fail("refusing to write a ZIP to the terminal: use -o FILE")
    db = ctx.db()
    try:
        _write_with(output, lambda fh: write_evidence(db, fh, filters, fmt=fmt, bom=bom))
    except ExportError as exc:
        fail(str(exc))


@export.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (default: stdout).")
@with_context
def calendar(ctx: Context, output: str | None) -> None:
    """Export renewals, trial ends and promise due dates as an iCalendar (.ics) file.

    Example: subtrail export calendar -o subscriptions.ics
    """
    try:
        from ingest.outputs.calendar import build_calendar
    except ImportError:
        fail("calendar export is not available in this version")
    data = build_calendar(ctx.db())
    _write(data.encode("utf-8") if isinstance(data, str) else data, output)


@cli.command()
@click.argument("slug")
@click.option("--html", "as_html", is_flag=True, help="HTML instead of Markdown.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (default: stdout).")
@click.option("--today", metavar="YYYY-MM-DD", help="Judge promises as of this day (default: today).")
@with_context
def dossier(ctx: Context, slug: str, as_html: bool, output: str | None, today: str | None) -> None:
    """Prepare a contact with one provider: identifiers, history, how to cancel, exchanges, evidence.

    Markdown by default; fill in the "Resolution I want" section before calling.

    Example: subtrail dossier free -o free-dossier.md
    """
    from ingest.outputs.dossier import DossierError, build_dossier, render_html, render_markdown

    db = _refresh_providers(ctx)
    try:
        case = build_dossier(
            db,
            slug.strip().lower(),
            today=_parse_day(today, "--today"),
            my_addresses=ctx.config.identity.addresses,
        )
    except DossierError as exc:
        fail(str(exc))
    text = render_html(case) if as_html else render_markdown(case)
    _write(text.encode("utf-8"), output)


@cli.command()
@click.option("--today", metavar="YYYY-MM-DD", help="Report as of this day (default: today).")
@with_context
def status(ctx: Context, today: str | None) -> None:
    """Show active subscriptions with the monthly total, renewals in the next 30 days,
    open tickets and overdue promises (fits 80 columns).

    Example: subtrail status
    """
    from ingest.outputs.status import build_status, render_status

    report = render_status(build_status(ctx.db(), today=_parse_day(today, "--today")))
    sys.stdout.write(report)
