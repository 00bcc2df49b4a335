"""General rules for mail no provider file knows: labelled totals, resellers, forwards, department words."""

from __future__ import annotations

import pytest

from extractors import Extraction, Identity
from extractors.subscriptions.labelled import role_of_label
from tests import unseen
from tests.unseen import mail

ME = Identity(frozenset({"me@example.org", "me.too@example.net"}))


def run(raw: bytes) -> Extraction:
    return unseen.run(raw, ME)


@pytest.mark.parametrize(
    ("label", "role"),
    [
        ("Subtotal", "subtotal"), ("Sous-total", "subtotal"), ("Total HT", "subtotal"),
        ("TVA (20 %)", "tax"), ("VAT charged at 20%", "tax"), ("includes VAT 20%", "tax"),
        ("Total (VAT included)", "total"), ("Montant TTC", "total"), ("Montant prélevé", "total"),
        ("Amount paid", "total"), ("Dépôt de garantie", "deposit"), ("Facture de régularisation", "regularisation"),
    ],
)  # fmt: skip
def test_label_roles(label: str, role: str) -> None:
    assert role_of_label(label.lower()) == role


@pytest.mark.parametrize(
    "body",
    [
        "Votre abonnement Pro (mensuel)\nSous-total : 10,00 €\nTVA (20 %) : 2,00 €\nTotal : 12,00 €\n",
        "Your Pro subscription (monthly)\nSubtotal   €10.00\nVAT (20%)   €2.00\nTotal   €12.00\n",
    ],
)
def test_the_total_charged_not_the_subtotal(body: str) -> None:
    result = run(mail("Quillbox <billing@quillbox.example>", "Votre facture Quillbox", body))
    assert [e.amount_minor for e in result.events] == [1200]


def test_a_merchant_of_record_bills_for_the_merchant_it_names() -> None:
    body = "Your Quillbox Pro subscription (monthly)\nSubtotal: $4.00\nTax: $0.80\nTotal: $4.80\n"
    result = run(mail("Quillbox via Paddle.com <help@paddle.com>", "Your Quillbox receipt", body))
    [event] = result.events
    assert (event.provider, event.platform, event.billed_by, event.amount_minor) == (
        "quillbox", "reseller", "paddle", 480,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("marker", "header"),
    [
        ("---------- Forwarded message ---------", "From: Quillbox <billing@quillbox.example>\nDate: Tue, Nov 3, 2026"
         "\nSubject: Your Quillbox receipt\nTo: <me@example.org>"),
        ("-------- Message transféré --------", "Sujet : Votre facture Quillbox\nDate : 3 novembre 2026\n"
         "De : Quillbox <billing@quillbox.example>\nPour : me@example.org"),
    ],
)  # fmt: skip
def test_a_receipt_i_forward_is_the_receipt(marker: str, header: str) -> None:
    body = f"Pour les comptes.\n\n{marker}\n{header}\n\nYour subscription (monthly)\nTotal: 12,00 €\n"
    result = run(mail("Me <me@example.org>", "Fwd: Your Quillbox receipt", body, to="me.too@example.net"))
    [event] = result.events
    assert (result.kind, event.provider, event.account_email) == ("receipt", "quillbox", "me@example.org")
    assert event.confidence <= 0.8


def test_a_forward_from_someone_else_credits_nothing() -> None:
    body = "---------- Forwarded message ---------\nFrom: Quillbox <billing@quillbox.example>\n" \
        "Subject: Your Quillbox receipt\n\nYour subscription (monthly)\nTotal: 12,00 €\n"  # fmt: skip
    assert run(mail("Friend <pal@example.com>", "Fwd: Your Quillbox receipt", body)).events == []


@pytest.mark.parametrize(
    ("sender", "subject", "slug"),
    [
        ("Quill Accounting <no-reply@quillaccount.example>", "Your QuillVPN order confirmation", "quillvpn"),
        ("Quillbox Facturation <factures@quillbox.example>", "Votre facture Quillbox", "quillbox"),
    ],
)
def test_department_words_never_enter_a_slug(sender: str, subject: str, slug: str) -> None:
    body = "Votre abonnement annuel / your annual plan\nTotal : 59,88 €\n"
    assert [e.provider for e in run(mail(sender, subject, body)).events] == [slug]


def test_a_regularisation_bill_proves_the_contract_runs_not_its_price() -> None:
    body = (
        "Votre contrat d'électricité (mensualité)\nMontant de la régularisation : 214,37 €\n"
        "Date de prélèvement : 10/11/2026\nVos mensualités restent inchangées : 64,00 € par mois.\n"
    )
    result = run(mail("Voltéo <factures@volteo.example>", "Votre facture de régularisation", body))
    assert result.kind == "receipt"
    assert [(e.event_type, e.amount_minor, e.occurred_on) for e in result.events] == [
        ("charge", None, "2026-11-10")
    ]


@pytest.mark.parametrize(
    "subject", ["Votre facture de clôture", "Your final bill", "Votre facture de résiliation"]
)
def test_a_closing_bill_proves_nothing_running(subject: str) -> None:
    body = "Votre contrat d'électricité (mensualité)\nMontant à payer : 214,37 €\nDate de prélèvement : 10/11/2026\n"
    assert run(mail("Voltéo <factures@volteo.example>", subject, body)).events == []


@pytest.mark.parametrize(
    ("body", "plan", "renews"),
    [
        ("Votre abonnement a été renouvelé.\nFormule : Pro Famille\nMontant : 9,99 € par mois\n"
         "Prochain prélèvement : 12/12/2026\n", "Pro Famille", "2026-12-12"),
        ("Your subscription renewed.\nPlan: Pro (monthly)\nAmount paid: $9.99\nNext billing date: Dec 12, 2026\n",
         "Pro", "2026-12-12"),
        ("Your subscription.\nWe've just billed $9.99, so you're paid up until December 12th.\n", None, "2026-12-12"),
        ("Votre abonnement\nOffre : Essentiel – 9,99 €/mois\nMontant : 9,99 €\nValable jusqu'au : 12/12/2026\n",
         "Essentiel", "2026-12-12"),
        ("Your membership\nTier: Gold\nTotal: €9.99/month\nValid until 12 December 2026\n", "Gold", "2026-12-12"),
    ],
)  # fmt: skip
def test_labelled_plan_and_next_charge_for_an_unknown_sender(
    body: str, plan: str | None, renews: str
) -> None:
    [event] = run(mail("Quillbox <hello@quillbox.example>", "Votre reçu Quillbox", body)).events
    assert (event.amount_minor, event.plan, event.next_renewal_on) == (999, plan, renews)


def test_labelled_plan_from_an_html_table_cell() -> None:
    raw = mail(
        "Quillbox <hello@quillbox.example>",
        "Votre reçu Quillbox",
        "<html><body><p>Votre abonnement a été renouvelé.</p><table>"
        "<tr><td>Formule</td><td>Pro Famille</td></tr><tr><td>Montant</td><td>9,99&nbsp;€ par mois</td></tr>"
        "<tr><td>Prochain prélèvement</td><td>12/12/2026</td></tr></table></body></html>",
        message_id="<t@example>",
        subtype="html",
    )
    [event] = run(raw).events
    assert (event.amount_minor, event.plan, event.next_renewal_on) == (999, "Pro Famille", "2026-12-12")


@pytest.mark.parametrize(
    ("subject", "body", "period"),
    [
        ("Thanks for your payment", "We've just billed $59.00, so you're paid up until December 11th.\n", None),
        ("Your Quillbox invoice", "Billing period: Nov 3, 2026 – Dec 2, 2026\nQuillbox Pro × 1   $50.00\nTax   $9.00\n"
         "Total   $59.00\n", "P1M"),
        ("Votre facture Quillbox est disponible", "Votre facture de novembre est disponible.\nMontant : 59,00 € TTC\n",
         "P1M"),
    ],
)  # fmt: skip
def test_a_paid_period_makes_a_charge_recurring(subject: str, body: str, period: str | None) -> None:
    [event] = run(mail("Quillbox <billing@quillbox.example>", subject, body)).events
    assert (event.event_type, event.amount_minor, event.billing_period) == ("charge", 5900, period)


@pytest.mark.parametrize(
    "date_line",
    ["Date: mar. 3 nov. 2026 à 10:00", "Date : mardi 3 novembre 2026 10:00", "Date: Tue, Nov 3, 2026 at 10:00 AM",
     "Sent: Tuesday, November 3, 2026 10:00 AM", "Envoyé : mer. 4 nov. 2026 09:12"],
)  # fmt: skip
def test_a_forwarded_date_line_with_its_weekday(date_line: str) -> None:
    body = (
        f"---------- Forwarded message ---------\nFrom: Quillbox <billing@quillbox.example>\n{date_line}\n"
        "Subject: Votre reçu Quillbox\nTo: <me@example.org>\n\nVotre abonnement (mensuel)\nTotal : 12,00 €\n"
    )
    [event] = run(
        mail("Me <me@example.org>", "Fwd: Votre reçu Quillbox", body, to="me.too@example.net")
    ).events
    assert event.occurred_on in ("2026-11-03", "2026-11-04")


@pytest.mark.parametrize("label", ["Compte", "Your account", "Apple Account", "Identifiant", "Sign-in ID"])
def test_the_account_the_mail_names_is_the_account(label: str) -> None:
    body = f"Votre abonnement (mensuel)\n{label} : me.too@example.net\nTotal : 12,00 €\n"
    [event] = run(mail("Quillbox <billing@quillbox.example>", "Votre reçu Quillbox", body)).events
    assert event.account_email == "me.too@example.net"


@pytest.mark.parametrize(
    ("body", "period"),
    [
        ("We charged $59.00 for your subscription. You're paid up until December 3rd.\n", "P1M"),
        ("Votre abonnement : 59,00 € prélevés. Prochain prélèvement : 3 novembre 2027.\n", "P1Y"),
    ],
)  # fmt: skip
def test_the_period_between_a_charge_and_the_next(body: str, period: str) -> None:
    [event] = run(mail("Quillbox <billing@quillbox.example>", "Payment receipt", body)).events
    assert (event.amount_minor, event.billing_period) == (5900, period)
