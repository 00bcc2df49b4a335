"""`[[accounts]]` settings: defaults, and a one-line error naming what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ingest.cli import cli
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
        ({"idle": 4}, "unknown key `idle`"),
    ],
)
def test_bad_settings_are_named(extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config({"accounts": [account(**extra)]})
    assert "account 'perso'" in str(caught.value)


# --- unknown keys anywhere: exit 2, the key, the file and the closest known key (issue #14) ---------


@pytest.mark.parametrize(
    ("data", "key", "closest"),
    [
        ({"identiy": {"addresses": ["a@example.org"]}}, "identiy", "identity"),
        ({"dbpath": "x.db"}, "dbpath", "db"),
        ({"timezon": "Europe/Paris"}, "timezon", "timezone"),
        ({"account": [account()]}, "account", "accounts"),
    ],
)
def test_unknown_top_level_key_names_the_closest(data: dict[str, Any], key: str, closest: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("/home/me/subtrail.toml"))
    message = str(caught.value)
    assert f"unknown key `{key}`" in message and f"did you mean `{closest}`?" in message
    assert message.startswith("/home/me/subtrail.toml") and "\n" not in message


@pytest.mark.parametrize(
    ("data", "key", "closest", "table"),
    [
        ({"identity": {"adresses": ["a@example.org"]}}, "adresses", "addresses", "[identity]"),
        ({"notify": {"day_before": [3]}}, "day_before", "days_before", "[notify]"),
        ({"accounts": [account(pasword_env="X")]}, "pasword_env", "password_env", "account 'perso'"),
        (
            {"accounts": [account(auth="xoauth2", oauth={"provider": "google", "clientid": "x"})]},
            "clientid",
            "client_id",
            "[accounts.oauth]",
        ),
    ],
)
def test_unknown_key_in_every_table_names_the_closest(
    data: dict[str, Any], key: str, closest: str, table: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(data, Path("subtrail.toml"))
    message = str(caught.value)
    assert f"unknown key `{key}`" in message and f"did you mean `{closest}`?" in message
    assert table in message and message.startswith("subtrail.toml")


def test_cli_unknown_config_key_exits_2_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "subtrail.toml"
    config.write_text('[identiy]\naddresses = ["alice@example.org"]\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["status", "--config", str(config), "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert str(config) in lines[0] and "`identiy`" in lines[0] and "did you mean `identity`?" in lines[0]
    assert not (tmp_path / "x.db").exists()


def test_unknown_key_far_from_every_known_key_lists_them() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"kind": "receipt"})
    assert "unknown key `kind`" in str(caught.value) and "known keys: `accounts`" in str(caught.value)
