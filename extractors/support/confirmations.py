"""What a provider's support reply confirms about the subscription: a cancellation, a refund, a plan or a
price change, FR and EN.

The journal keeps the new text of every exchange (quoted history and signature removed); the inventory
turns what this module finds in a provider's own reply into a subscription event with that mail as its
evidence (`ingest.derived.support_events`). Only a statement of something done counts: a confirmation
verb in the past or the present perfect on the object itself ("votre résiliation a bien été prise en
compte", "we have cancelled your subscription", "I can see the cancellation on November 3"). A question
("can you confirm the cancellation?"), an intention or a hedge ("we will look into cancelling", "si vous le
souhaitez, nous pouvons résilier"), a refusal ("we cannot cancel"), a request being acknowledged ("votre
demande de résiliation a bien été enregistrée") or a refund still to come ("you will receive a refund
within 5 days", a promise the journal tracks) confirm nothing.

Pure functions of the text and the day it was sent; never raises on odd input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from extractors.dates import find_dates
from extractors.money import find_money
from extractors.support.promises import sentences

CANCELLATION, REFUND, PRICE_CHANGE = "cancellation_confirmed", "refund", "price_change"


@dataclass(frozen=True)
class Confirmation:
    """One fact a provider's reply states as done; becomes a `subscription_events` row."""

    event_type: str  # cancellation_confirmed | refund | price_change (a plan change is a price_change)
    text: str  # the sentence that says it
    occurred_on: str | None  # the effective date when the reply states one, else the day it was sent
    ends_on: str | None = None  # a cancellation's last day, when stated ("effective December 5", "jusqu'au")
    amount_minor: int | None = None  # a refund's amount, a new price
    currency: str | None = None
    plan: str | None = None  # the plan changed to
    billing_period: str | None = None  # a switch to yearly or monthly billing ("to the annual plan")


# --- the patterns: (event type, language, regex); the object and a done-verb in one span ------------------

_EN_ADV = r"(?:(?:now|just|successfully|already|officially|also|finally|gone\s+ahead\s+and)\s+)*"
_FR_ADV = r"(?:(?:bien|désormais|maintenant|correctement|définitivement|déjà|officiellement|aussi)\s+)*"
_EN_DONE = r"(?:has\s+been|have\s+been|was|were|is\s+now|is)\s+" + _EN_ADV
_FR_DONE = r"(?:(?:a|ont)\s+(?:(?:bien|par\s+ailleurs|également|aussi|déjà|donc)\s+)?été|est)\s+" + _FR_ADV
_EN_SUB = r"(?:subscription|membership|plan|account|contract|recurring\s+(?:payment|billing))"
# Not the cancellation itself: "the cancellation request / fee / policy".
_NOT_THE_THING = r"(?!\s+(?:request|attempt|form|link|option|button|page|policy|fee|process|demande|frais))"
_FR_SUB = r"(?:abonnement|contrat|forfait|offre|ligne|adhésion|souscription|formule)"
_FR_PLAN_WORD = (
    r"(?:l'offre\s+|la\s+formule\s+|le\s+forfait\s+|l'abonnement\s+|le\s+plan\s+|la\s+version\s+)?"
)
# A plan name: a short run of words up to punctuation or the words that start the rest of the sentence.
_PLAN = (
    r"[«\"“']?\s*(?P<plan>[^\s,.;:!?()«»\"“”][^,.;:!?()«»\"“”\n]{0,40}?)\s*[»\"”']?"
    r"(?=\s*(?:[,.;:!?()]|$|\s(?:plan|effective|starting|from|as\s+of|on|at|for|with|and|which|today|"
    r"à\s+compter|à\s+partir|dès|le|au|pour|avec|qui|et|depuis|aujourd'hui)\b))"
)
_WORDS = r"(?:[\w+-]+\s+){0,3}?"  # "your [Spotify Premium] subscription"

_EN_CANCELLATION = (
    rf"\b(?:your|the)\s+{_WORDS}{_EN_SUB}(?:\s+(?:to|for|with)\s+[^,.;]{{1,40}}?)?\s+{_EN_DONE}"
    r"(?:cancell?ed|terminated|closed|ended)\b",
    rf"\b(?:i|we)(?:'ve|\s+have)?\s+{_EN_ADV}(?:cancell?ed|terminated|closed|ended)\s+(?:your|the)\s+"
    rf"{_WORDS}{_EN_SUB}",
    rf"\b(?:your|the)\s+(?:auto-?)?renewal\s+{_EN_DONE}(?:turned\s+off|disabled|cancell?ed|stopped)\b",
    rf"\b(?:i|we)(?:'ve|\s+have)?\s+{_EN_ADV}(?:turned\s+off|disabled|cancell?ed|stopped)\s+(?:your|the)\s+"
    r"(?:auto-?)?renewal\b",
    # scheduled: confirms only with its date and no condition (see _FUTURE)
    r"\b(?:your|the)\s+cancell?ation\s+will\s+be\s+effective\b",
    rf"\b(?:your|the)\s+cancell?ation(?:\s+request|\s+of\s+[^,.;]{{1,40}}?)?\s+{_EN_DONE}"
    r"(?:confirmed|processed|completed?|effective|done|successful|finali[sz]ed|accepted|approved|"
    r"in\s+place)\b",
    rf"\bconfirm(?:s|ed)?\s+(?:that\s+)?(?:the|your)\s+cancell?ation\b{_NOT_THE_THING}",
    rf"\b(?:i|we)\s+(?:can\s+)?see\s+(?:that\s+)?(?:the\s+|your\s+)?(?:cancell?ation\b{_NOT_THE_THING}|"
    r"(?:subscription|membership|plan|account)\s+(?:was|has\s+been)\s+cancell?ed|you\s+(?:have\s+)?cancell?ed)",
)
_FR_CANCELLATION = (
    rf"\b(?:votre|la|l')\s*(?:résiliation|annulation|désinscription|désabonnement)"
    rf"(?:\s+(?:de|du|à)\s+[^,.;]{{1,50}}?)?\s+{_FR_DONE}"
    r"(?:prise?\s+en\s+compte|confirmée?|effectuée?|enregistrée?|validée?|actée?|traitée?|finalisée?|"
    r"acceptée?|effective|réalisée?)",
    rf"\b(?:votre|la)\s+demande\s+de\s+(?:résiliation|annulation)(?:\s+(?:de|du)\s+[^,.;]{{1,50}}?)?\s+"
    rf"{_FR_DONE}(?:traitée?|validée?|acceptée?|effectuée?|finalisée?|confirmée?)",
    rf"\b(?:votre|le|la|l'|ce|cet|cette)\s*{_FR_SUB}(?:\s+[^,.;]{{1,40}}?)?\s+{_FR_DONE}"
    r"(?:résiliée?|annulée?|clôturée?|fermée?|arrêtée?)\b",
    rf"\b(?:nous\s+avons|j'ai)\s+{_FR_ADV}(?:procédé\s+à|effectué|enregistré|validé|pris\s+en\s+compte|"
    r"confirmé|finalisé)\s+(?:la|votre|à\s+la)\s+(?:résiliation|annulation)",
    rf"\b(?:nous\s+avons|j'ai)\s+{_FR_ADV}(?:résilié|annulé|clôturé|arrêté|désactivé|stoppé)\s+"
    rf"(?:votre|le|la|l'|ce|cet|cette)\s*{_FR_SUB}",
    r"\b(?:je\s+(?:vous\s+)?confirme|nous\s+(?:vous\s+)?confirmons)\s+(?:bien\s+)?(?:que\s+)?"
    r"(?:la|votre|l')\s*(?:résiliation|annulation)\b(?!\s+(?:sera|devra|pourra|interviendra))"
    + _NOT_THE_THING,
    r"\b(?:je|nous)\s+(?:vois|voyons|constate|constatons)\s+(?:bien\s+)?(?:que\s+)?(?:la|votre|une|l')\s*"
    r"(?:résiliation|annulation)\b" + _NOT_THE_THING,
    r"\b(?:la|votre)\s+(?:résiliation|annulation)(?:\s+(?:de|du)\s+[^,.;]{1,50}?)?\s+"
    r"(?:prendra|prend|a\s+pris)\s+effet\b",
    r"\b(?:la|votre)\s+(?:résiliation|annulation)(?:\s+(?:de|du)\s+[^,.;]{1,50}?)?\s+sera\s+effective\b",
    rf"\b(?:le|votre)\s+renouvellement(?:\s+automatique)?(?:\s+de\s+[^,.;]{{1,40}}?)?\s+{_FR_DONE}"
    r"(?:désactivée?|annulée?|arrêtée?|stoppée?|supprimée?)\b",
    rf"\b(?:nous\s+avons|j'ai)\s+{_FR_ADV}(?:désactivé|annulé|arrêté|stoppé|supprimé)\s+(?:le|votre)\s+"
    r"renouvellement\b",
)
_EN_REFUND = (
    rf"\b(?:your|the|a)\s+(?:full\s+|partial\s+)?refund(?:\s+(?:of|for)\s+.{{1,40}}?)?\s+{_EN_DONE}"
    r"(?:processed|issued|approved|completed|sent|initiated|granted|made|credited|paid)\b",
    # "I've cancelled your membership and issued a full refund"
    rf"\b(?:i|we)(?:'ve|\s+have)?\s+(?:[^.;]{{1,60}}?\s+and\s+)?{_EN_ADV}(?:processed|issued|initiated|approved|"
    r"sent|granted|made)\s+(?:a|the|your)\s+(?:full\s+|partial\s+)?refund\b",
    rf"\b(?:i|we)(?:'ve|\s+have)\s+{_EN_ADV}(?:refunded|credited)\s+(?:you|your|the)\b",
)
_FR_REFUND = (
    rf"\b(?:(?:votre|le|un)\s+remboursement|(?:le|un)\s+virement)(?:\s+(?:de|d'un\s+montant\s+de)\s+.{{1,40}}?)?"
    rf"\s+{_FR_DONE}(?:effectué|émis|réalisé|validé|accepté|initié|traité|envoyé|accordé|déclenché|versé|"
    r"crédité|ordonné|lancé)\b",
    rf"\b(?:nous\s+avons|j'ai)\s+{_FR_ADV}(?:procédé\s+au|effectué\s+le|émis\s+le|validé\s+le|initié\s+le|"
    r"déclenché\s+le|lancé\s+le|ordonné\s+le|fait\s+le)\s+remboursement\b",
    rf"\b(?:nous\s+vous\s+avons|je\s+vous\s+ai)\s+{_FR_ADV}(?:remboursée?|recréditée?|créditée?)\b",
)
_EN_PRICE_CHANGE = (
    rf"\b(?:your|the)\s+(?:plan|subscription|membership|package|tier|account)\s+{_EN_DONE}(?:changed|switched|"
    rf"moved|downgraded|upgraded|updated|converted|migrated)(?:\s+back)?\s+(?:from\s+.{{1,40}}?\s+)?(?:to|into)\s+(?:the\s+)?{_PLAN}",
    rf"\b(?:i|we)(?:'ve|\s+have)?\s+{_EN_ADV}(?:changed|switched|moved|downgraded|upgraded|migrated)\s+"
    rf"(?:your\s+{_WORDS}(?:plan|subscription|account|membership)|you)\s+(?:from\s+.{{1,40}}?\s+)?"
    rf"(?:to|onto)\s+(?:the\s+)?{_PLAN}",
    r"\b(?:your|the)\s+new\s+(?:monthly\s+|annual\s+|yearly\s+)?(?:price|rate|fee)\s+(?:is|will\s+be|of)\b",
    rf"\b(?:your|the)\s+(?:monthly\s+|annual\s+|yearly\s+|subscription\s+|plan\s+)?(?:price|rate|fee)\s+"
    rf"{_EN_DONE}(?:changed|updated|adjusted|reduced|lowered|increased|set|corrected)\s+(?:to|at)\b",
    rf"\b(?:i|we)(?:'ve|\s+have)\s+{_EN_ADV}(?:applied|adjusted|changed|reduced|lowered|updated|corrected|set)"
    r"\s+(?:your|the)\s+(?:monthly\s+)?(?:price|rate|fee|subscription(?:\s+price)?|plan\s+price)\s+(?:to|at)\b",
)
_FR_PRICE_CHANGE = (
    rf"\b(?:votre|l')\s*{_FR_SUB}\s+{_FR_DONE}(?:modifiée?|changée?|basculée?|migrée?|passée?|remplacée?)\s+"
    rf"(?:vers|en|pour|par|à)\s+{_FR_PLAN_WORD}{_PLAN}",
    rf"\b(?:nous\s+avons|j'ai)\s+{_FR_ADV}(?:modifié|changé|basculé|migré|passé)\s+(?:votre|l')\s*"
    rf"(?:{_FR_SUB}|compte)\s+(?:vers|en|pour|sur|à)\s+{_FR_PLAN_WORD}{_PLAN}",
    # scheduled: confirms only with its date and no condition (see _FUTURE)
    rf"\b(?:votre|l')\s*{_FR_SUB}\s+(?:passera|basculera|sera\s+basculée?|sera\s+modifiée?)\s+"
    rf"(?:à|vers|en|sur|pour)\s+{_FR_PLAN_WORD}{_PLAN}",
    rf"\bvous\s+(?:êtes|avez\s+été)\s+{_FR_ADV}(?:passée?|basculée?|migrée?)\s+(?:sur|à|vers|en)\s+"
    rf"(?:l'offre|la\s+formule|le\s+forfait|l'abonnement)\s+{_PLAN}",
    r"\b(?:votre|le|la)\s+(?:nouveau|nouvelle)\s+(?:tarif|prix|montant|mensualité|échéance|cotisation)"
    r"(?:\s+(?:mensuel(?:le)?|annuel(?:le)?))?\s+(?:est|sera|s'élève)\b",
    rf"\b(?:votre|le|la|l')\s*(?:tarif|prix|montant|mensualité|échéancier|échéance|cotisation)"
    rf"(?:\s+(?:mensuel(?:le)?|annuel(?:le)?|de\s+votre\s+\w+))?\s+(?:(?:{_FR_DONE}|sera\s+{_FR_ADV})"
    r"(?:ramenée?|modifiée?|ajustée?|réduite?|baissée?|augmentée?|fixée?|portée?|passée?|corrigée?)|"
    r"passe|passera)\s+(?:à|de)\s",
    rf"\b(?:nous\s+avons|j'ai)\s+{_FR_ADV}(?:appliqué|ajusté|modifié|réduit|ramené|baissé|corrigé|passé)\s+"
    r"(?:votre|le|la|l')\s*(?:tarif|prix|montant|mensualité|échéancier|échéance|cotisation|abonnement)"
    r"(?:\s+[\w']+){0,3}?\s+(?:à|au\s+tarif\s+de)\s",
)
_PATTERNS = [
    (kind, lang, pattern)
    for kind, lang, patterns in (
        (CANCELLATION, "en", _EN_CANCELLATION),
        (CANCELLATION, "fr", _FR_CANCELLATION),
        (REFUND, "en", _EN_REFUND),
        (REFUND, "fr", _FR_REFUND),
        (PRICE_CHANGE, "en", _EN_PRICE_CHANGE),
        (PRICE_CHANGE, "fr", _FR_PRICE_CHANGE),
    )
    for pattern in patterns
]
_COMPILED = [(kind, lang, re.compile(p, re.I)) for kind, lang, p in _PATTERNS]

# Before the confirmation, in the same sentence: it is asked, refused, conditional or only intended.
_NOT_DONE_BEFORE = re.compile(
    r"\b(?:not|never|cannot|can't|cant|couldn't|won't|unable|unfortunately|ne|n'|pas|impossible|aucune?|"
    r"jamais|refus\w*|declin\w*|denied|"
    r"can\s+you|could\s+you|would\s+you|will\s+you|do\s+you|want\s+(?:us|me)|"
    r"please\s+(?:confirm|let|tell)|kindly\s+confirm|pouvez-vous|pourriez-vous|"
    r"merci\s+de\s+(?:nous\s+)?(?:confirmer|préciser|indiquer)|veuillez\s+(?:nous\s+)?confirmer|"
    r"souhaitez-vous|voulez-vous|est-ce\s+que|"
    r"if|si|once|whether|as\s+soon\s+as|dès\s+que|une\s+fois|lorsque|quand|before|avant|"
    r"will|shall|going\s+to|look\s+into|allons|allez|va|vais|pourrons|pourra|pourrait|pourrions|"
    r"peut|peuvent|pouvons|could|might|can\s+we|try|trying|essayer|tenter|afin|how|comment)\b",
    re.I,
)
# After any confirmation, in the same sentence: it is not done yet, or only on a condition.
_NOT_DONE_AFTER = re.compile(
    r"\b(?:not\s+yet|pas\s+encore|has\s+not|hasn't|n'a\s+pas|n'est\s+pas|isn't|wasn't|provided\s+that|"
    r"à\s+condition|sous\s+réserve)\b",
    re.I,
)
# After a scheduled, future confirmation ("will end on", "prendra effet le"): it still depends on something.
_CONDITIONAL_AFTER = re.compile(
    r"\b(?:unless|if\s+you|si\s+vous|sauf\s+si|à\s+moins|provided|sous\s+réserve)\b", re.I
)
_FUTURE = re.compile(r"\b(?:prendra|passera|basculera|sera|will)\b", re.I)  # a scheduled confirmation
_UNTIL = re.compile(r"(?:until|through|till|up\s+to|jusqu'(?:au|à|a)|jusqu’(?:au|à)|fin\s+le)\s*$", re.I)
_EFFECT_NEXT = re.compile(
    r"\b(?:effet|effective|effect|à\s+compter|à\s+partir|as\s+of|starting|jusqu'|jusqu’|until|prendra\s+fin|"
    r"will\s+end|ends?\s+on|last\s+day|dernier\s+jour)",
    re.I,
)
_PERIOD_WORDS = {
    word: period
    for period, words in {
        "P1Y": ("annual", "yearly", "annuel", "annuelle", "facturation annuelle"),
        "P1M": ("monthly", "mensuel", "mensuelle", "facturation mensuelle"),
        "P3M": ("quarterly", "trimestriel", "trimestrielle"),
    }.items()
    for word in words
}
# Every pattern names one of these (lower-case): most sentences of a reply are skipped at this cheap test.
_NEEDLES = (
    "cancel", "résili", "annul", "désinscri", "désabonn", "refund", "rembours", "virement", "credited", "crédit",
    "subscription", "membership", "plan", "account", "contract", "service", "renew", "recurring", "package",
    "tier", "price", "rate", "fee", "renouvel", "abonnement", "contrat", "forfait", "offre", "ligne", "adhésion",
    "souscription", "formule", "compte", "tarif", "prix", "montant", "mensualité", "échéan", "cotisation",
)  # fmt: skip
_SCAN_LIMIT = 20_000  # a reply's new text; a longer one is no reply a person wrote


def find_confirmations(text: str, sent_on: date | None) -> list[Confirmation]:
    """The facts a provider's new text confirms as done, at most one per event type (the first stated,
    with a date when one sentence gives it). `sent_on` is the reply's local date: it dates what states no
    date of its own and gives year-less dates their year."""
    try:
        return _find(text[:_SCAN_LIMIT], sent_on)
    except Exception:  # a pattern meeting odd input must never lose the message
        return []


def _find(text: str, sent_on: date | None) -> list[Confirmation]:
    found: dict[str, Confirmation] = {}
    parts = sentences(text.replace("\u2019", "'"))
    for index, sentence in enumerate(parts):
        if sentence.rstrip().endswith("?") or not any(n in sentence.lower() for n in _NEEDLES):
            continue
        following = parts[index + 1] if index + 1 < len(parts) else ""
        read: set[str] = set()  # one fact of each type per sentence: the first pattern that reads it
        for kind, lang, pattern in _COMPILED:
            match = None if kind in read else pattern.search(sentence)
            if match is None or _NOT_DONE_BEFORE.search(_guarded(sentence, match)):
                continue
            if _NOT_DONE_AFTER.search(sentence, match.end()):
                continue
            fact = _confirmation(kind, lang, sentence, match, following, sent_on)
            if fact is None:
                continue
            read.add(kind)
            earlier = found.get(kind)
            if earlier is None:
                found[kind] = fact
            elif _undated(earlier, sent_on) and not _undated(fact, sent_on):
                found[kind] = _with_dates(earlier, fact)
    return list(found.values())


def _guarded(sentence: str, match: re.Match[str]) -> str:
    """What must not ask, refuse, doubt or put off: the sentence up to the confirmation and its own words
    ("I've cancelled X and [not] issued a refund"), a scheduled confirmation's tense excepted."""
    return sentence[: match.start()] + _FUTURE.sub(" ", match.group(0))


def _undated(fact: Confirmation, sent_on: date | None) -> bool:
    return fact.occurred_on == _iso(sent_on) and fact.ends_on is None


def _with_dates(first: Confirmation, later: Confirmation) -> Confirmation:
    """The first statement, dated by a later one that states a date ("... Elle prendra effet le 30/11.")."""
    return Confirmation(
        first.event_type, first.text, later.occurred_on, first.ends_on or later.ends_on,
        first.amount_minor, first.currency, first.plan, first.billing_period,
    )  # fmt: skip


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _confirmation(
    kind: str, lang: str, sentence: str, match: re.Match[str], following: str, sent_on: date | None
) -> Confirmation | None:
    after = sentence[match.end() :]
    effective, until = _dates(sentence, lang, sent_on)
    if effective is None and until is None and kind != REFUND and _EFFECT_NEXT.search(following):
        effective, until = _dates(following, lang, sent_on)
    future = bool(_FUTURE.search(match.group(0)))
    if future and (not (effective or until) or _CONDITIONAL_AFTER.search(after)):
        return None  # "will be cancelled" / "prendra effet" confirms only with its date and no condition
    occurred = effective or until or sent_on
    if kind == CANCELLATION:
        ends = until or (effective if effective and sent_on and effective > sent_on else None)
        return Confirmation(kind, sentence, _iso(occurred), ends_on=_iso(ends))
    if kind == REFUND:
        money = find_money(sentence, lang)
        first = money[0] if money else None
        done_on, _ = _dates(sentence[match.end() :], lang, sent_on)  # not the day of the charge refunded
        return Confirmation(
            kind, sentence, _iso(done_on or sent_on),
            amount_minor=first.amount_minor if first else None, currency=first.currency if first else None,
        )  # fmt: skip
    plan = _plan(match)
    if plan and _FREE_PLAN.fullmatch(plan):
        return Confirmation(CANCELLATION, sentence, _iso(effective or sent_on))  # nothing paid any more
    period = _PERIOD_WORDS.get((plan or "").lower())
    if period:
        plan = None  # "the annual plan" says how it is billed, not which plan
    named = match.groupdict().get("plan")
    amount = _new_price(sentence, match.start("plan") if named else match.end(), lang)
    if plan is None and amount is None and period is None:
        return None  # a price change states its price; a plan change its plan
    return Confirmation(
        kind, sentence, _iso(effective or sent_on), plan=plan, billing_period=period,
        amount_minor=amount[0] if amount else None, currency=amount[1] if amount else None,
    )  # fmt: skip


def _dates(sentence: str, lang: str, sent_on: date | None) -> tuple[date | None, date | None]:
    """(the effective date, the last day) a sentence states: a date after "until" / "jusqu'au" is the last day."""
    effective = until = None
    for found in find_dates(sentence, lang, sent_on):
        if _UNTIL.search(sentence[max(0, found.start - 20) : found.start]):
            until = until or found.value
        else:
            effective = effective or found.value
    return effective, until


_FREE_PLAN = re.compile(
    r"(?:the\s+)?(?:free|gratuite?|basic\s+free)(?:\s+(?:plan|tier|version|offer))?", re.I
)
_NOT_A_PLAN = re.compile(
    r"^(?:\d|[€$£]|(?:one|what|that|this|it|which|yours?|celle|celui|ce|cela|celle-ci|celui-ci|laquelle|lequel)\b)",
    re.I,
)


def _plan(match: re.Match[str]) -> str | None:
    """The plan named after "to" / "vers"; none for "the one you asked for" or a price ("to 12,99 €")."""
    plan = (match.groupdict().get("plan") or "").strip(" «»\"“”'")
    return plan if plan and not _NOT_A_PLAN.match(plan) else None


def _new_price(sentence: str, start: int, lang: str) -> tuple[int, str] | None:
    """The price after the confirmation; "de 10,99 € à 12,99 €" / "from $10 to $12" is the second."""
    money = [m for m in find_money(sentence, lang) if m.start >= start - 1]
    if not money:
        return None
    first = money[0]
    before = sentence[max(0, first.start - 6) : first.start].lower()
    if len(money) > 1 and re.search(r"\b(?:de|from)\s*$", before):
        first = money[1]
    return first.amount_minor, first.currency
