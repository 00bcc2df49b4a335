"""The `subtrail` command line: thin click commands over plain functions, one module per command group.

Every command is listed once, in `COMMANDS`; shared plumbing (config, database, errors,
output files) is in `ingest.cli.context`.
"""

from __future__ import annotations

import click

from ingest.cli import bank, dossier, draft, edit, export, mail, note, notify, poll, serve, status


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="subtrail")
def cli() -> None:
    """subtrail: your mailbox as a subscription inventory and a customer-service journal."""


COMMANDS: tuple[click.Command, ...] = (
    mail.init,
    mail.import_,
    mail.reprocess,
    mail.verify,
    poll.poll,
    poll.check,
    poll.oauth,
    serve.serve,
    status.status,
    dossier.dossier,
    export.export,
    note.note,
    bank.bank,
    edit.edit,
    edit.add,
    notify.notify,
    draft.draft,
)
for command in COMMANDS:
    cli.add_command(command)
