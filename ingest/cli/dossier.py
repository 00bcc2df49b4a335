"""`subtrail dossier SLUG`: everything needed to contact one provider, as Markdown or HTML."""

from __future__ import annotations

import click

from ingest.cli.context import Context, fail, parse_day, providers_db, with_context, write_output
from ingest.cli.slugs import check_provider


@click.command()
@click.argument("slug")
@click.option("--html", "as_html", is_flag=True, help="HTML instead of Markdown.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output file (default: stdout).")
@click.option("--today", metavar="YYYY-MM-DD", help="Judge promises as of this day (default: today).")
@with_context
def dossier(ctx: Context, slug: str, as_html: bool, output: str | None, today: str | None) -> None:
    """Prepare a contact with one provider: identifiers, history, how to cancel, exchanges, evidence.

    Markdown by default; fill in the "Resolution I want" section before calling.

    Example: subtrail dossier free -o free-dossier.md
    """
    from ingest.outputs.dossier import DossierError, build_dossier, render_html, render_markdown
    from ingest.outputs.humanize import Humanizer

    db = providers_db(ctx)
    reader = Humanizer.of(ctx.config.display)
    try:
        case = build_dossier(
            db,
            check_provider(db, slug, "dossier"),
            today=parse_day(today, "--today") or reader.today(),
            my_addresses=ctx.config.identity.addresses,
            h=reader,
        )
    except DossierError as exc:
        fail(str(exc))
    text = render_html(case) if as_html else render_markdown(case)
    write_output(text.encode("utf-8"), output, reader)
