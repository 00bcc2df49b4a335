"""The quote classifier on client forms, FR and EN, each written here as a small synthetic reply.

Every case states one rule of `extractors.support.reply_lines` / `extractors.support.quotes`: which
client form opens history, what stays when the answer is under or between the quoted lines, and
what must never be cut.
"""

from __future__ import annotations

import pytest

from extractors.mail.html import html_to_text
from extractors.support.agents import agent_from_signature
from extractors.support.quotes import split_reply
from extractors.support.reply_lines import mark, prepare

GMAIL_EN = "On Tue, 3 Mar 2026 at 09:14, Kettle Works Support <help@kettleworks.io> wrote:"
GMAIL_FR = "Le mar. 3 mars 2026 à 09:14, Service Client Lumière <service@lumiere-energie.fr> a écrit :"


def test_markers_name_each_kind_of_line() -> None:
    lines = [
        "Ok.",
        "",
        GMAIL_EN,
        "> q",
        "De : a@b.fr",
        "Envoyé : lundi",
        "À : moi",
        "---------- Forwarded message ---------",
    ]
    assert mark(lines) == "tesmhhhf"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the answer written under the quote (Thunderbird, bottom-posting users)
        (f"{GMAIL_FR}\n> Pouvez-vous confirmer l'adresse ?\n\nOui, je confirme.", "Oui, je confirme."),
        # answers between the quoted questions
        (
            f"{GMAIL_EN}\n> Which plan are you on?\nThe yearly one.\n> Which card was charged?\nThe Visa ending 4242.",
            "The yearly one.\nThe Visa ending 4242.",
        ),
        (
            f"Bonjour,\n\n{GMAIL_FR}\n> Quel forfait ?\n\nLe forfait 100 Go.\n\n> Depuis quand ?\n\nDepuis mars.",
            "Bonjour,\n\nLe forfait 100 Go.\n\nDepuis mars.",
        ),
        # a sign-off written after the quote stays with the reply
        (f"See my answer below.\n\n{GMAIL_EN}\n\n> Any news?\n\nNot yet, sorry.", "See my answer below.\n\nNot yet, sorry."),
    ],
)  # fmt: skip
def test_replies_under_and_between_quotes_keep_their_text(body: str, expected: str) -> None:
    assert split_reply(body).text == expected


@pytest.mark.parametrize(
    "attribution",
    [
        "Noted, thanks. On Tue, 3 Mar 2026 at 09:14, Desk <desk@kettleworks.io> wrote:",
        "Noted, thanks.--- On Tue, 3 Mar 2026 at 09:14, Desk <desk@kettleworks.io> wrote:",
    ],
)
def test_attribution_glued_to_the_last_line_is_cut_off(attribution: str) -> None:
    assert split_reply(f"{attribution}\n> Can we close the case?").text == "Noted, thanks."


def test_a_sentence_with_on_and_wrote_is_not_cut_when_no_quote_follows() -> None:
    body = "I called on Tuesday, 3 March as your colleague wrote: nobody answered.\n\nPlease call me back."
    assert split_reply(body).text == body


@pytest.mark.parametrize(
    ("reply", "history"),
    [
        # Yahoo FR
        ("Merci.", "En date de : Mar 3.3.26, Kettle Works <help@kettleworks.io> a écrit :\n\n> Bonjour"),
        # an attribution without "On", with the sender's address
        ("Thanks.", "Kettle Works Support <help@kettleworks.io> wrote:\n> Hello"),
        ("Merci.", "Service Client Lumière <service@lumiere-energie.fr> a écrit :\n> Bonjour"),
        # a date and an address (Gmail in some locales), wrapped, with or without a colon
        ("Thanks.", "2026-03-03 9:14 GMT+01:00 Kettle Works <\nhelp@kettleworks.io>:\n\n> Hello"),
        ("Merci.", "03/03/2026 09:14, Kettle Works <help@kettleworks.io>\n> Bonjour"),
        # Polymail spreads the address over several lines
        ("Thanks.", "On Tue, Mar 3, 2026 at 9:14 AM Kettle Works\n\n<\nmailto:Kettle <help@kettleworks.io>\n> wrote:\nOld"),
        # Hotmail and webmails: the quoted header starts with its date
        ("Thanks.", "Date: Tue, 3 Mar 2026 09:14:00 +0100\nSubject: RE: refund\nFrom: help@kettleworks.io\nTo: me@x.org\n\nOld"),
        ("Merci.", "Date : mar. 3 mars 2026 09:14\nÀ : moi@x.fr\n\nAncien message"),
        # Orange webmail without a colon after "Message du", Zimbra (Free) "Mail original"
        ("Merci.", "Message du 03/03/26 09:14\nDe : \"Service\" <sc@x.fr>\nA : moi@x.fr\nCopie à : \nObjet : Re\n\nAncien"),
        ("Merci.", "----- Mail original -----\nDe: \"Free\" <x@free.fr>\nÀ: moi@free.fr\nEnvoyé: Mardi 3 Mars 2026\n\nAncien"),
        # Outlook for the web, the newer French labels, and a header whose sender wraps
        ("Merci.", "________________________________\nDe : Service Client <sc@x.fr>\nEnvoyé : mardi 3 mars 2026 09:14\nÀ : Alice\nObjet : RE: dossier\n\nBonjour Madame,"),
        ("Thanks.", "From: Kettle Works [mailto:help@kettleworks.io]\nOn Behalf Of Desk\n\nSent: Tuesday, March 3, 2026 9:14 AM\n\nTo: Alice\n\nOld"),
    ],
)  # fmt: skip
def test_history_openers(reply: str, history: str) -> None:
    assert split_reply(f"{reply}\n\n{history}").text == reply


def test_outlook_header_then_older_quoted_thread_is_all_history() -> None:
    """Outlook quotes without '>': after its header block, even a bottom-posted older reply is history."""
    body = (
        "Bonjour Madame,\n\nLe prélèvement est annulé.\n\n"
        "De : Alice Martin <alice@x.fr>\nEnvoyé : dimanche 8 mars 2026 10:15\nÀ : Service Client <sc@x.fr>\n"
        "Objet : RE: prélèvement\n\n"
        f"{GMAIL_FR}\n> Votre dossier est enregistré.\n\nMerci, mais le prélèvement est toujours prévu."
    )
    assert split_reply(body).text == "Bonjour Madame,\n\nLe prélèvement est annulé."


@pytest.mark.parametrize(
    "body",
    [
        # an invitation lists a date, a time and a place: no mail header
        "Rendez-vous confirmé :\n\nDate : mardi 3 mars 2026\nHeure : 10 h\nLieu : agence de Lyon\n\nApportez une pièce d'identité.",
        "Your appointment:\n\nDate: Tuesday 3 March 2026\nTime: 10:00\nAddress: 12 High Street\n\nBring your ID.",
        # a letter opens with its subject and date, never with a recipient
        "Objet : résiliation de mon abonnement\nDate : 3 mars 2026\n\nMadame, Monsieur, je résilie.",
        # sentences that start like attributions
        "On Monday I wrote to you about the refund, and nobody answered.",
        "Le 3 mars, votre conseiller m'a écrit que le remboursement était fait.",
        # labels followed by words, not by an address or a date, are no quoted header
        "Bonjour,\n\nDe : mon compte\nÀ : votre service\nJe demande le remboursement.",
        "Hi,\n\nFrom: my side everything is fine.\nTo: be honest I don't know why.",
        # an attribution has a year, a time or an address; a sentence ending in "a envoyé :" has none
        "Bonjour,\n\nLe technicien est passé le 3 mars et a envoyé :\nun devis\nune facture",
        "Hi,\n\nOn Monday I sent:\n- the form\n- my ID",
        # arrows around a link are decoration, not a quote
        "Visit our help centre:\n>>> https://help.kettleworks.io <<<\nIt has the answer.",
    ],
)  # fmt: skip
def test_real_text_is_never_cut(body: str) -> None:
    assert split_reply(body).text == body


def test_forwarded_mail_is_content() -> None:
    body = (
        "Voici la facture qu'ils m'ont envoyée.\n\n---------- Forwarded message ---------\n"
        "De : Facturation <factu@x.fr>\nDate : lun. 2 mars 2026 à 08:00\nObjet : Facture\nÀ : <alice@x.fr>\n\n"
        "Votre facture de mars : 42,00 €."
    )
    assert split_reply(body).text == body


def test_forward_inside_the_quoted_history_is_history() -> None:
    body = "Merci.\n\n-----Message d'origine-----\n\nPour info\n\n---------- Forwarded message ---------\nDe : x@y.fr"
    assert split_reply(body).text == "Merci."


def test_undecoded_quoted_printable_is_read() -> None:
    body = "Merci, c'est r=C3=A9gl=C3=A9.\n\nOn Tue, 3 Mar 2026 at 09:14=E2=80=AFAM Desk <d@x.io> w=\nrote:\n> Bonjour"
    assert split_reply(body).text == "Merci, c'est réglé."


@pytest.mark.parametrize(
    ("body", "text", "signature"),
    [
        ("Works now, thanks.\n\n-Julie Martin", "Works now, thanks.", "-Julie Martin"),
        ("C'est réglé.\n\n-- \nJulie\nKettle Works", "C'est réglé.", "--\nJulie\nKettle Works"),
        # a bullet list is not a signature
        ("Steps:\n- open the app\n- log in again", "Steps:\n- open the app\n- log in again", ""),
    ],
)
def test_dash_signatures(body: str, text: str, signature: str) -> None:
    reply = split_reply(body)
    assert (reply.text, reply.signature) == (text, signature)


def test_agent_name_read_after_the_signature_delimiter() -> None:
    assert agent_from_signature(split_reply("C'est réglé.\n\n-- \nJulie\nConseillère").signature) == "Julie"


def test_prepare_splits_glued_attribution_only_before_a_quote() -> None:
    assert prepare("Ok. On Tue, 3 Mar 2026, X <x@y.z> wrote:\n> q") == [
        "Ok.",
        "On Tue, 3 Mar 2026, X <x@y.z> wrote:",
        "> q",
    ]
    assert prepare("Ok. On Tue, 3 Mar 2026, X <x@y.z> wrote:\nmore") == [
        "Ok. On Tue, 3 Mar 2026, X <x@y.z> wrote:",
        "more",
    ]


HTML_FORMS = [
    # Outlook for the web / new Outlook, French
    '<div>Merci, c\'est noté.</div><hr style="display:inline-block;width:98%"><div id="divRplyFwdMsg">'
    "<b>De :</b> Service Client &lt;sc@x.fr&gt;<br><b>Envoyé :</b> mardi 3 mars 2026 09:14<br>"
    "<b>À :</b> Alice</div><div>Bonjour Madame, ancien message</div>",
    # Gmail, French
    '<div dir="ltr">Merci, c\'est noté.</div><br><div class="gmail_quote"><div class="gmail_attr">'
    f'{GMAIL_FR}</div><blockquote class="gmail_quote">Bonjour, ancien message</blockquote></div>',
    # Apple Mail
    '<div>Merci, c\'est noté.</div><div><br><blockquote type="cite"><div>Le 3 mars 2026 à 09:14, Desk '
    "&lt;d@x.fr&gt; a écrit :</div><div>ancien message</div></blockquote></div>",
    # Yahoo
    '<div>Merci, c\'est noté.</div><div class="yahoo_quoted"><div>Le mardi 3 mars 2026, Desk a écrit :</div>'
    "<div>ancien message</div></div>",
    # Thunderbird
    '<p>Merci, c\'est noté.</p><div class="moz-cite-prefix">Le 03/03/2026 à 09:14, Desk a écrit :<br></div>'
    '<blockquote type="cite">ancien message</blockquote>',
    # Hotmail: a rule then the header, in the reply's own block
    "<div>Merci, c'est noté.<div>Alice<div><hr>Date: Tue, 3 Mar 2026 09:14<br>Subject: RE: x<br>"
    "From: d@x.fr<br>To: alice@x.fr<br><br>ancien message</div></div></div>",
    # Outlook 2003: a centred rule, then a paragraph with the bold header
    "<p>Merci, c'est noté.</p><p>Alice</p><div><div align=center><hr></div><p><b>De :</b> Desk<br>"
    "<b>Envoyé :</b> mardi 3 mars 2026<br><b>À :</b> Alice</p></div><div><p>ancien message</p></div>",
    # Outlook for Mac
    '<div>Merci, c\'est noté.</div><div>Alice</div><span id="OLK_SRC_BODY_SECTION"><div>From: Desk &lt;d@x.io&gt;'
    "<br>Date: Tue, 3 Mar 2026<br>To: Alice<br></div><div>ancien message</div></span>",
]


@pytest.mark.parametrize("html", HTML_FORMS)
@pytest.mark.parametrize("with_text_part", [False, True])
def test_html_quotes(html: str, with_text_part: bool) -> None:
    """HTML-only mail (the text part empty, or derived from the HTML as the parser does) loses its quote."""
    body_text = html_to_text(html) if with_text_part else ""
    reply = split_reply(body_text, html, "Alice")
    assert reply.text == "Merci, c'est noté."
    assert "ancien" not in reply.signature


def test_html_rule_holding_the_reply_cuts_only_after_it() -> None:
    html = "<body>Thanks, all sorted.<hr><b>From:</b> d@x.io<br><b>Sent:</b> Tuesday<br>old</body>"
    assert split_reply("", html).text == "Thanks, all sorted."


def test_text_part_is_preferred_when_it_shows_the_quote() -> None:
    """The text part keeps what HTML hides (a link's address in the footer)."""
    text = f"Ok.\n\n-- \nJulie\nSent with Acme (https://acme.example/sig)\n\n{GMAIL_EN}\n> Hello"
    html = '<div>Ok.</div><div>--</div><div>Julie</div><div>Sent with <a href="https://acme.example/sig">Acme</a></div>'
    html += f'<blockquote type="cite">{GMAIL_EN} Hello</blockquote>'
    assert split_reply(text, html).signature == "--\nJulie\nSent with Acme (https://acme.example/sig)"


def test_mail_that_is_only_a_pasted_header_keeps_its_text() -> None:
    """Nothing before the header block: the mail is a pasted copy, and its text is the content."""
    body = "From: Desk <d@x.io>\nSent: Tuesday, March 3, 2026\nTo: Alice\nSubject: Refund\n\nYour refund was sent."
    assert split_reply(body).text == "Your refund was sent."


def test_html_rule_in_the_reply_block_after_office_comments_keeps_the_reply() -> None:
    """Office puts conditional comments in <head>; the reply's first words are still found in the body."""
    html = (
        "<html><head><!--[if gte mso 9]><xml>x</xml><![endif]--><style>p{}</style></head><body>"
        "<div>Thanks, all sorted.<hr><b>From:</b> d@x.io<br><b>Sent:</b> Tuesday<br>old</div></body></html>"
    )
    assert split_reply("", html).text == "Thanks, all sorted."


@pytest.mark.parametrize(
    "history",
    [
        "Am 3. März 2026 um 09:14 schrieb Kettle Works <help@kettleworks.io>:\n> Hallo",
        "Op 3 mrt. 2026 om 09:14 heeft Kettle Works <help@kettleworks.io> het volgende geschreven:\n> Hallo",
        "Den 3. mar. 2026 kl. 09.14 skrev Kettle Works <help@kettleworks.io>:\n> Hej",
        "03.03.2026 09:14 пользователь Kettle Works <\nhelp@kettleworks.io> написал:\n> Привет",
        "Von: Kettle Works <help@kettleworks.io>\nGesendet: Dienstag, 3. März 2026 09:14\nAn: Alice\nBetreff: Antwort\n\nalt",
        "Fra: Kettle Works <help@kettleworks.io>\nSendt: 3. marts 2026 09:14\nTil: Alice\nEmne: Svar\n\ngammel",
    ],
)
def test_other_languages_attributions_and_headers(history: str) -> None:
    """Counted apart from FR/EN, but the same rules: the verb may come before the sender."""
    assert split_reply(f"Ok.\n\n{history}").text == "Ok."


def test_slash_name_signs_the_mail() -> None:
    reply = split_reply("Thanks, I will check.\n\n/John")
    assert (reply.text, reply.signature) == ("Thanks, I will check.", "/John")


def test_html_rule_before_a_summary_is_not_a_quote() -> None:
    """A desk draws rules around its own summary; only a quoted mail's header after the rule opens history."""
    html = "<p>Votre remboursement est validé.</p><hr><p><b>Date :</b> 03/03/2026<br><b>Montant :</b> 42,00 €</p>"
    text = split_reply("", html).text
    assert text.startswith("Votre remboursement est validé.")
    assert "Date : 03/03/2026" in text
    assert text.endswith("Montant : 42,00 €")


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "body",
    [
        "From: a@b.c\n" * 20_000,  # a header-like line repeated: each block scan is bounded
        "From: x\nx\n\n" * 15_000,
        ">> " + "<" * 100_000 + " x" * 40_000,  # arrows: no regex backtracking
        "--" + "-" * 190_000,
    ],
)
def test_hostile_bodies_stay_linear(body: str) -> None:
    """Each of these took minutes with a quadratic scan or a backtracking pattern."""
    split_reply(body)


def test_desk_acknowledgement_over_my_comment_keeps_neither_my_name_nor_the_rule() -> None:
    """A desk's text, its rule, then my earlier comment under my name and its time: all of that is history."""
    body = (
        "Bonjour,\n\nNous avons bien reçu votre demande.\n\nL'équipe Kettle Works\n\n------------------------\n\n"
        "Alice Martin\n\n3 mars 2026, 09:14 UTC+01:00\n\nBonjour, où en est mon remboursement ?"
    )
    reply = split_reply(body, None, "Kettle Works")
    assert (reply.text, reply.signature) == (
        "Bonjour,\n\nNous avons bien reçu votre demande.",
        "L'équipe Kettle Works",
    )


@pytest.mark.parametrize(
    ("reply", "history"),
    [
        # older Thunderbird and webmails: no date, but right above the quote
        ("Merci.", "Kettle Works a écrit :\n> Bonjour\n> ancien message"),
        ("Thanks.", "Quoting Desk <desk@kettleworks.io>:\n\n> Hello\n> old"),
        # La Poste and SFR separators
        ("Ok.", "----- Mail d'origine -----\nDe: x@y.fr\nÀ: moi@y.fr\nEnvoyé: mardi 3 mars 2026\n\nold"),
        ("Ok.", "========== Message d'origine ==========\nold"),
    ],
)
def test_attributions_without_a_date_right_above_the_quote(reply: str, history: str) -> None:
    assert split_reply(f"{reply}\n\n{history}").text == reply


def test_quoted_sentence_rewrapped_without_its_mark_stays_quoted() -> None:
    body = (
        "Oui, c'est bien celle-là.\n\n"
        f"{GMAIL_FR}\n"
        "> Pouvez-vous nous confirmer l'adresse de livraison indiquée sur votre commande\n"
        "du 2 mars afin que nous puissions relancer le transporteur ?\n"
        "> Cordialement"
    )
    assert split_reply(body).text == "Oui, c'est bien celle-là."


def test_html_whose_only_text_is_in_a_blockquote_keeps_it() -> None:
    """A template that indents its whole message with <blockquote> quotes nothing."""
    html = "<html><body><blockquote><p>Votre colis est en route.</p><p>Suivi : 1Z999</p></blockquote></body></html>"
    assert split_reply("", html).text == "Votre colis est en route.\n\nSuivi : 1Z999"


def test_bordered_div_without_a_quoted_header_is_content() -> None:
    """Outlook's quote is a bordered div opening on a header block; a desk's bordered summary is not one."""
    html = (
        "<p>Votre remboursement est validé.</p>"
        '<div style="border-top:solid #E1E1E1 1.0pt"><p>Date : 03/03/2026</p><p>Montant : 42,00 €</p></div>'
    )
    assert split_reply("", html).text.endswith("Montant : 42,00 €")
