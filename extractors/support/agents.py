"""The name of the person who answered: from the sender's display name or the sign-off.

A journal entry is worth more with "Julie" than with "Service Client": the source
article asks to note the representative's name. Helpdesks put it in the display
name ("Julie (Free Mobile)", "Kevin from Spotify", "Priya | Adobe Customer Care") or
in the sign-off ("Cordialement, Julie, conseillère"). A role or a brand (any provider's
name, from the registry) is never a name: when only "Le Service Client" signs, the agent is unknown (None).
"""

from __future__ import annotations

import re

from extractors.registry import registry

_ROLE_WORDS = {
    "service", "services", "client", "clients", "clientèle", "clientele", "support", "team", "équipe", "equipe",
    "customer", "customers", "care", "conseiller", "conseillère", "conseillere", "advisor", "adviser", "agent",
    "help", "helpdesk", "desk", "aide", "assistance", "relation", "relations", "department", "département",
    "centre", "center", "billing", "facturation", "abonnés", "abonnes", "account", "accounts", "notification",
    "notifications", "noreply", "no-reply", "info", "contact", "sav", "hotline", "the", "le", "la", "les", "l",
    "votre", "your", "de", "du", "des", "et", "and", "of", "mail", "email", "e-mail", "bot", "automatique",
    "automated", "system", "système", "admin", "administrateur", "manager", "responsable", "expert", "experte",
    "specialist", "spécialiste", "technicien", "technicienne", "cordialement", "regards", "merci", "thanks",
    "madame", "monsieur", "bonjour", "hello", "hi", "dear", "réclamations", "reclamations", "litiges", "pôle",
}  # fmt: skip
# Helpdesk software whose name shows in display names; provider names come from the registry.
_HELPDESK_WORDS = {"zendesk", "freshdesk", "salesforce"}
_NAME = re.compile(r"^[A-ZÀ-Ý][a-zà-ÿ'’\-]+(?:\s+[A-ZÀ-Ý](?:[a-zà-ÿ'’\-]+|\.)?)?$")
# "Kevin from the Spotify Support Team", "Julie de Free", "Julie (Free Mobile)", "Priya | Adobe Care"
_SEPARATORS = re.compile(
    r"\s*(?:\(|\||–|—|\s-\s|,|/|\bfrom\b|\bde\s+l['’]|\bde\s+la\b|\bdu\b|\bde\b|\bchez\b|\bat\b|\bpour\b|\bfor\b)\s*",
    re.I,
)


def clean_name(candidate: str | None, brands: set[str] | None = None) -> str | None:
    """The person's name in `candidate`, or None when it is a role, a brand or not a name at all."""
    if not candidate:
        return None
    text = candidate.strip().strip("\"'").strip()
    text = _SEPARATORS.split(text, maxsplit=1)[0].strip(" ,:;-")
    text = re.sub(r"\s+", " ", text)
    if not re.search(r"\s[A-ZÀ-Ý]\.$", text):
        text = text.rstrip(".")
    if not text or not _NAME.match(text):
        return None
    words = {word.lower().strip(".'’") for word in text.split()}
    if (
        words & _ROLE_WORDS
        or words & _HELPDESK_WORDS
        or words & registry().name_words
        or (brands and words & brands)
    ):
        return None
    return text


def agent_from_display_name(from_name: str | None, brands: set[str] | None = None) -> str | None:
    """'Julie (Free Mobile)' -> 'Julie'; 'Service Client Free' -> None."""
    return clean_name(from_name, brands)


def agent_from_signature(signature: str, brands: set[str] | None = None) -> str | None:
    """The first name-like line of a sign-off block ('Cordialement,\\nJulie\\nConseillère')."""
    lines = [line.strip() for line in signature.split("\n") if line.strip()]
    if not lines:
        return None
    from extractors.support.quotes import _VALEDICTION

    first = _VALEDICTION.match(lines[0])
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
    return bool(words & (_ROLE_WORDS - {"the", "le", "la", "les", "l", "de", "du", "des", "et", "and", "of"}))


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
