"""Datasette over the subtrail database.

The database is served mutable (WAL) so the poller can write while Datasette
reads; Datasette opens it read-only for queries. Exposure rules live here:
loopback by default, anything else only with password auth configured.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_METADATA = REPO_ROOT / "datasette-metadata.yml"
SETTINGS: dict[str, Any] = {
    "sql_time_limit_ms": 3000,
    "default_page_size": 50,
    "max_returned_rows": 5000,
    "allow_download": False,  # the whole database is the user's private mail
    "suggest_facets": False,
}


class ServeError(Exception):
    pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_metadata(path: str | Path | None = None) -> dict[str, Any]:
    path = Path(path) if path else DEFAULT_METADATA
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def build_datasette(db_path: str, metadata_path: str | Path | None = None) -> Any:
    from datasette.app import Datasette

    return Datasette(
        files=[db_path],
        metadata=load_metadata(metadata_path),
        settings=SETTINGS,
        secret=os.environ.get("DATASETTE_SECRET"),
    )


def run_server(
    db_path: str, host: str = "127.0.0.1", port: int = 8001, metadata_path: str | None = None
) -> None:
    if not is_loopback(host):
        raise ServeError(f"refusing to serve on {host}: only loopback is allowed without password auth")
    import uvicorn

    ds = build_datasette(db_path, metadata_path)
    uvicorn.run(ds.app(), host=host, port=port, log_level="warning")
