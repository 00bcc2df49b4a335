"""Stores and channels bill for a service they name: the service is the provider, the store its platform.

Synthetic FR/EN mail in the shapes stores use (a sentence naming the merchant, an item table,
a price-change notice naming the subscription), never copies of a development-corpus message.
"""

from __future__ import annotations

import pytest

from tests.unseen import mail, run

PLAY = "Google Play <googleplay-noreply@google.com>"


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Your Google Play Order Receipt from Nov 3, 2026",
         "Thank you.\n\nYou've made a purchase from Tunefox on Google Play.\n\nOrder number: GPA.1111-2222\n\n"
         "Item                         Price\nTunefox: Studio (Tunefox)    €4.99/month\nAuto-renewing subscription\n"
         "Total:                       €4.99/month\n\nNext payment: Dec 3, 2026\n"),
        ("Votre reçu de commande Google Play du 3 nov. 2026",
         "Merci.\n\nVous avez effectué un achat auprès de Tunefox sur Google Play.\n\n"
         "Article                      Prix\nTunefox Studio (Tunefox)     4,99 €/mois\nAbonnement à renouvellement automatique\n"
         "Total :                      4,99 €/mois\n\nProchain paiement : 3 déc. 2026\n"),
    ],
)  # fmt: skip
def test_a_google_play_receipt_is_the_apps_it_names(subject: str, body: str) -> None:
    result = run(mail(PLAY, subject, body))
    [event] = result.events
    assert (event.provider, event.platform, event.billed_by) == ("tunefox", "google_play", "google-play")
    assert (event.amount_minor, event.billing_period, event.next_renewal_on) == (499, "P1M", "2026-12-03")


@pytest.mark.parametrize(
    ("subject", "body"),
    [
        ("Price increase for your Tunefox subscription",
         "The price of your Tunefox: Studio subscription on Google Play is going up from €3.99/month to "
         "€4.99/month.\nThe new price will apply from your first payment on or after December 12, 2026.\n"),
        ("Augmentation du prix de votre abonnement Tunefox",
         "Le prix de votre abonnement Tunefox Studio sur Google Play passera de 3,99 €/mois à 4,99 €/mois.\n"
         "Le nouveau prix s'appliquera à partir de votre premier paiement à compter du 12 décembre 2026.\n"),
    ],
)  # fmt: skip
def test_a_store_price_change_is_the_subscription_it_names(subject: str, body: str) -> None:
    [event] = run(mail(PLAY, subject, body)).events
    assert (event.event_type, event.provider, event.platform) == ("price_change", "tunefox", "google_play")
    assert (event.amount_minor, event.occurred_on) == (499, "2026-12-12")


def test_the_stores_own_name_is_never_the_service() -> None:
    body = "You've made a purchase on Google Play.\n\nItem    Price\nGoogle Play balance    €10.00\nTotal: €10.00\n"
    result = run(mail(PLAY, "Your Google Play Order Receipt", body))
    assert [e.provider for e in result.events] == []


def test_a_store_receipt_with_only_an_item_table_is_the_items() -> None:
    body = (
        "Merci.\n\nArticle                      Prix\nTunefox : Studio (Tunefox)   4,99 €/mois\n"
        "Abonnement à renouvellement automatique\nTotal :                      4,99 €/mois\n"
    )
    [event] = run(mail(PLAY, "Votre reçu de commande Google Play", body)).events
    assert (event.provider, event.platform, event.amount_minor) == ("tunefox", "google_play", 499)


PRIME_VIDEO = "Prime Video <no-reply@primevideo.com>"


@pytest.mark.parametrize(
    ("subject", "body", "event_type"),
    [
        ("Votre essai gratuit de Cinéflux a commencé",
         "Bonjour,\n\nMerci de vous être abonné(e) à Cinéflux sur Prime Video Channels.\n\nChaîne : Cinéflux\n"
         "Essai gratuit : 7 jours, jusqu'au 10 novembre 2026\nEnsuite : 5,99 € par mois\n", "trial_started"),
        ("Your Cineflux subscription has been cancelled",
         "Your Cineflux subscription on Prime Video Channels (€5.99/month) has been cancelled.\n\n"
         "You can keep watching Cineflux until December 8, 2026.\n", "cancellation_confirmed"),
        ("Votre reçu Prime Video Channels",
         "Bonjour,\n\nVotre paiement mensuel a été effectué.\n\nChaîne : Cineflux\nMontant : 5,99 € par mois\n",
         "charge"),
    ],
)  # fmt: skip
def test_a_prime_video_channel_is_the_channel(subject: str, body: str, event_type: str) -> None:
    [event] = run(mail(PRIME_VIDEO, subject, body)).events
    assert (event.event_type, event.provider, event.platform, event.billed_by) == (
        event_type, "cineflux", "amazon", "amazon",
    )  # fmt: skip
    assert (event.amount_minor, event.billing_period) == (599, "P1M")


@pytest.mark.parametrize(
    ("sender", "subject", "body"),
    [
        ("Amazon Kindle <digital-no-reply@amazon.fr>", "Bienvenue dans Kindle Unlimited",
         "Votre essai gratuit a commencé\n\nVotre essai gratuit de 30 jours de Kindle Unlimited prendra fin le "
         "3 décembre 2026. Ensuite, votre abonnement sera renouvelé au tarif de 9,99 € par mois.\n"),
        ("Amazon.com <digital-no-reply@amazon.com>", "Welcome to Kindle Unlimited",
         "Your free trial has started.\n\nYour 30-day Kindle Unlimited free trial ends on December 3, 2026. "
         "After that, your membership renews at $11.99/month unless you cancel.\n"),
    ],
)  # fmt: skip
def test_a_welcome_that_starts_a_free_trial_is_a_trial(sender: str, subject: str, body: str) -> None:
    result = run(mail(sender, subject, body))
    [event] = result.events
    assert (result.kind, event.event_type, event.provider, event.platform) == (
        "trial", "trial_started", "kindle-unlimited", "direct",
    )  # fmt: skip
    assert (event.trial_ends_on, event.billing_period) == ("2026-12-03", "P1M")


def test_a_store_subscription_confirmation_with_a_trial_is_a_trial() -> None:
    body = (
        "You've started a free trial of a subscription.\n\nApp: Tunefox: Music\nSubscription: Tunefox Pro "
        "(Monthly)\nFree trial: 7 days, ends November 10, 2026\nRenewal price: €4.99/month\n"
    )
    result = run(mail("Apple <no_reply@email.apple.com>", "Your subscription confirmation", body))
    [event] = result.events
    assert (result.kind, event.event_type, event.provider, event.trial_ends_on) == (
        "trial", "trial_started", "tunefox", "2026-11-10",
    )  # fmt: skip


STRIPE_FOOTER = (
    "You're receiving this email because you made a purchase at Quillbox, which partners with Stripe to "
    "provide invoicing and payment processing.\n"
)


def test_a_stripe_hosted_receipt_is_billed_by_stripe_for_the_merchant() -> None:
    body = (
        "Receipt from Quillbox\n\nAmount paid: €6.00\nDate paid: Nov 3, 2026\n\nSummary\n"
        f"Quillbox Letters – paid subscription (monthly)    €6.00\n\n{STRIPE_FOOTER}"
    )
    [event] = run(
        mail("Quillbox <invoice+statements@quillbox.example>", "Your receipt from Quillbox #1234", body)
    ).events
    assert (event.provider, event.platform, event.billed_by, event.amount_minor) == (
        "quillbox",
        "stripe",
        "stripe",
        600,
    )


def test_a_stripe_hosted_receipt_for_a_ticket_is_no_subscription() -> None:
    body = f"Receipt from Quillbox\n\nAmount paid: €45.00\n\nSummary\nConference ticket   Qty 1   €45.00\n\n{STRIPE_FOOTER}"
    result = run(
        mail("Quillbox <invoice+statements@quillbox.example>", "Your receipt from Quillbox #1235", body)
    )
    assert (result.kind, result.events) == ("receipt", [])


def test_a_google_play_item_names_the_app_even_when_the_developer_differs() -> None:
    raw = mail(
        PLAY,
        "Your Google Play Order Receipt from Nov 3, 2026",
        "<html><body><p>You've made a purchase from Quill Labs, LLC on Google Play.</p><table>"
        "<tr><td>Item</td><td>Price</td></tr><tr><td>Tunefox Studio (Tunefox: Music)</td><td>€4.99/month</td></tr>"
        "<tr><td>Auto-renewing subscription</td><td></td></tr><tr><td>Total:</td><td>€4.99/month</td></tr>"
        "</table></body></html>",
        message_id="<g@example>",
        subtype="html",
    )
    [event] = run(raw).events
    assert (event.provider, event.platform, event.amount_minor) == ("tunefox", "google_play", 499)


def test_thanks_for_subscribing_to_a_prime_video_channel() -> None:
    body = "Thanks for subscribing to Cineflux on Prime Video Channels.\n\nYou'll be charged €5.99/month.\n"
    [event] = run(mail(PRIME_VIDEO, "Welcome to Cineflux", body)).events
    assert (event.provider, event.platform, event.amount_minor) == ("cineflux", "amazon", 599)


APPLE = "Apple <no_reply@email.apple.com>"


@pytest.mark.parametrize(
    ("subject", "body", "event_type"),
    [
        ("Your subscription has been cancelled",
         "Your subscription to Tunefox Pro (Monthly) has been cancelled. You can continue to use it until "
         "12 December 2026.\n", "cancellation_confirmed"),
        ("Votre abonnement va bientôt être renouvelé",
         "Votre abonnement à Tunefox Premium sera renouvelé le 12 décembre 2026 pour 4,99 € par mois.\n",
         "renewal_notice"),
        ("Subscription Price Increase",
         "The price of your Tunefox Plus subscription will increase from €4.99 to €5.99 per month starting "
         "12 December 2026.\n", "price_change"),
    ],
)  # fmt: skip
def test_a_store_mail_naming_the_product_is_the_apps(subject: str, body: str, event_type: str) -> None:
    [event] = run(mail(APPLE, subject, body)).events
    assert (event.event_type, event.provider, event.platform) == (event_type, "tunefox", "apple")


def test_a_membership_sold_by_a_merchant_of_record_is_the_creators() -> None:
    body = (
        "You're now a member of Quill Letters.\n\n$5 a month\nYou'll be charged again on December 3, 2026.\n"
    )
    result = run(mail("Gumroad <noreply@gumroad.com>", "Your membership to Quill Letters", body))
    [event] = result.events
    assert (result.kind, event.provider, event.platform, event.billed_by, event.amount_minor) == (
        "signup", "quill-letters", "reseller", "gumroad", 500,
    )  # fmt: skip


@pytest.mark.parametrize("subject", ["You bought Quill Icons!", "Vous avez acheté Quill Icons"])
def test_a_one_off_sale_by_a_merchant_of_record_is_a_receipt(subject: str) -> None:
    body = "Thanks for your purchase of Quill Icons from Quill Studio.\nTotal: $15\n"
    result = run(mail("Gumroad <noreply@gumroad.com>", subject, body))
    assert (result.kind, result.events) == ("receipt", [])
