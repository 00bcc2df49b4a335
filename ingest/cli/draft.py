"""`subtrail draft cancel|follow-up|claim`: letters drafted from the evidence; subtrail never sends them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from ingest.cli.context import (
    Context,
    fail,
    parse_day,
    providers_db,
    with_context,
    write_output,
    write_output_with,
)
from ingest.cli.slugs import check_provider

if TYPE_CHECKING:
    from sqlite_utils import Database

    from ingest.outputs.export import Filters


@click.group()
def draft() -> None:
    """Letters drafted from the evidence (cancellation, follow-up, formal notice), to send yourself."""


def _options(fn):  # type: ignore[no-untyped-def]
    for option in reversed(
        [
            click.option("--eml", is_flag=True, help="A draft e-mail (.eml) to open in a mail client."),
            click.option(
                "--pdf",
                is_flag=True,
                help="A PDF letter, with its evidence ZIP beside it (LETTER-evidence.zip).",
            ),
            click.option(
                "--lang", type=click.Choice(["fr", "en"]), help="Language (default: config, else fr)."
            ),
            click.option(
                "-o", "--output", type=click.Path(dir_okay=False), help="Output file (default: stdout)."
            ),
            click.option("--today", metavar="YYYY-MM-DD", help="Date the letter as of this day."),
        ]
    ):
        fn = option(fn)
    return fn


def _write(ctx: Context, kind: str, subject: str, eml: bool, pdf: bool, lang: str | None,
           output: str | None, today: str | None) -> None:  # fmt: skip
    from ingest.outputs.drafts import (
        DraftError,
        build_draft,
        evidence_filters,
        evidence_zip_path,
        render_eml,
        render_pdf,
        user_templates,
    )

    if eml and pdf:
        fail("choose one of --eml and --pdf")
    db = providers_db(ctx)
    if kind != "follow-up":  # the others name a provider; a follow-up names a ticket
        subject = check_provider(db, subject, f"draft {kind}")
    try:
        letter = build_draft(
            db,
            kind,
            subject,
            lang=lang or str(ctx.config.raw.get("language") or "fr"),
            today=parse_day(today, "--today"),
            my_addresses=ctx.config.identity.addresses,
            user_templates=user_templates(ctx.config.path),
            timezone=ctx.config.display.timezone,
        )
    except DraftError as exc:
        fail(str(exc))
    if eml:
        data = render_eml(letter)
    elif pdf:
        data = render_pdf(letter)
    else:
        data = letter.text.encode("utf-8")
    write_output(data, output, ctx.reader())
    if pdf and (filters := evidence_filters(letter)) is not None:
        _write_evidence(ctx, db, filters, evidence_zip_path(output, letter))


def _write_evidence(ctx: Context, db: Database, filters: Filters, path: Path) -> None:
    """The evidence ZIP the letter cites (the same bytes as `export evidence`: the same reader, the
    config's language and clock), and where it is."""
    from ingest.outputs.export import ExportError, write_evidence

    reader = ctx.reader()
    try:
        write_output_with(str(path), lambda fh: write_evidence(db, fh, filters, fmt="zip", h=reader), reader)
    except ExportError as exc:
        fail(f"evidence ZIP: {exc}", status=1)
    said = reader.gettext("evidence for the letter (%(filters)s): %(path)s")
    click.echo(said % {"filters": filters.describe(reader), "path": path}, err=True)


@draft.command()
@click.argument("slug")
@_options
@with_context
def cancel(ctx: Context, slug: str, **options: object) -> None:
    """The cancellation request: identifiers, start date, the law that applies, and the right channel.

    Example: subtrail draft cancel free --pdf -o resiliation-free.pdf
    """
    _write(ctx, "cancel", slug.strip().lower(), **options)  # type: ignore[arg-type]


@draft.command("follow-up")
@click.argument("ticket_ref")
@_options
@with_context
def follow_up(ctx: Context, ticket_ref: str, **options: object) -> None:
    """A reminder quoting the promise, its date and the agent, with the evidence list.

    Example: subtrail draft follow-up 613377 --eml -o relance.eml
    """
    _write(ctx, "follow-up", ticket_ref.strip(), **options)  # type: ignore[arg-type]


@draft.command()
@click.argument("slug")
@_options
@with_context
def claim(ctx: Context, slug: str, **options: object) -> None:
    """A formal notice (mise en demeure): charges after a cancellation or a broken refund promise.

    Example: subtrail draft claim deezer --pdf -o mise-en-demeure.pdf
    """
    _write(ctx, "claim", slug.strip().lower(), **options)  # type: ignore[arg-type]
