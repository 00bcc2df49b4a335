"""`subtrail status`: the inventory and the journal at a glance, in 80 columns."""

from __future__ import annotations

import sys

import click

from ingest.cli.context import Context, parse_day, with_context


@click.command()
@click.option("--today", metavar="YYYY-MM-DD", help="Report as of this day (default: today).")
@with_context
def status(ctx: Context, today: str | None) -> None:
    """Show active subscriptions with the monthly total, renewals in the next 30 days,
    open cases and overdue promises (fits 80 columns).

    Example: subtrail status
    """
    from pathlib import Path

    from ingest.outputs.fx import current_rates, fetch_url
    from ingest.outputs.humanize import Humanizer
    from ingest.outputs.status import build_status, render_status

    db = ctx.db()
    reader = Humanizer.of(ctx.config.display)
    day = parse_day(today, "--today") or reader.today()
    rates = current_rates(Path(ctx.db_path).resolve().parent, reader.today(), fetch_url())
    report = render_status(build_status(db, today=day, h=reader, rates=rates))
    sys.stdout.write(report)
