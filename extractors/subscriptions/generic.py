"""Layer 4: the FR/EN fallback for senders no provider file knows.

Only a subject (else a body opening, in the reader's possessive) announcing a transaction,
a body about a subscription and (for a charge) an amount make an event, and even then
with a low confidence: the message shows up in the `needs_review` view for a person to
confirm. The provider slug is made from the sender's name when it resembles its domain,
else from the domain; a person writing from a mailbox provider is nobody's merchant, and a
receipt Stripe hosts for the merchant is billed through `stripe`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from extractors.registry import slugify
from extractors.subscriptions.event import Target

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage

NAME = "generic@1"
CONFIDENCE = 0.5
_GENERIC_NAMES = re.compile(
    r"no.?reply|ne.?pas.?r[ée]pondre|service|client|support|team|équipe|billing|facturation|abonnements?|info|news",
    re.IGNORECASE,
)
_SUBDOMAINS = {
    "mail",
    "email",
    "e",
    "news",
    "info",
    "billing",
    "abo",
    "abonnement",
    "facture",
    "www",
    "m",
    "em",
}


# Mailbox providers people write from: a sender there is a person, unless it is the mailbox provider's own
# robot or brand (Proton's invoices come from no-reply@proton.me).
PERSONAL_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "outlook.fr", "hotmail.com", "hotmail.fr", "live.com",
    "live.fr", "msn.com", "yahoo.com", "yahoo.fr", "ymail.com", "icloud.com", "me.com", "mac.com", "aol.com",
    "gmx.com", "gmx.fr", "gmx.de", "gmx.net", "web.de", "proton.me", "protonmail.com", "pm.me", "tutanota.com",
    "fastmail.com", "hey.com", "yandex.com", "yandex.ru", "mail.ru", "free.fr", "orange.fr", "wanadoo.fr",
    "sfr.fr", "neuf.fr", "laposte.net", "bbox.fr", "numericable.fr", "aliceadsl.fr", "club-internet.fr",
})  # fmt: skip


def generic_name(name: str) -> bool:
    """A department or robot ("Billing", "Équipe", "no-reply"), not a brand."""
    return bool(_GENERIC_NAMES.search(name))


# Department and robot words: who inside the company writes, never the brand ("Algolia Accounting").
_DEPARTMENT = re.compile(
    r"\b(?:accounts?|accounting|sales|billing|invoic(?:e|es|ing)|payments?|facturation|factures?|comptabilité|"
    r"team|équipe|support|services?|clients?|customer|care|relations?|no.?reply|ne.?pas.?r[ée]pondre|"
    r"notifications?|info|news|abonnements?|abonnés|orders?|commandes?|via|de|du|des|the)\b",
    re.IGNORECASE,
)


def brand_name(name: str, context: str) -> str:
    """The display name without its department words, completed by the brand the mail writes:
    'Nord Account' + 'Your NordVPN order' -> 'NordVPN'; 'JetBrains Sales' -> 'JetBrains'."""
    stem = " ".join(_DEPARTMENT.sub(" ", name).replace("|", " ").split()).strip(" -–,()")
    if " " not in stem and len(stem) >= 3:
        longer = re.search(rf"\b({re.escape(stem)}[\w+]{{1,8}})\b", context, re.IGNORECASE)
        if longer and not longer.group(1).lower().endswith(("s", "'s")):
            return longer.group(1)
    return stem if len(re.sub(r"\W", "", stem)) >= 3 else ""  # "L'Équipe" is a brand: the domain says it


def sender_slug(parsed: ParsedMessage) -> str | None:
    """'Le Figaro <abonnement@lefigaro.fr>' -> 'le-figaro'; 'Service client <x@mag.example>' -> 'mag'."""
    domain = parsed.from_domain
    labels = [label for label in (domain or "").split(".")[:-1] if label not in _SUBDOMAINS]
    domain_label = labels[-1] if labels else None
    name = brand_name((parsed.from_name or "").strip(), f"{parsed.subject}\n{parsed.body_text[:300]}")
    if name:
        slug = slugify(name)
        if domain_label is None or slug.replace("-", "")[:4] in domain_label.replace("-", ""):
            return slug or None
    return slugify(domain_label) if domain_label else None


# A receipt Stripe hosts for the merchant (sent from the merchant's own address): billed through Stripe.
_STRIPE_HOSTED = re.compile(
    r"partners? with\W+(?:<[^>]*>\s*)?stripe\b|pay\.stripe\.com/receipts|invoice\.stripe\.com/|"
    r"(?:powered|processed) by\W+(?:<[^>]*>\s*)?stripe\b",
    re.IGNORECASE,
)


def billing_platform(parsed: ParsedMessage) -> tuple[str, str | None]:
    """(platform, billed_by) of an unknown sender's mail: a Stripe-hosted receipt is `stripe`, else direct."""
    html = parsed.body_html or ""
    if _STRIPE_HOSTED.search(parsed.body_text[-3000:]) or ("stripe" in html and _STRIPE_HOSTED.search(html)):
        return "stripe", "stripe"
    return "direct", None


def a_person(parsed: ParsedMessage) -> bool:
    """A person writing from a mailbox provider ("Marie <marie.d@gmail.com>"), not its robot or brand."""
    domain = (parsed.from_domain or "").lower()
    if domain not in PERSONAL_MAIL_DOMAINS:
        return False
    local = (parsed.from_addr or "").split("@")[0]
    brand = domain.split(".")[0]
    return not (generic_name(local) or brand in re.sub(r"\W", "", (parsed.from_name or "").lower()))


def target(parsed: ParsedMessage, seller: str | None = None) -> Target | None:
    if a_person(parsed):
        return None  # a person's mail about a subscription proves none
    slug = slugify(seller) if seller else sender_slug(parsed)
    if not slug:
        return None
    name = seller or parsed.from_name or slug
    platform, billed_by = billing_platform(parsed)
    return Target(
        slug=slug,
        service_name=name,
        platform=platform,
        billed_by=billed_by,
        extractor=NAME,
        confidence=CONFIDENCE,
    )
