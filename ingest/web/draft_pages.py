"""The "draft" action of the pages: the letter to copy, from `/provider/<slug>` and `/journal/<id>`.

A Datasette plugin module beside `pages` (registered by `ingest.web.serve.build_datasette`).
The text is `subtrail draft`'s (`ingest.outputs.drafts`), in the page's language: cancel and
claim for a provider, follow-up for a case. Read-only GET pages: subtrail never sends a draft,
so there is nothing to post; the person copies the text (a read-only text area, no script under
the CSP) into their own mail or letter. Facts not found stay visible placeholders. The templates
a user edited (`draft_templates/` beside the config) and their own addresses come from the plugin
config `subtrail serve` writes (`drafts`), so the web and the command give the same letter.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from datasette import hookimpl
from datasette.utils.asgi import NotFound, Request, Response

from ingest.outputs.drafts import LANGUAGES, Draft, DraftError, build_draft, evidence_filters
from ingest.store import today
from ingest.web.pages import SLUG_RE, _check, _render, humanizer, settings

PROVIDER_KINDS = ("cancel", "claim")  # a follow-up belongs to a case, not a provider


def draft_language(language: str) -> str:
    """The page's language when drafts exist in it, else French (the letters' legal language)."""
    return language if language in LANGUAGES else "fr"


async def _draft_page(request: Request, datasette: Any, kind: str, target: str, back: str) -> Response:
    db = await _check(request, datasette)
    reader = humanizer(request, datasette)
    lang = draft_language(reader.language)
    on = today()
    drafts = settings(datasette).get("drafts") or {}
    templates = Path(drafts["templates"]) if drafts.get("templates") else None
    mine = tuple(drafts.get("addresses") or ())

    def build(conn: Any) -> Draft | None:
        from sqlite_utils import Database

        try:
            return build_draft(
                Database(conn), kind, target, lang=lang, today=on, my_addresses=mine, user_templates=templates,
                timezone=reader.timezone,
            )  # fmt: skip
        except DraftError:
            return None

    draft = await db.execute_fn(build)
    if draft is None:
        raise NotFound(f"nothing to draft a {kind} from")
    context = {
        "draft": draft,
        "back": back,
        "provider_name": (draft.facts.get("provider") or {}).get("name") or draft.provider,
        "rows": min(60, max(12, draft.text.count("\n") + 2)),
        "with_evidence": evidence_filters(draft) is not None,
        "evidence_url": f"/provider/{quote(draft.provider)}/evidence.zip",
    }
    return await _render(request, datasette, "subtrail_draft.html", context)


async def provider_draft(request: Request, datasette: Any) -> Response:
    slug, kind = request.url_vars["slug"], request.url_vars["kind"]
    if not SLUG_RE.match(slug) or kind not in PROVIDER_KINDS:
        raise NotFound("no such draft")
    return await _draft_page(request, datasette, kind, slug, f"/provider/{quote(slug)}")


async def case_draft(request: Request, datasette: Any) -> Response:
    ticket_id = int(request.url_vars["ticket_id"])
    return await _draft_page(request, datasette, "follow-up", f"#{ticket_id}", f"/journal/{ticket_id}")


@hookimpl
def register_routes() -> list[tuple[str, Any]]:
    return [
        (r"^/provider/(?P<slug>[^/.]+)/draft/(?P<kind>[a-z-]+)$", provider_draft),
        (r"^/journal/(?P<ticket_id>\d{1,12})/draft$", case_draft),
    ]
