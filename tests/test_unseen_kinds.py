"""The kind of mail nobody configured, from its subject and the opening of its body (FR/EN).

Synthetic mail in the shapes real senders use, never copies of a development-corpus message.
"""

from __future__ import annotations

import pytest

from extractors import Extraction
from tests import unseen
from tests.unseen import mail


def run(sender: str, subject: str, body: str) -> Extraction:
    return unseen.run(mail(sender, subject, body, message_id="<k@example>"))


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Upcoming changes to your Quillbox plan",
         "Starting March 1, 2027, the price of a seat billed monthly will change from US$10.00 to US$12.00 per month.\n"),
        ("Ce qui change pour votre compte Quillbox",
         "À partir du 1er mars 2027, le prix de l'offre Pro passera de 10,00 € à 12,00 € par mois.\n"),
    ],
)  # fmt: skip
def test_a_price_announced_in_the_body_is_a_price_change(subject: str, body: str) -> None:
    result = run("Quillbox <no-reply@quillbox.example>", subject, body)
    [event] = result.events
    assert (result.kind, event.event_type, event.amount_minor, event.occurred_on) == (
        "price_change", "price_change", 1200, "2027-03-01",
    )  # fmt: skip


@pytest.mark.parametrize(
    "subject",
    ["Thank you for your Quillbox purchase!", "Merci pour votre achat Quillbox", "Votre e-billet Lyon → Paris du 3 juillet",
     "Your e-ticket for the Quillbox Festival"],
)  # fmt: skip
def test_a_one_off_purchase_is_a_receipt_without_a_subscription(subject: str) -> None:
    result = run(
        "Quillbox <no-reply@quillbox.example>", subject, "Lampe de bureau    34,90 €\nTotal    34,90 €\n"
    )
    assert (result.kind, result.events) == ("receipt", [])


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Nouveau remboursement : 60,00 €",
         "Nous vous avons remboursé 60,00 € pour votre séance d'ostéopathie du 09/10/2026.\n"),
        ("Un remboursement a été effectué sur votre compte",
         "Un remboursement de 18,20 € a été effectué.\nSoins du : 22/09/2026\nMontant remboursé : 18,20 €\n"),
        ("Your claim has been paid", "We've paid your claim: €60.00 for your physiotherapy session.\n"),
    ],
)  # fmt: skip
def test_a_care_reimbursement_is_no_refund_of_mine(subject: str, body: str) -> None:
    result = run("Mutuelle Quill <notifications@quill-sante.example>", subject, body)
    assert (result.kind, result.events) == ("other", [])


def test_a_refund_of_my_subscription_is_still_a_receipt() -> None:
    body = "Nous vous avons remboursé 9,99 € pour votre abonnement Quillbox du mois d'octobre.\n"
    result = run("Quillbox <billing@quillbox.example>", "Votre remboursement Quillbox", body)
    assert result.kind == "receipt"


@pytest.mark.parametrize(
    ("sender", "subject", "body"),
    [
        ("Marie Dupont <marie.dupont@gmail.com>", "Nouvelles",
         "Salut !\n\nTon abonnement Netflix a été résilié ? Le mien reste à 13,49 € par mois jusqu'au 12 mars 2027.\n"),
        ("Marie <marie.d@free.fr>", "Résiliation de ton abonnement", "Ton abonnement a été résilié, tu en profites "
         "jusqu'au 12 mars 2027.\n"),
        ("Tom <tom@outlook.com>", "Your invoice", "Here is the invoice for the monthly plan we share: €10.00/month.\n"),
    ],
)  # fmt: skip
def test_a_person_writing_from_a_mailbox_provider_is_no_provider(
    sender: str, subject: str, body: str
) -> None:
    assert run(sender, subject, body).events == []


def test_a_mailbox_providers_own_billing_robot_is_the_provider() -> None:
    body = "Your subscription (monthly)\nTotal: CHF 12.90\n"
    [event] = run("Proton <no-reply@proton.me>", "Your Proton invoice", body).events
    assert (event.provider, event.amount_minor) == ("proton", 1290)


def test_news_about_someone_elses_price_is_no_price_change() -> None:
    body = (
        "Streaming giant raises prices again.\n\nThe price of the Standard plan will increase from $15.49 to "
        "$17.99 per month, the company said.\n\nManage your subscription | Unsubscribe\n"
    )
    result = run("The Daily Byte <hello@dailybyte.example>", "Streaming prices are going up", body)
    assert result.events == []


@pytest.mark.parametrize(
    "subject",
    ["Vous avez reçu 18,00 € EUR de Marie Perrin", "Nous avons bien reçu votre demande",
     "Tu as reçu un paiement de Léo"],
)  # fmt: skip
def test_recu_the_verb_is_not_a_receipt(subject: str) -> None:
    result = run("Walletly <service@walletly.example>", subject, "Marie Perrin vous a envoyé 18,00 €.\n")
    assert result.kind != "receipt" and not result.events


def test_recu_the_noun_is_a_receipt() -> None:
    result = run(
        "Quillbox <no-reply@quillbox.example>", "Votre reçu Quillbox", "Quillbox Pro\nTotal : 12,00 €\n"
    )
    assert result.kind == "receipt"
