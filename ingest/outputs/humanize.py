"""Words, not codes: money, periods, statuses and times as a person reads them, in their language.

Pure: a `Humanizer` is built from the three display settings (`language`, `timezone`,
`currency`) and turns stored values (`1499` `EUR` `P1M`, `awaiting_provider`, UTC
ISO timestamps) into text ("14,99 € / mois", "waiting for their answer", "12 mars 2026,
11:02"). Every label goes through gettext: English is the source language, and each
other language is one `ingest/locale/<lang>/LC_MESSAGES/subtrail.po` file, compiled with
babel when first used, so adding a language is adding that file.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_skeleton, format_timedelta
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, get_currency_precision

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
    "awaiting_provider": N_("waiting for their answer"),
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

    @property
    def locale(self) -> str:
        return self.language

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

    # --- time --------------------------------------------------------------------------------

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
            try:
                day = date.fromisoformat(day[:10])
            except ValueError:
                return day
        return format_date(day, "medium", locale=self.locale)

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
