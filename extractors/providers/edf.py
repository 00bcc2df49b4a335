"""EDF mail states the estimated yearly total before the monthly instalment: the instalment is the price."""

from __future__ import annotations

import re
from typing import Any

from extractors.money import find_money

# The instalment to come first ("vos nouvelles mensualités"), then any stated instalment.
_INSTALMENTS = (
    re.compile(
        r"(?:nouvelles?|prochaines?|montant de vos|montant de votre) (?:mensualités?|échéances?)", re.I
    ),
    re.compile(r"mensualités?|échéance mensuelle|prélèvement mensuel", re.IGNORECASE),
)


def refine(parsed: Any, fact: Any, text: str) -> None:
    """Use the monthly instalment ("Montant de vos mensualités : 86,00 €") when the mail gives one."""
    for pattern in _INSTALMENTS:
        for match in pattern.finditer(text):
            after = find_money(text[match.end() : match.end() + 40])
            if after:
                fact.amount_minor, fact.currency = after[0].amount_minor, after[0].currency
                fact.billing_period = "P1M"
                return
