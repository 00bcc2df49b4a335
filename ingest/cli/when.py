"""A moment as a person types it on the command line, read in their own time zone.

`note add --at` takes ISO-8601 (`2026-03-03T10:02`, with or without an offset), `2026-03-03 10:02`,
a day-first numeric date (`03/03/2026 10h02`, `3.3.2026 10:02`) and a date with the month in words
in any language subtrail speaks (`3 mars 2026 10:02`, `1er mars 2026 à 10h`, `3 March 2026 10:02 am`,
`March 3, 2026 10:02`); the month names come from babel's CLDR data, so a new language brings its own.
A time without an offset is in the configured `timezone`; a date without a time is that local day
(stored as its local midnight in UTC, shown back as the date alone). The database keeps UTC.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from babel.dates import get_day_names

from extractors.dates import MONTHS
from ingest.outputs.humanize import available_languages

EXAMPLES = '"2026-03-03 10:02", "03/03/2026 10h02", "3 mars 2026 10:02", "3 March 2026 10:02" or ISO-8601'

_TIME = r"(?P<hour>\d{1,2})(?:\s*[:h.]\s*(?P<minute>\d{2})?(?::(?P<second>\d{2}))?)?\s*(?P<ampm>am|pm)?"
_OFFSET = r"(?:\s*(?P<offset>z|utc|gmt|[+-]\d{2}:?\d{2}))?"
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_YEAR_FIRST = re.compile(r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})")
_NUMERIC = re.compile(r"(?P<day>\d{1,2})[/.-](?P<month>\d{1,2})[/.-](?P<year>\d{4})")
_DAY_FIRST = re.compile(r"(?P<day>\d{1,2})(?:er|st|nd|rd|th)? (?P<name>[a-z]+) (?P<year>\d{4})")
_MONTH_FIRST = re.compile(r"(?P<name>[a-z]+) (?P<day>\d{1,2})(?:st|nd|rd|th)? (?P<year>\d{4})")
_JOINERS = re.compile(r"\s+(?:a|at|le|on)\s+")


@dataclass(frozen=True)
class Moment:
    """What was typed, as a UTC timestamp for the database; `date_only` when no time was given."""

    utc: datetime
    date_only: bool

    @property
    def iso(self) -> str:
        return self.utc.isoformat(timespec="seconds")


def _plain(text: str) -> str:
    """Lower case, no accents, no dots after words, no commas, single spaces: "Févr." -> "fevr"."""
    decomposed = unicodedata.normalize("NFKD", text.strip().lower().replace(",", " "))
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    text = re.sub(r"(?<=[a-z])\.", "", text)
    return re.sub(r"\s+", " ", text)


@functools.cache
def _months() -> dict[str, int]:
    """Month names and abbreviations, plain, -> 1..12: the extractors' babel tables (one source)."""
    return {_plain(name): number for table in MONTHS.values() for name, number in table.items()}


@functools.cache
def _weekdays() -> frozenset[str]:
    return frozenset(
        _plain(name)
        for language in available_languages()
        for width in ("wide", "abbreviated")
        for name in get_day_names(width, locale=language).values()
    )


def _day(text: str) -> tuple[date, str] | None:
    """The date at the start of `text` and what follows it, or None."""
    for pattern in (_YEAR_FIRST, _NUMERIC, _DAY_FIRST, _MONTH_FIRST):
        match = pattern.match(text)
        if not match:
            continue
        parts = match.groupdict()
        month = int(parts["month"]) if "month" in parts else _months().get(parts["name"], 0)
        try:
            return date(int(parts["year"]), month, int(parts["day"])), text[match.end() :]
        except ValueError:
            return None
    first, _, rest = text.partition(" ")
    if first in _weekdays() and rest[:1].isdigit():  # "mardi 3 mars 2026", "Tue 3 March 2026"
        return _day(rest)
    return None


def _clock(text: str) -> tuple[time, timezone | None] | None:
    """ "10:02", "10h02", "10h", "10:02:30", "10:02 pm", each optionally followed by an offset."""
    match = re.fullmatch(_TIME + _OFFSET, text)
    if not match or (match["minute"] is None and match["ampm"] is None and "h" not in text):
        return None
    hour, minute, second = int(match["hour"]), int(match["minute"] or 0), int(match["second"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["ampm"] == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        return None
    offset = match["offset"]
    zone = None
    if offset in ("z", "utc", "gmt"):
        zone = UTC
    elif offset:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        zone = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return time(hour, minute, second), zone


def parse_moment(text: str, zone_name: str) -> Moment:
    """`text` as a moment; a time without an offset is in `zone_name`. Raises ValueError."""
    zone = ZoneInfo(zone_name)
    raw = text.strip()
    if _ISO_DAY.fullmatch(raw):
        day = date.fromisoformat(raw)
        return Moment(datetime.combine(day, time(), zone).astimezone(UTC), date_only=True)
    try:
        iso = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        pass
    else:
        return Moment((iso if iso.tzinfo else iso.replace(tzinfo=zone)).astimezone(UTC), date_only=False)
    plain = _plain(raw)
    found = _day(plain)
    if found is None:
        raise ValueError(text)
    day, rest = found
    rest = _JOINERS.sub(" ", f" {rest} ").strip()
    if not rest:
        return Moment(datetime.combine(day, time(), zone).astimezone(UTC), date_only=True)
    clock = _clock(rest)
    if clock is None:
        raise ValueError(text)
    at, offset = clock
    return Moment(datetime.combine(day, at, offset or zone).astimezone(UTC), date_only=False)


def parse_day_text(text: str, zone_name: str) -> date:
    """A calendar date typed any of the ways `parse_moment` reads, without a time. Raises ValueError."""
    moment = parse_moment(text, zone_name)
    if not moment.date_only:
        raise ValueError(text)
    return moment.utc.astimezone(ZoneInfo(zone_name)).date()


def local_text(stamp: str | None, zone_name: str) -> str:
    """A stored UTC timestamp as "2026-03-03 10:02" in `zone_name`; a local midnight as the date alone
    (what a date typed without a time was stored as)."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    local = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone_name))
    if local.time() == time():
        return local.date().isoformat()
    return local.strftime("%Y-%m-%d %H:%M")
