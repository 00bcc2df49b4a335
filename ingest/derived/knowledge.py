"""Provider knowledge in the database: the `providers` table, filled from the provider registry.

Each provider file (`extractors/providers/<slug>.toml`, a user's `$SUBTRAIL_PROVIDERS_DIR`,
plugins; see `extractors.registry`) says how to cancel, whom to contact and which law
applies, each fact with its `source` URL. Loading them into `providers` lets Datasette,
the dossier and SQL use them. Loading is idempotent and runs as a rebuild step (`ingest.pipeline.steps`) after every
import / poll / reprocess, and before `dossier` and `status`.

User edits win: each loaded row keeps `loaded_digest`, the hash of the managed
columns as written by the loader. If the row in the database no longer hashes to
it, someone edited it (in Datasette, with SQL) and the loader leaves it alone;
`load_providers(db, force=True)` overwrites it again. Rows whose slug has no file
(added by hand or by another feature) are never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from extractors.registry import PROVIDERS_DIR, USER_DIR_ENV, Provider, ProviderFileError, Registry, registry
from ingest.store import record_error

__all__ = ["ProviderFileError", "LoadReport", "provider_row", "provider_rows", "load_providers"]

# Columns the loader owns (contract columns first, then ours); `loaded_digest` guards them.
MANAGED = (
    "name", "domains", "cancel_url", "cancel_steps", "support_url",
    "platform", "platform_route", "support_channels", "notice", "legal_basis", "sources", "source_file",
)  # fmt: skip


@dataclass
class LoadReport:
    loaded: int = 0
    unchanged: int = 0
    kept_user_edits: list[str] = field(default_factory=list)


def _json(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None


def provider_row(provider: Provider) -> dict[str, Any]:
    """One provider -> one `providers` row (lists and tables become JSON text)."""
    known = provider.knowledge
    return {
        "slug": provider.slug,
        "name": provider.name,
        "domains": _json(sorted(set(provider.domains))),
        "cancel_url": known.cancel_url,
        "cancel_steps": "\n".join(f"{i}. {s}" for i, s in enumerate(known.cancel_steps, 1)) or None,
        "support_url": known.support_url,
        # a platform is where its own subscriptions are cancelled; a service may be billed through one
        "platform": provider.platform if provider.role == "platform" else known.billed_through,
        "platform_route": known.platform_route,
        "support_channels": _json(dict(known.support_channels)),
        "notice": known.notice,
        "legal_basis": _json(
            [{"basis": law.basis, "text": law.text, "source": law.source} for law in known.legal]
        ),
        "sources": _json(list(known.sources)),
        "source_file": Path(provider.source).name if provider.source else None,
        # Outside MANAGED: a row a user edited still gets its category, and old digests stay valid.
        "category": provider.category,
    }


def provider_rows(providers: Registry | None = None) -> list[dict[str, Any]]:
    """Every provider of the registry as a row, sorted by slug; a bad file raises ProviderFileError."""
    found = (providers or registry()).providers
    return [provider_row(found[slug]) for slug in sorted(found)]


def digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps([row.get(c) for c in MANAGED], ensure_ascii=False).encode("utf-8")
    ).hexdigest()


def load_providers(db: Database, providers: Registry | None = None, force: bool = False) -> LoadReport:
    """Upsert the registry's providers into `providers`, keeping rows a user edited (unless `force`)."""
    report = LoadReport()
    table = db.table("providers")
    existing = {row["slug"]: row for row in table.rows}
    for row in provider_rows(providers):
        row["loaded_digest"] = digest(row)
        current = existing.get(row["slug"])
        if current is not None and not force:
            if not current.get("category") and row["category"]:
                table.update(row["slug"], {"category": row["category"]})
            if current.get("loaded_digest") and digest(current) != current["loaded_digest"]:
                report.kept_user_edits.append(row["slug"])
                continue
            if current.get("loaded_digest") == row["loaded_digest"]:
                report.unchanged += 1
                continue
        table.upsert(row, pk="slug", alter=True)
        report.loaded += 1
    return report


def derive_providers(db: Database) -> None:
    """Rebuild step: keep `providers` in step with the files; a bad user file is an `ingest_errors` row, not a failed import."""
    source = os.environ.get(USER_DIR_ENV) or str(PROVIDERS_DIR)
    try:
        providers = registry()
        load_providers(db, providers)
    except (ProviderFileError, OSError) as exc:
        record_error(db, "providers", str(exc), None, source)
        return
    for problem in providers.problems:
        record_error(db, "providers", problem, None, source)


def get_provider(db: Database, slug: str) -> dict[str, Any] | None:
    """A `providers` row with its JSON columns decoded, or None."""
    rows = list(db.query("select * from providers where slug = ?", [slug]))
    if not rows:
        return None
    row = dict(rows[0])
    for column, empty in (("domains", []), ("support_channels", {}), ("legal_basis", []), ("sources", [])):
        try:
            row[column] = json.loads(row[column]) if row.get(column) else empty
        except (TypeError, ValueError):
            row[column] = empty
    return row
