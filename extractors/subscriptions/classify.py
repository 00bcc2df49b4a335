"""The kind of a message (closed vocabulary `messages.kind`) from its subject, in French and English.

Transactional mail names the reader's own thing ("votre abonnement", "your receipt");
marketing names an offer ("Essayez", "Profitez", "-50 %"). The subject decides first;
the body only confirms (a receipt must show an amount). Order matters: a subject
saying the payment of a renewal failed is a `payment_failed`, not a `receipt`.
"""

from __future__ import annotations

import re


def _any(*patterns: str) -> re.Pattern[str]:
    """One pattern of lowercase alternatives, for lowercased text (2.5x faster than IGNORECASE)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# (kind, subject pattern) in priority order.
SUBJECT_KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "payment_failed",
        _any(
            r"paiement (?:a été |a )?(?:refusé|échoué|rejeté)",
            r"échec (?:du|de) (?:votre )?paiement",
            r"problème (?:avec|de) (?:votre )?paiement",
            r"impayé",
            r"prélèvement (?:a été )?rejeté",
            r"rejet (?:de |du )(?:votre |ton )?(?:prélèvement|paiement)",
            r"payment (?:failed|declined|was declined|issue|problem)",
            r"problem with your payment",
            r"(?:couldn't|could not|unable to) (?:process|charge|complete)",
            r"update your (?:payment|billing)",
            r"mettre à jour (?:votre|vos) (?:moyen|informations?) de paiement",
            r"mettez à jour (?:votre|vos) (?:moyen|informations?) de paiement",
            r"action (?:required|requise).*paiement",
        ),
    ),  # fmt: skip
    (
        "cancellation",
        _any(
            r"résiliation",
            r"annulation (?:de (?:votre|ton|l'|la )|d'abonnement|de l'abonnement)",
            r"(?:abonnement|adhésion|forfait|offre)\b.{0,40}?(?:a été |est )?(?:annulée?|résiliée?)\b",
            r"(?:subscription|membership|plan)\b.{0,60}?(?:has been |was |is )?(?:cancel+ed|terminated)\b",
            r"cancel+ation (?:confirm|of your)",
            r"we(?:'ve| have) cancel+ed",
            r"confirm(?:ation)? (?:of )?(?:your )?cancel+ation",
            r"(?:sorry|sad) to see you go",
            r"tristes? de (?:vous|te) voir partir",
            r"vous avez annulé",
            r"you(?:'ve| have) cancel+ed",
            # auto-renew turned off: the subscription ends at the end of the period paid for
            r"(?:auto-?renew(?:al)?|automatic renewal)\b.{0,40}?(?:turned off|switched off|disabled|cancel+ed)",
            r"(?:turned|switched) off (?:the )?(?:auto-?renew(?:al)?|automatic renewal)",
            r"renouvellement automatique\b.{0,60}?(?:désactivé|arrêté|annulé|supprimé)",
            r"(?:désactivé|arrêté|annulé) (?:le )?renouvellement automatique",
        ),
    ),  # fmt: skip
    (
        "price_change",
        _any(
            r"(?:évolution|changement|modification|augmentation) (?:de |du |des )?(?:prix|tarifs?)",
            r"nouveaux? (?:prix|tarifs?)",
            r"(?:prix|tarif) de (?:votre|ton) (?:abonnement|forfait|offre)",
            r"price (?:change|increase|update)",
            r"(?:évolution|augmentation|changement|modification|revalorisation) de (?:votre|ta) "
            r"(?:cotisation|mensualité|tarif|prix)",
            r"\bprice is (?:changing|going up|increasing)",
            r"(?:updating|update to|changes? to) (?:our|your) (?:prices|pricing|price|plan price)",
            r"new price",
            r"(?:subscription|plan|membership|abonnement|forfait) price",
            r"price of your",
        ),
    ),  # fmt: skip
    (
        "trial",
        _any(
            r"(?:votre|ton) (?:essai|période d'essai|mois d'essai|offre d'essai)",
            r"essai gratuit (?:se termine|prend fin|commence|a commencé|activé)",
            r"your (?:free )?trial",
            r"trial (?:ends|is ending|ending|period|started|has started)",
            r"free trial (?:ends|starts|has started)",
            r"fin de (?:votre|ton) essai",
            r"\bessai gratuit\b",
            r"\bfree trial\b",
            r"\btrial\b",
            r"période d'essai",
        ),
    ),  # fmt: skip
    (
        "renewal_notice",
        _any(
            r"renouvellement",
            r"(?:sera|va (?:bientôt )?être) (?:bientôt )?(?:automatiquement )?(?:renouvelée?|reconduite?|prélevée?)",
            r"reconduction",
            r"prochain prélèvement",
            r"will (?:auto-?)?renew",
            r"renews? (?:on|soon|in)",
            r"upcoming (?:renewal|payment|charge)",
            r"renewal (?:notice|reminder|date)",
            r"(?:rappel|reminder).{0,40}(?:abonnement|subscription|membership)",
        ),
    ),  # fmt: skip
    (
        "signup",
        _any(
            r"bienvenue (?:dans|sur|chez|à)",
            r"welcome to",
            r"merci (?:de vous être|pour votre) (?:abonné|abonnement|inscription|souscription)",
            r"(?:subscription|membership|abonnement|souscription|forfait)\b.{0,40}?"
            r"(?:est |a été |is |has been )?(?:confirmée?|activée?|confirmed|activated|active)\b",
            r"confirmation (?:de (?:votre |ton |ta )?)?(?:abonnement|souscription|commande d'abonnement|inscription)",
            r"(?:your )?subscription confirmation",
            r"thanks for (?:subscribing|joining)",
        ),
    ),  # fmt: skip
    (
        "receipt",
        _any(
            # "reçu" the noun (a receipt), not the verb: "vous avez reçu 23,50 € de Antoine" is money in,
            # "nous avons bien reçu votre demande" an acknowledgement
            r"(?<!\bavez )(?<!\bavons )(?<!\bai )(?<!\bas )(?<!\ba )(?<!\bont )(?<!\bbien )\breçu\b",
            r"\bfacture\b",
            r"receipt",
            r"invoice",
            r"paiement (?:reçu|effectué|confirmé|accepté)",
            r"confirmation d[eu] (?:votre )?(?:paiement|prélèvement)",
            r"payment (?:received|confirmation|successful)",
            r"(?:votre|your) (?:paiement|payment|prélèvement)",
            r"remboursement",
            r"refund",
            r"avis d'échéance",
            r"mensualité",
            r"échéance",
            r"relevé (?:de compte|mensuel)",
            r"(?:vous avez|you(?:'ve| have)?) (?:envoyé|autorisé|sent|authorized)",
            r"(?:votre|your) (?:commande|order)",
            r"\byour (?:[\w+.-]+ ){1,3}order\b",
            r"\border confirmation\b",
            r"\border\b.{0,30}(?:processed|confirmed|has shipped)",
            r"(?:thank you|thanks|merci) (?:for|pour) (?:your|votre) (?:[\w+.'-]+ ){0,2}(?:order|purchase|commande|achat)",
            r"\be-?billets?\b|\be-tickets?\b|billet électronique",  # a ticket bought: a one-off receipt
            r"\byou (?:bought|purchased)\b|\bvous avez acheté\b|\byour purchase of\b",
        ),
    ),  # fmt: skip
]

# Subjects that sell, ship or inform: never a subscription fact, whatever else they say.
NOT_TRANSACTIONAL = _any(
    r"^(?:essayez|découvrez|profitez|offre|try|discover|get \d|save|économisez|dernière chance|last chance)\b",
    r"^(?:start|commencez|démarrez|activez|claim|réclamez) (?:your|votre|ton)",
    r"\d+ ?%",
    r"newsletter",
    r"\bla lettre\b",
    r"nouveautés",
    r"what's new",
    r"à ne pas manquer",
    r"(?:colis|commande) (?:expédiée?|livrée?|en route|en cours de livraison)",
    r"(?:shipped|delivered|out for delivery)",
    r"(?:a été|has been) (?:expédié|shipped|livré|delivered)",
    r"suivi de (?:votre )?(?:colis|livraison)",
    r"offre (?:spéciale|exclusive|limitée)",
    r"special offer",
    r"gratuitement pendant",
    r"free for \d",
    r"invitation",
    r"sécurité|security alert|nouvelle connexion|new sign-in|verify your email|vérifiez votre adresse",
)

REFUND = _any(r"rembours", r"refund")
TRIAL_START = _any(r"commenc", r"start", r"bienvenue", r"welcome", r"activ")
# A welcome or confirmation whose opening says a free trial began is a trial: "You've started a free
# trial", "Votre essai gratuit a commencé", "Free trial: 7 days, ends ...".
TRIAL_BEGUN = _any(
    r"(?:started|begun|begins?|starts|activated) (?:a |your )?(?:\d+[- ]days? |\d+[- ]months? |1-month )?free trial",
    r"free trial (?:has )?(?:started|begun|begins|starts|is active|is now active)",
    r"essai gratuit (?:a (?:bien )?commencé|commence|débute|a débuté|est (?:activé|actif))",
    r"(?:commencé|démarré|activé) (?:un|votre|ton) (?:essai|période d'essai)",
    r"(?:^|\n)\s*(?:free trial|essai gratuit|période d'essai)\s*:\s*\d",
)


# For a known provider whose subject announces nothing ("Information importante concernant votre
# abonnement"): phrases in the first lines of the body that only transactional mail uses.
BODY_KINDS: list[tuple[str, re.Pattern[str]]] = [
    ("signup", _any(
        r"you(?:'re| are) now (?:a )?(?:member|subscriber|subscribed)\b",
        r"vous êtes (?:désormais |maintenant )?(?:membre|abonnée?) (?:de|à|au|du)\b",
    )),
    ("payment_failed", _any(
        r"(?:votre|ton|your) (?:paiement|payment|prélèvement)\b.{0,30}(?:a été refusé|a échoué|was declined|failed)",
        r"(?:n'avons|n'a) pas pu (?:prélever|débiter|encaisser)", r"(?:were|was) unable to (?:charge|process)",
    )),
    ("cancellation", _any(
        r"(?:votre|ton|your) (?:abonnement|forfait|subscription|membership)\b.{0,50}?"
        r"(?:a été |has been |was )(?:résilié|annulé|cancel+ed)",
    )),
    ("price_change", _any(
        r"(?:le )?(?:prix|tarif) de (?:votre|ton) (?:abonnement|forfait|offre)\b.{0,60}?(?:évolue|augmente|passe|change|sera)",
        r"(?:price|cost) of your (?:subscription|plan|membership)\b.{0,60}?(?:increase|change|will be|is going)",
        r"(?:we're|we are) (?:updating|changing|increasing) (?:the|our|your) (?:price|prices)",
        # "votre cotisation mensuelle X passera de 58,40 € à 61,90 €", "your membership will go up from €30 to €32"
        r"(?:votre|ton|your) (?:[\w+'’-]+ ){0,3}?(?:cotisation|abonnement|forfait|offre|subscription|plan|membership|contribution)\b"
        r"[^.\n]{0,40}?(?:passera|passe|augmente|évolue|will (?:go up|increase|change|rise)|is going up|goes up|"
        r"increases|rises) (?:de|from)\s",
    )),
]  # fmt: skip


# A reimbursement of care or a claim paid: the insurer pays me back for a visit, not a refund of my payment.
_CARE_OR_CLAIM = _any(
    r"\bsoins?\b",
    r"séance",
    r"consultation",
    r"ostéopath",
    r"kiné",
    r"médecin",
    r"dentist",
    r"pharmac",
    r"optique",
    r"hospitalis",
    r"mutuelle",
    r"assurance maladie",
    r"sinistre",
    r"indemnis",
    r"\bclaim",
    r"feuille de soins",
    r"prise en charge",
    r"physiotherap",
    r"doctor",
    r"medical",
)


# "the price of a seat … will change from US$20.00 to", "le prix de l'offre Pro passera de 10,00 € à":
# a price change when the mail also speaks of the reader's own plan (news about prices is not one)
_PRICE_MOVES = re.compile(
    r"\b(?:price|prix|tarif|cost)\b[^.\n]{0,60}?(?:will (?:change|increase|go up|rise)|is (?:changing|increasing|going up)|"
    r"passera|augmentera|évoluera) (?:from|de)\s[^\n]{0,30}?\s(?:to|à)\s"
)
_YOUR_PLAN = re.compile(
    r"\b(?:your|votre|ton|vos|tes) (?:[\w+'’-]+ ){0,3}?(?:plan|abonnement|subscription|membership|forfait|offre|"
    r"cotisation|formule|compte|account)\b"
)


def kind_from_body(text: str) -> str | None:
    """The kind the opening of a body states with a possessive, or None."""
    head = text[:800].lower()
    for kind, pattern in BODY_KINDS:
        if pattern.search(head):
            return kind
    if _PRICE_MOVES.search(head) and _YOUR_PLAN.search(_MAILING_FOOTER.sub("", head)):
        return "price_change"
    return None


def kind_from_subject(subject: str) -> str | None:
    """The kind a subject announces, or None when it announces none (or sells something)."""
    subject = subject.lower()
    if NOT_TRANSACTIONAL.search(subject):
        return None
    for kind, pattern in SUBJECT_KINDS:
        if pattern.search(subject):
            return kind
    return None


# A message in a conversation (a reply, a forward, a support ticket) is the journal's, not a billing fact:
# "Re: Résiliation de mon abonnement" confirms nothing, however it is worded.
_CONVERSATION = re.compile(
    r"^\s*(?:\[[^\]]*\]\s*)*(?:re|tr|fw|fwd|réf|aw|sv|antw)\s*:|\bticket\s*#?\s*\d|\[#+\d|\bcase\s*#?\s*\d|"
    r"demande n°|dossier n°|ref:_|\bréf\.? ?:? ?\d{5,}"
)


def in_conversation(subject: str, headers: dict[str, str]) -> bool:
    """Replies, forwards and ticket mail: `In-Reply-To`/`References`, or a subject that says so."""
    return bool(headers.get("in-reply-to") or headers.get("references")) or bool(
        _CONVERSATION.search(subject.lower())
    )


def kind_of_provider_mail(
    subject: str, text: str, patterns: tuple[tuple[str, re.Pattern[str]], ...]
) -> str | None:
    """A known sender's message: its own subject patterns, the common vocabulary, then the body's opening."""
    kind = kind_from_provider(subject, patterns) or kind_from_subject(subject)
    if kind is None and not NOT_TRANSACTIONAL.search(subject.lower()):
        kind = kind_from_body(f"{subject}\n{text}")
    if kind == "receipt" and REFUND.search(subject.lower()) and _CARE_OR_CLAIM.search(text[:800].lower()):
        return "other"  # an insurer's reimbursement of care: nothing I paid comes back
    return kind


def kind_from_provider(subject: str, patterns: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
    """A provider's own subject patterns win over the generic vocabulary."""
    for kind, pattern in patterns:
        if pattern.search(subject):
            return kind
    return None


# An upsell paragraph: an offering verb first, an offer in it ("Essayez Fnac+ gratuitement pendant 15 jours,
# puis 14,99 €/an", "Try Club free for 30 days"). Its subscription words are the offer's, not the purchase's.
_UPSELL = re.compile(
    r"^\W*(?:essayez|découvrez|profitez|rejoignez|abonnez-vous|passez (?:à|au)|testez|offrez-vous|"
    r"try|discover|join|get|upgrade|subscribe|start|save|go)\b[^\n]*(?:\n[^\n]+)*",
    re.MULTILINE,
)
_OFFER = re.compile(
    r"gratuit|offerts?\b|\bessai|\bfree\b|trial|\d ?%|\bpuis\b|\bthen\b|seulement|\bonly\b|"
    r"\d\s?(?:€|\$|£|eur\b|usd\b)|[€$£]\s?\d"  # a price offered: "Upgrade to Pro for $9.99/month"
)


# A mailing footer line: its "subscription" is to the e-mails ("Unsubscribe", "lien de désabonnement").
_MAILING_FOOTER = re.compile(
    r"^[^\n]*(?:unsubscrib|désabonn|désinscri|opt[- ]out|email preferences|e-mail preferences|"
    r"préférences (?:de communication|e-?mail))[^\n]*$",
    re.MULTILINE,
)


def without_upsells(text: str) -> str:
    """`text` (lowered) without its upsell paragraphs and mailing-footer lines: a one-off order offering a
    subscription, or saying how to unsubscribe from its e-mails, stays one-off."""
    text = _UPSELL.sub(lambda m: "" if _OFFER.search(m.group(0)) else m.group(0), text)
    return _MAILING_FOOTER.sub("", text)


# A bill named after its month ("votre facture de novembre", "your November invoice"): billed monthly.
MONTHLY_BILL = (
    r"facture (?:du mois )?(?:de |d')(?:janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|"
    r"novembre|décembre)|(?:january|february|march|april|may|june|july|august|september|october|november|"
    r"december) (?:invoice|bill|statement)"
)

# Body phrases that make a message about a subscription (as opposed to a one-off purchase).
SUBSCRIPTION_WORDS = _any(
    MONTHLY_BILL,
    r"paid up (?:until|through)",  # "you're paid up until December 11th"
    r"billing period|période de facturation|service period|période de service",
    r"abonnement",
    r"abonné",
    r"cotisation",
    r"(?:votre|ta|vos|tes|prochaine) mensualités?",
    r"subscription",
    r"subscrib",
    r"membership",
    r"adhésion",
    r"forfait",
    r"formule",
    r"renouvel",
    r"renew",
    r"prélèvement mensuel",
    r"par mois",
    r"/ ?mois",
    r"per month",
    r"/ ?mo\b",
    r"/ ?month",
    r"/ ?year",
    r"/ ?yr\b",
    r"monthly",
    r"par an\b",
    r"/ ?an\b",
    r"per year",
    r"yearly",
    r"annual",
    r"mensuel",
    r"annuel",
    r"\bplan\b",
    r"échéancier",
    r"paiement automatique",
    r"automatic payment",
    r"billing agreement",
    r"accord de facturation",
    r"recurring",
)
