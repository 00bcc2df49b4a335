"""The dossier inside Datasette: `/dossier/<slug>` (HTML) and `/dossier/<slug>.md` (Markdown).

A Datasette plugin module (register it with `pm.register(dossier_route, name=...)`,
as `ingest.web.serve.build_datasette` does for its own plugin) so the providers table
can link each row to its case file. Reads only, through Datasette's read-only
connection, and checks the same permissions as the tables it shows. The page is
autoescaped and served with a CSP that forbids scripts, so even a bug in the
template could not run e-mail content as code.
"""

from __future__ import annotations

import re
from typing import Any

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request, Response

DB_NAME = "subtrail"
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,80}$")
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
TABLES_SHOWN = ("messages", "subscriptions", "tickets", "providers")


def dossier_path(slug: str) -> str:
    """The URL the providers table links to (relative to the Datasette root)."""
    return f"/dossier/{slug}"


def _database(datasette: Any) -> Any:
    try:
        return datasette.get_database(DB_NAME)
    except KeyError:
        return datasette.get_database()


async def dossier_page(request: Request, datasette: Any) -> Response:
    slug = request.url_vars["slug"]
    fmt = request.url_vars.get("fmt") or "html"
    db = _database(datasette)
    await datasette.ensure_permissions(
        request.actor,
        [("view-table", (db.name, table)) for table in TABLES_SHOWN]
        + [("view-database", db.name), "view-instance"],
    )
    if not SLUG_RE.match(slug):
        raise NotFound("not a provider slug")
    from ingest.web.pages import humanizer

    reader = humanizer(request, datasette)  # the page's language (the FR/EN switch), zone, currency

    def build(conn: Any) -> str | None:
        from sqlite_utils import Database

        from ingest.outputs.dossier import DossierError, build_dossier, render_html, render_markdown

        try:
            case = build_dossier(Database(conn), slug, h=reader)
        except DossierError:
            return None
        return render_markdown(case) if fmt == "md" else render_html(case)

    body = await db.execute_fn(build)
    if body is None:
        raise NotFound(f"nothing known about provider {slug}")
    headers = {
        "Content-Security-Policy": CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if fmt == "md":
        return Response(body, headers=headers, content_type="text/markdown; charset=utf-8")
    return Response.html(body, headers=headers)


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [(r"^/dossier/(?P<slug>[^/.]+)(\.(?P<fmt>md))?$", dossier_page)]
