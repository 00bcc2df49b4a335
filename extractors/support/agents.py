"""The name of the person who answered: from the sender's display name or the sign-off.

A journal entry is worth more with "Julie" than with "Service Client": the source
article asks to note the representative's name. Helpdesks put it in the display
name ("Julie (Free Mobile)", "Kevin from Spotify", "Priya | Adobe Customer Care") or
in the sign-off ("Cordialement, Julie, conseillère"). A role or a brand (any provider's
name, from the registry) is never a name: when only "Le Service Client" signs, the agent is unknown (None).
"""

from __future__ import annotations

import re

from extractors.support.names import ROLE_WORDS, VALEDICTION, clean_name


def agent_from_display_name(from_name: str | None, brands: set[str] | None = None) -> str | None:
    """'Julie (Free Mobile)' -> 'Julie'; 'Service Client Free' -> None."""
    return clean_name(from_name, brands)


def agent_from_signature(signature: str, brands: set[str] | None = None) -> str | None:
    """The first name-like line of a sign-off block ('Cordialement,\\nJulie\\nConseillère')."""
    lines = [line.strip() for line in signature.split("\n") if line.strip() not in ("", "--")]
    if not lines:
        return None
    first = VALEDICTION.match(lines[0])
    candidates: list[str] = []
    if first:
        if first.group("rest"):
            candidates.append(first.group("rest"))
        candidates.extend(lines[1:3])
    else:
        candidates.extend(lines[:2])
    for candidate in candidates:
        name = clean_name(candidate, brands)
        if name:
            return name
        # A line that is only a role ("Le Service Client") ends the search: names come before roles.
        if _is_role_line(candidate):
            return None
    return None


def _is_role_line(line: str) -> bool:
    words = {w.lower().strip(".,'’:") for w in re.split(r"[\s|()]+", line) if w}
    return bool(words & (ROLE_WORDS - {"the", "le", "la", "les", "l", "de", "du", "des", "et", "and", "of"}))


def brand_words(provider: str | None, domain: str | None) -> set[str]:
    """Words that name the company writing, so they are never taken for a person."""
    words: set[str] = set()
    if provider:
        words.update(part for part in provider.split("-") if part)
    if domain:
        labels = domain.lower().split(".")
        words.update(
            label for label in labels[:-1] if label not in ("www", "mail", "email", "support", "help")
        )
    return words
