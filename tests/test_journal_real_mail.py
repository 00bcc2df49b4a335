"""Rules the journal follows on real mail (issue #16), each stated on a small synthetic message, FR and EN."""

from __future__ import annotations

import pytest

from extractors import Identity, extract
from extractors.mail.parse import parse_message
from extractors.support.brand import correspondent_domain, provider_slug
from extractors.support.quotes import split_reply
from extractors.support.refs import find_refs

ME = Identity(frozenset({"alice.martin@example.org"}))


def _raw(headers: dict[str, str], body: str) -> bytes:
    lines = [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join([*lines, "Content-Type: text/plain; charset=utf-8", "", body])).encode()


def _mail(body: str, **headers: str) -> bytes:
    base = {
        "From": "Desk <support@kettleworks.io>",
        "To": "Alice Martin <alice.martin@example.org>",
        "Date": "Mon, 02 Mar 2026 10:03:00 +0100",
        "Message-ID": "<m1@kettleworks.io>",
        "Subject": "Your request",
    }
    return _raw({**base, **{k.replace("_", "-"): v for k, v in headers.items()}}, body)


@pytest.mark.parametrize(
    ("addr", "slug"),
    [
        ("support@kettleworks.io", "kettleworks"),  # unknown brand: its domain, not "support"
        ("service-clients@particuliers.lumiere-energie.fr", "lumiere-energie"),  # a department host
        ("help+id123@kettleworks.zendesk.com", "kettleworks"),  # a hosted desk: the tenant
        ("x@kettleworks.freshdesk.com", "kettleworks"),
        ("reply@mg.gorgias.io", None),  # a relay names no brand
        ("cases@a1b2c3d4.eu45.case.salesforce.com", None),  # a tenant id is no brand
        ("service.clients@bouyguestelecom.fr", "bouygues-telecom"),  # the registry first
    ],
)
def test_provider_slug_from_correspondent(addr: str, slug: str | None) -> None:
    assert provider_slug(correspondent_domain(addr)) == slug


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("RE: Frais de résiliation [Réf. RC-123456]", "RC-123456"),
        ("Contestation - Dossier n° 1-7B3KX9Q", "1-7B3KX9Q"),
        ("Case number: AB-99812", "AB-99812"),
    ],
)
def test_case_numbers_with_letters(text: str, value: str) -> None:
    assert [ref.value for ref in find_refs(text, "")] == [value]


@pytest.mark.parametrize(
    "body",
    [
        "Your package is on its way.\n\nThis is an automated message, please do not reply.",
        "Votre colis sera livré demain.\n\nCeci est un message automatique, merci de ne pas y répondre.",
    ],
)
def test_carrier_automated_notice_is_not_support(body: str) -> None:
    raw = _mail(body, From="Parcels <notify@parcelhop.com>", Subject="Delivery update")
    assert extract(parse_message(raw), ME).kind != "support"


@pytest.mark.parametrize(
    "body",
    [
        "Hello,\n\nWe have received your request. A member of our team will get back to you within 24 hours.\n\n"
        "> On Mon, Alice Martin <alice.martin@example.org> wrote:\n> Hi\n> Best,\n> Alice Martin",
        "##- Veuillez répondre au-dessus de cette ligne -##\n\nBonjour,\n\nNous avons bien reçu votre demande.\n\n"
        "Alice Martin\n\n",
    ],
)
def test_acknowledgement_never_takes_my_name(body: str) -> None:
    result = extract(parse_message(_mail(body)), ME)
    assert result.kind == "support"
    assert result.support is not None
    assert result.support.agent_name is None
    assert result.support.auto_ack is True
    assert "au-dessus de cette ligne" not in result.support.body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # bottom-posted, French: the answer is under the quote
        ("Le 3 mars 2026 à 10:02, Desk <d@x.fr> a écrit :\n> Votre dossier ?\n\nVoici ma réponse.", "Voici ma réponse."),
        ("On 3 Mar 2026, Desk <d@x.com> wrote:\n> Your case?\n\nHere is my answer.", "Here is my answer."),
        # header blocks and separators of other clients
        ("Merci.\n\nDe : Desk <d@x.fr>\nEnvoyé le : lundi 2 mars 2026 10:00\nÀ : moi\nObjet : Dossier\n\nAncien", "Merci."),
        ("Merci.\n\nMessage du : 02/03/2026 10:00\nDe : d@x.fr\nA : moi@x.fr\nObjet : Dossier\n\nAncien", "Merci."),
        ("Thanks.\n\n---- Jane Doe wrote ----\n\nOld text", "Thanks."),
        ("Thanks.\n\n---- On Mon, 2 Mar 2026 Jane <j@x.com> wrote ----\nOld text", "Thanks."),
        ("Thanks.\n\n-----Reply Message-----\nOld text", "Thanks."),
        ("Thanks.\n\n*-------- Original Message --------*\nOld text", "Thanks."),
        ("Thanks.\n\n2026-03-02 11:28 GMT+01:00 Jane <jane@x.com>:\n\n> Old text", "Thanks."),
        ("Thanks.\n\n*From:* Jane <jane@x.com>\n*Sent:* Monday\n*To:* me\n*Subject:* x\n\nOld", "Thanks."),
        # a real line that only starts like a footer stays
        ("Sent from my desk, which is easier than my phone.\n\nOn Mon, Jane <j@x.com> wrote:\n> hi",
         "Sent from my desk, which is easier than my phone."),
    ],
)  # fmt: skip
def test_quote_forms(body: str, expected: str) -> None:
    assert split_reply(body).text == expected


@pytest.mark.parametrize(
    "footer", ["Sent from TypeApp", "Envoyé à partir de Outlook pour iOS", "Sent from my iPhone"]
)
def test_app_footer_goes_with_the_signature(footer: str) -> None:
    reply = split_reply(f"Bonjour,\n\nC'est noté.\n\n{footer}\n\nLe 2 mars 2026, X <x@y.fr> a écrit :\n> old")
    assert reply.text == "Bonjour,\n\nC'est noté."
    assert reply.signature.endswith(footer)


def test_mailing_list_footer_is_not_text() -> None:
    body = "Hi all\n\nA question.\n\n_______________\nfoo-users mailing list\nhttp://lists.x.org/mailman/listinfo/foo"
    assert split_reply(body).text == "Hi all\n\nA question."


@pytest.mark.parametrize(
    "desk",
    [
        {"Reply_To": "Kettleworks <reply+7781@intercom-mail.kettleworks.io>"},
        {"Message_ID": "<conv.7781.part.2@kettleworks.zendesk.com>"},
        {"X_Freshdesk_Ticket_Id": "7781"},
        {"X_HelpScout_Thread_Id": "7781"},
    ],
)
def test_an_agent_replying_from_a_hosted_desk_is_support(desk: dict[str, str]) -> None:
    """Named by first name under the brand's address, no case number, no desk word in From: still the desk."""
    headers = {"From": "Léa de Kettleworks <hello@kettleworks.io>", "Subject": "Re: Remboursement non reçu",
               "In_Reply_To": "<a1@example.org>", **desk}  # fmt: skip
    body = "Bonjour Alice,\n\nPourriez-vous nous renvoyer la facture ?\n\nLéa, de l'équipe Kettleworks"
    assert extract(parse_message(_mail(body, **headers)), ME).kind == "support"


def test_a_desk_newsletter_that_is_no_reply_is_not_support() -> None:
    headers = {"From": "Kettleworks <hello@kettleworks.io>", "Subject": "Nouveautés de novembre",
               "Reply_To": "Kettleworks <reply+1@intercom-mail.kettleworks.io>"}  # fmt: skip
    assert extract(parse_message(_mail("Découvrez nos nouveautés.", **headers)), ME).kind != "support"
