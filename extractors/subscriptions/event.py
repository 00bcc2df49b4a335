"""From a classified message to one `EventFact`: amount, period, dates and plan, found near their words.

Every layer (provider, platform, generic) ends here with a `Target` (which
subscription the message is about) and a kind; what differs between layers is
how sure they are of the target, which the confidence carries.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from extractors.dates import FoundDate, find_dates
from extractors.model import EventFact, Identity
from extractors.money import Money, find_money
from extractors.registry import Provider, Refine
from extractors.subscriptions import labelled
from extractors.subscriptions.classify import (
    MONTHLY_BILL,
    REFUND,
    SUBSCRIPTION_WORDS,
    TRIAL_BEGUN,
    TRIAL_START,
    without_upsells,
)
from extractors.subscriptions.structured import Structured
from extractors.text import lowered, lowered_tail

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage

# Every pattern below is lowercase and runs on `lowered()` text (same length, so same positions).

KIND_EVENTS = {
    "receipt": "charge",
    "renewal_notice": "renewal_notice",
    "cancellation": "cancellation_confirmed",
    "payment_failed": "payment_failed",
    "price_change": "price_change",
    "signup": "signup",
}

_TOTAL = re.compile(
    r"total(?: ttc| à payer| payé| paid| charged| due)?|montant(?: total| ttc| prélevé| de votre échéance| dû)?|"
    r"amount(?: charged| paid| due)?|à payer|prélevé|débité|charged|nouveau (?:prix|tarif)|new price|prix|price|tarif|"
    r"passera à|increase to|will be|sera de|puis|then|ensuite|after that",
)
_NEW_PRICE = re.compile(
    r"nouveau (?:prix|tarif)|new (?:monthly |annual )?price|passera (?:de .{0,20} )?à|passe à|"
    r"(?:increase|change|go up)s? (?:from .{0,20} )?to|sera de|will be|désormais|à compter du .{0,40}?:|"
    r"(?:vous )?sera facturée?|will be (?:charged|billed)|will cost|coûtera",
)
# "(au lieu de 12,99 €)", "(currently €29.99)": the old price, never the one a price change announces
_OLD_PRICE = re.compile(r"(?:au lieu de|instead of|currently|actuellement|contre|from)\s*:?\s*$")
_TAX_LINE = re.compile(r"\b(?:tva|vat|ht|hors taxes|tax(?:es)?|dont)\b")
_PERIODS: list[tuple[str, re.Pattern[str]]] = [
    ("P1W", re.compile(r"/ ?semaine|par semaine|hebdomadaire|weekly|per week|/ ?wk\b|/ ?week")),
    ("P4W", re.compile(r"toutes les 4 semaines|every 4 weeks|/ ?4 semaines|4-weekly")),
    ("P3M", re.compile(
        r"trimestriel|par trimestre|quarterly|per quarter|/ ?trimestre|(?:every|tous les) (?:3|three|trois) (?:months|mois)|"
        r"[,(–] ?(?:3|trois) (?:mois|months)\)?(?=\n|$)"  # a plan's duration: "Toutes les langues, 3 mois"
    )),
    ("P6M", re.compile(
        r"semestriel|par semestre|half[- ]yearly|semi[- ]?annual|(?:every|tous les) (?:6|six) (?:months|mois)|"
        r"[,(–] ?(?:6|six) (?:mois|months)\)?(?=\n|$)"
    )),
    ("P1Y", re.compile(r"/ ?an\b|par an\b|annuel|annuelle|yearly|annual|per year|/ ?year|/ ?yr\b|1 an\b|12 mois|a year\b|\b1[- ]year\b")),
    ("P1M", re.compile(rf"{MONTHLY_BILL}|mensualités?\b|monthly instal+ments?|/ ?mois|par mois|mensuel|mensuelle|monthly|per month|/ ?month|/ ?mo\b|a month\b|1 mois\b|\b1[- ]month\b")),
]  # fmt: skip

# Every period word in one pattern, its alternatives in the order of the period names: the first match is the
# earliest word, and of the words starting there, the least period name (what `min` over `_PERIODS` picks).
_ANY_PERIOD = re.compile("|".join(f"(?P<{period}>{pattern.pattern})" for period, pattern in sorted(_PERIODS)))

DATE_WORDS = {
    "next_renewal_on": re.compile(
        r"prochaine? (?:prélèvement|facturation|paiement|échéance|renouvellement|date de facturation|facture|"
        r"mensualité)|renouvel\w*|reconduit\w*|renews?|renewal|next (?:billing|payment|charge|bill|invoice)|"
        r"will (?:automatically )?renew|will be (?:charged|billed|renewed)|"
        r"premi(?:er|ère) (?:prélèvement|facture|paiement|mensualité)|first (?:payment|charge|bill)",
    ),
    "trial_ends_on": re.compile(
        r"(?:essai|trial|période d'essai)[^.\n]{0,60}?(?:se termine|se terminera|prend fin|prendra fin|expire|"
        r"jusqu'au|ends?|ending|expires?|until|through)|fin de (?:votre |ton )?(?:essai|période d'essai)",
    ),
    "ends_on": re.compile(
        r"jusqu'au|jusqu'à la fin|until|access (?:until|through)|prendra fin|se terminera|ends? on|will end|"
        r"expire[sr]? (?:le|on)|fin de (?:votre |ton )?(?:abonnement|accès)|dernier jour|last day|through|"
        r"(?:sera|seront) résiliée?s? (?:le|au)|date (?:de |d'effet de (?:la )?)?résiliation|effective (?:le|on)",
    ),
    "effective_on": re.compile(
        r"à compter du|à partir du|dès le|starting(?: on| from)?|effective(?: on| from)?|beginning|from your|"
        r"à partir de (?:votre|ta) (?:prochaine )?(?:facture|échéance|prélèvement)|prochaine facture|next billing",
    ),
    # a minimum term: "Engagement : 12 mois, jusqu'au 04/01/2027", "Minimum term: 12 months, until …"
    "commitment_ends_on": re.compile(
        r"engagement|engagée? jusqu|commitment|minimum term|durée minimale|période minimale|"
        r"(?:contract|contrat) (?:term|ends|end date|expires)|fin de (?:contrat|l'engagement)",
    ),
    # the day money moves for this message's charge (a debit a few days after the invoice)
    "charged_on": re.compile(
        r"date (?:de (?:la )?|du |of )?(?:facture|facturation|commande|paiement|prélèvement|transaction|purchase)|"
        r"(?<!next )billing date|invoice date|order date|date paid|payé le|paid on|charged on|débité le|"
        r"(?<!prochain )(?<!prochaine )prélèvement le|(?<!prochain )(?<!mensualité )prélevée? (?:sur [^.\n]{0,40})?le|"
        r"sera prélevé|debited[^.\n]{0,40}? on|charged to your [^.\n]{0,30}? on",
    ),
}
_IN_DAYS = re.compile(r"(?:dans|in|within)\s+(\d{1,2})\s+(?:jours?|days?)")
_REMIND = re.compile(r"termine|fin\b|ends?|ending|expire|bientôt|soon|rappel|reminder|last|derniers?")


@dataclass
class Target:
    """Which subscription a message is about, and how it is billed."""

    slug: str
    service_name: str | None
    platform: str
    billed_by: str | None = None  # the store or reseller's slug when it bills for the service
    period: str | None = None
    plans: tuple[str, ...] = ()
    refine: Refine | None = None
    extractor: str = "provider@1"
    confidence: float = 0.9

    @classmethod
    def of(cls, provider: Provider, platform: str | None = None, **kw: object) -> Target:
        return cls(
            slug=provider.slug,
            service_name=provider.service_name,
            platform=platform or provider.platform,
            period=provider.period,
            plans=provider.plans,
            refine=provider.refine,
            **kw,  # type: ignore[arg-type]
        )


def date_after(words: re.Pattern[str], text: str, dates: list[FoundDate], reach: int = 90) -> date | None:
    """The first date within `reach` characters after a match of `words`."""
    if not dates:  # nothing to find: spare the scan of a long body
        return None
    for match in words.finditer(text):
        for found in dates:
            if match.end() - 3 <= found.start <= match.end() + reach:
                return found.value
    return None


_ARROW = re.compile(r"\s*(?:→|->|⇒|=>|➜|➔)\s*")
# A yearly price paid in monthly instalments: the instalment is what is charged (CONTRACT: the period is
# the interval between charges). "prélèvement mensuel de 26,67 €", "12 mensualités de", "monthly instalments of"
_MONTHLY_INSTALMENT = re.compile(
    r"(?:prélèvements?|paiements?|échéances?|mensualités?) mensuel(?:le)?s? (?:de|d'un montant de)\s*:?\s*$|"
    r"(?:\d+|douze|dix|onze) (?:mensualités|prélèvements(?: mensuels)?)\s+de\s*$|"
    r"monthly (?:payments?|instal+ments?|debits?) of\s*$"
)


def pick_amount(text: str, money: list[Money], kind: str) -> Money | None:
    """The price the message is about: the new one for a price change, the total for a receipt."""
    if not money:
        return None
    positive = [m for m in money if m.amount_minor > 0] or money
    if kind == "price_change":
        for arrow in _ARROW.finditer(text):  # "30,00 € → 32,50 €": the amount after the arrow is the new one
            after = [m for m in positive if arrow.end() - 1 <= m.start <= arrow.end() + 3]
            if after:
                return after[0]
        positive = [
            m for m in positive if not _OLD_PRICE.search(text[max(0, m.start - 20) : m.start])
        ] or positive
        for match in _NEW_PRICE.finditer(text):
            after = [m for m in positive if match.end() - 2 <= m.start <= match.end() + 60]
            if after:
                return after[0]
        return positive[-1] if len(positive) > 1 else positive[0]
    for m in positive:
        if _MONTHLY_INSTALMENT.search(text[max(0, m.start - 45) : m.start]):
            return m
    charged = labelled.pick_charged(text, positive)
    if charged is not None:
        return charged
    positive = labelled.price_candidates(text, positive) or positive
    for match in _TOTAL.finditer(text):
        line_start = text.rfind("\n", 0, match.start()) + 1
        if _TAX_LINE.search(text[line_start : match.start()]):
            continue
        after = [m for m in positive if match.end() - 2 <= m.start <= match.end() + 50]
        if after:
            return after[0]
    for m in positive:
        line_start = text.rfind("\n", 0, m.start) + 1
        if not _TAX_LINE.search(text[line_start : m.start]):
            return m
    return positive[0]


# The price a change replaces: "passera de 58,40 € à", "from €30.00 to", "reste de", "currently"
_BEFORE_OLD_PRICE = re.compile(
    r"(?:\bde|\bfrom|currently|actuellement|reste de|restera de|remains|stays at|au lieu de|instead of|contre)"
    r"\s*:?\s*$"
)
_BEFORE_ARROW = re.compile(r"^\s*(?:→|->|⇒|=>|➜|➔)")


def pick_previous(text: str, money: list[Money], new: Money) -> Money | None:
    """The old price a price change names, in the new price's currency, or None."""
    for m in money:
        if m is new or m.currency != new.currency or m.amount_minor in (new.amount_minor, 0):
            continue
        if _BEFORE_OLD_PRICE.search(text[max(0, m.start - 20) : m.start]) or (
            _BEFORE_ARROW.match(text[m.end : m.end + 4]) and m.end < new.start
        ):
            return m
    return None


_RANGE_JOIN = re.compile(r"\s*(?:–|—|-|au|to|through|until|jusqu'au)\s*")
_RANGE_PERIODS = (("P1M", 1), ("P3M", 3), ("P6M", 6), ("P1Y", 12))


def period_between(start: date, end: date) -> str | None:
    """The billing period from `start` to `end` when it is a whole one (calendar months, a day either way;
    seven days; four weeks), else None: 3 Nov -> 3 Dec is P1M, 9 Nov -> 8 Feb P3M."""
    for period, months in _RANGE_PERIODS:
        year, month = divmod(start.month - 1 + months, 12)
        last = calendar.monthrange(start.year + year, month + 1)[1]
        same_day = date(start.year + year, month + 1, min(start.day, last))
        if abs((end - same_day).days) <= 1:
            return period
    if 6 <= (end - start).days <= 7:
        return "P1W"
    if 27 <= (end - start).days <= 28:
        return "P4W"
    return None


def period_of_range(text: str, dates: list[FoundDate]) -> str | None:
    """The period a stated date range covers: "Période : 9 novembre 2026 – 8 février 2027" is P3M,
    "du 03/11/2026 au 02/11/2027" P1Y, "Nov 9 to Dec 8" P1M."""
    for first, second in zip(dates, dates[1:], strict=False):
        if _RANGE_JOIN.fullmatch(text[first.end : second.start]):
            found = period_between(first.value, second.value)
            if found:
                return found
    return None


def pick_period(
    text: str, amount: Money | None, default: str | None, dates: list[FoundDate] | None = None
) -> str | None:
    """The period written beside the amount ("9,99 €/mois", "prélèvement mensuel de 88,80 €"), else the
    date range a charge covers, else a period word anywhere, else the provider's."""
    if amount is not None:  # the period written first after the amount: "32,99 €/mois pendant 12 mois"
        first = _ANY_PERIOD.search(text[amount.end : amount.end + 30])
        if first:
            return first.lastgroup
        line_start = text.rfind("\n", 0, amount.start) + 1
        before = text[max(line_start, amount.start - 40) : amount.start]
        found = [(m.end(), period) for period, pattern in _PERIODS for m in pattern.finditer(before)]
        if found:  # the word nearest before it: "Le prélèvement mensuel de 88,80 EUR"
            return max(found)[1]
    ranged = period_of_range(text, dates or [])
    if ranged:
        return ranged
    for period, pattern in _PERIODS:
        if pattern.search(text):
            return period
    return default


def pick_plan(low: str, plans: tuple[str, ...]) -> str | None:
    for plan in plans:  # longest first: "Premium Family" before "Premium"
        if plan.lower() in low:
            return plan
    return None


def account_email(parsed: ParsedMessage, identity: Identity, text: str = "") -> str | None:
    """The account the message is about: one of my addresses the mail names as the account ("Compte :
    x@y"), else my own address among the recipients, else the first one."""
    for named in labelled.account_of(text):
        if identity.is_mine(named):
            return named
    recipients = [*parsed.to_addrs, *parsed.cc_addrs]
    for addr in recipients:
        if identity.is_mine(addr):
            return addr
    return recipients[0] if recipients else None


def event_type_for(kind: str, subject: str, text: str) -> str | None:
    """The event a message of `kind` proves; `subject` and `text` are lowered."""
    if kind == "trial":
        return "trial_ending" if _REMIND.search(subject) else "trial_started"
    if kind == "receipt" and REFUND.search(subject):
        return "refund"
    if kind == "signup" and (
        (TRIAL_START.search(subject) and re.search(r"essai|trial", text[:2000]))
        or TRIAL_BEGUN.search(text[:600])
    ):
        return "trial_started"
    return KIND_EVENTS.get(kind)


def build_event(
    parsed: ParsedMessage,
    identity: Identity,
    target: Target,
    kind: str,
    text: str,
    lang: str,
    structured: Structured | None = None,
    require_subscription_words: bool = False,
) -> EventFact | None:
    """One fact from one message, or None when the message does not prove one (a one-off purchase)."""
    full = f"{parsed.subject}\n{text}"
    low = lowered(full)
    event_type = event_type_for(kind, low[: len(parsed.subject)], low[len(parsed.subject) + 1 :])
    if event_type is None:
        return None
    if require_subscription_words and not SUBSCRIPTION_WORDS.search(without_upsells(low)):
        return None
    one_off = event_type == "charge" and bool(labelled.ONE_OFF_BILL.search(low[: len(parsed.subject)]))
    if one_off and not labelled.REGULARISATION_BILL.search(low[: len(parsed.subject)]):
        return (
            None  # a closing bill or a deposit: its amount is no price, nor does it prove the contract runs
        )
    sent = date.fromisoformat(parsed.date[:10]) if parsed.date else None
    dates = find_dates(full, lang, sent)
    money = [] if one_off else find_money(full, lang)  # a regularisation: the charge, not the price
    amount = pick_amount(low, money, kind)
    fact = EventFact(
        event_type=event_type,
        provider=target.slug,
        extractor=target.extractor,
        confidence=target.confidence,
        occurred_on=sent.isoformat() if sent else None,
        service_name=target.service_name,
        platform=target.platform,
        billed_by=target.billed_by,
        account_email=account_email(parsed, identity, text),
        plan=pick_plan(low, target.plans) or labelled.plan_of(text, lowered_tail(low, parsed.subject, text)),
    )
    if amount is not None:
        fact.amount_minor, fact.currency = amount.amount_minor, amount.currency
        previous = pick_previous(low, money, amount) if event_type == "price_change" else None
        fact.previous_amount_minor = previous.amount_minor if previous else None
    # a provider's usual period only completes a price; a cancellation without one states none
    usual = target.period if amount and event_type != "refund" else None
    # a refund gives money back once: the period it might mention is not a new one
    fact.billing_period = pick_period(low, amount, usual, dates) if event_type != "refund" else None
    _fill_dates(fact, low, dates, sent)
    if fact.billing_period is None and event_type == "charge" and fact.occurred_on and fact.next_renewal_on:
        # no period written: the interval from this charge to the next one the mail states
        fact.billing_period = period_between(
            date.fromisoformat(fact.occurred_on), date.fromisoformat(fact.next_renewal_on)
        )
    if structured is not None:
        _apply_structured(fact, structured)
    if target.refine is not None:
        try:
            target.refine(parsed, fact, full)
        except Exception:  # provider code must not lose the message
            fact.confidence = min(fact.confidence, 0.5)
    if event_type in ("charge", "refund", "payment_failed") and fact.amount_minor is None:
        fact.confidence = min(fact.confidence, 0.5)
    return fact


def _fill_dates(fact: EventFact, text: str, dates: list[FoundDate], sent: date | None) -> None:
    def relative() -> date | None:
        match = _IN_DAYS.search(text)
        return sent + timedelta(days=int(match.group(1))) if match and sent else None

    def first() -> date | None:
        return dates[0].value if dates else None

    def iso(value: date | None) -> str | None:
        return value.isoformat() if value else None

    kind = fact.event_type
    if kind in ("trial_started", "trial_ending"):
        ends = date_after(DATE_WORDS["trial_ends_on"], text, dates) or relative() or first()
        fact.trial_ends_on = iso(ends)
        fact.next_renewal_on = fact.trial_ends_on
    elif kind == "cancellation_confirmed":
        fact.ends_on = iso(date_after(DATE_WORDS["ends_on"], text, dates) or first())
    elif kind == "renewal_notice":
        fact.next_renewal_on = iso(
            date_after(DATE_WORDS["next_renewal_on"], text, dates) or relative() or first()
        )
    elif kind == "price_change":
        effective = date_after(DATE_WORDS["effective_on"], text, dates) or first()
        fact.occurred_on = iso(effective) or fact.occurred_on
    if kind in ("charge", "signup", "renewal_notice", "trial_started"):
        committed = date_after(DATE_WORDS["commitment_ends_on"], text, dates, reach=50)
        if committed and sent and committed > sent:
            fact.commitment_ends_on = committed.isoformat()
    if kind in ("charge", "signup", "refund", "payment_failed"):
        charged = date_after(DATE_WORDS["charged_on"], text, dates)
        if charged and sent and abs((charged - sent).days) <= 40:
            fact.occurred_on = charged.isoformat()
        renew = date_after(DATE_WORDS["next_renewal_on"], text, dates) or date_after(
            labelled.PAID_UNTIL, text, dates
        )
        if renew and (charged is None or renew > charged):
            fact.next_renewal_on = renew.isoformat()


def _apply_structured(fact: EventFact, data: Structured) -> None:
    """Embedded data beats patterns on amounts and dates; it says nothing about who sent it."""
    if data.amount_minor is not None and data.currency:
        fact.amount_minor, fact.currency = data.amount_minor, data.currency
    if data.occurred_on and fact.event_type in ("charge", "signup", "refund"):
        fact.occurred_on = data.occurred_on
    if fact.confidence >= 0.8:  # a known sender: the embedded facts make it surer still
        fact.extractor = "structured@1"
        fact.confidence = 0.95
