"""Text helpers shared by the extraction layers: the language of a message and its readable text."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage

MAX_TEXT = 20_000  # receipts say what matters near the top; a long newsletter costs no more than this

_FR_WORDS = frozenset("le la les vous votre vos des du est pour avec nous sera été à".split())
_EN_WORDS = frozenset("the you your is for with we will been to of and".split())
_WORD = re.compile(r"\w\w*")  # `\w+` spelt so that the scan skips to a word character at C speed
# Characters `re.IGNORECASE` matches to a Latin letter `str.lower()` does not give: ı and İ match "i",
# ſ matches "s" (İ also lowers into two characters).
_ODD_FOLDS = ("\u0131", "\u0130", "\u017f")


def folded(text: str) -> str:
    """`text` lowered so that a lowercase Latin word is found in it exactly where `re.IGNORECASE` finds it.

    Besides `lower()`, the letters `re` equates with i and s (İ, ı, ſ) become i and s. Checked over every
    code point for a-z and the French accented letters: same length, same `\\w` characters, same matches.
    """
    if "\u0130" in text:
        text = text.replace("\u0130", "i")
    low = text.lower()
    if "\u0131" in low or "\u017f" in low:
        low = low.replace("\u0131", "i").replace("\u017f", "s")
    return low


def detect_lang(parsed: ParsedMessage, text: str) -> str:
    """'fr' or 'en': the Content-Language header if given, else function words of the first lines.

    Counts the words of the folded sample in one pass: a `\\b`-bounded function word (the former
    case-insensitive `\\b(?:le|la|...)\\b` patterns, one scan each) is a whole run of word characters.
    """
    declared = parsed.headers.get("content-language", "")[:2].lower()
    if declared in ("fr", "en"):
        return declared
    fr = en = 0
    for word in _WORD.findall(folded(f"{parsed.subject}\n{text[:600]}")):
        if word in _FR_WORDS:
            fr += 1
        elif word in _EN_WORDS:
            en += 1
    return "fr" if fr >= en else "en"


def message_text(parsed: ParsedMessage) -> str:
    """The body with no-break spaces made plain, cut to MAX_TEXT."""
    body = parsed.body_text[:MAX_TEXT]
    return body.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2009", " ")


_ASCII_BYTES = bytes(range(128))


@functools.lru_cache(maxsize=16)
def utf8(text: str) -> bytes:
    """`text` as UTF-8 (surrogates passed), cached: `lowered` and `dates.digit_runs` read the same message
    text's bytes."""
    return text.encode("utf-8", "surrogatepass")


@functools.lru_cache(maxsize=16)
def lowered(text: str) -> str:
    """`text.lower()` keeping every position (a few characters grow when lowered: "İ").

    Cached: the layers of one message lower the same texts several times (money markers, events, provider
    pre-checks); a few entries suffice since a worker handles one message at a time. A mostly-ASCII text
    whose non-ASCII characters all lower to themselves (é, €, ’: most mail) is lowered as UTF-8 bytes, A-Z
    only, at about half the cost of `str.lower()` on a non-ASCII str; the result is the same since
    `lower()` maps each character alone but for Σ, which does not lower to itself.
    """
    if not text.isascii():
        data = utf8(text)
        others = data.translate(None, _ASCII_BYTES).decode("utf-8", "surrogatepass")
        if others.lower() == others:
            return data.lower().decode("utf-8", "surrogatepass")
    low = text.lower()
    return low if len(low) == len(text) else "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def lowered_tail(low: str, head: str, tail: str) -> str:
    """`lowered(tail)` cut out of `low`, which is `lowered(f"{head}\\n{tail}")`: a slice, not a second lowering.

    Equal because `lower()` maps each character alone, but for Σ, whose final-sigma context stops at the
    "\\n" (neither cased nor case-ignorable). The one exception, an İ in `head` (then `low` was lowered
    character by character, Σ included), lowers `tail` itself.
    """
    return lowered(tail) if "\u0130" in head else low[len(head) + 1 :]


def may_contain(text: str, words: Iterable[str]) -> bool:
    """False when `text` holds none of the lowercase Latin `words`, case ignored as `re.IGNORECASE` ignores
    it: the proof that a case-insensitive pattern, each of whose matches holds one of `words`, cannot match.
    """
    low = lowered(text)
    return any(word in low for word in words) or any(c in text for c in _ODD_FOLDS)
