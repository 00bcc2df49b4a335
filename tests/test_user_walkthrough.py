"""Defects a new user meets walking through the sample (French, then English), each pinned by a test.

The sample mailbox and bank statement are imported once; tests that change the database work on a copy.
"""

from __future__ import annotations

import html
import re
import sqlite3
from datetime import date
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from icalendar import Calendar

from ingest.cli import cli
from ingest.outputs.dossier import find_identifiers
from ingest.outputs.drafts import build_draft
from ingest.outputs.humanize import Humanizer
from ingest.store.schema import open_db
from tests.conftest import SAMPLE, import_sample
from tests.serve_helpers import running_server

TODAY = "2026-11-27"  # Spotify's refund (due 2 Dec) is not due yet; Free Mobile's was kept late on the 23rd
FR = Humanizer(language="fr", timezone="Europe/Paris")
EN = Humanizer(language="en", timezone="Europe/Paris")


@pytest.fixture(scope="module")
def sample_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    with pytest.MonkeyPatch.context() as pinned:  # the statuses the imports store are judged as of today too
        pinned.setenv("SUBTRAIL_TODAY", TODAY)
        return import_sample(tmp_path_factory.mktemp("walkthrough") / "subtrail.db")


@pytest.fixture
def copy(sample_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the sample database, with a French config beside it and today pinned."""
    path = tmp_path / "subtrail.db"
    with sqlite3.connect(sample_path) as source, sqlite3.connect(path) as target:
        source.backup(target)  # the WAL's pages too, which a file copy would miss
    (tmp_path / "subtrail.toml").write_text(
        'db = "subtrail.db"\nlanguage = "fr"\ntimezone = "Europe/Paris"\n\n'
        '[identity]\naddresses = ["alice.martin@example.org"]\n'
    )
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)
    monkeypatch.setenv("SUBTRAIL_ECB_URL", "off")
    return path


def _run(path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--config", str(path.parent / "subtrail.toml")])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_draft_is_dated_as_of_the_pinned_day_not_the_clock(copy: Path) -> None:
    letter = _run(copy, "draft", "claim", "deezer")
    assert "Le 27 novembre 2026" in letter
    assert "au plus tard le 5 décembre 2026" in letter  # 8 days from the pinned day


def test_a_follow_up_of_a_case_whose_promise_was_kept_does_not_claim_it_again(sample_path: Path) -> None:
    db = open_db(sample_path)
    draft = build_draft(db, "follow-up", "51190342", today=date.fromisoformat(TODAY))
    db.close()
    assert "Nous procéderons au remboursement" not in draft.text  # kept (late) on the 23rd
    assert "[l'engagement pris, sa date et l'agent]" in draft.text


def test_a_follow_up_before_the_due_day_says_it_is_due_not_that_it_was(sample_path: Path) -> None:
    db = open_db(sample_path)
    fr = build_draft(db, "follow-up", "613377", today=date.fromisoformat(TODAY)).text
    en = build_draft(db, "follow-up", "613377", lang="en", today=date.fromisoformat(TODAY)).text
    db.close()
    assert "doit être tenu au plus tard le 2 décembre 2026" in fr and "devait" not in fr
    assert "This is due by December 2, 2026" in en and "was due" not in en


def test_a_follow_up_says_a_promise_made_on_the_phone_was_said_not_written(copy: Path) -> None:
    _run(copy, "note", "add", "--provider", "spotify", "--channel", "phone", "--at", "2026-11-26 14:30",
         "--agent", "Sarah", "--text", "Remboursement confirmé", "--promise", "remboursement sous 5 jours ouvrés")  # fmt: skip
    letter = _run(copy, "draft", "follow-up", "613377")
    assert "Sarah m'a dit par téléphone : « remboursement sous 5 jours ouvrés »" in letter
    assert "Sarah m'a écrit" not in letter
    assert "26 novembre 2026 — appel téléphonique (Sarah)" in letter


def test_corrections_are_stamped_on_the_pinned_day_not_the_clock(copy: Path) -> None:
    _run(copy, "edit", "subscription", "8", "--amount", "79,00 €")
    _run(copy, "add", "subscription", "--provider", "audible", "--amount", "9,95 €", "--period", "P1M")
    status = _run(copy, "status")
    assert "Corrigé par vous le 27 nov. 2026" in status and "Ajouté par vous le 27 nov. 2026" in status
    db = open_db(copy)
    started = db.execute("select started_on from subscriptions where provider = 'audible'").fetchone()[0]
    db.close()
    assert started == TODAY  # an added subscription without --started-on starts "today", the pinned one


def test_a_correction_on_a_pinned_day_is_that_day_in_new_york_too(copy: Path) -> None:
    toml = copy.parent / "subtrail.toml"
    toml.write_text(toml.read_text().replace('language = "fr"', 'language = "en"').replace(
        "Europe/Paris", "America/New_York"))  # fmt: skip
    _run(copy, "edit", "subscription", "9", "--ended-on", "2026-12-31")
    assert "Corrected by you on Nov 27, 2026: ends on Dec 31, 2026" in _run(copy, "status")


def test_an_end_date_still_ahead_is_worded_as_coming(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY)
    ahead = {"field": "ended_on", "value": "2026-12-31", "at": "2026-11-27T09:00:00+00:00"}
    past = {**ahead, "value": "2026-11-20"}
    assert FR.statement_text(ahead) == "se termine le 31 déc. 2026"
    assert EN.statement_text(ahead) == "ends on Dec 31, 2026"
    assert FR.statement_text(past) == "terminé le 20 nov. 2026"


def test_status_lists_corrections_with_the_french_colon(copy: Path) -> None:
    _run(copy, "edit", "subscription", "8", "--amount", "79,00 €")
    status = _run(copy, "status")
    assert "Électricité EDF : Corrigé par vous" in status and "Électricité EDF: " not in status


def test_a_debit_one_day_after_the_cancellation_is_one_day_not_one_days() -> None:
    row = {"service_name": "Deezer", "amount_minor": 1199, "currency": "EUR", "booked_on": "2026-10-26",
           "label": "CB DEEZER", "days_after_cancellation": 1, "cancelled_on": "2026-10-25"}  # fmt: skip
    assert "1 jour après la résiliation" in FR.charge_after_cancellation(row)
    assert "1 day after the cancellation" in EN.charge_after_cancellation(row)
    assert "16 jours après" in FR.charge_after_cancellation({**row, "days_after_cancellation": 16})


def test_a_subscription_added_by_hand_explains_its_bank_debits_at_once(copy: Path) -> None:
    assert "aucun courrier n'explique : Audible" in _run(copy, "status")
    _run(copy, "add", "subscription", "--provider", "audible", "--amount", "9,95 €", "--period", "P1M",
         "--started-on", "2025-11-27")  # fmt: skip
    assert "aucun courrier n'explique : Audible" not in _run(copy, "status")  # without a reprocess


def test_a_price_mismatch_with_a_price_you_entered_does_not_say_the_mail_announced_it() -> None:
    row = {"service_name": "Basic-Fit", "charged_minor": 3299, "announced_minor": 2999, "currency": "EUR",
           "announced_by": "you"}  # fmt: skip
    said = FR.price_mismatch(row).replace("\u00a0", " ")
    assert said == "Basic-Fit : la banque débite 32,99 €, vous avez indiqué 29,99 €."
    mail = FR.price_mismatch({**row, "announced_by": "mail"}).replace("\u00a0", " ")
    assert mail == "Basic-Fit : la banque débite 32,99 €, le courrier annonce 29,99 €."


def test_status_says_a_price_you_entered_is_yours(copy: Path) -> None:
    _run(copy, "add", "subscription", "--provider", "basic-fit", "--amount", "29,99 €", "--period", "P4W",
         "--started-on", "2026-01-05")  # fmt: skip
    status = " ".join(_run(copy, "status").replace("\u00a0", " ").split())
    assert "Basic-Fit : la banque débite 32,99 €, vous avez indiqué 29,99 €." in status


def test_the_french_pages_use_french_punctuation_and_words_not_keys(copy: Path) -> None:
    _run(copy, "edit", "subscription", "8", "--amount", "79,00 €", "--note", "échéancier révisé")
    config = str(copy.parent / "subtrail.toml")
    env = {"SUBTRAIL_TODAY": TODAY, "SUBTRAIL_ECB_URL": "off"}
    with running_server(copy, env=env, extra_args=("--config", config)) as base:
        overview = _text(httpx.get(f"{base}/").text)
        inventory = _text(httpx.get(f"{base}/inventory").text)
        free = _text(httpx.get(f"{base}/provider/free").text)
        free_en = _text(httpx.get(f"{base}/provider/free", cookies={"subtrail_lang": "en"}).text)
        feed = httpx.get(f"{base}/calendar.ics").content.decode()
        feed_en = httpx.get(f"{base}/calendar.ics", cookies={"subtrail_lang": "en"}).content.decode()
    assert "SUMMARY:Renouvellement : " in feed and "SUMMARY:Renewal: " in feed_en
    assert "Chaque année : " in overview and "Promesses en retard : 0" in overview
    assert "Fuseau horaire : Europe/Paris" in overview
    assert "27 nov. 2026, 13:00 : prix : 79,00 € — « échéancier révisé »" in inventory
    # the second group holds cancelled rows still running to their end and rows without news, not only ended ones
    assert "Résiliés, terminés ou sans nouvelles" in inventory
    assert "Médiateur de la consommation : " in free and "mediator:" not in free
    assert "Consumer mediator: " in free_en


def _text(page: str) -> str:
    """The words of a page as a person reads them: tags and entities gone, spaces collapsed."""
    page = re.sub(r"(?s)<(script|style).*?</\1>", " ", page)
    words = html.unescape(re.sub(r"<[^>]+>", "", page)).replace("\u00a0", " ").replace("\u202f", " ")
    return " ".join(words.split())


def test_the_dossier_quotes_a_promise_in_french_quotes_without_a_stray_comma(copy: Path) -> None:
    dossier = " ".join(_run(copy, "dossier", "spotify").replace("\u00a0", " ").split())
    assert (
        "Promesse : « You will receive a refund within 5-7 business days. », pour le 2 déc. 2026" in dossier
    )
    assert "(Kevin) : « You will receive a refund within 5-7 business days. », pour le" in dossier
    assert "days., pour" not in dossier


def test_the_case_page_quotes_a_promise_in_french_quotes(copy: Path) -> None:
    config = str(copy.parent / "subtrail.toml")
    env = {"SUBTRAIL_TODAY": TODAY, "SUBTRAIL_ECB_URL": "off"}
    with running_server(copy, env=env, extra_args=("--config", config)) as base:
        case = _text(httpx.get(f"{base}/journal/2").text)
        case_en = _text(httpx.get(f"{base}/journal/2", cookies={"subtrail_lang": "en"}).text)
    assert "Promesse « You will receive a refund within 5-7 business days. »" in case
    assert "Promise “You will receive a refund within 5-7 business days.”" in case_en


def test_the_calendar_speaks_the_readers_language_and_writes_money_as_people_do(copy: Path) -> None:
    out = copy.parent / "subtrail.ics"
    _run(copy, "export", "calendar", "-o", str(out))
    events = {str(e["UID"]): e for e in Calendar.from_ical(out.read_bytes()).walk("VEVENT")}
    renewal = events["renewal-13@subtrail"]  # Le Monde
    summary = str(renewal["SUMMARY"]).replace("\u00a0", " ")
    assert summary == "Renouvellement : Le Monde — 12,99 €"  # the name `status` gives it; the plan below
    description = str(renewal["DESCRIPTION"]).replace("\u00a0", " ")
    assert "se renouvelle à 12,99 €" in description and "Statut : actif" in description
    assert "Offre : Le Monde Intégral" in description
    duolingo = str(events["renewal-12@subtrail"]["DESCRIPTION"])
    assert "Facturé par : Google Play" in duolingo and "google_play" not in duolingo
    promise = next(e for uid, e in events.items() if uid.startswith("promise-"))
    assert str(promise["SUMMARY"]).startswith("Promesse à tenir : Spotify (Kevin)")
    assert "Statut : en attente" in str(promise["DESCRIPTION"])
    body = out.read_text()
    for code in (" EUR", "Renewal", "Status:", "Promise due", "Provider:"):
        assert code not in body, code


def _in_english(copy: Path) -> None:
    toml = copy.parent / "subtrail.toml"
    toml.write_text(toml.read_text().replace('language = "fr"', 'language = "en"'))


def test_note_add_says_the_case_status_in_words_not_its_code(copy: Path) -> None:
    args = ("note", "add", "--provider", "spotify", "--channel", "phone", "--at", "2026-11-26 14:30", "--text")  # fmt: skip
    said = _run(copy, *args, "Rappel du service client")
    assert "note 1 ajoutée au dossier 2 (613377, en attente de leur part)" in said
    _in_english(copy)
    said = _run(copy, *args, "Customer service called back")
    assert "note 2 added to ticket 2 (613377, waiting on them)" in said
    assert "awaiting_provider" not in said


def test_reminders_speak_the_readers_language_with_dates_and_money_as_people_write_them(copy: Path) -> None:
    dry = _run(copy, "notify", "--dry-run", "--today", "2026-12-01").replace("\u00a0", " ")
    assert "Électricité EDF se renouvelle dans 4 jours (5 déc. 2026), 86,00 €." in dry
    assert "Spotify : promesse à tenir demain, dossier 613377" in dry
    assert "Deezer a prélevé 11,99 € le 26 oct. 2026 (CB DEEZER 25/10), 16 jours après" in dry
    for code in (" EUR", "2026-12-05", "renews", "promise due", "spotify:"):
        assert code not in dry, code


def test_the_dossier_says_a_past_end_of_service_in_the_past(copy: Path) -> None:
    fr = " ".join(_run(copy, "dossier", "deezer").split())
    assert "Résilié le : 10 oct. 2026, service terminé le 25 oct. 2026" in fr
    toml = copy.parent / "subtrail.toml"
    toml.write_text(toml.read_text().replace('language = "fr"', 'language = "en"'))
    en = " ".join(_run(copy, "dossier", "deezer").split())
    assert "Cancelled on: Oct 10, 2026, service ended on Oct 25, 2026" in en and "service ends on" not in en
    _run(copy, "edit", "subscription", "9", "--ended-on", "2026-12-31")
    figaro = " ".join(_run(copy, "dossier", "le-figaro").split())
    assert "service ends on Dec 31, 2026" in figaro  # still ahead


def test_what_you_dismissed_gets_no_reminder_and_no_calendar_event(copy: Path) -> None:
    _run(copy, "edit", "subscription", "16", "--dismiss", "--note", "a one-off purchase")  # Netflix
    dry = _run(copy, "notify", "--dry-run", "--today", "2026-12-07")
    assert "Netflix" not in dry
    out = copy.parent / "subtrail.ics"
    _run(copy, "export", "calendar", "-o", str(out))
    assert "renewal-16@subtrail" not in out.read_text()


def test_serve_help_does_not_claim_read_only_while_its_forms_write_corrections() -> None:
    said = " ".join(CliRunner().invoke(cli, ["serve", "--help"]).output.split())
    assert "read-only" not in said and "your corrections" in said


def test_an_ended_subscription_has_a_last_price_not_a_current_one(copy: Path) -> None:
    deezer = " ".join(_run(copy, "dossier", "deezer").replace("\u00a0", " ").split())
    assert "Dernier prix : 11,99 € / mois" in deezer and "Prix actuel" not in deezer
    netflix = " ".join(_run(copy, "dossier", "netflix").replace("\u00a0", " ").split())
    assert "Prix actuel : 14,99 € / mois" in netflix


def test_the_weekly_digest_gives_the_same_total_as_status(copy: Path) -> None:
    toml = copy.parent / "subtrail.toml"
    toml.write_text(toml.read_text() + '\n[notify]\nweekly_digest = "monday 08:00"\n')
    status = " ".join(_run(copy, "status").replace("\u00a0", " ").split())
    dry = " ".join(_run(copy, "notify", "--dry-run", "--today", "2026-11-30").replace("\u00a0", " ").split())
    monthly = re.search(r"Total mensuel : ([\d ,]+ €)", status)
    active = re.search(r"Abonnements actifs \((\d+)\)", status)
    assert monthly and active
    assert f"{active.group(1)} abonnements actifs, environ {monthly.group(1)} par mois." in dry


@pytest.mark.parametrize(
    "text", ["Numéro d'abonné : 12345678", "N° d’abonné : 12345678", "Subscriber number: 12345678"]
)
def test_a_subscriber_number_is_the_customer_number(text: str) -> None:
    assert find_identifiers(text) == [("customer_number", "12345678")]


def test_the_canal_plus_cancellation_carries_the_subscriber_number_of_its_mail(copy: Path) -> None:
    assert "Numéro de client : 12345678" in _run(copy, "draft", "cancel", "canal-plus")


def test_export_refuses_a_date_that_does_not_exist(copy: Path) -> None:
    result = CliRunner().invoke(
        cli, ["export", "evidence", "--since", "2026-13-01", "--config", str(copy.parent / "subtrail.toml")]
    )
    assert result.exit_code == 2 and "--since" in result.output


def test_export_reads_a_date_as_people_write_it_like_today_does(copy: Path) -> None:
    written = _run(copy, "export", "evidence", "--provider", "deezer", "--since", "1 octobre 2026")
    assert "cancellation_confirmed" in written and "Votre facture Deezer" not in written  # 25 Sept is before


def test_verify_counts_one_problem_in_the_singular(copy: Path) -> None:
    with sqlite3.connect(copy) as conn:
        conn.execute(
            "update raw_messages set raw = raw || x'20' where rowid = (select min(rowid) from raw_messages)"
        )
    result = CliRunner().invoke(cli, ["verify", "--config", str(copy.parent / "subtrail.toml")])
    assert result.exit_code == 1 and "42 messages bruts vérifiés, 1 problème\n" in result.output
    _in_english(copy)
    result = CliRunner().invoke(cli, ["verify", "--config", str(copy.parent / "subtrail.toml")])
    assert result.exit_code == 1 and "42 raw messages checked, 1 problem\n" in result.output


def test_the_status_example_of_the_usage_doc_is_what_the_sample_prints(copy: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs/usage.md").read_text(encoding="utf-8")
    block = doc.split("```\nsubtrail status — 27 nov. 2026\n", 1)[1].split("```", 1)[0]
    printed = _run(copy, "status").replace("\u00a0", " ").replace("\u202f", " ").splitlines()
    for line in block.splitlines():
        if line.strip() and line.strip() != "…":
            assert line.rstrip() in printed, line


def test_a_case_they_answered_with_a_promise_is_not_waiting_for_their_answer(copy: Path) -> None:
    status = _run(
        copy, "status"
    )  # Spotify answered on the 23rd and promised a refund: the next move is theirs
    assert "en attente de leur part" in status and "en attente de leur réponse" not in status
    assert EN.ticket_status("awaiting_provider") == "waiting on them"


def test_a_draft_email_is_dated_the_day_its_letter_is(copy: Path) -> None:
    out = copy.parent / "cancel.eml"
    _run(copy, "draft", "cancel", "netflix", "--eml", "-o", str(out))
    message = out.read_text()
    assert "Date: Fri, 27 Nov 2026" in message and "Le 27 novembre 2026" in message.replace("=\n", "")


def test_status_and_the_web_name_open_cases_the_same_way_in_english(copy: Path) -> None:
    toml = copy.parent / "subtrail.toml"
    toml.write_text(toml.read_text().replace('language = "fr"', 'language = "en"'))
    assert "Open cases (1)" in _run(copy, "status")  # the overview's "Open cases", not "Open tickets"


def test_import_of_one_message_says_one_message(copy: Path) -> None:
    one = str(SAMPLE / "mailbox" / "inbox" / "sub-netflix-fr-receipt-nov.eml")
    said = _run(copy, "import", one)
    assert said.startswith("1 message lu en ") and "nouveaux : 0, déjà enregistrés : 1" in said
    _in_english(copy)
    said = _run(copy, "import", one)
    assert said.startswith("1 message read in ") and "0 new, 1 already stored" in said


def test_a_letter_dates_an_exchange_on_the_readers_clock_not_utc(copy: Path) -> None:
    _run(copy, "note", "add", "--provider", "spotify", "--channel", "phone", "--at", "2026-11-26 00:30",
         "--agent", "Sarah", "--text", "Rappel", "--promise", "remboursement sous 5 jours ouvrés")  # fmt: skip
    letter = _run(copy, "draft", "follow-up", "613377")  # 00:30 in Paris is 23:30 UTC the day before
    assert "Le 26 novembre 2026, Sarah m'a dit par téléphone" in letter
    assert "- 26 novembre 2026 — appel téléphonique (Sarah)" in letter and "25 novembre" not in letter
