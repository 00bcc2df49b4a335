"""Undo a dismiss: "it is a subscription after all", on the command line and through the web form.

The undo is one more correction (the history stays: who said what, when), laid over the row after
every rebuild like the others, so the subscription comes back in the inventory and the totals.
"""

from __future__ import annotations

import asyncio
import re
from datetime import date
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.derived.corrections import apply_corrections
from ingest.outputs.humanize import Humanizer
from ingest.outputs.status import build_status, render_status


def _netflix(db: Database) -> None:
    db["subscriptions"].insert(
        {"id": 1, "provider": "netflix", "service_name": "Netflix", "amount_minor": 1349, "currency": "EUR",
         "billing_period": "P1M", "status": "active", "next_renewal_on": "2026-12-14"}
    )  # fmt: skip


def test_undismiss_from_the_command_line_brings_it_back(db: Database, db_path: Path) -> None:
    _netflix(db)
    runner = CliRunner()
    result = runner.invoke(cli, ["edit", "subscription", "1", "--dismiss", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert db["subscriptions"].get(1)["dismissed"] == 1
    assert [s["id"] for s in build_status(db, today=date(2026, 12, 1)).subscriptions] == []
    result = runner.invoke(
        cli, ["edit", "subscription", "1", "--undismiss", "--note", "it is mine", "--db", str(db_path)]
    )
    assert result.exit_code == 0, result.output
    apply_corrections(db)  # what every rebuild and reprocess does
    assert db["subscriptions"].get(1)["dismissed"] is None
    status = build_status(db, today=date(2026, 12, 1), h=Humanizer(language="fr"))
    assert [s["id"] for s in status.subscriptions] == [1] and status.totals.monthly_minor == 1349
    text = " ".join(render_status(status).split())
    assert "c'est bien un abonnement — it is mine" in text and "ce n'est pas un abonnement" in text
    both = runner.invoke(cli, ["edit", "subscription", "1", "--dismiss", "--undismiss", "--db", str(db_path)])
    assert both.exit_code == 2 and "--dismiss or --undismiss" in both.output


def test_undismiss_through_the_web_form(db: Database, db_path: Path) -> None:
    from ingest.web.serve import build_datasette

    _netflix(db)
    runner = CliRunner()
    assert runner.invoke(cli, ["edit", "subscription", "1", "--dismiss", "--db", str(db_path)]).exit_code == 0
    ds = build_datasette(db_path)

    async def go() -> tuple[Any, Any]:
        await ds.invoke_startup()
        page = await ds.client.get("/inventory")
        token = re.search(r'name="csrftoken" value="([^"]+)"', page.text).group(1)
        cookies = {"ds_csrftoken": page.cookies.get("ds_csrftoken")}
        posted = await ds.client.post(
            "/-/subtrail/correct",
            data={"subscription_id": "1", "undismiss": "1", "back": "/inventory", "csrftoken": token},
            cookies=cookies,
        )
        return page, posted

    page, posted = asyncio.run(go())
    assert 'name="undismiss"' in page.text  # offered on the dismissed row
    assert posted.status_code == 302
    assert db["subscriptions"].get(1)["dismissed"] is None
    assert [c["value"] for c in db["corrections"].rows] == ["1", "0"]


def test_corrections_are_judged_on_the_pinned_day(db: Database, monkeypatch: Any) -> None:
    """An end date still to come on SUBTRAIL_TODAY is `cancelled`, not `expired` by the real clock."""
    from ingest.derived.corrections import Correction, record_corrections

    _netflix(db)
    monkeypatch.setenv("SUBTRAIL_TODAY", "2026-03-01")
    record_corrections(db, 1, [Correction("ended_on", "2026-06-30", "by letter")])
    row = db["subscriptions"].get(1)
    assert (row["status"], row["ends_on"]) == ("cancelled", "2026-06-30")
