"""Layer 3: platforms that bill for others (App Store, Google Play, PayPal, Stripe, Amazon, resellers).

The charge belongs to the underlying service — the app or the merchant — while
the platform is recorded separately, because the platform decides how to cancel
(an App Store subscription is cancelled in the iPhone's settings, not at the
app's website). Merchants of record (Paddle, FastSpring, Lemon Squeezy, Gumroad) sell
in their own name for the merchant their mail names — "Setapp via Paddle.com", the
display name, "Your receipt from Notelark", the statement descriptor "LEMSQZY* NOTELARK" —
and are recorded as platform `reseller`, `billed_by` their slug. A platform's own services (iCloud+, Google One, Amazon Prime) are
recognised by name first and count as billed directly.
"""

from __future__ import annotations

import re

from extractors.registry import Provider, Registry, slugify
from extractors.subscriptions.event import Target
from extractors.subscriptions.generic import generic_name
from extractors.text import may_contain

NAME = "platform@1"
CONFIDENCE = 0.85
_M = re.IGNORECASE | re.MULTILINE

_APP_LINE = re.compile(
    r"^\s*(?:app|application|appli|article|élément|item|produit|product|abonnement|subscription)\s*:\s*(.+?)\s*$",
    _M,
)
_PLAY_SUBJECT = re.compile(
    r"(?:abonnement à|subscription to)\s+(.+?)(?:\s+(?:sur|on|via|from) Google Play|\s*$)", _M
)
# "You've made a purchase from Tunefox on Google Play", "un achat auprès de Tunefox sur Google Play"
_PURCHASE_FROM = re.compile(
    r"(?:purchase|achat|acheté|bought)\w* (?:from|auprès de|chez|de)\s+([^\n]{2,60}?)\s+(?:on|sur|via|dans|in)\s+"
    r"(?:the |le |l')?(?:Google Play|App Store|Play Store)",
    re.IGNORECASE,
)
# "Price increase for your Tunefox subscription", "le prix de votre abonnement Tunefox sur Google Play"
_YOUR_SUBSCRIPTION = re.compile(
    r"\byour\s+([^\n]{2,50}?)\s+(?:subscription|membership)\b|"
    r"\b(?:votre|ton)\s+abonnement\s+(?:à |a |au |aux )?([^\n]{2,50}?)(?=\s+(?:sur|via|chez|passe|sera|a été|est)\b|\s*[,.;:(]|\s*$)",
    _M,
)
# "Your subscription to Tunefox Pro (Monthly) has been cancelled", "votre abonnement à Tunefox Premium sera …"
_SUBSCRIPTION_TO = re.compile(
    r"\b(?:subscription|membership|abonnement|adhésion) (?:to|à|au|aux)\s+([^\n]{2,50}?)"
    r"(?=\s*\(|\s+(?:has|have|was|is|will|on|sur|via|a été|est|sera|pour|for|expire|ends?|prend)\b|\s*[,.;:]|\s*$)",
    _M,
)
# "You're now a member of Quill Letters", "vous êtes désormais membre de Quill Letters"
_MEMBER_OF = re.compile(
    r"\b(?:member|membre|subscriber|abonnée?) (?:of|de|du|à|au)\s+([^\n]{2,50}?)\s*(?:[.,;!]|$)", _M
)
# Words that name a plan of an app, not the app: "Tunefox Pro" is Tunefox's Pro plan.
_PLAN_WORDS = frozenset(
    "pro premium plus max family famille duo individual individuel individuelle standard basic basique essential "
    "essentiel essentials ultimate mega fan studio gold silver unlimited illimité annual annuel monthly mensuel "
    "yearly weekly subscription abonnement membership tier plan".split()
)


def app_of_product(name: str) -> str:
    """'Tunefox Pro' -> 'Tunefox': the plan words a store appends to the app's name, dropped."""
    words = name.split()
    while len(words) > 1 and words[-1].lower().strip("()") in _PLAN_WORDS:
        words.pop()
    return " ".join(words)


# The first row under an "Item   Price" header: the product's cell (up to a column gap or its price).
_ITEM_HEADER = re.compile(
    r"^[ \t]*(?:items?|articles?|produits?|description|désignation)[ \t]+(?:price|prix|amount|montant|total)[ \t]*\n"
    r"(?:[ \t]*\n)*[ \t]*(\S[^\n]*?)(?:[ \t]{2,}|[ \t]+(?:[€$£]|\d+[,.]\d{2}|(?:eur|usd|chf|gbp)\b)|\n|$)",
    _M,
)
_MERCHANT_LINE = re.compile(
    r"^\s*(?:marchand|merchant|vendeur|seller|bénéficiaire|payee)\s*:\s*(.+?)\s*$", _M
)
_PAYMENT_TO = re.compile(
    r"(?:paiement|payment)s? (?:automatique |automatic )?(?:à|a|to|pour)\s+(.+?)(?:\s+(?:a été|has been|est|is|for|pour)\b|\s*$)",
    _M,
)
_STRIPE_SUBJECT = re.compile(
    r"(?:receipt|invoice|reçu|facture) (?:from|de|d')\s*(.+?)(?:\s+#[\w-]+)?\s*$", _M
)
# A Prime Video channel: "abonné(e) à X sur Prime Video Channels", "Your X subscription on Prime Video
# Channels", or the "Chaîne : X" line of the mail's summary
_CHANNEL = re.compile(
    r"(?:(?:\byour|\bvotre)\s+(?:abonnement\s+(?:à\s+|au\s+)?)?|"
    r"(?:abonnement|abonnée?(?:\(e\))?|subscription|subscribed|subscribing|chaîne|channel)s?\s*(?:à|a|au|to|:)?\s+)"
    r"([^\n]{2,50}?)\s+(?:subscription\s+)?(?:via|sur|on|with|through) (?:Amazon )?Prime Video"
    r"|^[ \t]*(?:chaîne|channel)[ \t]*:[ \t]*(\S[^\n]{0,50}?)[ \t]*$",
    _M,
)
_CORPORATE = re.compile(
    r"[,\s]+(?:inc\.?|sas|sa|sarl|ab|ltd\.?|llc|gmbh|limited|corp\.?|s\.a\.)$", re.IGNORECASE
)
_VIA_NAME = re.compile(r"^\s*(.+?)\s+(?:via|par|through|by)\s+\S", re.IGNORECASE)
_MERCHANT_SUBJECT = re.compile(
    r"(?:receipt|invoice|order|refund|reçu|facture|commande|remboursement)\s+(?:from|for|de|d'|pour)\s*(.+?)"
    r"(?:\s*[(#].*)?$|^\s*(?:your|votre)\s+(.+?)\s+(?:receipt|invoice|order|reçu|facture|commande)\b",
    _M,
)
_DESCRIPTOR = re.compile(r"\b[A-Z][A-Z0-9.]{1,15} ?\* ?([A-Za-z0-9][\w-]*)")
_APP_SUFFIX = re.compile(r"\s*(?:[:(–—|]| - ).*$")


def clean_name(name: str, inner_app: bool = False) -> str:
    """'Headspace: Meditation & Sleep' -> 'Headspace'; 'Spotify AB' -> 'Spotify'.

    Google Play names the product, then the app in brackets: `inner_app` takes the latter.
    """
    name = name.strip().strip("«»\"'“”").strip()
    inner = re.search(r"\(([^()]+)\)\s*$", name)  # "Super Duolingo (Duolingo: Language Lessons)"
    if (
        inner_app
        and inner
        and not re.search(r"\d|mois|month|year|annual|annuel|mensuel", inner.group(1), re.I)
    ):
        name = inner.group(1)
    name = _APP_SUFFIX.sub("", name).strip()
    return _CORPORATE.sub("", name).strip()


def target_for_name(registry: Registry, name: str, platform: Provider) -> Target | None:
    """The service an item name stands for: a known provider (billed by the platform, unless it is
    the platform's own service like iCloud+), else a new slug made from the app's name."""
    kind = platform.platform
    name = clean_name(name, inner_app=kind == "google_play")
    if not name:
        return None
    known = registry.for_name(name) or registry.for_name(app_of_product(name))
    name = app_of_product(name) if known is None else name
    if known is not None and known.role == "service":
        billed = known.platform if platform.slug in known.via else kind
        by = platform.slug if billed != "direct" else None
        return Target.of(known, platform=billed, billed_by=by, extractor=NAME, confidence=CONFIDENCE)
    slug = slugify(name)
    if not slug:
        return None
    return Target(
        slug=slug,
        service_name=name,
        platform=kind,
        billed_by=platform.slug,
        extractor=NAME,
        confidence=CONFIDENCE - 0.1,
    )


def _own_service(registry: Registry, platform: Provider, text: str) -> Target | None:
    for service in registry.via(platform.slug):
        if service.matches_keyword(text):
            return Target.of(service, extractor=NAME, confidence=CONFIDENCE)
    return None


_RENEWS_LINE = re.compile(r"^\s*(?:renews|renouvellement|se renouvelle|renouvelé)\b", re.IGNORECASE)


def _renewing_items(text: str) -> list[tuple[str, str]]:
    """Apple lists an item as: app name / subscription (period) / "Renews 14 September 2026" / price.

    Returns (app name, the item's own lines) for each renewing item, in order.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    items = []
    for index, line in enumerate(lines):
        if _RENEWS_LINE.match(line) and index:
            above = index - 1
            if "(" in lines[above] and above:  # "Super Duolingo (Monthly)": the app is one line higher
                above -= 1
            items.append((lines[above], "\n".join(lines[above : index + 2])))
    return items


def _item_above_renewal(text: str) -> str | None:
    items = _renewing_items(text)
    return items[0][0] if items else None


def items(
    registry: Registry, platform: Provider, subject: str, from_name: str, text: str
) -> list[tuple[Target, str]]:
    """Each (service, the text about it) a platform's message bills: Apple receipts list several."""
    if platform.platform == "apple":
        listed = _renewing_items(text)
        if len(listed) > 1:
            found = [(target_for_name(registry, name, platform), block) for name, block in listed]
            return [(target, block) for target, block in found if target is not None]
    target = attribute(registry, platform, subject, from_name, text)
    return [(target, text)] if target is not None else []


def _at_newline(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """A line pattern (one branch opening with a MULTILINE `^`) spelt to start at the newline before the line:
    searched in "\n" + text it matches where the original does, with the same groups, but its literal first
    character lets `re` skip to the candidates at C speed instead of trying `^` at every position."""
    assert pattern.pattern.startswith("^") and pattern.flags & re.MULTILINE
    return re.compile("\n" + pattern.pattern[1:], pattern.flags)


_AT_NEWLINE = {p: _at_newline(p) for p in (_APP_LINE, _ITEM_HEADER, _MERCHANT_LINE)}
# For each pattern, groups of words: every match holds one word of each group, so a text lacking every
# word of a group cannot match (`may_contain`).
_NEEDS: dict[re.Pattern[str], tuple[tuple[str, ...], ...]] = {
    _PURCHASE_FROM: (("purchase", "achat", "achet", "bought"), ("google play", "app store", "play store")),
    _YOUR_SUBSCRIPTION: (("subscription", "membership", "abonnement"),),
    _SUBSCRIPTION_TO: (
        tuple(
            f"{word} {to}"
            for word in ("subscription", "membership", "abonnement", "adhésion")
            for to in ("to", "à", "au")
        ),
    ),
}


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    """The first non-empty group of the pattern's first match in `text`, if any."""
    if pattern in _AT_NEWLINE:
        pattern, text = _AT_NEWLINE[pattern], "\n" + text
    elif not all(may_contain(text, words) for words in _NEEDS.get(pattern, ())):
        return None
    match = pattern.search(text)
    return next((g for g in match.groups() if g), None) if match else None


def _named_by_store(platform: Provider, subject: str, text: str) -> str | None:
    """The service a store's mail names in a sentence or its item table, never the store itself:
    "a purchase from Tunefox on Google Play", "your Tunefox subscription", "Item / Tunefox: Studio"."""
    head = text[:2000]
    candidates = (  # the item names the app ("Studio (Tunefox)"); the sentence may name its developer
        lambda: _first(_ITEM_HEADER, text),
        lambda: _first(_PURCHASE_FROM, head),
        lambda: _first(_YOUR_SUBSCRIPTION, subject),
        lambda: _first(_SUBSCRIPTION_TO, subject),
        lambda: _first(_YOUR_SUBSCRIPTION, head),
        lambda: _first(_SUBSCRIPTION_TO, head),
    )  # each searched only when those before it named nobody
    for candidate in candidates:
        name = candidate()
        # a name is written with a capital in its first word ("iCloud+" too)
        if name and re.match(r"\S*[A-Z0-9]", name) and not any(b in name.lower() for b in platform.brands):
            return name
    return None


def attribute(
    registry: Registry, platform: Provider, subject: str, from_name: str, text: str
) -> Target | None:
    """The service a platform's message is about, or None (the platform's own mail: security, retail)."""
    head = f"{subject}\n{text[:1500]}"
    own = _own_service(registry, platform, head)
    if own is not None:
        return own
    kind = platform.platform
    name: str | None = None
    if kind == "apple":
        name = (
            _first(_APP_LINE, text) or _item_above_renewal(text) or _named_by_store(platform, subject, text)
        )
    elif kind == "google_play":
        name = (
            _first(_PLAY_SUBJECT, subject)
            or _first(_APP_LINE, text)
            or _named_by_store(platform, subject, text)
        )
    elif kind == "paypal":
        name = (
            _first(_MERCHANT_LINE, text) or _first(_PAYMENT_TO, subject) or _first(_PAYMENT_TO, text[:2000])
        )
    elif kind == "stripe":
        name = _first(_STRIPE_SUBJECT, subject) or (from_name or None)
    elif kind == "amazon":
        name = next(
            (
                n
                for m in _CHANNEL.finditer(head)
                if (n := next(g for g in m.groups() if g)) and "prime video" not in n.lower()
            ),
            None,
        )
    elif kind == "reseller":
        name = _resold_merchant(platform, subject, from_name, text)
    return target_for_name(registry, name, platform) if name else None


def _resold_merchant(platform: Provider, subject: str, from_name: str, text: str) -> str | None:
    """The merchant a merchant of record sells for: its display name, subject, or statement line."""

    def not_the_platform(name: str | None) -> str | None:
        if not name or generic_name(name):
            return None
        return None if any(brand in name.lower() for brand in platform.brands) else name

    via = _VIA_NAME.match(from_name)
    subject_match = _MERCHANT_SUBJECT.search(subject)
    candidates = (
        via.group(1) if via else None,
        from_name,
        next((g for g in subject_match.groups() if g), None) if subject_match else None,
        _first(_SUBSCRIPTION_TO, subject),  # "Your membership to Quill Letters"
        _first(_DESCRIPTOR, text),
        _first(_MEMBER_OF, text[:1500]),
    )
    for candidate in candidates:
        name = not_the_platform(candidate)
        if name:
            return re.sub(r"\.(?:app|com|io|net|co)$", "", name.strip())
    return None
