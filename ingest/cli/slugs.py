"""Provider slugs typed on the command line: a typo is refused with the closest known slug.

`note add --provider fre` used to open a journal for a provider "fre", and `export evidence
--provider netflx` wrote an empty CSV with exit 0. Known providers are the registry's (bundled,
the user's folder, plugins) and every slug the database holds (mail, subscriptions, tickets,
notes, bank charges), so a provider first entered by hand is known from then on.
"""

from __future__ import annotations

import difflib

from sqlite_utils import Database

from ingest.cli.context import fail

# (table, column) pairs that hold provider slugs.
_SLUG_COLUMNS = (
    ("providers", "slug"),
    ("messages", "provider"),
    ("subscriptions", "provider"),
    ("tickets", "provider"),
    ("manual_notes", "provider"),
    ("recurring_charges", "provider"),
)


def known_providers(db: Database) -> set[str]:
    from extractors.registry import registry

    known = set(registry().providers)
    for table, column in _SLUG_COLUMNS:
        if db[table].exists() and column in db[table].columns_dict:
            known.update(row[0] for row in db.execute(f"select distinct [{column}] from [{table}]") if row[0])
    return known


def check_provider(db: Database, slug: str, option: str, new_hint: str = "") -> str:
    """`slug` (normalised) when a provider by that slug is known; else exit 2 naming the closest one."""
    slug = slug.strip().lower()
    known = known_providers(db)
    if slug in known:
        return slug
    close = difflib.get_close_matches(slug, sorted(known), n=1, cutoff=0.6)
    hint = f"did you mean `{close[0]}`?" if close else "see: select slug from providers"
    fail(f"{option}: unknown provider `{slug}` ({hint}){new_hint}")
    return slug
