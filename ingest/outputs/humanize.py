"""Words, not codes: money, periods, statuses and times as a person reads them, in their language.

Pure: a `Humanizer` is built from the three display settings (`language`, `timezone`,
`currency`) and turns stored values (`1499` `EUR` `P1M`, `awaiting_provider`, UTC
ISO timestamps) into text ("14,99 € / mois", "waiting on them", "12 mars 2026,
11:02"), and says the user's corrections and the bank findings as sentences, one way
for the web pages, `status`, the dossier and the exports. Every label goes through gettext: English is the source language, and each
other language is one `ingest/locale/<lang>/LC_MESSAGES/subtrail.po` file, compiled with
babel when first used, so adding a language is adding that file.
"""

from __future__ import annotations

import functools
import gettext
import io
import json
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_skeleton, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, get_currency_precision

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "subtrail"
SOURCE_LANGUAGE = "en"
DEFAULT_CURRENCY = "EUR"
_DURATION = re.compile(r"^P(\d+)([DWMY])$")


def N_(message: str) -> str:
    """Marks a label for translation where it is declared; translated where it is shown."""
    return message


SUBSCRIPTION_STATUS = {
    "trial": N_("free trial"),
    "active": N_("active"),
    "cancelled": N_("cancelled"),
    "expired": N_("ended"),
    "payment_failed": N_("payment failed"),
    "unknown": N_("no recent news"),
}
TICKET_STATUS = {
    "awaiting_provider": N_("waiting on them"),  # to answer, or to do what they promised
    "awaiting_me": N_("waiting for my answer"),
    "resolved": N_("resolved"),
}
PROMISE_STATUS = {
    "pending": N_("pending"),
    "kept": N_("kept"),
    "kept_late": N_("kept late"),
    "overdue": N_("overdue"),
}
PLATFORM = {
    "direct": N_("directly"),
    "apple": N_("Apple (App Store)"),
    "google_play": N_("Google Play"),
    "paypal": N_("PayPal"),
    "stripe": N_("Stripe"),
    "amazon": N_("Amazon"),
    "reseller": N_("a reseller"),
    "bundle": N_("included in a bundle"),
    "unknown": N_("unknown"),
}
CATEGORY = {
    "streaming": N_("streaming"),
    "telecom": N_("telecom"),
    "energy": N_("energy"),
    "press": N_("press"),
    "software": N_("software"),
    "fitness": N_("fitness"),
    "insurance": N_("insurance"),
    "other": N_("other"),
}
EVENT_TYPE = {
    "charge": N_("charged"),
    "renewal_notice": N_("renewal notice"),
    "trial_started": N_("free trial started"),
    "trial_ending": N_("free trial ending"),
    "price_change": N_("price change"),
    "cancellation_confirmed": N_("cancellation confirmed"),
    "payment_failed": N_("payment failed"),
    "signup": N_("signed up"),
    "refund": N_("refunded"),
}
CHANNEL = {
    "email": N_("e-mail"),
    "phone": N_("phone"),
    "chat": N_("chat"),
    "letter": N_("letter"),
    "other": N_("other"),
}
# Periods in words: (singular "per" form, plural form with a count). "P1M" -> "month", "P4W" -> "4 weeks".
_UNITS = {
    "D": (N_("day"), N_("%(count)d day"), N_("%(count)d days")),
    "W": (N_("week"), N_("%(count)d week"), N_("%(count)d weeks")),
    "M": (N_("month"), N_("%(count)d month"), N_("%(count)d months")),
    "Y": (N_("year"), N_("%(count)d year"), N_("%(count)d years")),
}


def available_languages() -> list[str]:
    """English and every language with a catalogue: a third language is one `.po` file."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return [SOURCE_LANGUAGE, *[lang for lang in found if lang != SOURCE_LANGUAGE]]


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue for `language`, compiled from its `.po` in memory (no build step, nothing to forget)."""
    po = LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    if language == SOURCE_LANGUAGE or not po.exists():
        return gettext.NullTranslations()
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def system_language(env: dict[str, str] | None = None) -> str:
    """The language of the system locale (LC_ALL, LC_MESSAGES, LANG) when we have it, else English."""
    env = dict(os.environ) if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            language = value.split("_")[0].split(".")[0].lower()
            return language if language in available_languages() else SOURCE_LANGUAGE
    return SOURCE_LANGUAGE


def system_timezone(env: dict[str, str] | None = None) -> str:
    """The system's IANA zone name ($TZ, /etc/timezone, the /etc/localtime link); UTC when unknown."""
    env = dict(os.environ) if env is None else env
    candidates = [env.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
        candidates.append(target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "")
    except OSError:
        pass
    for name in candidates:
        if name and is_timezone(name):
            return name
    return "UTC"


def is_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def subscription_name(service_name: str | None, provider_name: str | None, slug: str | None) -> str:
    """The one name every output gives a subscription (status, pages, calendar, reminders, dossier,
    drafts): the service's own ("ChatGPT", "Électricité EDF"), else the provider's, else its slug."""
    for name in (service_name, provider_name, slug):
        if name and name.strip():
            return name.strip()
    return ""


def name_with_plan(name: str, plan: str | None) -> str:
    """The name then the plan where an output shows both, no word said twice: "Netflix — Standard", but
    "ChatGPT Plus" (the plan already names it) and "Amazon Prime" (the name already says the plan)."""
    plan = (plan or "").strip()
    if not plan or plan.casefold() in name.casefold():
        return name
    if not name or name.casefold() in plan.casefold():
        return plan
    return f"{name} — {plan}"


def minor_to_decimal(amount_minor: int, currency: str) -> Decimal:
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def decimal_to_minor(amount: Decimal, currency: str) -> int:
    return int((amount.scaleb(get_currency_precision(currency))).to_integral_value())


def parse_period(period: str | None) -> tuple[int, str] | None:
    match = _DURATION.match(period or "")
    return (int(match.group(1)), match.group(2)) if match else None


@dataclass(frozen=True)
class Humanizer:
    """Formats stored values for one reader: their language, their time zone, their main currency."""

    language: str = SOURCE_LANGUAGE
    timezone: str = "UTC"
    currency: str = DEFAULT_CURRENCY
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", ZoneInfo(self.timezone))

    @classmethod
    def of(cls, display: object) -> Humanizer:
        """From the config's display settings (anything with `language`, `timezone`, `currency`)."""
        return cls(
            language=getattr(display, "language", SOURCE_LANGUAGE),
            timezone=getattr(display, "timezone", "UTC"),
            currency=getattr(display, "currency", DEFAULT_CURRENCY),
        )

    @property
    def locale(self) -> str:
        return self.language

    @property
    def colon(self) -> str:
        """What goes between a label and its value: ": " in English, " : " in French."""
        return self.gettext("%(label)s: ") % {"label": ""}

    def gettext(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        return translations(self.language).ngettext(singular, plural, count)

    # --- money and periods ---------------------------------------------------------------

    def money(self, amount_minor: int | None, currency: str | None) -> str:
        """`1499, "EUR"` -> "14,99 €" (fr) / "€14.99" (en); an unknown amount is empty."""
        if amount_minor is None or not currency:
            return ""
        try:
            return format_currency(minor_to_decimal(amount_minor, currency), currency, locale=self.locale)
        except (ValueError, KeyError):
            return f"{minor_to_decimal(amount_minor, 'XXX')} {currency}"

    def number(self, value: float, decimals: int = 0) -> str:
        """`9372` -> "9,372" / "9 372", `0.25` with one decimal -> "0.2" / "0,2": counts and sizes."""
        return format_decimal(value, "#,##0" + ("." + "0" * decimals if decimals else ""), locale=self.locale)

    def period(self, period: str | None) -> str:
        """`P1M` -> "month" / "mois", `P4W` -> "4 weeks" / "4 semaines"; an unknown period stays as written."""
        parsed = parse_period(period)
        if parsed is None:
            return period or ""
        count, unit = parsed
        one, singular, plural = _UNITS[unit]
        if count == 1:
            return self.gettext(one)
        return self.ngettext(singular, plural, count) % {"count": count}

    def price(self, amount_minor: int | None, currency: str | None, period: str | None) -> str:
        """ "14,99 € / mois", "69,90 € / an", "32,99 € / 4 semaines" — a price as people write it."""
        money = self.money(amount_minor, currency)
        if not money or not period:
            return money
        return f"{money} / {self.period(period)}"

    # --- vocabularies ----------------------------------------------------------------------

    def _word(self, table: dict[str, str], code: str | None) -> str:
        if not code:
            return ""
        return self.gettext(table[code]) if code in table else code

    def subscription_status(self, code: str | None) -> str:
        return self._word(SUBSCRIPTION_STATUS, code)

    def ticket_status(self, code: str | None) -> str:
        return self._word(TICKET_STATUS, code)

    def promise_status(self, code: str | None) -> str:
        return self._word(PROMISE_STATUS, code)

    def platform(self, code: str | None) -> str:
        return self._word(PLATFORM, code)

    def category(self, code: str | None) -> str:
        return self._word(CATEGORY, code or "other")

    def channel(self, code: str | None) -> str:
        return self._word(CHANNEL, code)

    def event_type(self, code: str | None) -> str:
        return self._word(EVENT_TYPE, code)

    # --- time --------------------------------------------------------------------------------

    def today(self) -> date:
        """The reader's day: `SUBTRAIL_TODAY` when set, else today on their clock (at 00:30 in Paris it is
        already tomorrow in Paris while UTC says today)."""
        pinned = os.environ.get("SUBTRAIL_TODAY", "").strip()
        return date.fromisoformat(pinned) if pinned else datetime.now(self._zone).date()

    def local(self, stamp: str | None) -> datetime | None:
        """A stored UTC timestamp in the reader's zone (naive stamps are UTC, as the database keeps them)."""
        if not stamp:
            return None
        try:
            moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(self._zone)

    def datetime(self, stamp: str | None) -> str:
        """ "2026-03-12T10:02:00+00:00" -> "12 mars 2026, 11:02" in Europe/Paris."""
        moment = self.local(stamp)
        if moment is None:
            return stamp or ""
        day = format_skeleton("yMMMd", moment, locale=self.locale)
        return f"{day}, {format_skeleton('Hm', moment, locale=self.locale)}"

    def date(self, day: str | date | None) -> str:
        """ "2026-03-12" -> "12 mars 2026" / "Mar 12, 2026"."""
        if not day:
            return ""
        if isinstance(day, str):
            moment = self.local(day) if len(day) > 10 else None  # a UTC timestamp: the reader's day
            try:
                day = moment.date() if moment else date.fromisoformat(day[:10])
            except ValueError:
                return day
        return format_date(day, "medium", locale=self.locale)

    def month(self, day: str | None) -> str:
        """ "2025-11-26" -> "nov. 2025" / "Nov 2025": a bank's booking day is a few days off the real one."""
        if not day:
            return ""
        try:
            return format_skeleton("yMMM", date.fromisoformat(day[:10]), locale=self.locale)
        except ValueError:
            return day

    def start(self, sub: dict[str, Any]) -> tuple[str, str]:
        """The label and the day a subscription began, for the dossier: the mails' `started_on`, or the
        bank's first debit when the statements prove it ran earlier ("Since: Nov 2025 (first bank debit)").
        A start the user corrected is theirs and wins."""
        started, debit = sub.get("started_on"), sub.get("first_debit_on")
        corrected = "started_on" in json.loads(sub.get("corrected") or "[]")
        if debit and not corrected and (not started or debit < started[:10]):
            since = self.gettext("%(month)s (first bank debit)") % {"month": self.month(debit)}
            return self.gettext("Since"), since
        return self.gettext("Started on"), self.date(started)

    def days_from(self, day: str | None, today: date) -> str:
        """ "in 3 days" / "dans 3 jours", "3 days ago"; "today" for today."""
        if not day:
            return ""
        try:
            delta = (date.fromisoformat(day[:10]) - today).days
        except ValueError:
            return ""
        if delta == 0:
            return self.gettext("today")
        return format_timedelta(
            timedelta(days=delta), granularity="day", threshold=400, add_direction=True, locale=self.locale
        )

    def local_iso(self, stamp: str | None) -> str:
        """A stored UTC timestamp as ISO-8601 in the reader's zone, offset included (for files);
        a date without time is already a local date and stays as it is."""
        if not stamp or len(stamp) <= 10:
            return stamp or ""
        moment = self.local(stamp)
        return moment.isoformat() if moment else stamp

    # --- the user's own statements (corrections) ------------------------------------------

    def statement_text(self, correction: dict[str, Any]) -> str:
        """What one `corrections` row says, in words: "status: cancelled", "price: €9.99"."""
        field_, value = correction.get("field"), correction.get("value")
        if field_ == "status":
            return self.gettext("status: %(value)s") % {"value": self.subscription_status(value)}
        if field_ == "ended_on":
            ahead = bool(value) and str(value)[:10] > self.today().isoformat()  # a notice: it ends later
            words = self.gettext("ends on %(day)s") if ahead else self.gettext("ended on %(day)s")
            return words % {"day": self.date(value)}
        if field_ == "amount" and value:
            money = json.loads(value) if isinstance(value, str) else value
            amount = self.money(money.get("amount_minor"), money.get("currency"))
            return self.gettext("price: %(amount)s") % {"amount": amount}
        if field_ == "period":
            return self.gettext("billed every %(period)s") % {"period": self.period(value)}
        if field_ == "category":
            return self.gettext("category: %(value)s") % {"value": self.category(value)}
        if field_ == "platform":
            return self.gettext("billed by: %(value)s") % {"value": self.platform(value)}
        if field_ == "started_on":
            return self.gettext("started on %(day)s") % {"day": self.date(value)}
        if field_ == "dismissed":
            return (
                self.gettext("a subscription after all")
                if value == "0"
                else self.gettext("not a subscription")
            )
        if field_ == "added":
            return self.gettext("You added it by hand.")
        return self.gettext("note")

    def statement(self, correction: dict[str, Any]) -> str:
        """ "Corrigé par vous le 3 mars 2026 : statut : résilié — par téléphone": who, when (local day), what."""
        day = self.local(correction.get("at"))
        note = (correction.get("note") or "").strip()
        if correction.get("field") == "added":  # a subscription the mail never shows
            added = self.gettext("Added by you on %(day)s") % {"day": self.date(day.date() if day else None)}
            return f"{added} — {note}" if note else added
        if correction.get("field") == "note" and note:
            what = note  # a note alone says it all
        else:
            # "résilié", not "statut : résilié": after "Corrigé par vous le …" the status word is enough
            said = (
                self.subscription_status(correction.get("value"))
                if correction.get("field") == "status"
                else self.statement_text(correction)
            )
            what = f"{said} — {note}" if note else said
        return self.gettext("Corrected by you on %(day)s: %(what)s") % {
            "day": self.date(day.date() if day else None),
            "what": what,
        }

    # --- bank findings -----------------------------------------------------------------------

    def unknown_debit(self, row: dict[str, Any]) -> str:
        return self.gettext("A recurring debit no mail explains: %(merchant)s, %(price)s.") % {
            "merchant": row.get("merchant") or row.get("provider") or "?",
            "price": self.price(row.get("amount_minor"), row.get("currency"), row.get("billing_period")),
        }

    def charge_after_cancellation(self, row: dict[str, Any]) -> str:
        """The claim, in the reader's words: what, when, how long after the cancellation."""
        return self.ngettext(
            "%(name)s charged %(amount)s on %(day)s (%(label)s), %(days)s day after the cancellation "
            "confirmed on %(cancelled)s: money to claim back.",
            "%(name)s charged %(amount)s on %(day)s (%(label)s), %(days)s days after the cancellation "
            "confirmed on %(cancelled)s: money to claim back.",
            int(row.get("days_after_cancellation") or 0),
        ) % {
            "name": row.get("service_name") or row.get("provider"),
            "amount": self.money(row.get("amount_minor"), row.get("currency")),
            "day": self.date(row.get("booked_on")),
            "label": row.get("label") or "",
            "days": row.get("days_after_cancellation"),
            "cancelled": self.date(row.get("cancelled_on")),
        }

    def price_mismatch(self, row: dict[str, Any]) -> str:
        said = (
            self.gettext("%(name)s: the bank debits %(charged)s, you entered %(announced)s.")
            if row.get("announced_by") == "you"
            else self.gettext("%(name)s: the bank debits %(charged)s, the mail says %(announced)s.")
        )
        return said % {
            "name": row.get("service_name") or row.get("provider"),
            "charged": self.money(row.get("charged_minor"), row.get("currency")),
            "announced": self.money(row.get("announced_minor"), row.get("currency")),
        }

    def bank_sentences(self, findings: dict[str, list[dict[str, Any]]]) -> list[str]:
        """Every finding as one sentence, money to claim back first."""
        return [
            *(self.charge_after_cancellation(r) for r in findings.get("after_cancellation", [])),
            *(self.price_mismatch(r) for r in findings.get("price_mismatches", [])),
            *(self.unknown_debit(r) for r in findings.get("unknown", [])),
        ]
