"""`[[accounts]]` settings: defaults, and a one-line error naming what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.config import ConfigError, parse_config
from ingest.imap.poller import connection_slots


def account(**extra: Any) -> dict[str, Any]:
    return {"name": "perso", "host": "imap.example.org", "username": "me", "password_env": "X", **extra}


def test_defaults() -> None:
    parsed = parse_config({"accounts": [account()]}).accounts[0]
    assert (parsed.port, parsed.security, parsed.fetch, parsed.idle_connections) == (
        993,
        "ssl",
        "relevant",
        4,
    )
    assert connection_slots(parsed) == 2  # INBOX and Sent


@pytest.mark.parametrize(
    ("extra", "slots"),
    [({"folders": ["INBOX", "Sent", "Factures", "Support", "Archive"]}, 4), ({"idle_connections": 1}, 1)],
)
def test_one_connection_per_folder_up_to_the_cap(extra: dict[str, Any], slots: int) -> None:
    assert connection_slots(parse_config({"accounts": [account(**extra)]}).accounts[0]) == slots


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"idle_connections": 0}, "idle_connections must be a number from 1 to 20"),
        ({"idle_connections": "4"}, "idle_connections must be a number from 1 to 20"),
        ({"idle_connections": True}, "idle_connections must be a number from 1 to 20"),
        ({"fetch": "some"}, "fetch must be 'relevant' or 'all'"),
        ({"security": "none"}, "refused for imap.example.org"),
        ({"idle": 4}, "unknown setting 'idle'"),
    ],
)
def test_bad_settings_are_named(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config({"accounts": [account(**extra)]})
    assert "account 'perso'" in str(caught.value)
