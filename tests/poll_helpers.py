"""Shared helpers for the poller tests: configs pointing at the test Dovecot, row counts, waiting."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ingest.config import Config, parse_config
from tests.dovecot import Dovecot

ME = "alice@example.org"


def account_for(server: Dovecot, user: str, name: str = "test", **extra: Any) -> dict[str, Any]:
    """An [[accounts]] table for `user`; the password goes through an environment variable."""
    env = f"SUBTRAIL_TEST_PW_{abs(hash((user, name))) % 10**8}"
    os.environ[env] = server.passwords[user]
    account: dict[str, Any] = {
        "name": name,
        "host": "127.0.0.1",
        "port": server.port,
        "security": "none",
        "username": user,
        "password_env": env,
        "fetch": "all",
    }
    if server.tls:
        account.update(security="ssl", port=server.ssl_port, tls_ca_file=str(server.cert))
    account.update(extra)
    return account


def config_for(*accounts: dict[str, Any], db: str | None = None) -> Config:
    data: dict[str, Any] = {"identity": {"addresses": [ME]}, "accounts": list(accounts)}
    if db:
        data["db"] = db
    return parse_config(data)


def toml_for(path: Path, db: Path, *accounts: dict[str, Any]) -> Path:
    """The same config as a subtrail.toml, for tests that run the `subtrail` command."""
    lines = [f'db = "{db}"', "", "[identity]", f'addresses = ["{ME}"]', ""]
    for account in accounts:
        lines.append("[[accounts]]")
        for key, value in account.items():
            if isinstance(value, str):
                lines.append(f'{key} = "{value}"')
            elif isinstance(value, list):
                lines.append(f"{key} = [{', '.join(repr(v).replace(chr(39), chr(34)) for v in value)}]")
            else:
                lines.append(f"{key} = {value}")
        lines.append("")
    path.write_text("\n".join(lines))
    return path


def count(db: Database, sql: str, params: list[Any] | None = None) -> int:
    return int(db.execute(sql, params or []).fetchone()[0])


def stored_uids(db: Database, account: str, folder: str) -> list[int]:
    return [
        r[0]
        for r in db.execute(
            "select uid from message_locations where account = ? and folder = ? and gone_at is null order by uid",
            [account, folder],
        )
    ]


def stored_count(db_path: Path, table: str = "messages") -> int:
    """Rows of `table` (default: messages, i.e. parsed and indexed; `raw_messages`: bytes stored)
    so far by another process or thread, without creating the file or holding it open (the
    poller switches a new database to WAL, which needs it to itself)."""
    if not db_path.exists():
        return 0
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute(f"select count(*) from [{table}]").fetchone()[0])
    except sqlite3.OperationalError:  # schema not created yet
        return 0
    finally:
        conn.close()


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, every: float = 0.01) -> bool:
    """Poll `condition` every `every` seconds until it holds or `timeout` passes; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()
