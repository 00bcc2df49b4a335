"""Money and dates: cut out by a pattern, read with the language known."""

from __future__ import annotations

from datetime import date

import pytest

from extractors.dates import find_dates, parse_date
from extractors.money import find_money, parse_money


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("13,49 €", "fr", (1349, "EUR")),
        ("1 299,00 €", "fr", (129900, "EUR")),
        ("1\u202f299,00 €", "fr", (129900, "EUR")),
        ("1\u00a0299,00 €", "fr", (129900, "EUR")),
        ("€13.49", "en", (1349, "EUR")),
        ("US$22.99", "en", (2299, "USD")),
        ("9,99 € TTC/mois", "fr", (999, "EUR")),
        ("69,90 €/an", "fr", (6990, "EUR")),
        ("Total : 1.299,00 EUR", "fr", (129900, "EUR")),
        ("Total: 1,299.00 USD", "en", (129900, "USD")),
        ("£4.99 a month", "en", (499, "GBP")),
        ("10 euros par mois", "fr", (1000, "EUR")),
        ("2,99€", "fr", (299, "EUR")),
        ("$20.00 / month", "en", (2000, "USD")),
        ("1,299 €", "fr", (130, "EUR")),  # French decimal comma: 1,299 € is 1.30 €
        ("1,299 $", "en", (129900, "USD")),  # English thousands comma
    ],
)
def test_money(text: str, lang: str, expected: tuple[int, str]) -> None:
    assert parse_money(text, lang) == expected


@pytest.mark.parametrize(
    "text",
    ["Commande n° 405-1234567", "3 200 kWh", "Forfait 5G 350Go", "2 To de stockage", "", "€", "le 14/03"],
)
def test_no_money_without_a_currency(text: str) -> None:
    assert find_money(text) == []


def test_money_positions_point_at_the_span() -> None:
    text = "Ancien prix 13,49 €, nouveau prix 14,99 €."
    spans = [text[m.start : m.end] for m in find_money(text)]
    assert spans == ["13,49 €", "14,99 €"]


REF = date(2026, 3, 20)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("14 mars 2026", "fr", date(2026, 3, 14)),
        ("14/03/2026", "fr", date(2026, 3, 14)),
        ("03/04/2026", "fr", date(2026, 4, 3)),  # day first in French
        ("03/04/2026", "en", date(2026, 3, 4)),  # month first in English
        ("10/04/2026", "en", date(2026, 4, 10)),  # ...unless only the day-first reading is near the message
        ("14/03/2026", "en", date(2026, 3, 14)),  # 14 cannot be a month
        ("March 14, 2026", "en", date(2026, 3, 14)),
        ("14 March 2026", "en", date(2026, 3, 14)),
        ("Mar 14", "en", date(2026, 3, 14)),
        ("le 3 avril", "fr", date(2026, 4, 3)),  # year from the message date
        ("le 1er janvier 2027", "fr", date(2027, 1, 1)),
        ("14 févr. 2026", "fr", date(2026, 2, 14)),
        ("8 déc. 2026", "fr", date(2026, 12, 8)),
        ("le 3 aout", "fr", date(2026, 8, 3)),
        ("2026-03-14T10:00", "en", date(2026, 3, 14)),
        ("Nov 2 – Dec 2, 2026", "en", date(2026, 11, 2)),
    ],
)
def test_dates(text: str, lang: str, expected: date) -> None:
    assert parse_date(text, lang, REF) == expected


def test_year_less_date_takes_the_closest_year() -> None:
    assert parse_date("le 3 janvier", "fr", date(2026, 12, 20)) == date(2027, 1, 3)
    assert parse_date("le 20 décembre", "fr", date(2027, 1, 5)) == date(2026, 12, 20)


@pytest.mark.parametrize("text", ["31/02/2026", "le 3 avril", "v2.14.2026", "call 06 12 34 56 78"])
def test_unreadable_dates_are_skipped(text: str) -> None:
    assert find_dates(text, "fr", None) == []
