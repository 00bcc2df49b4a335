"""Substring pre-checks: the literal text a regex cannot match without, tested before the regex scans a body.

A `NeedleSet` is a fixed family of needles. Searching one text, each needle is searched at most once, and
only when the longest other needle it holds is there ("[##" only after "[", "request" only after "requ"):
on mail that mentions none of them, most searches are never made.

`in_lowered` answers `needle in text.lower()` without lowering a long non-ASCII str, which costs more than
all its searches: the text's UTF-8 bytes lower-cased (A-Z only) hold the same needles, since no non-ASCII
character lowers to ASCII but İ and the Kelvin sign (then: `str.lower`), and a needle's non-ASCII
character lowers from itself and its upper case alone ("é" from "é" and "É"), so a needle is searched in
each such form. tests/test_support_needles.py proves both claims over every code point.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import product

_TO_ASCII = ("\u0130", "\u212a")  # İ and K: the non-ASCII characters whose lower case holds ASCII


def _cases(char: str) -> tuple[str, ...]:
    """The characters a needle's character can be written as in a text lower-cased A-Z only."""
    upper = char.upper()
    if char.isascii() or upper == char:
        return (char,)
    assert char.lower() == char and len(upper) == 1 and upper.lower() == char, char
    return (char, upper)


def byte_forms(needle: str) -> tuple[bytes, ...]:
    """The UTF-8 forms a lower-case needle takes in a text's bytes lower-cased A-Z only."""
    return tuple("".join(chars).encode() for chars in product(*map(_cases, needle)))


class NeedleSet:
    """A fixed family of needles: the shorter needle each one holds, and the byte forms of each."""

    def __init__(self, needles: Iterable[str]) -> None:
        found = frozenset(needles)
        self.shorter: dict[str, str | None] = {
            needle: max((o for o in found if o and o != needle and o in needle), key=len, default=None)
            for needle in found
        }
        # (for `in_lowered`, whose needles are lower-case: another one is a KeyError there, not a silent miss)
        self.forms = {needle: byte_forms(needle) for needle in found if needle == needle.lower()}

    def in_text(self, text: str) -> Search:
        """`needle in text`, as written."""
        return Search(self, text.__contains__)

    def in_lowered(self, text: str) -> Search:
        """`needle in text.lower()`, for lower-case needles."""
        if text.isascii() or any(char in text for char in _TO_ASCII):
            return Search(self, text.lower().__contains__)
        lowered = text.encode("utf-8", "surrogatepass").lower()
        forms = self.forms

        def test(needle: str) -> bool:
            return any(form in lowered for form in forms[needle])

        return Search(self, test)


class Search:
    """One text searched for a `NeedleSet`'s needles, each at most once."""

    def __init__(self, needles: NeedleSet, test: Callable[[str], bool]) -> None:
        self.shorter = needles.shorter
        self.test = test
        self.found: dict[str, bool] = {}

    def has(self, needle: str) -> bool:
        hit = self.found.get(needle)
        if hit is None:
            shorter = self.shorter[needle]
            hit = (shorter is None or self.has(shorter)) and self.test(needle)
            self.found[needle] = hit
        return hit

    def any(self, needles: Iterable[str]) -> bool:
        return any(self.has(needle) for needle in needles)
