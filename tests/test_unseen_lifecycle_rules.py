"""The lifecycle of a subscription on mail no provider file knows: cancellations with the access end,
periods as people write them, a price announced for later, one-off purchases with an upsell.

Synthetic FR/EN mail, never copies of a development-corpus message.
"""

from __future__ import annotations

import pytest

from tests.unseen import mail, run


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Your Quillbox Plus auto-renew has been turned off",
         "Auto-renew has been turned off for your Quillbox Plus membership.\n\n"
         "Your membership will end on 14 December 2026 and won't be renewed.\n"),
        ("Le renouvellement automatique de votre abonnement Quillbox a été désactivé",
         "Bonjour,\n\nVotre abonnement Quillbox Plus ne sera pas renouvelé. Vous en profitez jusqu'au "
         "14 décembre 2026.\n"),
        ("Your Quillbox membership has been canceled",
         "We've canceled your Quillbox membership as requested.\n\nYou'll keep your member benefits until "
         "December 14, 2026, the end of your current billing period.\n"),
        ("Votre abonnement Quillbox a été résilié",
         "Bonjour,\n\nNous confirmons la résiliation de votre abonnement. Vous conservez vos avantages "
         "jusqu'au 14/12/2026, fin de votre période en cours.\n"),
    ],
)  # fmt: skip
def test_a_cancellation_without_a_price_keeps_the_access_end(subject: str, body: str) -> None:
    result = run(mail("Quillbox <hello@quillbox.example>", subject, body))
    [event] = result.events
    assert (result.kind, event.event_type, event.provider, event.ends_on) == (
        "cancellation", "cancellation_confirmed", "quillbox", "2026-12-14",
    )  # fmt: skip
    assert result.needs_review  # an unknown sender: a person confirms


def test_an_order_cancelled_is_no_subscription_cancelled() -> None:
    body = "Votre commande n° 4411 a été annulée. Vous serez remboursé sous 5 jours.\n"
    result = run(mail("Quillbox <hello@quillbox.example>", "Votre commande a été annulée", body))
    assert result.events == []


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Confirmation de votre commande n° 88AB21",
         "Merci pour votre commande !\n\nLampe de bureau    34,90 €\nLivraison    offerte\nTotal TTC    34,90 €\n\n"
         "----------------------------------------\n\nEssayez Quillbox Club gratuitement pendant 30 jours : "
         "livraison illimitée, puis 4,99 €/mois. Sans engagement.\n"),
        ("Your Quillbox order #88AB21",
         "Thanks for your order!\n\nDesk lamp    $34.90\nShipping    free\nOrder total    $34.90\n\n"
         "Try Quillbox Club: start your membership free for 30 days, then $4.99 per month.\n"),
    ],
)  # fmt: skip
def test_a_one_off_purchase_with_an_upsell_is_no_subscription(subject: str, body: str) -> None:
    result = run(mail("Quillbox <orders@quillbox.example>", subject, body))
    assert (result.kind, result.events) == ("receipt", [])


def test_a_subscription_receipt_with_an_upsell_is_still_the_subscription() -> None:
    body = (
        "Votre abonnement Quillbox Essentiel a été renouvelé.\n\nMontant : 4,99 € par mois\n\n"
        "Découvrez Quillbox Premium : 9,99 €/an de plus pour le catalogue complet.\n"
    )
    [event] = run(mail("Quillbox <orders@quillbox.example>", "Votre reçu Quillbox", body)).events
    assert (event.provider, event.amount_minor, event.billing_period) == ("quillbox", 499, "P1M")


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Votre cotisation Quillbox en 2027",
         "Bonjour,\n\nAu 1er janvier 2027, votre cotisation mensuelle Quillbox passera de 30,00 € à 32,50 €.\n\n"
         "Jusque-là, votre cotisation reste de 30,00 € par mois.\n"),
        ("Your Quillbox plan in 2027",
         "Hi,\n\nYour Quillbox membership will go up from €30.00 to €32.50 per month, starting January 1, 2027.\n"),
    ],
)  # fmt: skip
def test_an_announced_price_keeps_the_price_in_force(subject: str, body: str) -> None:
    result = run(mail("Quillbox <hello@quillbox.example>", subject, body))
    [event] = result.events
    assert (result.kind, event.event_type, event.provider, event.billing_period) == (
        "price_change", "price_change", "quillbox", "P1M",
    )  # fmt: skip
    assert (event.amount_minor, event.previous_amount_minor, event.occurred_on) == (3250, 3000, "2027-01-01")


@pytest.mark.parametrize(
    ("body", "period"),
    [
        ("Votre abonnement a été renouvelé.\n\nFormule : toutes les langues, 3 mois\nMontant : 29,97 €\n", "P3M"),
        ("Your subscription renewed.\n\nPlan: Quillbox Pro, billed every 3 months\nTotal: €29.97\n", "P3M"),
        ("Votre abonnement est prélevé tous les trois mois.\nMontant : 29,97 €\n", "P3M"),
        ("Votre abonnement a été renouvelé.\nMontant : 29,97 €\nPériode : 9 novembre 2026 – 8 février 2027\n", "P3M"),
        ("Your subscription renewed.\nTotal: €29.97\nBilling period: Nov 9, 2026 to Dec 8, 2026\n", "P1M"),
        ("Votre abonnement : période du 03/11/2026 au 02/11/2027\nTotal : 29,97 €\n", "P1Y"),
        ("Votre abonnement Quillbox\nLe prélèvement mensuel de 29,97 EUR a été effectué le 03/11/2026.\n"
         "Vous pourrez aussi choisir un forfait hebdomadaire plus tard.\n", "P1M"),
    ],
)  # fmt: skip
def test_the_billing_period_as_people_write_it(body: str, period: str) -> None:
    [event] = run(mail("Quillbox <hello@quillbox.example>", "Votre reçu Quillbox", body)).events
    assert (event.amount_minor, event.billing_period) == (2997, period)


def test_a_forwarded_instalment_notice_is_the_contracts_charge() -> None:
    body = (
        "Pour le dossier.\n\n________________________________\nDe\u00a0: Voltéo <factures@volteo.example>\n"
        "Envoyé\u00a0: lundi 8 juin 2026 07:10\nÀ\u00a0: me@example.org\nObjet\u00a0: Votre prochaine mensualité\n\n"
        "Votre mensualité de 64,00 € sera prélevée le 10/06/2026.\n"
    )
    result = run(mail("Me <me@example.org>", "TR: Votre prochaine mensualité", body, to="me@example.org"))
    [event] = result.events
    assert (event.provider, event.event_type, event.amount_minor, event.occurred_on) == (
        "volteo", "charge", 6400, "2026-06-10",
    )  # fmt: skip


@pytest.mark.parametrize(
    "subject",
    ["You've turned off automatic renewal for Quillbox Plus", "Automatic renewal turned off",
     "Vous avez désactivé le renouvellement automatique de Quillbox Plus", "Renouvellement automatique désactivé"],
)  # fmt: skip
def test_turning_off_renewal_is_a_cancellation(subject: str) -> None:
    body = "Your Quillbox Plus membership will end on 14 December 2026.\nVotre abonnement prendra fin le 14/12/2026.\n"
    result = run(mail("Quillbox <hello@quillbox.example>", subject, body))
    assert [(e.event_type, e.ends_on) for e in result.events] == [("cancellation_confirmed", "2026-12-14")]


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Évolution de votre cotisation Quillbox",
         "Bonjour,\n\nVotre cotisation mensuelle : 30,00 € → 32,50 € à partir du 1er janvier 2027.\n"),
        ("Your Quillbox price is changing",
         "Hi,\n\nYour monthly price: €30.00 -> €32.50, starting January 1, 2027.\n"),
    ],
)  # fmt: skip
def test_a_price_change_written_with_an_arrow(subject: str, body: str) -> None:
    [event] = run(mail("Quillbox <hello@quillbox.example>", subject, body)).events
    assert (event.event_type, event.amount_minor, event.previous_amount_minor, event.occurred_on) == (
        "price_change", 3250, 3000, "2027-01-01",
    )  # fmt: skip


@pytest.mark.parametrize(
    "footer",
    ["Unsubscribe from these emails | Manage your email subscription preferences",
     "Lien de désabonnement : https://quillbox.example/desabonnement - gérer mes abonnements aux newsletters"],
)  # fmt: skip
def test_a_mailing_footer_does_not_make_an_order_a_subscription(footer: str) -> None:
    body = f"Merci pour votre commande !\n\nLampe de bureau    34,90 €\nTotal TTC    34,90 €\n\n{footer}\n"
    result = run(mail("Quillbox <orders@quillbox.example>", "Votre commande n° 88AB21", body))
    assert (result.kind, result.events) == ("receipt", [])


@pytest.mark.parametrize(
    "line",
    ["Engagement : 12 mois, jusqu'au 04/01/2027", "Durée d'engagement : 12 mois (jusqu'au 4 janvier 2027)",
     "Minimum term: 12 months, until January 4, 2027", "Your commitment ends on 4 January 2027."],
)  # fmt: skip
def test_a_stated_commitment_end_is_kept(line: str) -> None:
    body = f"Votre abonnement Quillbox est confirmé.\nCotisation : 29,95 € par mois\n{line}\n"
    [event] = run(mail("Quillbox <hello@quillbox.example>", "Bienvenue chez Quillbox", body)).events
    assert (event.event_type, event.amount_minor, event.commitment_ends_on) == ("signup", 2995, "2027-01-04")


def test_a_free_account_welcome_with_a_paid_upgrade_is_no_subscription() -> None:
    body = "Thanks for creating your Quillbox account.\n\nUpgrade to Pro for $9.99/month anytime.\n"
    result = run(mail("Quillbox <hello@quillbox.example>", "Welcome to Quillbox", body))
    assert (result.kind, result.events) == ("signup", [])


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Votre avis d'échéance 2027", "Votre contrat habitation est reconduit au 01/01/2027.\nCotisation annuelle : "
         "320,04 € TTC\nMode de paiement : prélèvement mensuel de 26,67 €\n"),
        ("Votre avis d'échéance 2027", "Votre cotisation 2027 s'élève à 320,04 € TTC, payable en 12 mensualités de "
         "26,67 €.\n"),
        ("Your renewal notice", "Your home policy renews on 1 January 2027.\nAnnual premium: €320.04\n"
         "Paid by 12 monthly instalments of €26.67\n"),
    ],
)  # fmt: skip
def test_a_yearly_price_paid_monthly_is_the_instalment(subject: str, body: str) -> None:
    [event] = run(mail("Assur'Quill <contrats@assurquill.example>", subject, body)).events
    assert (event.amount_minor, event.billing_period) == (2667, "P1M")
