"""Text helpers shared by the extraction layers: the language of a message and its readable text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage

MAX_TEXT = 20_000  # receipts say what matters near the top; a long newsletter costs no more than this

_FR = re.compile(r"\b(?:le|la|les|vous|votre|vos|des|du|est|pour|avec|nous|sera|été|à)\b", re.IGNORECASE)
_EN = re.compile(r"\b(?:the|you|your|is|for|with|we|will|been|to|of|and)\b", re.IGNORECASE)


def detect_lang(parsed: ParsedMessage, text: str) -> str:
    """'fr' or 'en': the Content-Language header if given, else function words of the first lines."""
    declared = parsed.headers.get("content-language", "")[:2].lower()
    if declared in ("fr", "en"):
        return declared
    sample = f"{parsed.subject}\n{text[:600]}"
    return "fr" if len(_FR.findall(sample)) >= len(_EN.findall(sample)) else "en"


def message_text(parsed: ParsedMessage) -> str:
    """The body with no-break spaces made plain, cut to MAX_TEXT."""
    body = parsed.body_text[:MAX_TEXT]
    return body.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2009", " ")
