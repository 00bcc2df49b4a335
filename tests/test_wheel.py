"""A wheel install is the whole product: metadata, dashboards and provider knowledge included.

What `pip install subtrail` or pipx gives is a wheel, not this checkout. The test builds one,
installs it with its dependencies in a fresh virtual environment outside the repository, imports
the bundled sample from another folder and serves it: the canned queries, the dashboard and a
full `providers` table must be there, as they are from the checkout.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from sqlite_utils import Database

from tests.conftest import REPO
from tests.serve_helpers import running_server

pytestmark = pytest.mark.slow
SAMPLE = REPO / "data" / "sample"


def _run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode in (0, 1), f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `bin/` of a fresh venv holding only the built wheel and its dependencies."""
    root = tmp_path_factory.mktemp("wheel")
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", root / "dist", REPO)
    wheels = list((root / "dist").glob("subtrail-*.whl"))
    assert len(wheels) == 1, wheels
    _run(sys.executable, "-m", "venv", root / "venv")
    bin_dir = root / "venv" / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheels[0])
    return bin_dir


def test_the_wheel_serves_the_sample_like_the_checkout(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    db = elsewhere / "sample.db"
    config = SAMPLE / "subtrail.toml"
    _run(installed / "subtrail", "import", SAMPLE / "mailbox", "--db", db, "--config", config, cwd=elsewhere)
    from_wheel = Database(db)
    checkout_db = tmp_path / "checkout.db"
    _run(
        sys.executable, "-c", "from ingest.cli import cli; cli()",
        "import", SAMPLE / "mailbox", "--db", checkout_db, "--config", config,
    )  # fmt: skip
    from_checkout = Database(checkout_db)
    assert from_checkout["providers"].count > 20
    assert from_wheel["providers"].count == from_checkout["providers"].count
    assert from_wheel["subscriptions"].count == from_checkout["subscriptions"].count > 0
    assert (
        from_wheel.execute("select count(*) from providers where cancel_url is not null").fetchone()[0] > 10
    )

    with running_server(db, program=[str(installed / "subtrail")], cwd=elsewhere) as base:
        queries = httpx.get(f"{base}/subtrail.json", timeout=30).json().get("queries", [])
        names = {q["name"] for q in queries}
        assert {"upcoming_renewals", "data_freshness"} <= names, names
        assert httpx.get(f"{base}/-/dashboards/subtrail", timeout=30).status_code == 200
        provider_rows = httpx.get(f"{base}/subtrail/providers.json?_shape=array&_size=max", timeout=30).json()
        assert len(provider_rows) == from_checkout["providers"].count
