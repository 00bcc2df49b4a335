"""`subtrail notify`: send the due reminders through Apprise (`[notify]` in the config)."""

from __future__ import annotations

from datetime import tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click

from ingest.cli.context import Context, fail, parse_day, providers_db, with_context
from ingest.config import Config


def config_timezone(config: Config) -> tzinfo | None:
    """The config's `timezone` (every time shown to a person); None: the system's."""
    name = config.raw.get("timezone")
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        fail(f"timezone {name!r} is not a known time zone (e.g. Europe/Paris)")
    return None


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Accepted for symmetry with `poll --once`: notify is always one pass, then exit.",
)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing, record nothing.")
@click.option("--test", "test_", is_flag=True, help="Send one line to each URL and say which failed.")
@click.option(
    "--today", metavar="YYYY-MM-DD", help="Judge as of this day (default: today, or $SUBTRAIL_TODAY)."
)
@with_context
def notify(ctx: Context, once: bool, dry_run: bool, test_: bool, today: str | None) -> None:
    """Send the reminders that are due, each once: renewals and trial ends ahead, price increases,
    promises due tomorrow or overdue, charges after a cancellation, payment failures, the weekly digest.

    One pass, then exit, with or without --once (the contract's `notify [--once]`; the
    daemon, `subtrail poll`, runs a pass itself at most once a minute). State is in the
    `notifications` table, so a restart never sends twice and a missed day catches up once.

    Example: subtrail notify --dry-run --today 2026-12-07
    """
    from ingest.outputs.humanize import Humanizer
    from ingest.outputs.notify import due_reminders, local_now, send_due, test_urls, unsent

    reader = Humanizer.of(ctx.config.display)

    settings = ctx.config.notify
    if test_:
        if not settings.urls:
            fail("no [notify] urls in the config")
        results = test_urls(settings.urls)
        for url, ok in results:
            click.echo(f"{'ok    ' if ok else 'FAILED'} {url}")
        raise SystemExit(0 if all(ok for _, ok in results) else 1)
    db = providers_db(ctx)
    now = local_now(parse_day(today, "--today"), config_timezone(ctx.config))
    if dry_run:
        for reminder in unsent(db, due_reminders(db, settings, now, reader)):
            click.echo(f"[{reminder.kind}] {reminder.title}")
            click.echo("    " + reminder.body.replace("\n", "\n    "))
        return
    if not settings.urls:
        fail("no [notify] urls in the config: nothing to send to (see --dry-run)")
    report = send_due(db, settings, now, h=reader)
    for reminder in report.sent:
        click.echo(f"sent [{reminder.kind}] {reminder.title}")
    for reminder in report.failed:
        click.echo(f"failed [{reminder.kind}] {reminder.title} (will retry)", err=True)
    click.echo(
        f"{len(report.sent)} sent, {len(report.failed)} failed, {report.already} sent before", err=True
    )
    raise SystemExit(1 if report.failed else 0)
