"""Commitments made by a provider, with the date they fall due; what I asked for in my own mails.

"Nous procéderons au remboursement sous 5 jours ouvrés" is only useful as evidence
with the date it expires, counted from the message date. Business days skip weekends
and French public holidays (the `holidays` package: it knows Easter Monday,
Ascension and Whit Monday for any year, which a fixed list would not). A range
("5-7 business days") falls due at its upper bound: that is when the promise is
broken. Dates are calendar dates in the Europe/Paris sense of the message date.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from extractors.model import Promise

_PARIS = ZoneInfo("Europe/Paris")
_ROLLOVER = timedelta(
    days=120
)  # a day-and-month date earlier than the mail is next year's only if this close
_NUMBER_WORDS = {
    "un": 1, "une": 1, "deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8,
    "dix": 10, "quinze": 15, "trente": 30, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "seven": 7, "ten": 10, "fourteen": 14, "fifteen": 15, "thirty": 30,
}  # fmt: skip
_NUM = r"(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"
_RANGE = _NUM + r"(?:\s*(?:-|–|à|a|to|ou|or)\s*" + _NUM + r")?"
_MONTHS = {
    "janvier": 1, "février": 2, "fevrier": 2, "mars": 3, "avril": 4, "mai": 5, "juin": 6, "juillet": 7,
    "août": 8, "aout": 8, "septembre": 9, "octobre": 10, "novembre": 11, "décembre": 12, "decembre": 12,
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6, "july": 7, "august": 8,
    "september": 9, "october": 10, "november": 11, "december": 12, "jan": 1, "feb": 2, "mar": 3,
    "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_MONTH = "(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"

# A commitment: something the provider will do or that will happen, in the future tense.
_COMMIT = re.compile(
    r"\b(?:procéderons|procéder|effectuerons|rembourserons|créditerons|rappellerons|recontacterons|rappellera|"
    r"contactera|recontactera|"
    r"reviendrons|interviendra|sera\s+(?:effectué|effectuée|effective|crédité|créditée|remboursé|remboursée|"
    r"traité|traitée|résilié|résiliée|clôturé|clôturée|envoyé|envoyée|visible|appliqué|appliquée)|"
    r"sera\s+\w+(?:é|ée|és|ées)|seront\s+\w+|prendra\s+fin|recevrez|vous\s+sera|vous\s+seront|nous\s+allons|nous\s+nous\s+engageons|"
    r"appara[iî]tr(?:a|ont)|figurera|(?:please\s+)?allow|comptez|prévoyez|\w{3,}(?:dra|drons|dront)|"
    r"will|you'll|we'll|should(?!\s+(?:not|have)\b)|expect|(?:usually|generally|typically|normally)\s+takes?|"
    r"prend\s+(?:généralement|en\s+général|habituellement)|"
    r"(?:vous\s+)?\w{3,}(?:erez|irez)|\w{4,}(?:era|ira)|remains?\s+(?:active|available)|keep\s+access)\b",
    re.I,
)
_DELAYS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:sous|dans\s+un\s+délai\s+de|d'ici|dans|en)\s+" + _RANGE + r"\s+jours?\s+(?:ouvrés|ouvrables)", re.I), "bday"),
    (re.compile(r"\b(?:within|in|allow|takes?(?:\s+up\s+to)?)\s+" + _RANGE + r"\s+(?:business|working)\s+days?", re.I), "bday"),
    (re.compile(r"\b(?:sous|dans\s+un\s+délai\s+de|d'ici|dans|en)\s+" + _RANGE + r"\s+jours?\b", re.I), "day"),
    (re.compile(r"\b(?:within|in|allow|takes?(?:\s+up\s+to)?)\s+" + _RANGE + r"\s+(?:calendar\s+)?days?\b", re.I), "day"),
    (re.compile(r"\b(?:sous|dans|d'ici|within|in)\s+" + _RANGE + r"\s*(?:h|heures?|hours?)\b", re.I), "hour"),
    (re.compile(r"\b(?:sous|dans|d'ici|within|in)\s+" + _RANGE + r"\s+(?:semaines?|weeks?)\b", re.I), "week"),
    (re.compile(r"\bsous\s+huitaine\b", re.I), "huitaine"),
]  # fmt: skip
_DATE_NUMERIC = re.compile(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?\b")
_DATE_FR = re.compile(r"\b(\d{1,2})(?:er)?\s+" + _MONTH + r"(?:\s+(\d{4}))?", re.I)
_DATE_EN = re.compile(r"\b" + _MONTH + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s+(\d{4}))?", re.I)
_WEEKDAY_TAIL = re.compile(
    r"\s*\b(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche|monday|tuesday|wednesday|thursday|friday|"
    r"saturday|sunday),?\s*$",
    re.I,
)  # "le mardi 14 avril", "on Tuesday, April 14"
_RELATIVE_DAYS = [
    (re.compile(r"\b(?:après-demain|the\s+day\s+after\s+tomorrow)\b", re.I), 2),
    (re.compile(r"\b(?:demain|tomorrow)\b", re.I), 1),
]
_DATE_CUE = re.compile(
    r"\b(?:le|au|avant\s+le|d'ici\s+le|au\s+plus\s+tard\s+le|à\s+compter\s+du|à\s+partir\s+du|jusqu'au|"
    r"by|on|before|until|no\s+later\s+than|effective)\s*$",
    re.I,
)

# What I ask for: a wish or a request sentence about one of the usual remedies.
_ASK = re.compile(
    r"\b(?:(?:je\s+)?(?:souhaite|souhaiterais|voudrais|veux)|je\s+(?:vous\s+)?(?:demande|sollicite)|j'aimerais|merci\s+de\s+(?:bien\s+vouloir\s+)?|"
    r"je\s+vous\s+(?:prie|remercie)\s+de|pourriez-vous|pouvez-vous|"
    r"i\s+(?:would\s+like|want|request|ask|expect)|i'd\s+like|please|could\s+you|can\s+you)\b",
    re.I,
)
_REMEDY = re.compile(
    r"\b(?:rembours\w*|résili\w*|resili\w*|annul\w*|geste\s+commercial|(?:un|d.un|l.|mon)\s*avoir|dédommag\w*|indemni\w*|"
    r"clôtur\w*|corrig\w*|rectifi\w*|refund\w*|reimburs\w*|cancel\w*|terminat\w*|close|credit|compensat\w*|"
    r"chargeback|correct\w*|crédit\w*|répar\w*|rétabl\w*|dépann\w*|faire\s+le\s+nécessaire|fix|repair\w*|"
    r"restor\w*)\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


@lru_cache(maxsize=8)
def _fr_holidays(year: int) -> frozenset[date]:
    """A year's French public holidays as plain dates: a `HolidayBase` lookup costs microseconds a day."""
    return frozenset(holidays.country_holidays("FR", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _fr_holidays(day.year)


def add_business_days(start: date, count: int) -> date:
    """The `count`-th business day after `start` (start itself never counts)."""
    day = start
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day


def local_date(iso: str | None) -> date | None:
    """Calendar date of an ISO-8601 UTC timestamp, in France."""
    if not iso:
        return None
    try:
        return datetime.fromisoformat(iso).astimezone(_PARIS).date()
    except ValueError:
        return None


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text or "") if s and s.strip()]


def _number(token: str | None) -> int | None:
    if not token:
        return None
    token = token.lower()
    return int(token) if token.isdigit() else _NUMBER_WORDS.get(token)


def due_from_delay(sentence: str, sent_on: date) -> date | None:
    for pattern, days in _RELATIVE_DAYS:
        if pattern.search(sentence):
            return sent_on + timedelta(days=days)
    for pattern, unit in _DELAYS:
        match = pattern.search(sentence)
        if not match:
            continue
        if unit == "huitaine":
            return sent_on + timedelta(days=8)
        low, high = _number(match.group(1)), _number(match.group(2))
        count = high or low
        if count is None or count > 366:
            continue
        if unit == "bday":
            return add_business_days(sent_on, count)
        if unit == "day":
            return sent_on + timedelta(days=count)
        if unit == "week":
            return sent_on + timedelta(weeks=count)
        return sent_on + timedelta(days=-(-count // 24))  # hours, rounded up to whole days
    return None


def due_from_date(sentence: str, sent_on: date) -> date | None:
    """An explicit date in the sentence ("le 31/03/2026", "by March 31"), the next one on or after sent_on."""
    candidates: list[tuple[int, int, int, int | None]] = []  # (position, day, month, year)
    for match in _DATE_NUMERIC.finditer(sentence):
        year = match.group(3)
        candidates.append(
            (match.start(), int(match.group(1)), int(match.group(2)), _year(year) if year else None)
        )
    for match in _DATE_FR.finditer(sentence):
        month = _MONTHS.get(match.group(2).lower())
        if month:
            candidates.append((match.start(), int(match.group(1)), month, _year(match.group(3))))
    for match in _DATE_EN.finditer(sentence):
        month = _MONTHS.get(match.group(1).lower())
        if month:
            candidates.append((match.start(), int(match.group(2)), month, _year(match.group(3))))
    for position, day, month, year in sorted(candidates):
        if not _DATE_CUE.search(_WEEKDAY_TAIL.sub("", sentence[:position])):
            continue
        try:
            when = date(year or sent_on.year, month, day)
        except ValueError:
            continue
        if year is None and when < sent_on:
            when = date(sent_on.year + 1, month, day)
            if when - sent_on > _ROLLOVER:
                continue  # "on November 3" written on 23 November is the past, not next year's deadline
        if when >= sent_on:
            return when
    return None


def _year(token: str | None) -> int | None:
    if not token:
        return None
    value = int(token)
    return value + 2000 if value < 100 else value


_HEDGE = re.compile(
    r"\b(?:en\s+général|généralement|habituellement|normalement|en\s+moyenne|la\s+plupart|"
    r"usually|generally|typically|normally|on\s+average|most\s+(?:requests|tickets))\b",
    re.I,
)


def is_hedged(sentence: str) -> bool:
    """'Nous répondons en général sous 48 heures': a habit, not a commitment (an acknowledgement's hedge)."""
    return bool(_HEDGE.search(sentence))


def find_promises(text: str, sent_at: str | None) -> list[Promise]:
    """Commitments in a provider's new text, each with its due date when one is given."""
    sent_on = local_date(sent_at)
    found: list[Promise] = []
    for sentence in sentences(text):
        if not _COMMIT.search(sentence) or sentence.endswith("?"):
            continue
        due = None
        if sent_on is not None:
            due = due_from_delay(sentence, sent_on) or due_from_date(sentence, sent_on)
        if due is None and not _REMEDY.search(sentence):
            continue  # "we will get back to you" with no date is not worth tracking
        found.append(Promise(text=sentence, due_on=due.isoformat() if due else None))
    return found


def find_requests(text: str) -> list[str]:
    """Sentences of my own mail that ask for a remedy (refund, cancellation, correction, ...)."""
    return [s for s in sentences(text) if _ASK.search(s) and _REMEDY.search(s)]
