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
    open tickets and overdue promises (fits 80 columns).

    Example: subtrail status
    """
    from ingest.outputs.status import build_status, render_status

    report = render_status(build_status(ctx.db(), today=parse_day(today, "--today")))
    sys.stdout.write(report)
