"""`subtrail bank import`: statements in, recurring charges out, matched against the inventory."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingest.cli.context import Context, fail, with_context


@click.group()
def bank() -> None:
    """Bank statements: find the subscriptions the mailbox doesn't show."""


@bank.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--account", help="Account name to file the lines under (default: from the statement).")
@click.option(
    "--columns",
    help="CSV columns when detection fails: ROLE=COLUMN,... with ROLE in date, label, amount, debit, "
    "credit, currency and COLUMN a 1-based number or a header name.",
)
@click.option("--currency", help="Currency of a CSV statement that does not say (default EUR).")
@with_context
def import_(
    ctx: Context, files: tuple[str, ...], account: str | None, columns: str | None, currency: str | None
) -> None:
    """Import CSV and OFX/QFX statements and detect recurring charges.

    Lines already stored (an overlapping statement, or the same account's
    statement in the other format: same account number, day, amount and
    label) are skipped; every file is kept in bank_statements. Recurring
    charges are then rebuilt and linked to the subscriptions found in mail;
    see the bank_* views in Datasette. A file that cannot be read is recorded
    in ingest_errors and the others are imported; the exit status is then 1.

    Example: subtrail bank import ~/Downloads/export_compte.csv releve.ofx --account courant
    """
    from ingest.bank import BankError
    from ingest.bank.csv_import import parse_columns
    from ingest.bank.reconcile import refresh
    from ingest.bank.statements import read_statement
    from ingest.bank.store import save_statement
    from ingest.store import record_error

    if columns:
        try:
            parse_columns(columns)
        except BankError as exc:
            fail(str(exc))
    db = ctx.db(create=True)
    failed = 0
    for name in files:
        try:
            statement = read_statement(Path(name), account=account, columns=columns, currency=currency)
        except BankError as exc:
            record_error(db, "bank", str(exc), source=name)
            click.echo(f"skipped {name}: {exc}", err=True)
            failed += 1
            continue
        for problem in statement.problems:
            record_error(db, "bank", problem, source=name)
        saved = save_statement(db, statement)
        filed = ", ".join(saved.accounts) or statement.account
        click.echo(
            f"{name}: {len(statement.transactions)} lines ({statement.kind}, account {filed}): "
            f"{saved.new} new, {saved.duplicates} already stored"
            + (f", {len(statement.problems)} unreadable" if statement.problems else "")
        )
        failed += bool(statement.problems)
    with db.atomic():
        refresh(db)
    counts = dict(
        db.execute(
            """select 'all', count(*) from recurring_charges union all
               select 'confirmed', count(*) from recurring_charges where status = 'confirmed' union all
               select 'unknown', count(*) from recurring_charges where subscription_id is null"""
        ).fetchall()
    )
    click.echo(
        f"{counts['all']} recurring charges ({counts['confirmed']} confirmed), "
        f"{counts['unknown']} with no known subscription: select * from bank_unknown_recurring"
    )
    if failed:
        click.echo("details: select * from ingest_errors where stage = 'bank'", err=True)
        sys.exit(1)
