"""The subtrail Datasette plugin: evidence downloads, the calendar feed, links, no robots.

Registered by `ingest.web.serve.build_datasette` (not through an entry point, so it
never touches other Datasette instances in the same environment). Every route
checks Datasette permissions, so with password auth on nothing leaks.

Cells are always escaped: e-mail content is untrusted and is shown as text only.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request, Response
from markupsafe import Markup, escape

from ingest.outputs.calendar import build_calendar
from ingest.web.pages import humanizer

DB_NAME = "subtrail"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
ROBOTS_TXT = "User-agent: *\nDisallow: /\n"
# Column descriptions (metadata) as a compact grid rather than one long list above the table.
CSS = """
dl.column-descriptions { display: grid; grid-template-columns: max-content 1fr; gap: 0.1em 1em;
  font-size: 0.85em; max-height: 12em; overflow-y: auto; border-left: 3px solid #ddd; padding-left: 0.6em; }
dl.column-descriptions dt { margin: 0; }
dl.column-descriptions dd { margin: 0; color: #555; }
/* Message text gets room, so a page of messages is not one tall narrow column of words. */
.rows-and-columns td.col-body_text, .rows-and-columns td.col-body, .rows-and-columns td.col-detail,
.rows-and-columns td.col-text { min-width: 26em; }
body.table td.col-body_text, body.table td.col-body { white-space: normal; }  /* the row page keeps lines */
"""
# Columns holding a message's sha256, per table (None: any table or a query result).
SHA_COLUMNS = {"sha256", "message_sha256"}
ID_LINKS = {
    "ticket_id": "tickets",
    "subscription_id": "subscriptions",
    "ticket_message_id": "ticket_messages",
}


def eml_filename(date: str | None, sha256: str) -> str:
    """`2026-03-01_1a2b3c4d5e6f.eml`: sorts by date, unique enough, safe on every filesystem."""
    day = date[:10] if date and re.match(r"^\d{4}-\d{2}-\d{2}", date) else "undated"
    return f"{day}_{sha256[:12]}.eml"


def evidence_path(sha256: str) -> str:
    return f"/evidence/{sha256}.eml"


async def evidence(request: Request, datasette: Any) -> Response:
    """The raw message exactly as stored, as a download (never rendered by the browser)."""
    sha256 = request.url_vars["sha256"]
    await datasette.ensure_permissions(
        request.actor,
        [("view-table", (DB_NAME, "raw_messages")), ("view-database", DB_NAME), "view-instance"],
    )
    if not SHA256_RE.match(sha256):
        raise NotFound("not a sha256")
    db = datasette.get_database(DB_NAME)
    row = (
        await db.execute(
            """select r.raw, (select m.date from messages m where m.sha256 = r.sha256) as date
               from raw_messages r where r.sha256 = ?""",
            [sha256],
        )
    ).first()
    if row is None:
        raise NotFound("no stored message with that sha256")
    return Response(
        bytes(row["raw"]),
        content_type="message/rfc822",
        headers={
            "content-disposition": f'attachment; filename="{eml_filename(row["date"], sha256)}"',
            "x-content-type-options": "nosniff",
            "content-security-policy": "sandbox",
            "cache-control": "private, max-age=31536000, immutable",  # content-addressed
        },
    )


async def calendar(request: Request, datasette: Any) -> Response:
    """The iCalendar feed a calendar app can subscribe to."""
    await datasette.ensure_permissions(request.actor, [("view-database", DB_NAME), "view-instance"])
    db = datasette.get_database(DB_NAME)
    version = _lookup(datasette).data_version()
    h = humanizer(request, datasette)  # the config's language, or the FR/EN switch's
    key = f"{db.path}|{h.language}|{h.timezone}|{h.currency}"
    cached = _CALENDAR_CACHE.get(key)
    if cached and cached[0] == version:
        body = cached[1]
    else:  # rebuilt only after a write by another connection (the poller, an import)
        body = await db.execute_fn(lambda conn: build_calendar(conn, h=h))
        _CALENDAR_CACHE[key] = (version, body)
    return Response(
        body,
        content_type="text/calendar; charset=utf-8",
        headers={"content-disposition": 'inline; filename="subtrail.ics"', "cache-control": "no-cache"},
    )


async def robots(request: Request, datasette: Any) -> Response:
    return Response.text(ROBOTS_TXT)


async def stylesheet(request: Request, datasette: Any) -> Response:
    return Response(CSS, content_type="text/css; charset=utf-8")


@hookimpl
def extra_css_urls(datasette: Any) -> list[str]:
    return [datasette.urls.path("/-/subtrail.css")]


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/evidence/(?P<sha256>[^/]+)\.eml$", evidence),
        (r"^/calendar\.ics$", calendar),
        (r"^/robots\.txt$", robots),
        (r"^/-/subtrail\.css$", stylesheet),
    ]


@hookimpl
def asgi_wrapper(datasette: Any) -> Any:
    """`X-Robots-Tag: noindex` on every response: private mail is never for search engines."""

    def wrap(app: Any) -> Any:
        async def add_header(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return

            async def send_with_header(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers") or [])
                    headers.append((b"x-robots-tag", b"noindex, nofollow"))
                    message = {**message, "headers": headers}
                await send(message)

            await app(scope, receive, send_with_header)

        return add_header

    return wrap


def _row_value(row: Any, key: str) -> Any:
    try:
        return row[key]
    except (KeyError, IndexError, TypeError):
        return None


def _link(href: str, text: str, title: str | None = None) -> str:
    extra = f' title="{escape(title)}"' if title else ""
    return f'<a href="{escape(href)}"{extra}>{escape(text)}</a>'


@hookimpl
def render_cell(row: Any, value: Any, column: str, table: str | None, database: str, datasette: Any) -> Any:
    """Links from evidence and ids to where they lead; everything else keeps Datasette's escaping."""
    if database != DB_NAME or value is None or value == "":
        return None
    if column in SHA_COLUMNS and isinstance(value, str) and SHA256_RE.match(value):
        if table == "messages":
            return _message_links(value, datasette)
        base = datasette.urls.table(DB_NAME, "messages")
        return Markup(
            _link(f"{base}?sha256={value}", value[:12] + "…", "the message")
            + " "
            + _link(evidence_path(value), ".eml", "download the raw message")
        )
    if column in ID_LINKS and table != ID_LINKS[column] and isinstance(value, int):
        link = _link(datasette.urls.row(DB_NAME, ID_LINKS[column], str(value)), str(value))
        if column == "ticket_id":
            timeline = datasette.urls.path(f"/{DB_NAME}/ticket_timeline?ticket={value}")
            link += " " + _link(timeline, "timeline")
        return Markup(link)
    # Primary-key cells are rendered by Datasette itself, so row links go on another column.
    if column == "raw" and table == "raw_messages" and isinstance(sha := _row_value(row, "sha256"), str):
        if SHA256_RE.match(sha) and isinstance(value, bytes):
            return Markup(
                _link(evidence_path(sha), f"{len(value):,} bytes (.eml)", "download the raw message")
            )
    if (
        column == "service_name"
        and table == "subscriptions"
        and isinstance(row_id := _row_value(row, "id"), int)
    ):
        events = datasette.urls.path(f"/{DB_NAME}/subscription_events?subscription_id={row_id}")
        return Markup(
            f"{escape(value)} (" + _link(events, "events", "every fact behind it, with evidence") + ")"
        )
    if column == "subject" and table == "tickets" and isinstance(row_id := _row_value(row, "id"), int):
        timeline = datasette.urls.path(f"/{DB_NAME}/ticket_timeline?ticket={row_id}")
        return Markup(f"{escape(value)} (" + _link(timeline, "timeline", "every exchange and promise") + ")")
    if column == "name" and table == "providers" and isinstance(row_slug := _row_value(row, "slug"), str):
        timeline = datasette.urls.path(f"/{DB_NAME}/provider_history?provider={quote(row_slug)}")
        return Markup(
            f"{escape(value)} ("
            + _link(datasette.urls.path(f"/dossier/{quote(row_slug)}"), "dossier", "what to have at hand")
            + " · "
            + _link(timeline, "timeline", "everything about this provider")
            + ")"
        )
    if column == "provider" and isinstance(value, str) and table != "providers":
        timeline = datasette.urls.path(f"/{DB_NAME}/provider_history?provider={quote(value)}")
        return Markup(_link(timeline, value, "everything about this provider"))
    return None


class _Lookup:
    """A read-only connection of our own for tiny indexed look-ups while rendering cells.

    Going through Datasette's thread pool costs about 2 ms per call; a table page has
    50 message rows, so each sha256 cell asks this connection directly (microseconds).
    Its `PRAGMA data_version` also tells when another connection (the poller) committed,
    which keys the calendar cache.
    """

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.lock = threading.Lock()

    def one(self, sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def data_version(self) -> int:
        with self.lock:
            return int(self.conn.execute("PRAGMA data_version").fetchone()[0])


_LOOKUPS: dict[str, _Lookup] = {}
_CALENDAR_CACHE: dict[str, tuple[int, bytes]] = {}


def _lookup(datasette: Any) -> _Lookup:
    path = str(datasette.get_database(DB_NAME).path)
    if path not in _LOOKUPS:
        _LOOKUPS[path] = _Lookup(path)
    return _LOOKUPS[path]


def _message_links(sha256: str, datasette: Any) -> Markup:
    """A message's sha256 cell: the raw `.eml`, and the ticket and subscription it belongs to."""
    row = _lookup(datasette).one(
        """select (select ticket_id from ticket_messages where message_sha256 = :s
                   order by id limit 1),
                  (select subscription_id from subscription_events where message_sha256 = :s
                   and subscription_id is not null order by id limit 1)""",
        {"s": sha256},
    )
    parts = [_link(evidence_path(sha256), sha256[:12] + "… .eml", "download the raw message")]
    if row and row[0] is not None:
        parts.append(_link(datasette.urls.row(DB_NAME, "tickets", str(row[0])), "ticket"))
    if row and row[1] is not None:
        parts.append(_link(datasette.urls.row(DB_NAME, "subscriptions", str(row[1])), "subscription"))
    return Markup(" · ".join(parts))
