"""Provider knowledge: how to cancel, whom to contact, which law applies.

One TOML file per provider in `data/providers/` (reviewable in a diff, each fact
with its `source` URL) is loaded into the `providers` table so Datasette, the
dossier and SQL can use it. Loading is idempotent and runs as a DERIVER after
every import / poll / reprocess, and before `dossier` and `status`.

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
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlite_utils import Database

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVIDERS_DIR = REPO_ROOT / "data" / "providers"

# Columns the loader owns (contract columns first, then ours); `loaded_digest` guards them.
MANAGED = (
    "name", "domains", "cancel_url", "cancel_steps", "support_url",
    "platform", "platform_route", "support_channels", "notice", "legal_basis", "sources", "source_file",
)  # fmt: skip

# Where each platform's subscriptions are cancelled: the `subscriptions.platform` value -> provider slug.
PLATFORM_PROVIDERS = {"apple": "apple-app-store", "google_play": "google-play", "paypal": "paypal"}


class ProviderFileError(ValueError):
    """A provider file cannot be used as written; the message names the file and the problem."""


@dataclass
class LoadReport:
    loaded: int = 0
    unchanged: int = 0
    kept_user_edits: list[str] = field(default_factory=list)


def providers_dir() -> Path:
    """`$SUBTRAIL_PROVIDERS_DIR` lets a user keep their own knowledge files beside the bundled ones."""
    return Path(os.environ.get("SUBTRAIL_PROVIDERS_DIR") or PROVIDERS_DIR)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _json(value: Any) -> str | None:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else None


def provider_row(data: dict[str, Any], source_file: str) -> dict[str, Any]:
    """One TOML document -> one `providers` row (lists and tables become JSON text)."""
    slug = _text(data.get("slug"))
    if not slug or slug != slug.lower() or not all(c.isascii() and (c.isalnum() or c == "-") for c in slug):
        raise ProviderFileError(f"{source_file}: `slug` must be lowercase ASCII letters, digits and '-'")
    if not _text(data.get("name")):
        raise ProviderFileError(f"{source_file}: `name` is missing")
    cancel = data.get("cancel", {}) or {}
    support = data.get("support", {}) or {}
    commitment = data.get("commitment", {}) or {}
    steps = [str(s).strip() for s in cancel.get("steps", []) if str(s).strip()]
    channels = {k: v for k, v in support.items() if k not in ("url", "source") and v}
    legal = [item for item in data.get("legal", []) if item.get("basis")]
    sources = sorted(
        {
            url
            for url in [cancel.get("source"), support.get("source"), commitment.get("source")]
            + [item.get("source") for item in legal]
            + list(data.get("sources", []))
            if url
        }
    )
    return {
        "slug": slug,
        "name": _text(data["name"]),
        "domains": _json(sorted({d.lower().strip() for d in data.get("domains", []) if d.strip()})),
        "cancel_url": _text(cancel.get("url")),
        "cancel_steps": "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1)) or None,
        "support_url": _text(support.get("url")),
        "platform": _text(data.get("platform")),
        "platform_route": _text(cancel.get("platform_route")),
        "support_channels": _json(channels),
        "notice": _text(commitment.get("notice")),
        "legal_basis": _json(legal),
        "sources": _json(sources),
        "source_file": source_file,
    }


def read_provider_files(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every `*.toml` in the directory as rows, sorted by slug; a bad file raises ProviderFileError."""
    directory = directory or providers_dir()
    rows: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ProviderFileError(f"{path.name}: {exc}") from None
        row = provider_row(data, path.name)
        if row["slug"] in rows:
            raise ProviderFileError(f"{path.name}: slug {row['slug']!r} already defined")
        rows[row["slug"]] = row
    return [rows[slug] for slug in sorted(rows)]


def digest(row: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps([row.get(c) for c in MANAGED], ensure_ascii=False).encode("utf-8")
    ).hexdigest()


def load_providers(db: Database, directory: Path | None = None, force: bool = False) -> LoadReport:
    """Upsert the provider files into `providers`, keeping rows a user edited (unless `force`)."""
    report = LoadReport()
    table = db.table("providers")
    existing = {row["slug"]: row for row in table.rows}
    for row in read_provider_files(directory):
        row["loaded_digest"] = digest(row)
        current = existing.get(row["slug"])
        if current is not None and not force:
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
    """DERIVER: keep `providers` in step with the files; a bad file is an `ingest_errors` row, not a failed import."""
    from ingest.store import record_error

    try:
        load_providers(db)
    except (ProviderFileError, OSError) as exc:
        record_error(db, "providers", str(exc), None, str(providers_dir()))


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
