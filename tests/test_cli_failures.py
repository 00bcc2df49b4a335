"""No silent failure (issue #14): every failure is one line and exit 0/1/2 (2 = usage or configuration,
1 = a runtime failure), and a setup left half done (the placeholder identity of `init`) is refused."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingest.cli import cli
from ingest.store.schema import open_db
from tests.conftest import SAMPLE
from tests.serve_helpers import subtrail_command


def _init(tmp_path: Path) -> Path:
    """A fresh `subtrail init` directory; returns its config file."""
    result = CliRunner().invoke(cli, ["init", str(tmp_path / "home")])
    assert result.exit_code == 0, result.output
    return tmp_path / "home" / "subtrail.toml"


def _one_error_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert lines[0].startswith("subtrail: error: "), output
    assert "Traceback" not in output
    return lines[0]


def _with_account(config: Path) -> None:
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[[accounts]]\nname = "perso"\nhost = "127.0.0.1"\nport = 1\nsecurity = "none"\n'
        'username = "alice"\npassword_env = "SUBTRAIL_TEST_SET_PASSWORD"\n',
        encoding="utf-8",
    )


def test_import_refuses_the_init_placeholder_identity(tmp_path: Path) -> None:
    config = _init(tmp_path)
    result = CliRunner().invoke(cli, ["import", str(SAMPLE / "mailbox"), "--config", str(config)])
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "me@example.org" in line and "[identity] addresses" in line and str(config) in line
    db = open_db(tmp_path / "home" / "data" / "subtrail.db")
    assert db.table("messages").count == 0  # nothing imported with every message read as inbound


@pytest.mark.parametrize("command", [["poll", "--once"], ["poll"], ["check"]])
def test_poll_and_check_refuse_the_init_placeholder_identity(
    tmp_path: Path, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUBTRAIL_TEST_SET_PASSWORD", "x")
    config = _init(tmp_path)
    _with_account(config)
    result = CliRunner().invoke(cli, [*command, "--config", str(config)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert "me@example.org" in line and "[identity] addresses" in line


def test_reprocess_refuses_the_init_placeholder_identity(tmp_path: Path) -> None:
    config = _init(tmp_path)
    result = CliRunner().invoke(cli, ["reprocess", "--config", str(config)])
    assert result.exit_code == 2
    assert "[identity] addresses" in _one_error_line(result.output)


def test_own_address_in_identity_is_accepted(tmp_path: Path) -> None:
    config = _init(tmp_path)
    config.write_text(config.read_text().replace("me@example.org", "alice@example.org"))
    result = CliRunner().invoke(cli, ["import", str(SAMPLE / "mailbox"), "--config", str(config)])
    assert result.exit_code == 0, result.output


def test_check_with_an_unset_password_variable_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SUBTRAIL_TEST_SET_PASSWORD", raising=False)
    config = _init(tmp_path)
    config.write_text(config.read_text().replace("me@example.org", "alice@example.org"))
    _with_account(config)
    result = CliRunner().invoke(cli, ["check", "--config", str(config)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert "SUBTRAIL_TEST_SET_PASSWORD is not set" in line


@pytest.mark.parametrize("command", [["status"], ["verify"], ["note", "list"], ["export", "calendar"]])
def test_read_command_on_a_file_that_is_not_a_database(tmp_path: Path, command: list[str]) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 50)
    result = CliRunner().invoke(cli, [*command, "--db", str(notes)])
    assert result.exit_code == 2
    assert "not a SQLite database" in _one_error_line(result.output)
    assert notes.read_text() == "not a database at all\n" * 50


def test_import_into_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 50)
    result = CliRunner().invoke(cli, ["import", str(SAMPLE / "mailbox"), "--db", str(notes)])
    assert result.exit_code == 2
    assert "not a SQLite database" in _one_error_line(result.output)


def test_serve_on_a_busy_port_says_so_before_serving(tmp_path: Path) -> None:
    db = tmp_path / "subtrail.db"
    open_db(db).close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            subtrail_command("serve", "--db", str(db), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 2, proc.stderr
    assert "serving" not in proc.stderr + proc.stdout
    line = _one_error_line(proc.stderr)
    assert f"port {port}" in line and "already in use" in line and "--port" in line


@pytest.mark.parametrize(
    "command",
    [["export", "calendar"], ["export", "evidence"], ["dossier", "netflix"]],
)
def test_output_into_a_missing_folder_is_one_line_exit_2(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "subtrail.db"
    open_db(db).close()
    CliRunner().invoke(
        cli, ["note", "add", "--provider", "netflix", "--at", "2026-03-03", "--text", "x", "--db", str(db)]
    )
    target = tmp_path / "no-such-folder" / "out.txt"
    result = CliRunner().invoke(cli, [*command, "--db", str(db), "-o", str(target)])
    assert result.exit_code == 2, result.output
    line = _one_error_line(result.output)
    assert str(target) in line and "No such file or directory" in line


def test_import_of_a_missing_path_exits_2_creating_nothing(tmp_path: Path) -> None:
    db = tmp_path / "subtrail.db"
    missing = tmp_path / "Takeout" / "All mail.mbox"
    result = CliRunner().invoke(cli, ["import", str(missing), "--db", str(db)])
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert str(missing) in line and "nothing imported" in line
    assert not db.exists()
