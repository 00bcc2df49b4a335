"""`subtrail poll` and `subtrail check`: the IMAP poller's commands (work in `ingest.imap`)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import click

from ingest.cli.context import Context, fail, with_context


def setup_logging(verbose: bool) -> None:
    """Structured one-line logs on stderr (journald adds its own timestamps under systemd).

    `verbose` opens subtrail's own debug lines (the IMAP conversation's steps), not the libraries':
    those would log mail content (imapclient) or pages of regular expressions."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s %(message)s",
            stream=sys.stderr,
        )
    logging.getLogger("subtrail").setLevel(logging.DEBUG if verbose else logging.INFO)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM/SIGINT stop within a moment: with a `Stop`, a wait on the network (a greeting,
    a stalled FETCH) ends at once; committed batches stay, the one in flight is not written."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        logging.getLogger("subtrail.poll").info("stopping on signal=%s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


@click.command()
@click.option("--once", is_flag=True, help="One pass over every account and folder, then exit.")
@click.option(
    "--interval",
    type=click.FloatRange(1, 86400),
    default=300,
    show_default=True,
    help="Daemon: seconds between polls of folders not watched with IDLE.",
)
@click.option(
    "--workers", type=click.IntRange(1, 64), help="Parser processes for big syncs (default: one per core)."
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Debug logs: the IMAP steps (connect, TLS, login as, select, search, fetch, logout), never a secret.",
)
@with_context
def poll(ctx: Context, once: bool, interval: float, workers: int | None, verbose: bool) -> None:
    """Fetch new mail from every IMAP account in the config, read-only.

    With --once, one pass over every account and folder, then exit (status 1 if an
    account or folder failed or a message could not be fetched; the others are still
    synced). Without it, a daemon: IDLE on INBOX where offered, polling elsewhere,
    reconnecting with backoff. SIGTERM/SIGINT stop either within a moment, even mid-FETCH:
    every committed batch stays, the one in flight is fetched again next time; the exit
    status is then that of the work done (0 unless errors were recorded). A configuration
    problem (an unset password_env variable, a password_command that prints nothing, an
    unknown key) is status 2 and stops the daemon at once; a login the server refuses is
    retried with a slow backoff (5 minutes, doubling up to an hour).

    Example: subtrail poll --once --config ~/subtrail/subtrail.toml
    """
    from ingest.imap.errors import ConfigProblem
    from ingest.imap.poller import DaemonSettings, poll_once, run_daemon
    from ingest.imap.stopping import Stop
    from ingest.pipeline.queue import queued_count

    setup_logging(verbose)
    ctx.config.check_identity()
    if not ctx.config.accounts:
        fail("no [[accounts]] in the config: add one (see `subtrail init`)")
    for account in ctx.config.accounts:
        account.check_password_env()
    db = ctx.db(create=True)
    stop = Stop()
    stop_on_signals(stop)
    if once:
        summary = poll_once(db, ctx.config, stop=stop, workers=workers)
        folders = sum(len(a.folders) for a in summary.accounts)
        fetched = sum(f.fetched for a in summary.accounts for f in a.folders)
        click.echo(
            f"{len(summary.accounts)} accounts, {folders} folders in {summary.seconds:.1f}s: "
            f"{fetched} fetched, {summary.new} new, {summary.processed} processed, {summary.errors} errors"
        )
        waiting = queued_count(db)
        if waiting:  # stopped before the queue was empty: the next run carries on
            click.echo(f"  {waiting} stored messages still to process (next run)")
        for account in summary.accounts:
            if account.error:
                click.echo(f"  {account.error}", err=True)
        if any(isinstance(a.error, ConfigProblem) for a in summary.accounts):
            sys.exit(2)  # the others were synced; the file still needs fixing
        sys.exit(summary.exit_status)
    db.close()
    problem = run_daemon(ctx.db_path, ctx.config, stop, DaemonSettings(interval=interval, workers=workers))
    if problem is not None:
        fail(f"{problem} (the daemon stopped: fix the configuration, then start it again)")


@click.command()
@with_context
def check(ctx: Context) -> None:
    """Log in to each account, list its folders with message counts, and say what is wrong.

    Checks DNS, the TLS connection, the login and the configured folders, in that order;
    nothing is changed on the server or in the database. Exit status 1 if anything failed,
    2 if the configuration is the problem (a password variable not set, a password command
    that prints nothing).

    Example: subtrail check
    """
    from ingest.imap.check import check_account

    ctx.config.check_identity()
    if not ctx.config.accounts:
        fail("no [[accounts]] in the config: add one (see `subtrail init`)")
    for account in ctx.config.accounts:
        account.check_password_env()  # a setup mistake (exit 2), not a server failure (exit 1)
    failed = misconfigured = False
    for account in ctx.config.accounts:
        report = check_account(account)
        click.echo(f"{account.name} ({account.host}:{account.port}, {account.security})")
        for good, text in report.lines:
            click.echo(f"  {'ok  ' if good else 'FAIL'} {text}")
        failed = failed or not report.ok
        misconfigured = misconfigured or report.config_problem
    sys.exit(2 if misconfigured else 1 if failed else 0)


@click.command()
@click.argument("account_name", metavar="ACCOUNT")
@with_context
def oauth(ctx: Context, account_name: str) -> None:
    """One-time OAuth2 consent for an account with auth = "xoauth2" (Gmail, Microsoft 365).

    Google: open the printed address, allow access; the browser comes back to a local
    address and the refresh token is saved. Microsoft: enter the printed code at the
    printed address. The token goes to the account's oauth.token_file (mode 0600),
    never to the database; `subtrail poll` refreshes and rotates it from then on.

    Example: subtrail oauth gmail
    """
    from ingest.imap.errors import ImapError
    from ingest.imap.oauth import authorize

    account = next((a for a in ctx.config.accounts if a.name == account_name), None)
    if account is None:
        fail(f"no account named {account_name!r} in the config")
        return
    if account.auth != "xoauth2":
        fail(f'account {account_name!r}: set auth = "xoauth2" and an [accounts.oauth] table first')
    try:
        path = authorize(account, say=click.echo)
    except ImapError as exc:
        fail(str(exc), status=1)
        return
    click.echo(f"refresh token saved to {path}; try it with: subtrail check")
