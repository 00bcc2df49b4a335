"""`subtrail status`: monthly normalisation, the four lists, 80 columns."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.outputs.status import build_status, monthly_minor, months_in, render_status
from tests.casefile import TODAY, build_case


@pytest.mark.parametrize(
    ("period", "months"),
    [
        ("P1M", Fraction(1)),
        ("P3M", Fraction(3)),
        ("P1Y", Fraction(12)),
        ("P2Y", Fraction(24)),
        ("P1W", Fraction(7 * 48, 1461)),
        ("P30D", Fraction(30 * 48, 1461)),
        ("p1m", Fraction(1)),
        ("P0M", None),
        ("monthly", None),
        (None, None),
    ],
)
def test_months_in(period: str | None, months: Fraction | None) -> None:
    assert months_in(period) == months


def test_monthly_costs_agree_across_periods() -> None:
    assert round(monthly_minor(12000, "P1Y")) == 1000
    assert round(monthly_minor(2997, "P3M")) == 999
    assert round(monthly_minor(299, "P1W")) == 1300  # 2.99 x 52.18 / 12, not 2.99 x 4
    assert abs(monthly_minor(100, "P52W") - monthly_minor(100, "P1Y")) < 1


def test_status_lists(db: Database) -> None:
    build_case(db)
    status = build_status(db, today=date.fromisoformat(TODAY))
    assert [s["provider"] for s in status.subscriptions] == [
        "calm",
        "disney-plus",
        "dropbox",
        "free",
        "netflix",
    ]
    # 2.99/week (13.00) + 39.99 + 13.49 + 120 USD a year at the shipped ECB rate (8.95); the trial is not in it.
    assert (status.totals.monthly_minor, status.totals.currency, status.totals.counted) == (7539, "EUR", 4)
    assert status.totals.rate_day == date(2026, 10, 30)
    assert [(r["provider"], r["on_day"]) for r in status.renewals] == [
        ("calm", "2026-03-23"),
        ("disney-plus", "2026-03-25"),
        ("dropbox", "2026-04-01"),
        ("netflix", "2026-04-10"),
    ]
    assert [t["ticket_ref"] for t in status.tickets] == ["2026-ABC-1"]
    assert [p["text"] for p in status.overdue] == ["Un technicien passera sous 48 heures"]


def test_render_fits_80_columns(db: Database) -> None:
    build_case(db)
    db["tickets"].insert(
        {"provider": "a-provider-with-a-very-long-slug", "ticket_ref": "X" * 40, "subject": "S" * 200,
         "status": "awaiting_me", "opened_at": "2026-03-10T00:00:00+00:00"}
    )  # fmt: skip
    text = render_status(build_status(db, today=date.fromisoformat(TODAY)))
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "  Monthly total: €75.39, every year €904.65" in lines
    assert "  Foreign prices converted at the ECB rate of Oct 30, 2026." in lines  # the rate's date beside it
    assert any("Dropbox Plus wi… " in line for line in lines)
    assert "Open cases (2)" in lines and "Overdue promises (1)" in lines
    assert any(line.startswith("  Apr 10, 2026  netflix") and "€13.49" in line for line in lines)


def test_empty_database(db: Database) -> None:
    text = render_status(build_status(db, today=date(2026, 1, 1)))
    assert "Active subscriptions (0)" in text and "Monthly total" not in text


def test_cli(db: Database, db_path: Path) -> None:
    build_case(db)
    result = CliRunner().invoke(cli, ["status", "--db", str(db_path), "--today", TODAY])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("subtrail status — Mar 20, 2026\n")
    assert CliRunner().invoke(cli, ["status", "--db", str(db_path), "--today", "soon"]).exit_code == 2
