"""Calendar dates in FR/EN mail: cut the date out with a pattern, then read it with the language known.

Month names come from babel's locale data (wide and abbreviated, with and without
accents), so "14 mars 2026", "14 févr. 2026" and "March 14, 2026" are read by the
same code. Numeric dates are day-first in French ("14/03/2026") and month-first in
English unless the first number cannot be a month. A date without a year
("le 3 avril") takes the year that puts it closest to the message date.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

from babel.dates import get_month_names

from extractors.text import utf8


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def _month_table(locale: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for width in ("wide", "abbreviated"):
        for number, name in get_month_names(width, locale=locale).items():
            name = str(name).lower().rstrip(".")
            table[name] = number
            table[_fold(name)] = number
    if locale == "en":
        table["sept"] = 9
    return table


MONTHS = {"fr": _month_table("fr"), "en": _month_table("en")}
_ALL_MONTHS = {**MONTHS["en"], **MONTHS["fr"]}
_MONTH_RE = "|".join(sorted((re.escape(m) for m in _ALL_MONTHS), key=len, reverse=True))

DATE = re.compile(
    rf"""(?<![\d/])(?:
        (?P<iso_y>\d{{4}})-(?P<iso_m>\d{{2}})-(?P<iso_d>\d{{2}})
      | (?P<n1>\d{{1,2}})[/.](?P<n2>\d{{1,2}})[/.](?P<ny>\d{{4}}|\d{{2}})
      | (?P<dm_d>\d{{1,2}})(?:er|st|nd|rd|th)?\s+(?P<dm_m>{_MONTH_RE})\.?(?:,?\s+(?P<dm_y>\d{{4}}))?
      | (?P<md_m>{_MONTH_RE})\.?\s+(?P<md_d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<md_y>\d{{4}}))?
    )(?![\d])""",
    re.IGNORECASE | re.VERBOSE,
)


@dataclass(frozen=True)
class FoundDate:
    value: date
    start: int
    end: int


def _closest_year(month: int, day: int, ref: date) -> date | None:
    best: date | None = None
    for year in (ref.year - 1, ref.year, ref.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((candidate - ref).days) < abs((best - ref).days):
            best = candidate
    return best


def _make(year: int | None, month: int, day: int, ref: date | None) -> date | None:
    if year is None:
        return _closest_year(month, day, ref) if ref else None
    if year < 100:
        year += 2000
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _read(match: re.Match[str], lang: str, ref: date | None) -> date | None:
    g = match.groupdict()
    if g["iso_y"]:
        return _make(int(g["iso_y"]), int(g["iso_m"]), int(g["iso_d"]), ref)
    if g["n1"]:
        first, second, year = int(g["n1"]), int(g["n2"]), int(g["ny"])
        day_first = _make(year, second, first, None) if first <= 31 and second <= 12 else None
        month_first = _make(year, first, second, None) if first <= 12 else None
        if lang == "fr" or month_first is None:
            return day_first
        if day_first is None or ref is None:
            return month_first
        # English is written both ways (US 03/14, UK 14/03): month first, unless only the other reading
        # falls near the message (a French company writing "debited on 10/06/2026" in June)
        if abs((month_first - ref).days) > _NEAR_DAYS and abs((day_first - ref).days) <= _NEAR_DAYS:
            return day_first
        return month_first
    prefix = "dm" if g["dm_d"] else "md"
    named = _ALL_MONTHS.get(_fold(g[f"{prefix}_m"]).rstrip("."))
    stated = int(g[f"{prefix}_y"]) if g[f"{prefix}_y"] else None
    return _make(stated, named, int(g[f"{prefix}_d"]), ref) if named else None


_DIGITS = re.compile(r"\d\d*")  # `\d+` spelt so that the scan skips to a digit at C speed (~2x faster)
_WORD_BEFORE = re.compile(r"[^\W\d_]{3,9}\.?\s+$")
_RANGE = re.compile(r"\s*(?:[-–—]|to|au)\s*$", re.IGNORECASE)
_NEAR_DAYS = 45
_YEAR_GROUPS = ("iso_y", "ny", "dm_y", "md_y")


def _digit_lead_bytes() -> tuple[bytes, ...]:
    """The UTF-8 lead bytes that may begin a non-ASCII decimal digit: those of the two- and three-byte
    characters (U+0080-U+FFFF) of which `\\d` matches one, and every four-byte lead (F0-F4, not checked).
    Python's encoder writes no other lead byte (never C0, C1 nor F5-FF; a surrogate, with "surrogatepass",
    is ED A0-BF xx), and ASCII bytes and continuation bytes (80-BF) begin no non-ASCII character."""
    leads = []
    for lead in range(0xC2, 0xF0):
        low, high = (((lead & 0x1F) << 6), 64) if lead < 0xE0 else (((lead & 0x0F) << 12), 4096)
        if _ANY_DIGIT.search("".join(map(chr, range(max(low, 0x80), low + high)))):
            leads.append(lead)
    return tuple(bytes([lead]) for lead in [*leads, *range(0xF0, 0xF5)])


_ANY_DIGIT = re.compile(r"\d")
_DIGIT_LEADS = _digit_lead_bytes()  # D9, DB, DF, E0, E1, EA, EF, F0-F4: each one `memchr` of the bytes
_ASCII_DIGITS = "0123456789"
_ASCII_RUN = re.compile(r"[0-9]*")


def digit_runs(text: str) -> Iterator[int]:
    """Where each run of `\\d` starts in `text`.

    A text whose UTF-8 holds none of `_DIGIT_LEADS` (most mail: Latin letters, €, ’) holds only ASCII digits,
    found by `str.find` per digit: ~10x cheaper than scanning every character with `\\d`.
    """
    if not text.isascii():
        data = utf8(text)
        if any(lead in data for lead in _DIGIT_LEADS):
            yield from (run.start() for run in _DIGITS.finditer(text))
            return
    nexts = [text.find(d) for d in _ASCII_DIGITS]
    while (start := min((p for p in nexts if p >= 0), default=-1)) >= 0:
        yield start
        end = _ASCII_RUN.match(text, start).end()  # type: ignore[union-attr]  # `[0-9]*` always matches
        nexts = [
            p if p < 0 or p >= end else text.find(d, end) for d, p in zip(_ASCII_DIGITS, nexts, strict=True)
        ]


def _candidates(text: str) -> Iterator[int]:
    """Where a date may start: at a number, or at the word just before it ("March 14").

    Anchoring the date pattern on the few numbers of a message is ~10x faster than
    letting it scan every position for a month name.
    """
    for start in digit_runs(text):
        # `_WORD_BEFORE` ends in whitespace (`\s` is `str.isspace`): "9,99" or "n°12" needs no search
        if start and text[start - 1].isspace():
            word = _WORD_BEFORE.search(text, max(0, start - 14), start)
            if word:
                yield word.start()
        yield start


def find_dates(text: str, lang: str = "fr", ref: date | None = None) -> list[FoundDate]:
    """Every readable date in `text`, in order; `ref` (the message date) supplies missing years.

    In a range ("Nov 2 – Dec 2, 2026") a year-less first date takes the year of the second.
    """
    found: list[FoundDate] = []
    previous_yearless = False
    covered = 0
    for start in _candidates(text):
        if start < covered:
            continue
        match = DATE.match(text, start)
        value = _read(match, lang, ref) if match else None
        if match is None or value is None:
            continue
        covered = match.end()
        has_year = any(match.group(g) for g in _YEAR_GROUPS)
        if previous_yearless and has_year and _RANGE.match(text[found[-1].end : match.start()]):
            prev = found[-1]
            year = value.year - (prev.value.month > value.month)
            try:
                found[-1] = FoundDate(prev.value.replace(year=year), prev.start, prev.end)
            except ValueError:  # 29 February
                pass
        previous_yearless = not has_year
        found.append(FoundDate(value, match.start(), match.end()))
    return found


def parse_date(text: str, lang: str = "fr", ref: date | None = None) -> date | None:
    found = find_dates(text, lang, ref)
    return found[0].value if found else None
