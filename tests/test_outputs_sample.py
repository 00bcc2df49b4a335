"""Export, dossier and status on the bundled sample mailbox, imported for real through the whole pipeline."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest
from sqlite_utils import Database

from ingest.outputs.dossier import build_dossier, render_markdown
from ingest.outputs.export import Filters, evidence_rows, export_evidence
from ingest.outputs.humanize import Humanizer
from ingest.outputs.status import build_status, render_status
from ingest.store.schema import open_db
from tests.conftest import import_sample


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Database:
    db = open_db(import_sample(tmp_path_factory.mktemp("sample") / "subtrail.db", bank=False))
    yield db
    db.close()


def test_sample_bundle_verifies_and_is_reproducible(sample_db: Database, tmp_path: Path) -> None:
    rows = evidence_rows(sample_db)
    assert rows, "the sample should prove some subscription events or exchanges"
    bundle = export_evidence(sample_db, fmt="zip")
    assert export_evidence(sample_db, fmt="zip") == bundle
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        emls = [n for n in zf.namelist() if n.endswith(".eml")]
        zf.extractall(tmp_path)
    assert len(emls) == len({r["sha256"] for r in rows if r["sha256"]})
    if not shutil.which("sha256sum"):
        pytest.skip("sha256sum not installed")
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count(": OK") == len(emls) + 2


def test_sample_dossier_matches_the_inventory(sample_db: Database) -> None:
    provider, plan, amount, currency = sample_db.execute(
        """select provider, plan, amount_minor, currency from subscriptions
           where status = 'active' and amount_minor is not null order by provider limit 1"""
    ).fetchone()
    text = render_markdown(build_dossier(sample_db, provider, today=date(2026, 11, 26)))
    for section in ("## Account identifiers", "## Subscription history", "## How to cancel", "## Evidence"):
        assert section in text
    assert Humanizer().money(amount, currency) in text
    assert evidence_rows(sample_db, Filters(provider=provider))


def test_sample_status_fits_80_columns(sample_db: Database) -> None:
    text = render_status(build_status(sample_db, today=date(2026, 11, 26)))
    assert max(len(line) for line in text.splitlines()) <= 80
    active = sample_db.execute(
        "select count(*) from subscriptions where status in ('active', 'trial', 'payment_failed')"
    ).fetchone()[0]
    assert f"Active subscriptions ({active})" in text
