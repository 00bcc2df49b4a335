"""The support extractor's substring pre-checks answer exactly what a plain `in` on the lowered text would."""

from __future__ import annotations

import sys
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.support import collect, refs
from extractors.support.needles import NeedleSet, byte_forms
from extractors.support.promises import _fr_holidays, add_business_days

# Unicode case traps (İ ı ſ K ẞ ß Σ), CRLF, no-break spaces, non-ASCII digits, the needles' own letters.
_TRAPS = list("İıſKẞßΣσςéÉçÇèÈ\r\n\u00a0\u202f ٣۳:#[](°º.-_") + ["Ticket", "RÉF", "REQU", "ref:", "[##"]
_ALPHABET = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzACDEGIKLMNQRST0123456789") + _TRAPS)
_TEXT = st.lists(_ALPHABET, max_size=120).map("".join) | st.text(max_size=120)
_SETS = [refs._NEEDLE_SET, NeedleSet(collect._ACK_NEEDLES)]


def test_no_other_character_lowers_to_a_needle_character() -> None:
    """Over every code point: only A-Z, İ and K lower to ASCII, and a needle's non-ASCII character lowers
    from itself and its upper case alone, so the byte forms are all the ways a needle can be written."""
    to_ascii = {chr(c) for c in range(128, sys.maxunicode + 1) if any(ch.isascii() for ch in chr(c).lower())}
    assert to_ascii == {"\u0130", "\u212a"}
    wanted = {ch for s in _SETS for needle in s.forms for ch in needle if not ch.isascii()}
    for char in wanted:
        sources = {chr(c) for c in range(sys.maxunicode + 1) if char in chr(c).lower()}
        assert sources == {char, char.upper()}, char


def test_byte_forms() -> None:
    assert set(byte_forms("réf")) == {"réf".encode(), "rÉf".encode()}
    assert byte_forms("case") == (b"case",)


@settings(max_examples=400, deadline=None)
@given(text=_TEXT)
def test_lowered_search_is_in_on_the_lowered_text(text: str) -> None:
    for needles in _SETS:
        search = needles.in_lowered(text)
        for needle in needles.forms:
            assert search.has(needle) is (needle in text.lower()), needle


@settings(max_examples=300, deadline=None)
@given(text=_TEXT)
def test_literal_search_is_in_on_the_text(text: str) -> None:
    search = refs._LITERAL_SET.in_text(text)
    for literal in refs._LITERAL_SET.shorter:
        assert search.has(literal) is (literal in text)


def _refs_without_prechecks(subject: str, body: str) -> list[tuple[str, str, bool]]:
    found: dict[tuple[str, str], tuple[str, str, bool]] = {}
    for text in (subject, body):
        text = text.replace("\u00a0", " ").replace("\u202f", " ")
        for family, pattern, is_global, _ in refs._PATTERNS:
            for match in pattern.finditer(text):
                value = match.group(1) if is_global else match.group(1).upper()
                system = family if is_global else "number"
                found.setdefault((system, value), (system, value, family != "reference"))
    return list(found.values())


_REF_TEXT = st.lists(
    _ALPHABET
    | st.sampled_from(["Demande n° ", "ticket #", "Réf. AB-", "[#", "##]", "ref:_00Dx1", ".!500xx0:ref"]),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(subject=_REF_TEXT, body=_REF_TEXT)
def test_find_refs_equals_the_patterns_alone(subject: str, body: str) -> None:
    expected = _refs_without_prechecks(subject, body)
    assert [(r.system, r.value, r.helpdesk) for r in refs.find_refs(subject, body)] == expected
    if any(helpdesk for _, _, helpdesk in expected):
        assert refs.may_hold_helpdesk_ref(subject, body)


def test_holiday_dates_are_the_library_s() -> None:
    import holidays

    for year in (2024, 2025, 2026, 2030):
        assert _fr_holidays(year) == frozenset(holidays.country_holidays("FR", years=year))
    assert add_business_days(date(2026, 5, 13), 1).isoformat() == "2026-05-15"  # Ascension


# Case numbers and what may come before them, long enough for `_has_number_start`'s digit-run path too.
_NUMBER_TEXT = st.lists(
    _ALPHABET
    | st.sampled_from(
        ["Demande n° ", "case #", "Référence : ", "ticket is ", "dossier (", "RC-", "1-9A7", "-"]
    )
    | st.sampled_from(["٣", "۳", "१", "０", "\U0001d7ce", "\ud800", "é", "€", "x" * 200]),
    max_size=60,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=_NUMBER_TEXT)
def test_no_number_start_means_no_numbered_match(text: str) -> None:
    if not refs._has_number_start(text):
        assert not any(pattern.search(text) for pattern in refs._NUMBERED)


@settings(max_examples=500, deadline=None)
@given(text=_NUMBER_TEXT | st.text())
def test_digit_runs_are_where_the_digit_pattern_finds_them(text: str) -> None:
    import re

    from extractors.dates import digit_runs

    assert list(digit_runs(text)) == [m.start() for m in re.finditer(r"\d+", text)]
