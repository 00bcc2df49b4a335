"""The vocabulary shared by quote splitting and agent naming: sign-offs, role and brand words, names.

`extractors.support.quotes` cuts a reply's signature at a sign-off and recognises a name
closing a mail; `extractors.support.agents` reads the agent's name from that signature.
Both need to know what a sign-off is and what counts as a person's name, so it lives here
once and neither module imports the other.
"""

from __future__ import annotations

import re

from extractors.registry import registry

# "Cordialement,", "Bien à vous", "Best regards, Julie": the line that opens a signature
# (`rest` is what follows the sign-off on the same line, often the name).
VALEDICTION = re.compile(
    r"^(?:bien\s+)?(?:cordialement|sincèrement|amicalement|bien\s+à\s+vous|"
    r"(?:sincères|meilleures|bien\s+sincères)?\s*salutations(?:\s+distinguées)?|bonne\s+(?:journée|soirée|fin\s+de\s+journée)|"
    r"belle\s+journée|à\s+bientôt|merci(?:\s+(?:d'avance|par\s+avance|beaucoup|encore))?|"
    r"[a-zà-ÿ]{4,}ment(?=\s*,?\s*$)|bon(?:ne)?\s+[a-zà-ÿ]{4,}(?=\s*[,!]?\s*$)|bien\s+à\s+toi|à\s+très\s+vite|(?:belle|bonne|excellente)\s+(?:soirée|journée|continuation)|"
    r"(?:best|kind|warm|warmest)\s+regards|regards|best\s+wishes|best|sincerely|cheers|yours(?:\s+(?:sincerely|truly))?|"
    r"cordially|with\s+thanks|"
    r"(?:many\s+)?thanks(?:\s+again|\s+in\s+advance)?|thank\s+you(?:\s+again)?|all\s+the\s+best|take\s+care)"
    r"\s*[,.!]?\s*(?:,\s*(?P<rest>.*))?$",
    re.I,
)
ROLE_WORDS = {
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
HELPDESK_WORDS = {"zendesk", "freshdesk", "salesforce"}
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
        words & ROLE_WORDS
        or words & HELPDESK_WORDS
        or words & registry().name_words
        or (brands and words & brands)
    ):
        return None
    return text
