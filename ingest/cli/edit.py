"""`subtrail edit subscription` and `subtrail add subscription`: the user's corrections, kept and re-applied.

Both only add `corrections` rows (see `ingest.derived.corrections`); the mail and the
events stay as they were, and every rebuild lays the corrections over them again.
"""

from __future__ import annotations

import click

from ingest.cli.context import Context, fail, with_context
from ingest.cli.slugs import check_provider
from ingest.derived.corrections import (
    CATEGORIES,
    PLATFORMS,
    STATUSES,
    Correction,
    CorrectionError,
    add_subscription,
    record_corrections,
)


@click.group()
def edit() -> None:
    """Correct what the mail got wrong or never showed (kept in `corrections`)."""


@click.group()
def add() -> None:
    """Add what the mail never shows (kept in `corrections`)."""


@edit.command(name="subscription")
@click.argument("subscription_id", type=int)
@click.option("--status", type=click.Choice(STATUSES), help="What it is now, e.g. cancelled.")
@click.option("--ended-on", help="The day it ended or ends (YYYY-MM-DD); marks it cancelled.")
@click.option("--amount", help='The price charged, as written: "9,99 €", "€9.99", "20 USD".')
@click.option("--period", help="Billing period: P1M (monthly), P4W, P3M, P1Y (yearly).")
@click.option("--category", type=click.Choice(CATEGORIES))
@click.option("--platform", type=click.Choice(PLATFORMS), help="Who bills it (where one cancels).")
@click.option("--dismiss", is_flag=True, help="Not a subscription: hide it from the inventory and totals.")
@click.option("--undismiss", is_flag=True, help="Undo --dismiss: a subscription after all.")
@click.option("--note", help='How or why, e.g. "cancelled by phone, agent Julie".')
@with_context
def edit_subscription(
    ctx: Context,
    subscription_id: int,
    status: str | None,
    ended_on: str | None,
    amount: str | None,
    period: str | None,
    category: str | None,
    platform: str | None,
    dismiss: bool,
    undismiss: bool,
    note: str | None,
) -> None:
    """State a fact about subscription ID; it wins over the mail after every rebuild and reprocess.

    Example: subtrail edit subscription 12 --status cancelled --ended-on 2026-03-31 --note "by phone"
    """
    given = {
        "status": status,
        "ended_on": ended_on,
        "amount": amount,
        "period": period,
        "category": category,
        "platform": platform,
    }
    changes = [Correction(name, value, note) for name, value in given.items() if value is not None]
    if dismiss and undismiss:
        fail("give --dismiss or --undismiss, not both")
    if dismiss or undismiss:
        changes.append(Correction("dismissed", "0" if undismiss else "1", note))
    if not changes and note:
        changes.append(Correction("note", None, note))
    db = ctx.db()
    try:
        record_corrections(db, subscription_id, changes, ctx.config.display.currency)
    except CorrectionError as exc:
        fail(str(exc))
    click.echo(f"subscription {subscription_id}: {len(changes)} correction(s) kept", err=True)


@add.command(name="subscription")
@click.option("--provider", required=True, help="Provider slug, e.g. basic-fit.")
@click.option(
    "--new-provider",
    is_flag=True,
    help="The provider is one subtrail does not know yet (no mail, not in the provider files): record it.",
)
@click.option("--amount", required=True, help='The price charged, as written: "9,99 €".')
@click.option("--period", required=True, help="Billing period: P1M (monthly), P4W, P3M, P1Y (yearly).")
@click.option("--started-on", help="First day (YYYY-MM-DD); renewals are counted from it.")
@click.option("--platform", type=click.Choice(PLATFORMS), help="Who bills it (default direct).")
@click.option("--category", type=click.Choice(CATEGORIES))
@click.option("--note", help="Anything to remember about it.")
@with_context
def add_subscription_command(
    ctx: Context,
    provider: str,
    new_provider: bool,
    amount: str,
    period: str,
    started_on: str | None,
    platform: str | None,
    category: str | None,
    note: str | None,
) -> None:
    """Add a subscription the mail never shows (paid in cash, by paper invoice...); prints its id.

    Example: subtrail add subscription --provider basic-fit --amount "29,99 €" --period P4W --started-on 2026-01-05
    """
    db = ctx.db()
    if not new_provider:  # a typo would otherwise become a provider of its own, silently
        provider = check_provider(
            db, provider, "--provider", "; add --new-provider for a provider the mail never shows"
        )
    try:
        sub_id = add_subscription(
            db,
            provider,
            amount,
            period,
            started_on=started_on,
            platform=platform,
            category=category,
            note=note,
            main_currency=ctx.config.display.currency,
        )
    except CorrectionError as exc:
        fail(str(exc))
    click.echo(sub_id)
