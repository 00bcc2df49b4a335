"""`subtrail export evidence|calendar`: evidence (CSV / ZIP) and renewals as files to hand over.

Thin commands over `ingest.outputs.export` and `ingest.outputs.calendar`; library errors
become one-line messages (exit 2) here.
"""

from __future__ import annotations

import click

from ingest.cli.context import Context, fail, parse_day, with_context, write_output, write_output_with
from ingest.cli.slugs import check_provider


@click.group()
def export() -> None:
    """Export evidence (CSV / ZIP) and a calendar of renewals and due dates."""


@export.command()
@click.option("--provider", metavar="SLUG", help="Only this provider (e.g. netflix, free-mobile).")
@click.option("--ticket", metavar="REF", help="Only this support case (its ticket_ref, or #id).")
@click.option("--since", metavar="DAY", help='From this day (inclusive): "2026-10-01", "1 octobre 2026".')
@click.option("--until", metavar="DAY", help="Up to this day (inclusive).")
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

    if fmt == "zip" and (not output or output == "-") and click.get_binary_stream("stdout").isatty():
        fail("refusing to write a ZIP to the terminal: use -o FILE")
    db = ctx.db()
    if provider:
        provider = check_provider(db, provider, "--provider")
    since_day, until_day = parse_day(since, "--since"), parse_day(until, "--until")  # as --today reads them
    filters = Filters(
        provider=provider,
        ticket=ticket,
        since=since_day.isoformat() if since_day else None,
        until=until_day.isoformat() if until_day else None,
    )
    reader = ctx.reader()
    try:
        write_output_with(
            output, lambda fh: write_evidence(db, fh, filters, fmt=fmt, bom=bom, h=reader), reader
        )
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
    reader = ctx.reader()
    data = build_calendar(ctx.db(), h=reader)
    write_output(data.encode("utf-8") if isinstance(data, str) else data, output, reader)
