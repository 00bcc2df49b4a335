"""`subtrail dossier`: each section present with the right facts; mail content cannot inject markup."""

from __future__ import annotations

from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.cli import cli
from ingest.derived.knowledge import load_providers
from ingest.outputs.dossier import DossierError, build_dossier, find_identifiers, render_html, render_markdown
from ingest.outputs.dossier_templates import md
from tests.casefile import TODAY, build_case

SECTIONS = [
    "## Account identifiers",
    "## Subscription history",
    "## How to cancel",
    "## Correspondence",
    "## Promises",
    "## Resolution I want",
    "## Evidence",
]


@pytest.fixture
def case_db(db: Database) -> Database:
    build_case(db)
    load_providers(db)
    db.table("subscriptions").insert(
        {"provider": "free", "service_name": "Freebox Pop", "plan": "Pop", "status": "cancelled",
         "started_on": "2023-05-01", "cancelled_on": "2025-12-01", "platform": "direct"}
    )  # fmt: skip
    return db


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Numéro client : 48151623", [("customer_number", "48151623")]),
        ("N° de contrat\u00a0: FBX-998877.", [("contract_number", "FBX-998877")]),
        ("Your Customer ID: AB-12345", [("customer_number", "AB-12345")]),
        ("Account number 0012 3456", [("account_number", "0012")]),
        ("Identifiant client: 7777777", [("customer_number", "7777777")]),
        ("Identifiant : fbx12345678", [("login", "fbx12345678")]),
        ("Identifiant Apple : Alice.Martin@example.org", [("account_email", "alice.martin@example.org")]),
        ("Ligne : 06 12 34 56 78\nForfait", [("line_number", "06 12 34 56 78")]),
        ("Customer ID is shown in your account", []),
        ("numero de contrat : contrat", []),
    ],
)
def test_find_identifiers(text: str, found: list[tuple[str, str]]) -> None:
    assert find_identifiers(text) == found


def test_markdown_dossier_for_provider_with_subscription_and_ticket(case_db: Database) -> None:
    text = render_markdown(build_dossier(case_db, "free", today=date.fromisoformat(TODAY)))
    positions = [text.index(section) for section in SECTIONS]
    assert positions == sorted(positions)
    identifiers = text[positions[0] : positions[1]]
    assert "Contract number: **FBX-998877**" in identifiers
    assert "Account e-mail: **alice@example.org**" in identifiers
    history = text[positions[1] : positions[2]]
    assert "### Freebox Pop" in history and "Current price: €39.99 / month" in history
    assert "Started on: May 1, 2023" in history and "Cancelled on: Dec 1, 2025" in history
    cancel = text[positions[2] : positions[3]]
    assert "<https://subscribe.free.fr/login/>" in cancel
    assert "L224-39" in cancel and "<https://www.service-public.fr/particuliers/vosdroits/F22486>" in cancel
    timeline = text[positions[3] : positions[4]]
    assert "### Ticket 2026-ABC-1: Panne de ligne" in timeline
    assert "**Mar 3, 2026, 13:30** ← Free (Freebox) (e-mail, agent Julien) sha256 511766e18a87" in timeline
    assert "(phone, agent @Sophie)" in timeline
    promises = text[positions[4] : positions[5]]
    assert "“Un technicien passera sous 48 heures”, due Mar 5, 2026: **overdue**" in promises
    assert "“Avoir de 10 € sur la prochaine facture”, due Apr 30, 2026: **kept**" in promises
    resolution = text[positions[5] : positions[6]]
    assert "What I ask for" in resolution
    assert (
        "Promises not kept, to cite:\n    - “Un technicien passera sous 48 heures” (promised Mar 3, 2026 by Julien"
        in resolution
    )
    assert "Avoir de 10 €" not in resolution  # kept, nothing to cite
    evidence = text[positions[6] :]
    assert evidence.count("sha256 `") == 2
    assert "4f1d447370fc2dffe852d946404926078abc6a1875d2ea5b7b666e752c6876f0" in evidence


def test_price_history_and_last_charges(case_db: Database) -> None:
    text = render_markdown(build_dossier(case_db, "netflix", today=date.fromisoformat(TODAY)))
    assert "- since Jan 10, 2026: €12.99 / month\n- since Feb 10, 2026: €13.49 / month" in text
    assert "- Feb 10, 2026: charged €13.49 (sha256 cbea4ffc8fd4)" in text
    assert "Customer number: **48151623** (in 2 messages" in text
    assert "<https://www.netflix.com/cancelplan>" in text


def test_store_billed_subscription_points_to_the_store(case_db: Database) -> None:
    text = render_markdown(build_dossier(case_db, "calm", today=date.fromisoformat(TODAY)))
    assert "Billed through Apple (App Store subscriptions): cancel there" in text
    assert "<https://apps.apple.com/account/subscriptions>" in text


def test_mail_content_cannot_inject_markup(case_db: Database) -> None:
    markdown = render_markdown(build_dossier(case_db, "free", today=date.fromisoformat(TODAY)))
    assert "<script" not in markdown and "&lt;script>" in markdown
    import markdown as python_markdown  # the renderer datasette-render-markdown uses

    assert "<script" not in python_markdown.markdown(markdown)
    html = render_html(build_dossier(case_db, "free", today=date.fromisoformat(TODAY)))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert md("[click](javascript:alert(1)) *x*") == "\\[click\\](javascript:alert(1)) \\*x\\*"


def test_html_is_well_formed_and_links_only_http(case_db: Database) -> None:
    case_db.execute("update providers set cancel_url = 'javascript:alert(1)' where slug = 'free'")
    html = render_html(build_dossier(case_db, "free", today=date.fromisoformat(TODAY)))

    class Links(HTMLParser):
        hrefs: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.hrefs += [v or "" for k, v in attrs if k == "href"]

    parser = Links()
    parser.feed(html)
    assert parser.hrefs and all(h.startswith("https://") for h in parser.hrefs)
    for anchor in (
        'id="identifiers"',
        'id="cancel"',
        'id="correspondence"',
        'id="resolution"',
        'id="evidence"',
    ):
        assert anchor in html


def test_unknown_provider(db: Database) -> None:
    with pytest.raises(DossierError, match="nothing known"):
        build_dossier(db, "nobody")


def test_cli_writes_markdown_and_html(db: Database, db_path: Path, tmp_path: Path) -> None:
    build_case(db)
    out = tmp_path / "free.md"
    runner = CliRunner()
    result = runner.invoke(cli, ["dossier", "free", "--db", str(db_path), "--today", TODAY, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith(
        "# Dossier: Free (Freebox)\n"
    )  # providers loaded by the CLI
    result = runner.invoke(cli, ["dossier", "netflix", "--html", "--db", str(db_path)])
    assert result.exit_code == 0 and result.output.startswith("<!DOCTYPE html>")
    assert runner.invoke(cli, ["dossier", "nobody-at-all", "--db", str(db_path)]).exit_code == 2


def test_datasette_route(case_db: Database, db_path: Path) -> None:
    """The dossier served by a real Datasette at /dossier/<slug>, escaped and script-proof."""
    import asyncio

    from datasette.app import Datasette
    from datasette.plugins import pm

    from ingest.web import dossier_route

    async def fetch() -> list:
        ds = Datasette(files=[str(db_path)])
        return [
            await ds.client.get(path) for path in ("/dossier/free", "/dossier/netflix.md", "/dossier/nobody")
        ]

    ours = not pm.is_registered(dossier_route)  # build_datasette (another test) may have registered it
    if ours:
        pm.register(dossier_route, name="test-dossier-route")
    try:
        html, markdown, missing = asyncio.run(fetch())
    finally:
        if ours:
            pm.unregister(name="test-dossier-route")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "script-src" not in html.headers["content-security-policy"]  # default-src 'none' forbids scripts
    assert "Ticket 2026-ABC-1" in html.text and "&lt;script&gt;" in html.text and "<script>" not in html.text
    assert markdown.status_code == 200 and markdown.text.startswith("# Dossier: Netflix\n")
    assert missing.status_code == 404


def test_identity_keeps_other_recipients_out(case_db: Database) -> None:
    case_db.execute(
        "update messages set to_addrs = 'bob@example.net, alice@example.org' where provider = 'netflix'"
    )
    everyone = build_dossier(case_db, "netflix", today=date.fromisoformat(TODAY))
    mine = build_dossier(
        case_db, "netflix", today=date.fromisoformat(TODAY), my_addresses=["Alice@example.org"]
    )
    assert "bob@example.net" in [i.value for i in everyone.identifiers]
    assert [i.value for i in mine.identifiers if i.kind == "account_email"] == ["alice@example.org"]


# --- when a subscription began: the mails' first date, or the bank's first debit when that is earlier ---


def _sample_history(db_path: Path, slug: str, language: str) -> tuple[str, str]:
    """The Markdown and HTML dossier of one sample provider, in `language`."""
    from ingest.outputs.humanize import Humanizer

    db = Database(db_path)
    try:
        case = build_dossier(db, slug, today=date(2026, 11, 27), h=Humanizer(language=language))
        return render_markdown(case), render_html(case)
    finally:
        db.close()


@pytest.mark.parametrize(
    ("language", "markdown", "html"),
    [
        ("en", "- Since: Nov 2025 (first bank debit)", "<tr><th>Since</th><td>Nov 2025 (first bank debit)</td></tr>"),
        ("fr", "- Depuis : nov. 2025 (premier prélèvement bancaire)",
         "<tr><th>Depuis</th><td>nov. 2025 (premier prélèvement bancaire)</td></tr>"),
    ],
)  # fmt: skip
def test_the_dossier_says_deezer_ran_since_its_first_bank_debit(
    sample_db_path: Path, language: str, markdown: str, html: str
) -> None:
    for slug in ("deezer", "free-mobile"):  # the mails start in Sept and Nov 2026; the debits in Nov 2025
        text, page = _sample_history(sample_db_path, slug, language)
        assert markdown in text, slug
        assert html in page, slug
    db = Database(sample_db_path)
    started, first_debit = db.execute(
        "select started_on, first_debit_on from subscriptions where provider = 'deezer'"
    ).fetchone()
    db.close()
    assert (started, first_debit) == ("2026-09-25", "2025-11-26")  # the mails' date is kept as they say it


def test_a_start_in_the_mail_earlier_than_the_first_debit_is_shown_as_is(sample_db_path: Path) -> None:
    text, page = _sample_history(sample_db_path, "spotify", "en")  # mail 5 June 2026, first debit 6 July
    assert "- Started on: Jun 5, 2026" in text
    assert "first bank debit" not in text and "first bank debit" not in page


def test_a_users_correction_of_the_start_wins_over_the_first_debit(
    sample_db_path: Path, tmp_path: Path
) -> None:
    from ingest.derived.corrections import Correction, record_corrections
    from ingest.store.schema import open_db
    from tests.conftest import copy_db

    path = copy_db(sample_db_path, tmp_path / "corrected.db")
    db = open_db(path)
    (sid,) = db.execute("select id from subscriptions where provider = 'deezer'").fetchone()
    record_corrections(db, sid, [Correction("started_on", "2026-02-01")])
    db.close()
    text, page = _sample_history(path, "deezer", "en")
    assert "- Started on: Feb 1, 2026" in text and "<td>Feb 1, 2026</td>" in page
    assert "first bank debit" not in text and "first bank debit" not in page


def test_reprocess_keeps_the_first_debit(sample_db_path: Path, tmp_path: Path) -> None:
    from tests.conftest import copy_db

    path = copy_db(sample_db_path, tmp_path / "again.db")
    result = CliRunner().invoke(cli, ["reprocess", "--db", str(path)])
    assert result.exit_code == 0, result.output
    text, _ = _sample_history(path, "deezer", "en")
    assert "- Since: Nov 2025 (first bank debit)" in text
