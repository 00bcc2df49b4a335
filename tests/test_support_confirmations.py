"""Support <-> inventory: what a provider's support reply confirms (cancellation, refund, plan or price change)
is a subscription event with that reply as evidence, and the inventory, status, dossier and calendar follow.

Only the provider's own new text counts: my own mail, the quoted history, a question, a hedge, a refusal or
an acknowledged request confirm nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from sqlite_utils import Database

from extractors import Identity
from extractors.support.confirmations import Confirmation, find_confirmations
from extractors.support.promises import local_date
from ingest.outputs.calendar import build_calendar
from ingest.outputs.dossier import build_dossier, render_markdown
from ingest.outputs.status import build_status, render_status
from ingest.pipeline.importer import import_paths
from ingest.pipeline.reprocess import reprocess_all
from ingest.store.schema import open_db
from tests.conftest import SAMPLE, import_sample

TODAY = date(2026, 11, 27)
SENT = date(2026, 11, 23)
ME = "alice.martin@example.org"


# --- the rule, sentence by sentence -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "event_type", "occurred_on", "ends_on", "amount", "plan"),
    [
        ("Votre résiliation a bien été prise en compte.", "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Bonjour, votre résiliation a bien été prise en compte. Elle prendra effet le 5 décembre 2026.",
         "cancellation_confirmed", "2026-12-05", "2026-12-05", None, None),
        ("We have cancelled your subscription, effective on December 5, 2026.",
         "cancellation_confirmed", "2026-12-05", "2026-12-05", None, None),
        ("Je confirme l'annulation de votre abonnement à compter du 30 novembre.",
         "cancellation_confirmed", "2026-11-30", "2026-11-30", None, None),
        ("Thanks for your patience. I can see the cancellation on November 3, so the charge should not have "
         "happened.", "cancellation_confirmed", "2026-11-03", None, None, None),
        ("As requested, your Premium membership has been cancelled and you keep access until December 12.",
         "cancellation_confirmed", "2026-12-12", "2026-12-12", None, None),
        ("Après vérification, nous avons procédé à la résiliation de votre contrat.",
         "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Votre abonnement Canal+ a bien été résilié.", "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Nous avons désactivé le renouvellement automatique de votre abonnement.",
         "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Le renouvellement automatique a bien été désactivé.", "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Votre résiliation sera effective le 31/12/2026, date de fin de votre engagement.",
         "cancellation_confirmed", "2026-12-31", "2026-12-31", None, None),
        ("Your cancellation will be effective on December 31, 2026.",
         "cancellation_confirmed", "2026-12-31", "2026-12-31", None, None),
        ("Your account has been moved back to the Free plan.", "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Votre abonnement a été basculé vers l'offre gratuite.",
         "cancellation_confirmed", "2026-11-23", None, None, None),
        ("Your refund of 9,99 € has been processed.", "refund", "2026-11-23", None, (999, "EUR"), None),
        ("Votre remboursement de 12,14 € a été effectué le 24 novembre.",
         "refund", "2026-11-24", None, (1214, "EUR"), None),
        ("I've issued a full refund of 119.88 EUR; it shows on your statement within 5 days.",
         "refund", "2026-11-23", None, (11988, "EUR"), None),
        ("Your plan has been changed to Premium Family, effective on December 1.",
         "price_change", "2026-12-01", None, None, "Premium Family"),
        ("Votre offre a bien été modifiée vers la formule Essentiel, qui prendra effet le 1er décembre.",
         "price_change", "2026-12-01", None, None, "Essentiel"),
        ("Le prix de votre abonnement passe de 10,99 € à 8,99 € par mois à compter du 1er janvier 2027.",
         "price_change", "2027-01-01", None, (899, "EUR"), None),
        ("We've lowered your monthly price to $7.99 starting January 1, 2027.",
         "price_change", "2027-01-01", None, (799, "USD"), None),
        ("Le remboursement de 3,00 € a par ailleurs été effectué aujourd'hui.",
         "refund", "2026-11-23", None, (300, "EUR"), None),
        ("The refund for your payment of November 5 has been processed.",
         "refund", "2026-11-23", None, None, None),
        ("Your plan has been changed to 12,99 € per month.", "price_change", "2026-11-23", None, (1299, "EUR"), None),
        ("Nous vous avons recrédité 9,99 € sur votre carte.", "refund", "2026-11-23", None, (999, "EUR"), None),
        ("We have credited your card with 4,99 €.", "refund", "2026-11-23", None, (499, "EUR"), None),
        ("Nous avons basculé votre compte vers l'offre Famille.", "price_change", "2026-11-23", None, None, "Famille"),
        ("Le virement de 150,00 € a été émis ce jour sur le compte associé à votre contrat.",
         "refund", "2026-11-23", None, (15000, "EUR"), None),
        ("C'est noté : votre abonnement passera à la formule Duo (14,99 €/mois) le 01/12/2026.",
         "price_change", "2026-12-01", None, (1499, "EUR"), "Duo"),
    ],
)  # fmt: skip
def test_a_provider_confirmation_is_a_fact(
    text: str, event_type: str, occurred_on: str, ends_on: str | None, amount: tuple | None, plan: str | None
) -> None:
    [fact] = find_confirmations(text, SENT)
    assert (fact.event_type, fact.occurred_on, fact.ends_on, fact.plan) == (
        event_type,
        occurred_on,
        ends_on,
        plan,
    )
    assert ((fact.amount_minor, fact.currency) if amount else None) == amount


@pytest.mark.parametrize(
    "text",
    [
        # questions
        "Can you confirm the cancellation?",
        "Could you please confirm the cancellation of your subscription",
        "Pouvez-vous confirmer la résiliation ?",
        "Merci de nous confirmer l'annulation de votre abonnement.",
        # hedges and intentions
        "We will look into cancelling your subscription.",
        "If you wish, we can cancel your subscription.",
        "Nous allons étudier la résiliation de votre abonnement.",
        "Si vous le souhaitez, nous pouvons résilier votre contrat.",
        "Once your subscription has been cancelled, you will receive a confirmation e-mail.",
        "Une fois votre résiliation prise en compte, vous recevrez un e-mail.",
        # refusals and negations
        "We cannot cancel your subscription before the end of your commitment.",
        "Nous ne pouvons pas résilier votre abonnement avant la fin de votre engagement.",
        "Unfortunately, your refund has not been processed.",
        "Votre remboursement n'a pas été effectué.",
        "I can't see any cancellation on your account.",
        "Je ne vois aucune résiliation sur votre compte.",
        "We're unable to confirm that your subscription has been cancelled.",
        "Nous ne pouvons pas confirmer que votre résiliation a été prise en compte.",
        # an acknowledged request, a refund still to come, a price merely stated
        "Votre demande de résiliation a bien été enregistrée, un conseiller la traitera sous 48 heures.",
        "We've received your cancellation request and an agent will get back to you.",
        "You will receive a refund within 5-7 business days.",
        "Votre remboursement sera effectué sous 5 jours ouvrés.",
        "Votre mensualité est de 80 € par mois.",
        "La résiliation prendra effet 30 jours après réception de votre courrier.",
        "Votre abonnement passera à la formule Duo si vous le confirmez.",
        "Je vous confirme que le prélèvement du 10/11/2026 est bien annulé.",
        "Votre virement a bien été reçu.",
        "Your plan has been changed to the one you asked for.",
        "Votre résiliation sera effective à réception de votre courrier.",
        "If you confirm, your cancellation will be effective on December 31, 2026.",
        # something else than the subscription ended, or not done yet
        "The service was stopped for two hours for maintenance.",
        "Your account has been disabled after several failed logins.",
        "Votre offre promotionnelle est terminée depuis le mois dernier.",
        "I can see the cancellation request you submitted, but it has not been processed yet.",
        "I confirm the cancellation fee is 10 €.",
        "Nous confirmons la résiliation sous réserve de réception de votre courrier signé.",
        "Votre résiliation a été enregistrée mais n'est pas encore effective.",
        "Your deposit refund will be issued within 7-10 business days.",
    ],
)
def test_not_a_confirmation(text: str) -> None:
    assert find_confirmations(text, SENT) == []


def test_a_renewal_cancelled_with_a_refund_still_to_come_is_a_cancellation_only() -> None:
    text = "I have cancelled the renewal and your refund of 6.99 EUR will be credited to your card within 3 days."
    assert [f.event_type for f in find_confirmations(text, SENT)] == ["cancellation_confirmed"]


def test_one_sentence_may_confirm_a_cancellation_and_a_refund() -> None:
    facts = find_confirmations(
        "I've cancelled your membership and issued a full refund of €59.88 to your card.", SENT
    )
    assert [(f.event_type, f.amount_minor) for f in facts] == [
        ("cancellation_confirmed", None),
        ("refund", 5988),
    ]


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("Done! I've switched your Dropbox Plus subscription to the annual plan today.", "P1Y"),
        ("Nous avons basculé votre abonnement vers la formule mensuelle.", "P1M"),
    ],
)
def test_a_switch_to_yearly_or_monthly_billing_is_a_period_change(text: str, period: str) -> None:
    [fact] = find_confirmations(text, SENT)
    assert (fact.event_type, fact.billing_period, fact.plan) == ("price_change", period, None)


def test_odd_input_never_raises() -> None:
    assert find_confirmations("", None) == []
    assert find_confirmations("résiliation " * 5000 + "a été prise en compte", None) is not None


# --- through the pipeline: the provider's reply, never mine or the quoted history -----------------


def _eml(
    sender: str, to: str, subject: str, when: str, body: str, msgid: str, reply_to: str | None = None
) -> bytes:
    head = f"From: {sender}\nTo: {to}\nSubject: {subject}\nDate: {when}\nMessage-ID: <{msgid}>\n"
    if reply_to:
        head += f"In-Reply-To: <{reply_to}>\nReferences: <{reply_to}>\n"
    head += "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
    return (head + "\n" + body).encode()


def _thread(tmp_path: Path, mine: str, theirs: str) -> Path:
    """Spotify's receipt (the subscription), my mail to its support, and the agent's reply."""
    folder = tmp_path / "mail"
    folder.mkdir()
    shutil.copy(SAMPLE / "mailbox" / "inbox" / "sub-spotify-fr-receipt.eml", folder / "receipt.eml")
    (folder / "mine.eml").write_bytes(
        _eml(f"Alice Martin <{ME}>", "support@spotify.com", "My subscription", "Fri, 20 Nov 2026 19:02:00 +0100",
             f"Hi,\n\n{mine}\n\nAlice\n", "mine-1@example.org")
    )  # fmt: skip
    (folder / "theirs.eml").write_bytes(
        _eml("Laura (Spotify) <support@spotify.com>", ME, "Re: My subscription", "Mon, 23 Nov 2026 11:20:00 +0100",
             f"Hi Alice,\n\n{theirs}\n\nBest regards,\nLaura\n", "theirs-1@spotify.com", "mine-1@example.org")
    )  # fmt: skip
    return folder


def _import(db: Database, folder: Path) -> None:
    import_paths(db, [str(folder)], identity=Identity(frozenset({ME})), workers=1, progress=False)


def _spotify(db: Database) -> dict:
    return dict(next(db.query("select * from subscriptions where provider = 'spotify'")))


def _support_events(db: Database) -> list[dict]:
    return list(
        db.query("select * from subscription_events where extractor like 'support-reply@%' order by id")
    )


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBTRAIL_TODAY", TODAY.isoformat())


def test_a_cancellation_confirmed_in_a_reply_cancels_the_subscription(db: Database, tmp_path: Path) -> None:
    folder = _thread(tmp_path, "Please cancel my subscription.",
                     "We have cancelled your subscription, effective on December 5, 2026.")  # fmt: skip
    _import(db, folder)
    sub = _spotify(db)
    assert (sub["status"], sub["cancelled_on"], sub["ends_on"], sub["next_renewal_on"]) == (
        "cancelled", "2026-11-23", "2026-12-05", None,
    )  # fmt: skip
    [event] = _support_events(db)
    assert event["message_sha256"] == hashlib.sha256((folder / "theirs.eml").read_bytes()).hexdigest()
    assert (event["event_type"], event["occurred_on"], event["subscription_id"]) == (
        "cancellation_confirmed", "2026-12-05", sub["id"],
    )  # fmt: skip


def test_a_refund_confirmed_in_a_reply_is_a_refund_event(db: Database, tmp_path: Path) -> None:
    _import(
        db, _thread(tmp_path, "I was charged twice.", "Votre remboursement de 12,14 € a bien été effectué.")
    )
    [event] = _support_events(db)
    assert (event["event_type"], event["amount_minor"], event["currency"]) == ("refund", 1214, "EUR")
    assert _spotify(db)["status"] == "active"  # a refund ends nothing


def test_a_plan_change_confirmed_in_a_reply_changes_the_plan(db: Database, tmp_path: Path) -> None:
    _import(db, _thread(tmp_path, "Can you move me to Duo?", "Your plan has been changed to Premium Duo."))
    assert _spotify(db)["plan"] == "Premium Duo"


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        ("I confirm the cancellation of my subscription.", "Could you tell us the e-mail address of your account?"),
        ("Je confirme l'annulation de mon abonnement.", "Pouvez-vous confirmer la résiliation ?"),
        ("Please cancel my subscription.", "We will look into cancelling your subscription."),
        ("Merci de résilier mon abonnement.", "Nous ne pouvons pas résilier votre abonnement avant le 5 janvier."),
        # the agent quotes an old confirmation; the new text asks something
        ("Is it cancelled?", "Could you send us your invoice number?\n\n> On Nov 3, Spotify wrote:\n"
                             "> We have cancelled your subscription."),
    ],
)  # fmt: skip
def test_no_event_without_the_providers_own_confirmation(
    db: Database, tmp_path: Path, mine: str, theirs: str
) -> None:
    _import(db, _thread(tmp_path, mine, theirs))
    assert _support_events(db) == []
    assert _spotify(db)["status"] == "active"


def test_a_rebuild_or_a_reprocess_does_not_double_the_event(db: Database, tmp_path: Path) -> None:
    folder = _thread(tmp_path, "Please cancel.", "Votre abonnement a bien été résilié.")
    _import(db, folder)
    _import(db, folder)  # nothing new, everything rebuilt
    [event] = _support_events(db)
    reprocess_all(db, Identity(frozenset({ME})), workers=1)
    assert [{**e, "id": None} for e in _support_events(db)] == [{**event, "id": None}]
    assert _spotify(db)["status"] == "cancelled"


def test_another_company_answering_in_the_case_confirms_nothing_for_the_provider(
    db: Database, tmp_path: Path
) -> None:
    """Deezer's support writes into my Spotify case (a reply to my mail): its refund is not Spotify's."""
    folder = _thread(tmp_path, "I was charged twice.", "Your refund of 12,14 € has been processed.")
    theirs = folder / "theirs.eml"
    theirs.write_bytes(
        theirs.read_bytes().replace(b"Laura (Spotify) <support@spotify.com>", b"Deezer <support@deezer.com>")
    )
    _import(db, folder)
    assert db.execute("select count(*) from ticket_messages where direction = 'inbound'").fetchone()[0] == 1
    assert _support_events(db) == []


def _two_accounts(tmp_path: Path, reply_to: str) -> Path:
    """Spotify on my address and on Bob's; the agent's reply is addressed to `reply_to`."""
    folder = _thread(tmp_path, "Please cancel.", "We have cancelled your subscription.")
    receipt = (folder / "receipt.eml").read_bytes()
    (folder / "receipt-2.eml").write_bytes(
        receipt.replace(b"To: Alice Martin <alice.martin@example.org>", b"To: Bob <bob@example.org>")
        .replace(b"Message-ID: <", b"Message-ID: <second-")
    )  # fmt: skip
    theirs = folder / "theirs.eml"
    theirs.write_bytes(theirs.read_bytes().replace(f"To: {ME}".encode(), f"To: {reply_to}".encode()))
    return folder


def test_a_reply_goes_to_the_subscription_of_the_account_it_was_sent_to(db: Database, tmp_path: Path) -> None:
    _import(db, _two_accounts(tmp_path, ME))
    assert db.execute("select count(*) from subscriptions where provider = 'spotify'").fetchone()[0] == 2
    mine = db.execute("select id from subscriptions where account_email = ?", [ME]).fetchone()[0]
    assert [e["subscription_id"] for e in _support_events(db)] == [mine]
    statuses = dict(db.execute("select account_email, status from subscriptions where provider = 'spotify'"))
    assert statuses == {ME: "cancelled", "bob@example.org": "active"}


def test_which_of_two_accounts_a_reply_cancels_is_never_guessed(db: Database, tmp_path: Path) -> None:
    _import(db, _two_accounts(tmp_path, "alice@example.org"))
    assert db.execute("select count(*) from ticket_messages where direction = 'inbound'").fetchone()[0] == 1
    assert _support_events(db) == []


# --- the bundled sample: Spotify's agent sees the cancellation of November 3 ---------------------------


@pytest.fixture
def sample_db(tmp_path: Path) -> Database:
    db = open_db(import_sample(tmp_path / "subtrail.db", bank=False))
    yield db
    db.close()


def test_spotify_cancellation_confirmed_by_support_ends_the_subscription(sample_db: Database) -> None:
    sub = _spotify(sample_db)
    assert (sub["status"], sub["cancelled_on"], sub["ends_on"]) == ("expired", "2026-11-03", "2026-11-05")
    assert sub["next_renewal_on"] is None
    reply = (SAMPLE / "mailbox" / "inbox" / "support-spotify-3-reply.eml").read_bytes()
    [event] = [e for e in _support_events(sample_db) if e["provider"] == "spotify"]
    assert (event["message_sha256"], event["event_type"]) == (
        hashlib.sha256(reply).hexdigest(), "cancellation_confirmed",
    )  # fmt: skip

    status = build_status(sample_db, today=TODAY)
    assert "spotify" not in {s["provider"] for s in status.subscriptions}
    assert "spotify" not in {r["provider"] for r in status.renewals}
    assert not any(line.lstrip().startswith("spotify") for line in render_status(status).splitlines()[:30]
                   if "renews" in line or "/month" in line)  # fmt: skip

    dossier = render_markdown(build_dossier(sample_db, "spotify", today=TODAY))
    assert "- Status: ended" in dossier  # the charge of the 5th was the renewal that should not have happened
    assert "Next renewal" not in dossier
    assert "Cancelled on: Nov 3, 2026, service ended on Nov 5, 2026" in dossier

    events = Calendar.from_ical(build_calendar(sample_db)).walk("VEVENT")
    spotify = [str(e["SUMMARY"]) for e in events if "Spotify" in str(e["SUMMARY"])]
    assert not any(s.startswith("Renewal:") for s in spotify), spotify


def test_the_sample_free_mobile_refund_confirmed_by_support_is_a_refund(sample_db: Database) -> None:
    [event] = [e for e in _support_events(sample_db) if e["provider"] == "free-mobile"]
    assert (event["event_type"], event["amount_minor"], event["currency"]) == ("refund", 1999, "EUR")
    assert _free_mobile_status(sample_db) == "active"


def _free_mobile_status(db: Database) -> str:
    return db.execute("select status from subscriptions where provider = 'free-mobile'").fetchone()[0]


# --- the labelled support threads: every provider reply, what it confirms ---------------------------------

JOURNAL = Path(__file__).resolve().parent / "fixtures" / "journal"


def _as_label(fact: Confirmation) -> dict[str, Any]:
    label = {"type": fact.event_type, "on": fact.occurred_on, "ends": fact.ends_on, "amount": fact.amount_minor,
             "plan": fact.plan, "period": fact.billing_period}  # fmt: skip
    return {k: v for k, v in label.items() if v is not None}


def test_every_reply_of_the_labelled_threads_confirms_what_its_label_says(db: Database) -> None:
    labels = tomllib.loads((JOURNAL / "confirmations.toml").read_text(encoding="utf-8"))["confirms"]
    import_paths(db, [str(JOURNAL / "mail")], identity=Identity(frozenset({ME})), workers=1, progress=False)
    name_of = {hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in (JOURNAL / "mail").glob("*.eml")}
    found = {}
    for sha, body, sent_at in db.execute(
        "select message_sha256, body, sent_at from ticket_messages where direction = 'inbound' and channel = 'email'"
    ):
        facts = [_as_label(f) for f in find_confirmations(body, local_date(sent_at))]
        if facts:
            found[name_of[sha]] = sorted(facts, key=lambda f: f["type"])
    assert found == {name: sorted(facts, key=lambda f: f["type"]) for name, facts in labels.items()}
