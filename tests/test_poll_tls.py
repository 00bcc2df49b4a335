"""TLS against a real Dovecot with a self-signed certificate, and `subtrail check`."""

from __future__ import annotations

import hashlib
import ssl
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.imap.poller import poll_once
from tests.dovecot import SENT, Dovecot, make_message
from tests.poll_helpers import account_for, config_for, count, toml_for

pytest_plugins = ["tests.dovecot"]
pytestmark = pytest.mark.dovecot


@pytest.fixture
def tls_user(dovecot_tls: Dovecot) -> tuple[Dovecot, str]:
    user, _ = dovecot_tls.add_user()
    dovecot_tls.seed(user, "INBOX", [make_message(1), make_message(2)])
    return dovecot_tls, user


def fingerprint(server: Dovecot) -> str:
    assert server.cert is not None
    der = ssl.PEM_cert_to_DER_cert(server.cert.read_text())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def sync(db: Database, account: dict[str, Any]) -> tuple[int, str | None]:
    summary = poll_once(db, config_for(account))
    error = summary.accounts[0].error
    return summary.exit_status, str(error) if error else None


def test_ssl_with_the_ca_file(tls_user: tuple[Dovecot, str], db: Database) -> None:
    server, user = tls_user
    assert sync(db, account_for(server, user)) == (0, None)
    assert count(db, "select count(*) from messages") == 2


def test_starttls_with_the_ca_file(tls_user: tuple[Dovecot, str], db: Database) -> None:
    server, user = tls_user
    assert sync(db, account_for(server, user, security="starttls", port=server.port)) == (0, None)
    assert count(db, "select count(*) from messages") == 2


def test_untrusted_certificate_is_refused_with_a_clear_message(
    tls_user: tuple[Dovecot, str], db: Database
) -> None:
    server, user = tls_user
    account = account_for(server, user)
    del account["tls_ca_file"]
    status, error = sync(db, account)
    assert status == 1
    assert error is not None and "certificate not trusted" in error and "tls_fingerprint" in error
    assert count(db, "select count(*) from messages") == 0
    assert db.execute("select status from poll_runs").fetchone() == ("tls_failed",)


def test_pinned_fingerprint_replaces_the_ca(tls_user: tuple[Dovecot, str], db: Database) -> None:
    server, user = tls_user
    account = account_for(server, user, tls_fingerprint=fingerprint(server))
    del account["tls_ca_file"]
    assert sync(db, account) == (0, None)

    account["tls_fingerprint"] = "00" * 32
    account["name"] = "pinned-wrong"
    status, error = sync(db, account)
    assert status == 1 and error is not None and "does not match tls_fingerprint" in error


def test_check_lists_folders_and_says_what_is_wrong(tls_user: tuple[Dovecot, str], tmp_path: Path) -> None:
    server, user = tls_user
    good = account_for(server, user, name="good")
    untrusted = account_for(server, user, name="untrusted")
    del untrusted["tls_ca_file"]
    typo = account_for(server, user, name="typo", host="imap.nonexistent-host.invalid")
    config = toml_for(tmp_path / "subtrail.toml", tmp_path / "db.sqlite", good, untrusted, typo)

    result = CliRunner().invoke(cli, ["check", "--config", str(config)])

    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "  ok   folder 'INBOX': 2 messages [synced]" in lines
    assert f"  ok   folder '{SENT}': 0 messages [synced]" in lines
    assert any(line.startswith("  FAIL") and "certificate not trusted" in line for line in lines)
    assert "  FAIL DNS: cannot resolve imap.nonexistent-host.invalid" in "\n".join(lines)
    assert not (tmp_path / "db.sqlite").exists()  # check writes nothing
