"""Every command has help text with an example, and the README documents every command."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from ingest.cli import cli
from tests.conftest import REPO


def all_commands(group: click.Group = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append(path)
        if isinstance(command, click.Group):
            found.extend(all_commands(command, path))
    return found


CONTRACT_COMMANDS = [
    ("init",), ("import",), ("poll",), ("reprocess",), ("serve",), ("export", "evidence"), ("export", "calendar"),
    ("dossier",), ("bank", "import"), ("verify",),
]  # fmt: skip


@pytest.mark.parametrize("path", CONTRACT_COMMANDS, ids=" ".join)
def test_contract_commands_exist(path: tuple[str, ...]) -> None:
    assert path in all_commands()


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_every_command_has_help_with_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    if not isinstance(command, click.Group):
        assert "Example:" in result.output, f"`subtrail {' '.join(path)} --help` has no Example:"
        assert "--db" in result.output and "--config" in result.output


@pytest.mark.parametrize("path", [p for p in all_commands() if len(p) == 1], ids=" ".join)
def test_readme_mentions_every_command(path: tuple[str, ...]) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert f"subtrail {path[0]}" in readme
