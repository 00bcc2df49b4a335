"""What a person reads in `status`, the dossier and the exports: their clock, their language, words
not codes, their own corrections, and what the bank statements say — on the bundled sample."""

from __future__ import annotations

import ast
import csv
import io
import re
import zipfile
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlite_utils import Database

from ingest.bank.findings import bank_findings
from ingest.cli import cli
from ingest.derived.corrections import Correction, record_corrections
from ingest.outputs.dossier import build_dossier, render_html, render_markdown
from ingest.outputs.export import Filters, export_evidence
from ingest.outputs.humanize import Humanizer
from ingest.outputs.status import build_status, render_status
from ingest.pipeline.importer import import_paths
from ingest.store.schema import open_db
from tests.catalogue import translated_ids
from tests.conftest import REPO, SAMPLE, import_sample

TODAY = date(2026, 11, 27)
PARIS_FR = Humanizer(language="fr", timezone="Europe/Paris")
NEW_YORK_EN = Humanizer(language="en", timezone="America/New_York")


def plain(text: str) -> str:
    """babel writes no-break spaces inside amounts ("14,99\xa0€"): compare with ordinary ones."""
    return text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Database, Path]:
    """The sample mailbox and bank statement, imported through the real commands, on a pinned day."""
    pinned = pytest.MonkeyPatch()
    pinned.setenv("SUBTRAIL_TODAY", TODAY.isoformat())
    db_path = import_sample(tmp_path_factory.mktemp("sample") / "subtrail.db")
    db = open_db(db_path)
    yield db, db_path
    db.close()
    pinned.undo()


def write_config(folder: Path, db_path: Path, timezone: str, language: str) -> Path:
    path = folder / f"subtrail-{language}.toml"
    path.write_text(
        f'db = "{db_path}"\ntimezone = "{timezone}"\nlanguage = "{language}"\n'
        '[identity]\naddresses = ["alice.martin@example.org", "alice@example.org"]\n',
        encoding="utf-8",
    )
    return path


# --- the user's clock ---------------------------------------------------------------------------


def test_a_mail_sent_at_18_40_plus_0100_shows_18_40_in_the_dossier_for_paris(tmp_path: Path) -> None:
    raw = (SAMPLE / "mailbox/inbox/sub-edf-fr-echeancier.eml").read_bytes()
    raw = raw.replace(b"Date: Sun, 15 Nov 2026 09:00:00 +0100", b"Date: Sun, 15 Nov 2026 18:40:00 +0100")
    assert b"18:40:00 +0100" in raw
    (tmp_path / "mail").mkdir()
    (tmp_path / "mail" / "edf.eml").write_bytes(raw)
    db = open_db(tmp_path / "t.db")
    import_paths(db, [str(tmp_path / "mail")], workers=1, progress=False)
    assert db.execute("select date from messages").fetchone()[0].startswith("2026-11-15T17:40:00")  # UTC kept
    paris = render_markdown(build_dossier(db, "edf", today=TODAY, h=PARIS_FR))
    new_york = render_markdown(build_dossier(db, "edf", today=TODAY, h=NEW_YORK_EN))
    utc = render_markdown(build_dossier(db, "edf", today=TODAY))
    assert "15 nov. 2026, 18:40" in paris and "17:40" not in paris
    assert "Nov 15, 2026, 12:40" in new_york
    assert "Nov 15, 2026, 17:40" in utc


def test_a_late_evening_utc_stamp_is_the_next_local_day(tmp_path: Path) -> None:
    """A date shown for a timestamp is the reader's day, not the UTC one (23:30 UTC is 00:30 in Paris)."""
    assert PARIS_FR.date("2026-12-02T23:30:00+00:00") == "3 déc. 2026"
    assert NEW_YORK_EN.date("2026-12-03T03:00:00+00:00") == "Dec 2, 2026"
    assert PARIS_FR.date("2026-12-03") == "3 déc. 2026"  # a date without time is a local date already


# --- words, not codes; French and English -------------------------------------------------------


def test_status_in_french_for_a_paris_reader(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    text = plain(render_status(build_status(db, today=TODAY, h=PARIS_FR)))
    assert text.startswith("subtrail status — 27 nov. 2026\n")
    assert "Abonnements actifs (15)" in text
    assert "14,99 € / mois" in text and "69,90 € / an" in text
    assert "Total mensuel : " in text and "par an" in text
    assert "Renouvellements dans les 30 prochains jours" in text and "1 déc. 2026" in text
    assert "en attente de leur part" in text  # a ticket status in words
    assert "awaiting_provider" not in text and "P1M" not in text and " EUR" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def test_status_in_english_for_a_new_york_reader(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    text = plain(render_status(build_status(db, today=TODAY, h=NEW_YORK_EN)))
    assert "Active subscriptions (15)" in text and "€14.99 / month" in text and "€69.90 / year" in text
    assert "waiting on them" in text and "Dec 1, 2026" in text
    assert "awaiting_provider" not in text and "P1M" not in text


def test_dossier_in_french_every_heading_translated(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    text = plain(render_markdown(build_dossier(db, "netflix", today=TODAY, h=PARIS_FR)))
    for heading in ("# Dossier : Netflix", "## Identifiants du compte", "## Historique de l'abonnement",
                    "## Comment résilier", "## Échanges", "## Promesses", "## Ce que je demande", "## Preuves"):  # fmt: skip
        assert heading in text
    assert "Prix actuel : 14,99 € / mois" in text and "Statut : actif" in text
    assert "every P1M" not in text and not re.search(r"\bEUR\b", text)
    html = render_html(build_dossier(db, "netflix", today=TODAY, h=PARIS_FR))
    assert '<html lang="fr">' in html and '<h2 id="cancel">Comment résilier</h2>' in html


def test_cli_status_and_dossier_follow_the_config(sample: tuple[Database, Path], tmp_path: Path) -> None:
    _, db_path = sample
    runner = CliRunner()
    fr = write_config(tmp_path, db_path, "Europe/Paris", "fr")
    en = write_config(tmp_path, db_path, "America/New_York", "en")
    result = runner.invoke(cli, ["status", "--config", str(fr), "--today", "2026-11-27"])
    assert result.exit_code == 0, result.output
    assert plain(result.output).startswith("subtrail status — 27 nov. 2026") and "€ / mois" in plain(
        result.output
    )
    result = runner.invoke(cli, ["dossier", "spotify", "--config", str(en), "--today", "2026-11-27"])
    assert result.exit_code == 0, result.output
    # Spotify's agent answered at 10:20 UTC: 05:20 in New York.
    assert "**Nov 23, 2026, 05:20** ← Spotify" in result.output


# --- corrections shown as the user's statements --------------------------------------------------


def test_a_correction_is_shown_as_the_users_statement(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    db["subscriptions"].insert(
        {"id": 1, "provider": "free", "service_name": "Freebox", "amount_minor": 3999, "currency": "EUR",
         "billing_period": "P1M", "status": "active", "next_renewal_on": "2026-03-20"}
    )  # fmt: skip
    record_corrections(db, 1, [Correction("status", "cancelled", "par téléphone")])
    db.execute("update corrections set at = '2026-03-03T08:15:00+00:00'")
    text = plain(render_status(build_status(db, today=date(2026, 3, 10), h=PARIS_FR)))
    sentence = "Corrigé par vous le 3 mars 2026 : résilié — par téléphone"
    assert "Vos corrections (1)" in text and f"Freebox : {sentence}" in text
    dossier = plain(render_markdown(build_dossier(db, "free", today=date(2026, 3, 10), h=PARIS_FR)))
    assert "Vos déclarations :" in dossier and sentence in dossier
    english = render_markdown(build_dossier(db, "free", today=date(2026, 3, 10), h=NEW_YORK_EN))
    # 08:15 UTC is still 3 March in New York; the statement says who and when.
    assert "Corrected by you on Mar 3, 2026: cancelled — par téléphone" in english


# --- bank findings reach the person ------------------------------------------------------------------


def test_status_shows_the_bank_findings_of_the_sample(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    text = plain(render_status(build_status(db, today=TODAY, h=PARIS_FR)))
    bank = text[text.index("D'après vos relevés bancaires (4)") :]
    assert "Un prélèvement récurrent qu'aucun courrier n'explique : Audible, 9,95 € / mois." in " ".join(
        bank.split()
    )
    assert (
        "Deezer a prélevé 11,99 € le 26 oct. 2026 (CB DEEZER 25/10), 16 jours après la résiliation"
        in " ".join(bank.split())
    )
    assert "somme à réclamer" in bank
    # Spotify's agent confirms the cancellation of Nov 3: the debit booked on the 6th for the 5th is a claim
    assert "Spotify a prélevé 12,14 € le 6 nov. 2026 (CB SPOTIFY P11F3A4 05/11), 3 jours après" in " ".join(
        bank.split()
    )
    assert "Électricité EDF : la banque débite 79,00 €, le courrier annonce 86,00 €." in bank
    english = plain(render_status(build_status(db, today=TODAY, h=NEW_YORK_EN)))
    assert "A recurring debit no mail explains: Audible, €9.95 / month." in english


def test_dossiers_show_the_bank_lines(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    edf = plain(render_markdown(build_dossier(db, "edf", today=TODAY, h=PARIS_FR)))
    assert "**Électricité EDF : la banque débite 79,00 €, le courrier annonce 86,00 €.**" in edf
    deezer = plain(render_markdown(build_dossier(db, "deezer", today=TODAY, h=NEW_YORK_EN)))
    assert "days after the cancellation confirmed on Oct 10, 2026: money to claim back." in deezer


def test_dossier_audible_works_from_bank_lines_alone(sample: tuple[Database, Path], tmp_path: Path) -> None:
    db, db_path = sample
    assert db.execute("select count(*) from messages where provider = 'audible'").fetchone()[0] == 0
    text = plain(render_markdown(build_dossier(db, "audible", today=TODAY, h=PARIS_FR)))
    assert "Un prélèvement récurrent qu'aucun courrier n'explique : Audible, 9,95 € / mois." in text
    assert "Audible : 9,95 € / mois, 12 prélèvements du 28 nov. 2025 au 28 oct. 2026" in text
    assert "28 oct. 2026 : 9,95 € — CB AUDIBLE\\*G1074Z 27/10" in text
    # Without a provider file either: the bank lines are enough to know the provider.
    copy = open_db(tmp_path / "copy.db")
    db.conn.backup(copy.conn)
    copy.execute("delete from providers where slug = 'audible'")
    alone = render_markdown(build_dossier(copy, "audible", today=TODAY))
    assert "€9.95 / month" in plain(alone)
    result = CliRunner().invoke(cli, ["dossier", "audible", "--db", str(db_path), "--today", "2026-11-27"])
    assert result.exit_code == 0 and "A recurring debit no mail explains: Audible" in result.output


# --- one catalogue ------------------------------------------------------------------------------------

OUTPUTS = (
    "status.py",
    "dossier.py",
    "dossier_templates.py",
    "export.py",
    "humanize.py",
    "fx.py",
    "calendar.py",
    "notify.py",
)
CLI = ("bank.py", "context.py", "draft.py", "export.py", "mail.py", "note.py")  # what commands say
IN_TEMPLATE = re.compile(r"""(?<![\w.])(?:_|gettext)\(\s*"((?:[^"\\]|\\.)+)"\s*\)""")
PLURAL_IN_TEMPLATE = re.compile(r"""ngettext\(\s*"((?:[^"\\]|\\.)+)"\s*,\s*"((?:[^"\\]|\\.)+)\"""")


def _messages_in(path: Path) -> set[str]:
    """Every literal given to `_`, `N_`, `gettext`, `ngettext` in Python code and in Jinja templates it holds."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in ("_", "N_", "gettext", "ngettext"):
                count = 2 if name == "ngettext" else 1
                found |= {a.value for a in node.args[:count] if isinstance(a, ast.Constant)}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "{{" in node.value:
            found |= set(IN_TEMPLATE.findall(node.value))
            found |= {part for pair in PLURAL_IN_TEMPLATE.findall(node.value) for part in pair}
    return found


def test_every_status_dossier_and_export_label_is_in_the_one_catalogue() -> None:
    wanted = set().union(*(_messages_in(REPO / "ingest/outputs" / name) for name in OUTPUTS))
    wanted |= set().union(*(_messages_in(REPO / "ingest/cli" / name) for name in CLI))
    assert "Account identifiers" in wanted and "Your corrections (%(count)d)" in wanted  # the scan sees them
    assert "note %(note)d deleted" in wanted and "yyyy-MM-dd" in wanted
    translated = translated_ids()
    assert sorted(wanted - translated) == []


# --- exports: UTC kept, the local time beside it, the user's statements, headings in their language ---


def read_csv(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_evidence_csv_keeps_utc_and_adds_the_local_time_beside_it(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    paris = read_csv(export_evidence(db, Filters(provider="spotify"), h=PARIS_FR))
    new_york = read_csv(export_evidence(db, Filters(provider="spotify"), h=NEW_YORK_EN))
    heading = list(paris[0])
    assert heading[:2] == ["date_heure_utc", "date_heure_locale"]
    agent = next(r for r in new_york if r["agent"] == "Kevin")
    assert agent["date_time"] == "2026-11-23T10:20:00+00:00"  # as stored
    assert agent["date_time_local"] == "2026-11-23T05:20:00-05:00"
    assert (
        next(r for r in paris if r["conseiller"] == "Kevin")["date_heure_locale"]
        == "2026-11-23T11:20:00+01:00"
    )
    everything = read_csv(export_evidence(db, h=NEW_YORK_EN))
    days = [r for r in everything if len(r["date_time"]) == 10]  # an event known by its day only
    assert days and all(r["date_time_local"] == r["date_time"] for r in days)
    english = read_csv(export_evidence(db, Filters(provider="spotify")))
    assert list(english[0])[:3] == ["date_time", "date_time_local", "record"]  # scripts keep their names


def test_evidence_export_carries_the_users_statements(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    db["subscriptions"].insert(
        {"id": 1, "provider": "free", "service_name": "Freebox", "amount_minor": 3999, "currency": "EUR",
         "billing_period": "P1M", "status": "active"}
    )  # fmt: skip
    record_corrections(db, 1, [Correction("status", "cancelled", "par téléphone")])
    db.execute("update corrections set at = '2026-03-03T08:15:00+00:00'")
    rows = read_csv(export_evidence(db, h=PARIS_FR))
    assert [(r["type"], r["fournisseur"], r["objet"]) for r in rows] == [("correction", "free", "Freebox")]
    assert plain(rows[0]["texte"]) == "Corrigé par vous le 3 mars 2026 : résilié — par téléphone"
    assert rows[0]["date_heure_locale"] == "2026-03-03T09:15:00+01:00"
    assert read_csv(export_evidence(db, Filters(provider="netflix"))) == []
    bundle = export_evidence(db, fmt="zip", h=PARIS_FR)
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        readme = zf.read("README.txt").decode("utf-8")
    assert readme.startswith("dossier de preuves subtrail\n") and "1 de vos déclarations" in readme
    assert "Filtres : aucun (tout)" in readme
    assert "Europe/Paris" in readme


def test_the_web_dossier_and_evidence_zip_follow_the_reader(sample: tuple[Database, Path]) -> None:
    """`/dossier/<slug>` and the provider's evidence ZIP use the server's language and clock too."""
    import asyncio

    from ingest.config import Display
    from ingest.web.serve import build_datasette

    _, db_path = sample
    ds = build_datasette(db_path, display=Display(timezone="Europe/Paris", language="fr", currency="EUR"))

    async def fetch() -> tuple[str, bytes]:
        await ds.invoke_startup()
        markdown = await ds.client.get("/dossier/audible.md")
        bundle = await ds.client.get("/provider/spotify/evidence.zip")
        return markdown.text, bundle.content

    markdown, bundle = asyncio.run(fetch())
    assert markdown.startswith("# Dossier : Audible\n") and "9,95 € / mois" in plain(markdown)
    with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
        rows = read_csv(zf.read("evidence.csv"))
    kevin = next(r for r in rows if r["conseiller"] == "Kevin")
    assert kevin["date_heure_locale"] == "2026-11-23T11:20:00+01:00"


def test_statements_read_as_sentences() -> None:
    at = "2026-03-03T10:00:00+00:00"
    assert PARIS_FR.statement({"field": "note", "note": "appelé le service", "at": at}) == (
        "Corrigé par vous le 3 mars 2026 : appelé le service"
    )
    amount = {"field": "amount", "value": '{"amount_minor": 1599, "currency": "EUR"}', "at": at}
    assert plain(PARIS_FR.statement(amount)) == "Corrigé par vous le 3 mars 2026 : prix : 15,99 €"
    added = {"field": "added", "value": "{}", "note": "paid in cash", "at": at}
    assert NEW_YORK_EN.statement(added) == "Added by you on Mar 3, 2026 — paid in cash"
    assert NEW_YORK_EN.statement({"field": "dismissed", "value": "0", "at": at}) == (
        "Corrected by you on Mar 3, 2026: a subscription after all"
    )


def test_no_bank_section_for_a_provider_the_statements_never_show(sample: tuple[Database, Path]) -> None:
    db, _ = sample
    text = render_markdown(build_dossier(db, "headspace", today=TODAY))
    assert "## From your bank statements" not in text


def test_the_readers_today(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    monkeypatch.setenv("SUBTRAIL_TODAY", "2026-03-03")
    assert PARIS_FR.today() == NEW_YORK_EN.today() == date(2026, 3, 3)  # pinned everywhere
    monkeypatch.delenv("SUBTRAIL_TODAY")
    assert PARIS_FR.today() in {datetime.now(ZoneInfo("Europe/Paris")).date(), date.today()}
    kiribati = Humanizer(timezone="Pacific/Kiritimati")  # UTC+14: its day is never behind UTC's
    assert kiribati.today() >= datetime.now(ZoneInfo("UTC")).date()


def test_the_total_says_how_foreign_prices_were_counted(
    sample: tuple[Database, Path], tmp_path: Path
) -> None:
    db, _ = sample
    english = plain(render_status(build_status(db, today=TODAY, h=NEW_YORK_EN)))
    assert "1 foreign price counted at what your bank debits." in english  # ChatGPT in USD, debited in EUR
    other = open_db(tmp_path / "t.db")
    other["subscriptions"].insert_all(
        [{"id": 1, "provider": "proton", "service_name": "Proton", "amount_minor": 1290, "currency": "XAF",
          "billing_period": "P1M", "status": "active"},
         {"id": 2, "provider": "netflix", "service_name": "Netflix", "amount_minor": 1349, "currency": "EUR",
          "billing_period": "P1M", "status": "active"}]
    )  # fmt: skip
    text = plain(render_status(build_status(other, today=TODAY, h=PARIS_FR)))
    assert "Total mensuel : 13,49 €" in text  # never a silent 1:1
    assert "Hors total (non converti) : Proton (1 290 FCFA)" in " ".join(text.split())


def test_the_overview_says_the_bank_findings_the_same_way(sample: tuple[Database, Path]) -> None:
    import asyncio
    import html

    from ingest.config import Display
    from ingest.web.serve import build_datasette

    db, db_path = sample
    ds = build_datasette(db_path, display=Display(timezone="Europe/Paris", language="fr", currency="EUR"))

    async def overview() -> str:
        await ds.invoke_startup()
        return (await ds.client.get("/")).text

    page = plain(html.unescape(asyncio.run(overview())))
    status = plain(render_status(build_status(db, today=TODAY, h=PARIS_FR)))
    sentences = PARIS_FR.bank_sentences(bank_findings(db.conn))
    assert len(sentences) == 4  # Audible, EDF, the Deezer and Spotify debits after cancelling
    for sentence in sentences:
        assert plain(sentence) in page and plain(sentence) in " ".join(status.split())


def test_a_correction_of_a_subscription_gone_since_does_not_break_status(tmp_path: Path) -> None:
    db = open_db(tmp_path / "t.db")
    db["corrections"].insert({"subscription_id": 99, "field": "status", "value": "cancelled",
                              "at": "2026-03-03T08:15:00+00:00", "source": "cli"})  # fmt: skip
    text = render_status(build_status(db, today=date(2026, 3, 10)))
    assert "?: Corrected by you on Mar 3, 2026: cancelled" in text
