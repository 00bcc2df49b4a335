"""The extractors' shortcuts give what the formulations they replace give, on any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.subscriptions.event import _ANY_PERIOD, _PERIODS
from extractors.subscriptions.labelled import LABEL_ROLES, role_of_label
from extractors.text import lowered, lowered_tail

# Case traps: final and capital sigma, dotted capital I, dotless i, long s, Kelvin sign; CRLF; marks and
# apostrophes `lower()` calls case-ignorable.
TRAPS = "ΣσςΑα\u0130\u0131\u017f\u212aKkIi\u0301'’.\r\n \t"


@settings(max_examples=3000)
@given(st.text(alphabet=TRAPS, max_size=12), st.text(alphabet=TRAPS, max_size=12))
def test_lowered_tail_is_the_tail_lowered(head: str, tail: str) -> None:
    assert lowered_tail(lowered(f"{head}\n{tail}"), head, tail) == lowered(tail)


@given(st.text(max_size=30), st.text(max_size=30))
def test_lowered_tail_on_any_text(head: str, tail: str) -> None:
    assert lowered_tail(lowered(f"{head}\n{tail}"), head, tail) == lowered(tail)


def test_only_the_dotted_capital_i_lowers_into_more_characters() -> None:
    """`lowered_tail`'s one exception: the only code point whose lowercase is longer than itself."""
    assert [c for c in map(chr, range(0x110000)) if len(c.lower()) != 1] == ["\u0130"]


PERIOD_WORDS = [
    "/mois", "/ an", "par an", "annuel", "mensuel", "monthly", "yearly", "weekly", "/ week", "/mo", "1 mois",
    "12 mois", "a year", "1-year", "quarterly", "trimestriel", ", 3 mois", "(6 months)", "semestriel",
    "every 4 weeks", "4-weekly", "hebdomadaire", "facture de mars", "march invoice", "mensualités",
]  # fmt: skip


def first_period(near: str) -> str | None:
    """The former reading: the earliest match of each period pattern, ties to the least period name."""
    found = [(m.start(), period) for period, pattern in _PERIODS if (m := pattern.search(near))]
    return min(found)[1] if found else None


@settings(max_examples=3000)
@given(st.lists(st.sampled_from([*PERIOD_WORDS, " ", "\n", "€", "9,99", "x", "pendant "]), max_size=8))
def test_one_period_search_picks_what_the_per_period_searches_pick(parts: list[str]) -> None:
    near = "".join(parts)[:30]
    first = _ANY_PERIOD.search(near)
    assert (first.lastgroup if first else None) == first_period(near)


@given(st.text(max_size=30))
def test_one_period_search_on_any_text(near: str) -> None:
    first = _ANY_PERIOD.search(near)
    assert (first.lastgroup if first else None) == first_period(near)


def test_role_of_label_is_a_pure_function_of_the_label() -> None:
    """Cached: the same answer as the patterns, asked twice."""
    for label in ("montant ttc", "sous-total", "tva 20 %", "total", "dépôt de garantie", "", "remise"):
        expected = next((role for role, pattern in LABEL_ROLES if pattern.search(label)), None)
        assert role_of_label(label) == role_of_label(label) == expected


def _lowered_by_str(text: str) -> str:
    """`lowered` as `str.lower()` alone gives it (what the UTF-8 bytes shortcut replaces)."""
    low = text.lower()
    return low if len(low) == len(text) else "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


@settings(max_examples=1000)
@given(st.text(alphabet=TRAPS + "aAzZéÉ€’\u00a0\ud800ßẞ", max_size=20) | st.text(max_size=40))
def test_lowered_is_str_lower_keeping_positions(text: str) -> None:
    lowered.cache_clear()
    assert lowered(text) == _lowered_by_str(text)
