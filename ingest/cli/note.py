"""`subtrail note`: what never was an e-mail (phone calls, chats, letters) joins the journal."""

from __future__ import annotations

import re
from datetime import date, time

import click
from babel.dates import format_date

from ingest.cli.context import Context, fail, with_context
from ingest.cli.slugs import check_provider
from ingest.cli.when import EXAMPLES, parse_day_text, parse_moment
from ingest.outputs.humanize import N_, Humanizer

CHANNELS = ("phone", "chat", "letter", "email", "other")
# The day in a note list, as a babel pattern in the reader's catalogue: a form `--at` reads back
DAY_PATTERN = N_("yyyy-MM-dd")
_SLUG = re.compile(r"[a-z0-9][a-z0-9.+-]{0,62}")


@click.group()
def note() -> None:
    """Manual journal entries: calls, chats, letters, with the agent's name and promises."""


@note.command(name="add")
@click.option("--provider", required=True, help="Provider slug, e.g. free-mobile.")
@click.option(
    "--new-provider",
    is_flag=True,
    help="The provider is one subtrail does not know yet (no mail, not in the provider files): record it.",
)
@click.option("--channel", type=click.Choice(CHANNELS), default="phone", show_default=True)
@click.option(
    "--at",
    "at",
    required=True,
    help='When, in your timezone: "2026-03-03 10:02", "03/03/2026 10h02", "3 mars 2026 10:02", ISO-8601; '
    "a date alone is that day.",
)
@click.option("--agent", help="The name of the person you dealt with.")
@click.option("--text", required=True, help="What was said or done.")
@click.option("--promise", help="What they committed to, in their words.")
@click.option(
    "--due",
    help="When the promise falls due (2026-03-10, 10/03/2026...); computed from --promise if omitted.",
)
@click.option(
    "--ticket", "ticket_ref", help="The ticket reference it belongs to (else the provider's current case)."
)
@click.option(
    "--direction",
    type=click.Choice(("inbound", "outbound")),
    help="inbound: they said it (default with --agent); outbound: I did it (a letter I sent).",
)
@with_context
def note_add(
    ctx: Context,
    provider: str,
    new_provider: bool,
    channel: str,
    at: str,
    agent: str | None,
    text: str,
    promise: str | None,
    due: str | None,
    ticket_ref: str | None,
    direction: str | None,
) -> None:
    """Record a call, chat or letter in the journal; it survives `subtrail reprocess`.

    Example: subtrail note add --provider free-mobile --channel phone --at "2026-03-03 10:02"
    --agent Julie --text "Refund confirmed" --promise "refund within 5 business days" --due 2026-03-10
    """
    from ingest.derived.journal import add_note

    provider = provider.strip().lower()
    if not _SLUG.fullmatch(provider):
        fail(f"--provider {provider!r} is not a provider slug like free-mobile")
    zone = ctx.config.display.timezone
    try:
        when = parse_moment(at, zone).iso
    except ValueError:
        fail(f"--at {at!r} is not a date and time; write it like {EXAMPLES}")
    if due:
        try:
            due = parse_day_text(due, zone).isoformat()
        except ValueError:
            fail(f'--due {due!r} is not a date; write it like "2026-03-10", "10/03/2026" or "10 mars 2026"')
    db = ctx.db()
    if not new_provider:
        provider = check_provider(
            db, provider, "--provider", "; add --new-provider to record one subtrail does not know yet"
        )
    note_id = add_note(
        db,
        provider=provider,
        channel=channel,
        at=when,
        text=text,
        agent=agent,
        direction=direction,
        promise=promise,
        due_on=due,
        ticket_ref=ticket_ref,
    )
    row = db.execute(
        "select t.id, t.ticket_ref, t.status from ticket_messages tm join tickets t on t.id = tm.ticket_id"
        " where tm.manual_note_id = ?",
        [note_id],
    ).fetchone()
    h = ctx.reader()
    if row is None:
        click.echo(h.gettext("note %(note)d added to the journal") % {"note": note_id})
        return
    said = h.gettext("note %(note)d added to ticket %(ticket)d (%(ref)s, %(status)s)")
    ref = row[1] or h.gettext("no reference")
    click.echo(said % {"note": note_id, "ticket": row[0], "ref": ref, "status": h.ticket_status(row[2])})


@note.command(name="list")
@click.option("--provider", help="Only this provider's notes.")
@with_context
def note_list(ctx: Context, provider: str | None) -> None:
    """List the manual notes, oldest first, in your timezone.

    Example: subtrail note list --provider free-mobile
    """
    db = ctx.db()
    sql = "select id, at, provider, channel, agent_name, body, promise_text, due_on from manual_notes"
    params: list[str] = []
    if provider:
        sql += " where provider = ?"
        params.append(check_provider(db, provider, "--provider"))
    h = ctx.reader()
    pattern = h.gettext(DAY_PATTERN)
    width = max(len(h.channel(name)) for name in CHANNELS)
    for row in db.execute(sql + " order by at, id", params):
        note_id, at, slug, channel, agent, body, promise, due = row
        when = _when(h, at, pattern)
        line = f"{note_id:>4}  {when:<16}  {slug:<14} {h.channel(channel):<{width}} {agent or '-':<12} {body}"
        if promise and due:
            day = format_date(date.fromisoformat(due), pattern, locale=h.locale)
            line += "  " + h.gettext("[promise: %(promise)s by %(day)s]") % {"promise": promise, "day": day}
        elif promise:
            line += "  " + h.gettext("[promise: %(promise)s]") % {"promise": promise}
        click.echo(line)


def _when(h: Humanizer, stamp: str, pattern: str) -> str:
    """A note's moment on the reader's clock, as they write it and `--at` reads it back
    ("2026-03-03 10:02", "03/03/2026 10:02"); a local midnight is the date alone (a date typed alone)."""
    moment = h.local(stamp)
    if moment is None:
        return stamp
    day = format_date(moment.date(), pattern, locale=h.locale)
    return day if moment.time() == time() else f"{day} {moment:%H:%M}"


@note.command(name="delete")
@click.argument("note_id", type=int)
@with_context
def note_delete(ctx: Context, note_id: int) -> None:
    """Delete a manual note (a typo, a duplicate); the journal is rebuilt without it.

    Example: subtrail note delete 3
    """
    from ingest.derived.journal import rebuild_journal

    db = ctx.db()
    if db.execute("select 1 from manual_notes where id = ?", [note_id]).fetchone() is None:
        fail(f"no manual note {note_id} (see `subtrail note list`)")
    with db.atomic():
        db.execute("delete from manual_notes where id = ?", [note_id])
        rebuild_journal(db)
    click.echo(ctx.reader().gettext("note %(note)d deleted") % {"note": note_id})
