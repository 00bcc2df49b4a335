"""`extractors.money.markers` finds exactly the spans of the case-insensitive marker regex it replaces."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.money import _MARKER, find_money, markers

# The marker letters in both cases, the characters whose case folding is special (long s, dotted
# capital I, Kelvin sign), the currency symbols, and a few others.
ALPHABET = "eurUSDgbpCHFcadEURusdGBPchfCAD€$£\u017f\u0130\u212a\u00e9 .,0123456789\n"


def regex_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _MARKER.finditer(text)]


@settings(max_examples=2000)
@given(st.text(alphabet=ALPHABET, max_size=40))
def test_markers_equal_regex_spans(text: str) -> None:
    assert markers(text) == regex_spans(text)


@given(st.text(max_size=60))
def test_markers_equal_regex_spans_on_any_text(text: str) -> None:
    assert markers(text) == regex_spans(text)


def test_markers_on_words_folded_by_the_regex_only() -> None:
    """`uſd` (long s) is USD to the regex; U+0130 lower-cases to two characters."""
    for text in ("Total: 12 uſd", "\u0130stanbul 40 EUR", "EURUSD", "cadeau 5 €", "Ceuro"):
        assert markers(text) == regex_spans(text), text


def test_find_money_reads_the_same_amounts_after_a_dotted_capital_i() -> None:
    assert [(m.amount_minor, m.currency) for m in find_money("\u0130ade: 12,50 € puis USD 3.20", "fr")] == [
        (1250, "EUR"),
        (320, "USD"),
    ]
