"""The pages a person uses, inside Datasette: overview, inventory, journal, a case, a provider.

A Datasette plugin module (registered by `ingest.web.serve.build_datasette`). It owns `/`
(plugin routes come before Datasette's own), so Datasette's index moves behind the "Data"
link (`/subtrail`): tables, SQL, JSON and CSV stay as they were. Reads go through
Datasette's read-only connection; the two forms (a correction, a subscription added by
hand) write through Datasette's single write thread, with its CSRF token, and only from
this machine or a logged-in user.

Words, not codes: every value goes through a `Humanizer` in the reader's language
(`language` in the config, or the one chosen with the FR/EN switch), time zone and
currency. Templates are autoescaped and the pages run no script (CSP), so mail text can
only ever be text.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request, Response, asgi_static
from jinja2 import ChoiceLoader, FileSystemLoader

from ingest.config import is_loopback
from ingest.derived.corrections import (
    CATEGORIES,
    PLATFORMS,
    STATUSES,
    Correction,
    CorrectionError,
    add_subscription,
    record_corrections,
)
from ingest.outputs import queries
from ingest.outputs.dossier_templates import CHANNELS
from ingest.outputs.fx import current_rates
from ingest.outputs.humanize import Humanizer, available_languages, system_language, system_timezone
from ingest.store import today

DB_NAME = "subtrail"
PLUGIN = "subtrail"
HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
LANGUAGE_COOKIE = "subtrail_lang"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
PERIODS = ("P1W", "P4W", "P1M", "P2M", "P3M", "P6M", "P1Y")
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def settings(datasette: Any) -> dict[str, Any]:
    """The display settings `subtrail serve` put in the plugin config (system defaults otherwise)."""
    return datasette.plugin_config(PLUGIN) or {}


def humanizer(request: Request, datasette: Any) -> Humanizer:
    config = settings(datasette)
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    language = chosen if chosen in available_languages() else config.get("language") or system_language()
    return Humanizer(
        language=language,
        timezone=config.get("timezone") or system_timezone(),
        currency=config.get("currency") or "EUR",
    )


def may_write(request: Request, datasette: Any) -> bool:
    """Corrections only from a logged-in user, or from this machine to a loopback address."""
    if settings(datasette).get("auth"):
        return request.actor is not None
    client = (request.scope.get("client") or ("", 0))[0]
    host = request.host.rsplit(":", 1)[0].strip("[]") if request.host else ""
    return is_loopback(client) and is_loopback(host)


HUES = 12


def csrf_checked(request: Request) -> bool:
    """Datasette's CSRF check (asgi-csrf) only runs when the request carries cookies: a forged
    cross-site POST to 127.0.0.1 from a browser that never opened the pages has none. So our
    forms also need the CSRF cookie (then asgi-csrf has compared it with the form's token) and,
    when the browser says where the form came from, this same site."""
    if not request.cookies.get("ds_csrftoken"):
        return False
    origin = request.headers.get("origin")
    return origin is None or origin.split("://", 1)[-1] == request.host


def initial_hue(slug: str | None) -> int:
    """A stable colour (one of `HUES` CSS classes) per provider for its initial: no logos are fetched,
    nothing leaves the machine, and no inline style is needed under the CSP."""
    return int(hashlib.sha256((slug or "").encode()).hexdigest()[:4], 16) % HUES


async def _check(request: Request, datasette: Any) -> Any:
    db = datasette.get_database(DB_NAME)
    await datasette.ensure_permissions(request.actor, [("view-database", db.name), "view-instance"])
    return db


async def _render(
    request: Request, datasette: Any, template: str, context: dict[str, Any], status: int = 200
) -> Response:
    h = humanizer(request, datasette)
    path = request.path
    html = await datasette.render_template(
        template,
        {
            **context,
            "h": h,
            "_": h.gettext,
            "today": today(),
            "page_path": path,
            "languages": available_languages(),
            "language_url": lambda lang: "/-/subtrail/language?" + urlencode({"to": lang, "back": path}),
            "can_write": may_write(request, datasette),
            "initial_hue": initial_hue,
            "categories": CATEGORIES,
            "channel_labels": CHANNELS,  # support_channels keys in words ("mediator" -> "Consumer mediator")
            "statuses": STATUSES,
            "platforms": PLATFORMS,
            "periods": PERIODS,
            "static": lambda name: f"/-/subtrail/static/{name}",
            "quote": lambda value: quote(value or ""),
        },
        request=request,
    )
    return Response.html(
        html,
        status=status,
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Content-Language": h.language,
        },
    )


def _rates(datasette: Any) -> Any:
    """The newest ECB rates known: what `subtrail status` fetched today (kept beside the database),
    else the shipped file; a page never waits on the network."""
    path = datasette.get_database(DB_NAME).path
    return current_rates(Path(path).parent if path else None, today(), url=None)


async def overview(request: Request, datasette: Any) -> Response:
    db = await _check(request, datasette)
    main = humanizer(request, datasette).currency
    on = today()

    def read(conn: Any) -> dict[str, Any]:
        subs = queries.subscriptions(conn, main, _rates(datasette))
        running = [s for s in subs if s["status"] in queries.RUNNING and not s.get("dismissed")]
        return {
            "running": running,
            "totals": queries.totals(subs, main),
            "renewals": queries.renewals(subs, on),
            "open_cases": queries.open_cases(conn),
            "overdue": queries.overdue_promises(conn, on),
            "bank": queries.bank_findings(conn),
        }

    return await _render(request, datasette, "subtrail_overview.html", await db.execute_fn(read))


async def inventory(request: Request, datasette: Any) -> Response:
    db = await _check(request, datasette)
    main = humanizer(request, datasette).currency

    def read(conn: Any) -> dict[str, Any]:
        subs = queries.subscriptions(conn, main, _rates(datasette))
        return {"groups": queries.split_inventory(subs), "totals": queries.totals(subs, main)}

    return await _render(request, datasette, "subtrail_inventory.html", await db.execute_fn(read))


async def journal(request: Request, datasette: Any) -> Response:
    db = await _check(request, datasette)
    cases = await db.execute_fn(queries.cases)
    return await _render(request, datasette, "subtrail_journal.html", {"cases": cases})


async def case(request: Request, datasette: Any) -> Response:
    db = await _check(request, datasette)
    ticket_id = int(request.url_vars["ticket_id"])
    found = await db.execute_fn(lambda conn: queries.ticket(conn, ticket_id))
    if found is None:
        raise NotFound("no such case")
    return await _render(request, datasette, "subtrail_case.html", {"case": found})


async def provider(request: Request, datasette: Any) -> Response:
    db = await _check(request, datasette)
    slug = request.url_vars["slug"]
    if not SLUG_RE.match(slug):
        raise NotFound("not a provider slug")
    main = humanizer(request, datasette).currency
    found = await db.execute_fn(lambda conn: queries.provider(conn, slug, main, _rates(datasette)))
    if found is None:
        raise NotFound(f"nothing known about provider {slug}")
    return await _render(request, datasette, "subtrail_provider.html", {"p": found, "slug": slug})


async def evidence_zip(request: Request, datasette: Any) -> Response:
    """`subtrail export evidence --provider SLUG --format zip`, as a download."""
    db = datasette.get_database(DB_NAME)
    await datasette.ensure_permissions(
        request.actor,
        [("view-table", (DB_NAME, "raw_messages")), ("view-database", DB_NAME), "view-instance"],
    )
    slug = request.url_vars["slug"]
    if not SLUG_RE.match(slug):
        raise NotFound("not a provider slug")
    reader = humanizer(request, datasette)

    def build(conn: Any) -> bytes:
        from sqlite_utils import Database

        from ingest.outputs.export import Filters, export_evidence

        return export_evidence(Database(conn), Filters(provider=slug), fmt="zip", h=reader)

    body = await db.execute_fn(build)
    return Response(
        body,
        content_type="application/zip",
        headers={"content-disposition": f'attachment; filename="evidence-{slug}.zip"'},
    )


def _back(value: str | None) -> str:
    """Only a path on this site to go back to (never another host)."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/inventory"


async def _form(request: Request) -> dict[str, str]:
    return {k: v.strip() for k, v in (await request.post_vars()).items() if isinstance(v, str)}


async def _writable_form(
    request: Request, datasette: Any, what: str
) -> tuple[Response | None, dict[str, str]]:
    """The posted form, or the refusal: not a POST, an expired or cross-site form, a writer not allowed."""
    if request.method != "POST":
        return Response.text(f"POST the form: {what} only that way", status=405), {}
    await _check(request, datasette)
    form = await _form(request)
    if not csrf_checked(request):
        return Response.text("form expired or sent from another site: reload the page", status=403), form
    if not may_write(request, datasette):
        return Response.text(f"{what} from this machine or a logged-in user", status=403), form
    return None, form


async def correct(request: Request, datasette: Any) -> Response:
    """POST from the correction form of a subscription: one `corrections` row per field changed."""
    refused, form = await _writable_form(request, datasette, "corrections are accepted")
    if refused:
        return refused
    h, back = humanizer(request, datasette), _back(form.get("back"))
    try:
        sub_id = int(form.get("subscription_id", ""))
    except ValueError:
        return Response.text("which subscription?", status=400)
    note = form.get("note") or None
    changes = [
        Correction(name, form[name], note)
        for name in ("status", "ended_on", "amount", "period", "category")
        if form.get(name)
    ]
    if form.get("dismiss") or form.get("undismiss"):
        changes.append(Correction("dismissed", "0" if form.get("undismiss") else "1", note))
    if not changes and note:
        changes.append(Correction("note", None, note))

    def write(conn: Any) -> None:
        from sqlite_utils import Database

        record_corrections(Database(conn), sub_id, changes, h.currency, source="web")

    try:
        await datasette.get_database(DB_NAME).execute_write_fn(write, block=True)
    except CorrectionError as exc:
        datasette.add_message(request, str(exc), datasette.ERROR)
        return Response.redirect(back)
    datasette.add_message(request, h.gettext("Your correction is kept."), datasette.INFO)
    return Response.redirect(back)


async def add(request: Request, datasette: Any) -> Response:
    """POST from the "add a subscription" form."""
    refused, form = await _writable_form(request, datasette, "subscriptions are added")
    if refused:
        return refused
    h, back = humanizer(request, datasette), _back(form.get("back"))

    def write(conn: Any) -> int:
        from sqlite_utils import Database

        return add_subscription(
            Database(conn),
            form.get("provider", ""),
            form.get("amount", ""),
            form.get("period", ""),
            started_on=form.get("started_on") or None,
            category=form.get("category") or None,
            note=form.get("note") or None,
            main_currency=h.currency,
            source="web",
        )

    try:
        await datasette.get_database(DB_NAME).execute_write_fn(write, block=True)
    except CorrectionError as exc:
        datasette.add_message(request, str(exc), datasette.ERROR)
        return Response.redirect(back)
    datasette.add_message(request, h.gettext("The subscription is added."), datasette.INFO)
    return Response.redirect(back)


async def language(request: Request, datasette: Any) -> Response:
    """The FR/EN switch: a cookie, then back to the page it was clicked on."""
    chosen = request.args.get("to", "")
    response = Response.redirect(_back(request.args.get("back") or "/"))
    if chosen in available_languages():
        response.set_cookie(LANGUAGE_COOKIE, chosen, max_age=365 * 86400, samesite="lax")
    return response


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/$", overview),
        (r"^/inventory$", inventory),
        (r"^/journal$", journal),
        (r"^/journal/(?P<ticket_id>\d{1,12})$", case),
        (r"^/provider/(?P<slug>[^/.]+)$", provider),
        (r"^/provider/(?P<slug>[^/.]+)/evidence\.zip$", evidence_zip),
        (r"^/-/subtrail/correct$", correct),
        (r"^/-/subtrail/add$", add),
        (r"^/-/subtrail/language$", language),
        (r"^/-/subtrail/static/(?P<path>.*)$", asgi_static(str(STATIC))),
    ]


@hookimpl
def prepare_jinja2_environment(env: Any) -> None:
    """Our templates first (all named `subtrail_*`), then Datasette's."""
    env.loader = ChoiceLoader([FileSystemLoader(str(TEMPLATES)), env.loader])


@hookimpl
def menu_links(datasette: Any, actor: Any, request: Any) -> list[dict[str, str]]:
    """Datasette's own pages lead back to ours."""
    h = humanizer(request, datasette) if request is not None else Humanizer()
    return [
        {"href": "/", "label": h.gettext("Overview")},
        {"href": "/inventory", "label": h.gettext("Inventory")},
        {"href": "/journal", "label": h.gettext("Journal")},
    ]
