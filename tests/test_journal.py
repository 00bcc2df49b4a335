"""The support extractor on its own: ticket tokens, new text, agents, promises, auto-acks (no database)."""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extractors import Extraction, Identity, extract
from extractors.mail.parse import parse_message
from extractors.support.agents import agent_from_display_name, agent_from_signature
from extractors.support.collect import message_signals
from extractors.support.collect import run as support_run
from extractors.support.promises import add_business_days, find_promises, find_requests
from extractors.support.quotes import split_reply
from extractors.support.refs import find_refs, normalise_subject
from tests.conftest import FIXTURES

JOURNAL = FIXTURES / "journal"
LABELS = tomllib.loads((JOURNAL / "labels.toml").read_text(encoding="utf-8"))
IDENTITY = Identity(frozenset(LABELS["identity"]))


def _extract(name: str) -> Extraction:
    return extract(parse_message((JOURNAL / "mail" / name).read_bytes()), IDENTITY)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Re: [#88213] Double charge", "number:adobe:88213"),
        ("Votre demande n° 45821937 a bien été enregistrée", "number:adobe:45821937"),
        ("Dossier n°2026-0412345 : remboursement", "number:adobe:2026-0412345"),
        ("[##70412##] Re: Prélèvement", "number:adobe:70412"),
        ("[Ticket#10045] Box", "number:adobe:10045"),
        ("Request #482913", "number:adobe:482913"),
        ("Référence : AB-123456", "number:adobe:AB-123456"),
        ("Case Number: 00012345", "number:adobe:00012345"),
        ("Case ID: 15502288431", "number:adobe:15502288431"),
        ("Your case number is 2604060040001234.", "number:adobe:2604060040001234"),
        ("Votre demande (55201) a été mise à jour.", "number:adobe:55201"),
        ("RE: x [ ref:_00D5g0ABC._5005g0XYZ12:ref ]", "salesforce:_00D5g0ABC._5005g0XYZ12"),
        ("ref:!00Dxx01gEW.!500xx0Yktl:ref", "salesforce:!00Dxx01gEW.!500xx0Yktl"),
        ("thread::pp5XPGfmNf2hRZdRCWnrohc::", "salesforce:pp5XPGfmNf2hRZdRCWnrohc"),
        ("This email is a service from Spotify. [DZ7JQE-5MRK]", "zendesk-id:DZ7JQE-5MRK"),
    ],
)
def test_ticket_tokens(text: str, key: str) -> None:
    assert [ref.key("adobe") for ref in find_refs(text, "")] == [key]


@pytest.mark.parametrize(
    "text",
    ["Référence client : 0612345678", "Votre facture du 12/03/2026", "Commande 1234", "Ligne 06 12 34 56 78"],
)
def test_no_ticket_token(text: str) -> None:
    assert find_refs(text, "") == []


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        (
            "RE: Résiliation de mon abonnement [ ref:_00D5g0ABC._5005g0XYZ12:ref ]",
            "résiliation de mon abonnement",
        ),
        ("[Spotify] Re: Charged twice for Premium in March", "charged twice for premium in march"),
        ("Re: TR: Fwd: [#12] Box en panne - Dossier n° 2026-0412345", "box en panne"),
    ],
)
def test_subject_key(subject: str, key: str) -> None:
    assert normalise_subject(subject) == key


@pytest.mark.parametrize("name", sorted(LABELS["message"]))
def test_fixture_message(name: str) -> None:
    """Every labelled message: kind, exact new text, agent, auto-ack, promises with due dates, requests."""
    label = LABELS["message"][name]
    result = _extract(name)
    assert result.kind == "support"
    facts = result.support
    assert facts is not None
    assert facts.body == label["body"]
    assert (facts.agent_name or "") == label["agent"]
    assert facts.auto_ack is label["auto_ack"]
    assert [(p.due_on or "", p.text) for p in facts.promises] == [
        (p["due_on"], p["text"]) for p in label["promises"]
    ]
    assert facts.requests == label.get("requests", [])


FOOTER = "Free Mobile - SAS au capital de 365 138 € - RCS Paris 421 938 861 - 16 rue de la Ville-l'Évêque, 75008 Paris"


@pytest.mark.parametrize(
    ("body", "html", "expected"),
    [
        # Outlook FR header block with no-break spaces before the colons
        (
            "Bonjour,\nmerci\n\nDe\u00a0: SFR <sc@sfr.fr>\nEnvoyé\u00a0: mardi 3 mars 2026 10:00\nÀ\u00a0: Alice\nObjet\u00a0: RE: x\n\nold",
            None,
            "Bonjour,\nmerci",
        ),
        # Outlook EN block with ordinary spaces
        ("Hi,\nok\n\nFrom: A <a@b.c>\nSent: Tuesday\nTo: Alice\nSubject: RE: x\n\nold", None, "Hi,\nok"),
        ("Bonjour,\nok\n\n-----Message d'origine-----\nDe : x\nEnvoyé : y\n\nold", None, "Bonjour,\nok"),
        ("Hello,\nfine\n\n-----Original Message-----\nFrom: x\n\nold", None, "Hello,\nfine"),
        # Gmail attribution wrapped over two lines
        (
            "Oui.\n\nLe lun. 2 mars 2026 à 10:02, Alice Martin <\nalice@example.org> a écrit :\n> old",
            None,
            "Oui.",
        ),
        ("Yes.\n\nOn Tue, Mar 3, 2026 at 9:14 AM Bob <b@x.com>\nwrote:\n> old", None, "Yes."),
        ("##- Please type your reply above this line -##\n\nHi,\n\nDone.", None, "Hi,\n\nDone."),
        (
            "Ok pour moi.\n\n##- Veuillez écrire votre réponse au-dessus de cette ligne -##\nold",
            None,
            "Ok pour moi.",
        ),
        (
            "",
            '<div>New</div><div class="gmail_quote">Le … a écrit :<blockquote>old</blockquote></div>',
            "New",
        ),
        ("", "<p>New</p><blockquote type='cite'>old</blockquote>", "New"),
        ("", '<p>New</p><hr><div id="divRplyFwdMsg"><b>De&nbsp;:</b> x</div><div>old</div>', "New"),
        ("Merci beaucoup !\n\nAlice", None, "Merci beaucoup !"),
        (
            "Hi,\n\nThanks for the help, that solved it.\n\nBest,\nBob",
            None,
            "Hi,\n\nThanks for the help, that solved it.",
        ),
        # closing lines that sign for a person or a team go; sentences that mention a team stay
        ("Bonjour,\n\nOk.\n\nNathalie, votre conseillère Orange", None, "Bonjour,\n\nOk."),
        ("Bonjour,\n\nOk.\n\nService Client Free Mobile", None, "Bonjour,\n\nOk."),
        ("Hi,\n\nDone.\n\nThe Spotify Support Team", None, "Hi,\n\nDone."),
        (
            "Bonjour,\n\nRétablie.\n\nMerci de contacter le service client",
            None,
            "Bonjour,\n\nRétablie.\n\nMerci de contacter le service client",
        ),
        ("Hi,\n\nDone.\n\nContact our support team", None, "Hi,\n\nDone.\n\nContact our support team"),
        (
            "Bonjour,\n\nÉvidemment, nous allons vous rembourser.",
            None,
            "Bonjour,\n\nÉvidemment, nous allons vous rembourser.",
        ),
        ("Bonjour,\n\nOk.\n\nSportivement,\nMarco", None, "Bonjour,\n\nOk."),
        ("Bonjour,\n\nC'est fait.\n\nBonne écoute,\nLisa", None, "Bonjour,\n\nC'est fait."),
        # Outlook desktop: the quoted header sits in a div with a top border, the history after it
        (
            "",
            '<div><p>New</p><div><div style="border:none;border-top:solid #E1E1E1 1.0pt"><p><b>From:</b> X<br>'
            "<b>Sent:</b> Y</p></div></div><p>old</p></div>",
            "New",
        ),
        # Zendesk full-thread notification: the newest comment only, without its author and time lines
        (
            "##- Please type your reply above this line -##\n\nYour request (55201) has been updated.\n\n"
            "Lisa (Audible)\n\nApr 7, 2026, 10:12 GMT+2\n\nHi,\n\nDone.\n\nAlice Martin\n\n"
            "Apr 6, 2026, 20:00 GMT+2\n\nHello, old question.",
            None,
            "Hi,\n\nDone.",
        ),
        # a legal footer after the signature goes with it; after a bare "Merci." it is kept (not a signature)
        (f"Bonjour,\n\nOk.\n\nCordialement,\nJulie, conseillère\n\n{FOOTER}", None, "Bonjour,\n\nOk."),
        (f"Bonjour,\n\nMerci.\n\n{FOOTER}", None, f"Bonjour,\n\nMerci.\n\n{FOOTER}"),
    ],
)
def test_quote_stripping(body: str, html: str | None, expected: str) -> None:
    assert split_reply(body, html, "Alice Martin").text == expected


@pytest.mark.parametrize(
    ("display", "expected"),
    [
        ("Julie (Free Mobile)", "Julie"),
        ("Kevin from Spotify", "Kevin"),
        ("Priya | Adobe Customer Care", "Priya"),
        ("Daniel at Netflix", "Daniel"),
        ("Thomas D.", "Thomas D."),
        ("Service Client Free", None),
        ("Spotify Support", None),
        ("Le Service Client", None),
        ("Support Team", None),
        ("Netflix", None),
        ("SFR", None),
        ("Free Mobile", None),
        ("Customer Care", None),
    ],
)
def test_agent_display_name(display: str, expected: str | None) -> None:
    assert agent_from_display_name(display, {"free", "mobile"}) == expected


@pytest.mark.parametrize(
    ("signature", "expected"),
    [
        ("Cordialement,\nJulie\nConseillère Free Mobile", "Julie"),
        ("Cordialement, Julie, conseillère", "Julie"),
        ("Best regards,\nKevin from the Spotify Support Team", "Kevin"),
        ("Thanks,\nPriya | Adobe Customer Care", "Priya"),
        ("Best regards,\nThe Spotify Support Team", None),
        ("Bien cordialement,\nLe Service Client", None),
        ("Cordialement,\nService Client\nJulie", None),
        ("", None),
    ],
)
def test_agent_signature(signature: str, expected: str | None) -> None:
    assert agent_from_signature(signature) == expected


SENT = "2026-03-02T09:02:00+00:00"  # a Monday


@pytest.mark.parametrize(
    ("text", "due_on"),
    [
        ("Nous procéderons au remboursement de 13,49 € sous 5 jours ouvrés.", "2026-03-09"),
        ("You will receive a refund within 5-7 business days.", "2026-03-11"),
        ("Votre résiliation sera effective le 31/03/2026.", "2026-03-31"),
        ("Le montant vous sera recrédité d'ici le 15 mars.", "2026-03-15"),
        ("A technician will call you within 48 hours.", "2026-03-04"),
        ("Your refund will be processed by March 20, 2026.", "2026-03-20"),
        ("Le prélèvement sera remboursé sous 10 jours.", "2026-03-12"),
        ("Nous vous rembourserons sous huitaine.", "2026-03-10"),
        ("We will refund you in three business days.", "2026-03-05"),
        ("Your access will be restored on March 20.", "2026-03-20"),
        ("I will call you tomorrow between 9 AM and 11 AM.", "2026-03-03"),
        ("Refunds usually take 5–10 business days to appear.", "2026-03-16"),
        ("Un technicien se déplacera chez vous le mardi 10 mars entre 13h et 17h.", "2026-03-10"),
        ("It should show up in 5-10 business days.", "2026-03-16"),
    ],
)
def test_promise_due_dates(text: str, due_on: str) -> None:
    assert [p.due_on for p in find_promises(text, SENT)] == [due_on]


@pytest.mark.parametrize(
    "text",
    [
        "We will get back to you.",
        "Could you tell us when you will be home?",
        "Le remboursement a été effectué le 3 mars.",
        "Vous avez été prélevée le 5 mars.",
        "I can see the cancellation on March 1, so the charge should not have happened.",
        "The refund should have reached you on February 20.",
    ],
)
def test_not_a_promise(text: str) -> None:
    assert find_promises(text, SENT) == []


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 4, 30), 5, date(2026, 5, 11)),  # 1 May and 8 May are French public holidays
        (date(2026, 3, 6), 7, date(2026, 3, 17)),  # over a weekend
        (date(2026, 5, 13), 1, date(2026, 5, 15)),  # Ascension Thursday 14 May
        (date(2026, 12, 24), 1, date(2026, 12, 28)),  # Christmas, then the weekend
    ],
)
def test_business_days(start: date, count: int, expected: date) -> None:
    assert add_business_days(start, count) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Je souhaite résilier et être remboursée.", ["Je souhaite résilier et être remboursée."]),
        ("Merci de bien vouloir annuler ma commande.", ["Merci de bien vouloir annuler ma commande."]),
        ("I would like a refund. Thanks!", ["I would like a refund."]),
        ("Je souhaite avoir des nouvelles.", []),
    ],
)
def test_requests(text: str, expected: list[str]) -> None:
    assert find_requests(text) == expected


def _raw(headers: dict[str, str], body: str) -> bytes:
    lines = [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join([*lines, "Content-Type: text/plain; charset=utf-8", "", body])).encode()


BASE = {"From": "Free Mobile <ne-pas-repondre@free-mobile.fr>", "To": "alice.martin@example.org",
        "Date": "Mon, 02 Mar 2026 10:03:00 +0100", "Message-ID": "<x@y>", "Subject": "Votre demande"}  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "body", "auto_ack"),
    [
        ({"Auto-Submitted": "auto-replied"}, "Bonjour,\n\nNous avons bien reçu votre demande.", True),
        ({}, "Bonjour,\n\nNous avons bien reçu votre demande. Un conseiller vous répondra.", True),
        ({"Auto-Submitted": "auto-generated"}, "Bonjour,\n\nC'est corrigé.\n\nCordialement,\nJulie", False),
        ({"X-Autoreply": "yes"}, "Bonjour,\n\nVotre message est transmis.", True),
        (
            {},
            "Hello,\n\nYour case ID is 1023. A specialist will review your request.\n\nThanks,\nApple Support",
            True,
        ),
        ({}, "Bonjour,\n\nLe remboursement a été effectué.\n\nCordialement,\nJulie", False),
    ],
)
def test_auto_ack(extra: dict[str, str], body: str, auto_ack: bool) -> None:
    result = extract(parse_message(_raw({**BASE, **extra}, body)), IDENTITY)
    assert result.kind == "support"
    assert result.support is not None and result.support.auto_ack is auto_ack


@pytest.mark.parametrize(
    ("headers", "is_support"),
    [
        (
            {
                **BASE,
                "From": "Netflix <info@mailer.netflix.com>",
                "Subject": "New on Netflix",
                "List-Unsubscribe": "<x>",
            },
            False,
        ),
        ({**BASE, "From": "Bob <bob@example.net>", "Subject": "Dinner?"}, False),
        ({**BASE, "From": "alice.martin@example.org", "To": "serviceclient@sfr.fr", "Subject": "Box"}, True),
        ({**BASE, "From": "Orange <service.client@orange.fr>", "Subject": "Votre réclamation"}, True),
    ],
)
def test_support_detection(headers: dict[str, str], is_support: bool) -> None:
    result = extract(parse_message(_raw(headers, "Bonjour,\n\nÀ bientôt.")), IDENTITY)
    assert (result.kind == "support") is is_support


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x00\xff\xfe", b"Subject: =?bogus?Q?x?=\r\n\r\n>>>>\n" * 50, "Subject: x\n\n" + "Re: " * 5000],
)
def test_never_raises(raw: bytes | str) -> None:
    data = raw.encode() if isinstance(raw, str) else raw
    result = Extraction(direction="inbound")
    support_run(parse_message(data), IDENTITY, result)
    assert result.kind in ("other", "support")


def test_fixture_labels_cover_every_file() -> None:
    files = {p.name for p in Path(JOURNAL / "mail").glob("*.eml")}
    assert files == set(LABELS["message"]) == {n for t in LABELS["ticket"] for n in t["messages"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=st.text(alphabet=st.sampled_from(list("ab >-_:#[]\n\u00a0éÀ0123456789,.?!")), max_size=400)
    | st.text(max_size=200),
    subject=st.text(max_size=80),
)
def test_support_pieces_never_raise(body: str, subject: str) -> None:
    """Hostile text: every piece returns something sensible and never raises."""
    reply = split_reply(body, None, "Alice Martin")
    assert not any(line.startswith(">") for line in reply.text.split("\n"))
    normalise_subject(subject)
    for ref in find_refs(subject, body):
        assert ref.value
    for promise in find_promises(body, SENT):
        assert promise["due_on"] is None or promise["due_on"] >= "2026-03-02"
    find_requests(body)
    agent_from_signature(body)


@pytest.mark.parametrize(
    ("kind", "extra", "body", "expected"),
    [
        # an invoice printing a reference stays an invoice
        ("receipt", {}, "Votre facture est disponible.\nRéférence : 2026110512", "receipt"),
        # a helpdesk token means a desk wrote it, whatever it talks about
        ("receipt", {}, "Votre demande n° 45821937 : remboursement de 13,49 €.", "support"),
        # the desk's reply in a thread stays support even when it talks money
        (
            "renewal_notice",
            {"In-Reply-To": "<a@b>", "From": "EDF <service-client@edf.fr>"},
            "Votre échéancier.",
            "support",
        ),
        ("renewal_notice", {}, "Votre échéancier.", "renewal_notice"),
        # a bare reference in an ordinary mail is not support...
        ("other", {"From": "Shop <news@shop.example>"}, "Référence : 123456", "other"),
        # ...but in a reply from a known provider it is
        ("other", {"In-Reply-To": "<a@b>", "From": "X <x@free-mobile.fr>"}, "Référence : 123456", "support"),
    ],
)
def test_support_versus_billing(kind: str, extra: dict[str, str], body: str, expected: str) -> None:
    parsed = parse_message(_raw({**BASE, **extra}, body))
    result = Extraction(
        kind=kind, direction="inbound", provider="free-mobile" if "free-mobile" in str(extra) else None
    )
    support_run(parsed, IDENTITY, result)
    assert result.kind == expected


@pytest.mark.parametrize(
    ("body", "courtesy"),
    [
        ("Parfait, merci beaucoup !", True),
        ("Bonjour,\n\nMerci, c'est bien reçu.", True),
        ("Thanks Raj, that's perfect.", True),
        ("Merci, mais ma ligne fixe a aussi été facturée. Est-ce aussi corrigé ?", False),
        ("Merci. Je souhaite aussi être remboursée des frais.", False),
        ("Le remboursement n'est toujours pas arrivé.", False),
    ],
)
def test_courtesy_reply(body: str, courtesy: bool) -> None:
    headers = {**BASE, "From": "alice.martin@example.org", "To": "service.client@free-mobile.fr"}
    result = Extraction(direction="outbound", provider="free-mobile")
    support_run(parse_message(_raw(headers, body)), IDENTITY, result)
    assert result.support is not None and result.support.courtesy is courtesy


@pytest.mark.parametrize(
    ("text", "asks", "resolved"),
    [
        ("Le remboursement a été effectué ce jour.", False, True),
        ("Le remboursement n'a pas été effectué.", False, False),
        ("Est-ce que c'est réglé ?", True, False),
        ("Your issue has been resolved. Is there anything else we can help with?", False, True),
        ("I've gone ahead and submitted a refund for the charge.", False, True),
        ("Votre crédit d'avril a été ajouté à votre compte.", False, True),
        ("Could you send us a copy of the invoice?", True, False),
        ("Merci de nous transmettre votre RIB.", True, False),
        ("N'hésitez pas à nous recontacter si vous avez d'autres questions ?", False, False),
    ],
)
def test_message_signals(text: str, asks: bool, resolved: bool) -> None:
    assert message_signals(text) == (asks, resolved)


@pytest.mark.parametrize(
    ("sent_at", "text", "due_on"),
    [
        ("2026-12-20T10:00:00+00:00", "Nous vous rembourserons d'ici le 15 janvier.", "2027-01-15"),
        ("2026-11-23T10:00:00+00:00", "You will be refunded, as agreed on November 3.", None),
    ],
)
def test_day_and_month_dates_roll_over_only_when_close(sent_at: str, text: str, due_on: str | None) -> None:
    assert [p.due_on for p in find_promises(text, sent_at)] == [due_on]


def test_acknowledgement_pattern_is_lower_case() -> None:
    """`_ACK` runs without re.I on lower-cased text: an upper-case letter in it would never match."""
    from extractors.support.collect import _ACK, _ACK_NEEDLES

    assert _ACK.pattern == _ACK.pattern.lower() and not _ACK.flags & re.IGNORECASE
    assert all(needle == needle.lower() for needle in _ACK_NEEDLES)
    assert _ACK.search("Nous avons BIEN reçu votre Demande".lower())
