"""`subtrail bank import`: statements in, recurring charges out, matched against the inventory."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.cli.context import Context, fail, with_context

if TYPE_CHECKING:
    from ingest.bank.statements import Statement
    from ingest.bank.store import SaveResult
    from ingest.outputs.humanize import Humanizer


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
    h = ctx.reader()
    failed = 0
    for name in files:
        try:
            statement = read_statement(Path(name), account=account, columns=columns, currency=currency)
        except BankError as exc:
            record_error(db, "bank", str(exc), source=name)
            click.echo(h.gettext("skipped %(file)s: %(problem)s") % {"file": name, "problem": exc}, err=True)
            failed += 1
            continue
        for problem in statement.problems:
            record_error(db, "bank", problem, source=name)
        saved = save_statement(db, statement)
        click.echo(_statement_line(h, name, statement, saved))
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
    said = h.ngettext(
        "%(count)d recurring charge (%(confirmed)d confirmed), %(unknown)d with no known subscription: %(sql)s",
        "%(count)d recurring charges (%(confirmed)d confirmed), %(unknown)d with no known subscription: %(sql)s",
        counts["all"],
    )
    click.echo(said % {"count": counts["all"], "confirmed": counts["confirmed"], "unknown": counts["unknown"],
                       "sql": "select * from bank_unknown_recurring"})  # fmt: skip
    if failed:
        details = h.gettext("details: %(sql)s") % {"sql": "select * from ingest_errors where stage = 'bank'"}
        click.echo(details, err=True)
        sys.exit(1)


def _statement_line(h: Humanizer, name: str, statement: Statement, saved: SaveResult) -> str:
    """ "releve.csv: 358 lines (csv, account 0004…): 358 new, 0 already stored", in the reader's words."""
    lines = len(statement.transactions)
    head = h.ngettext(
        "%(file)s: %(count)d line (%(kind)s, account %(account)s): ",
        "%(file)s: %(count)d lines (%(kind)s, account %(account)s): ",
        lines,
    )
    filed = ", ".join(saved.accounts) or statement.account
    said = head % {"file": name, "count": lines, "kind": statement.kind, "account": filed}
    said += h.gettext("%(new)d new, %(stored)d already stored") % {
        "new": saved.new,
        "stored": saved.duplicates,
    }
    if statement.problems:
        said += h.gettext(", %(count)d unreadable") % {"count": len(statement.problems)}
    return said
