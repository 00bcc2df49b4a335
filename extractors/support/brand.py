"""Who a support correspondent is, as a provider slug, even when no provider file knows it.

A ticket is only useful filed under its provider, and most desks a person writes to
are not in the registry. The registry answers first; otherwise the slug is the brand
in the correspondent's domain: `support@nomadgoods.com` is `nomadgoods`,
`nordvpn.zendesk.com` is `nordvpn` (a hosted helpdesk puts the tenant's brand in front
of its own domain), `particuliers.engie.fr` is `engie`. A host that names no brand
(`case.salesforce.com` under a random tenant id, `mx.zohodesk.eu`) gives None: the
thread then supplies the provider.
"""

from __future__ import annotations

import re

from extractors.registry import provider_for_domain, slugify

# Hosted helpdesks and mail relays: their own name is never the provider.
HELPDESK_HOSTS = frozenset(
    {
        "zendesk.com", "freshdesk.com", "freshservice.com", "zohodesk.com", "zohodesk.eu", "zohodesk.in",
        "helpscout.net", "helpscout.com", "gorgias.io", "gorgias.com", "salesforce.com", "force.com",
        "intercom-mail.com", "intercom.io", "kayako.com", "helpshift.com", "desk.com", "groovehq.com",
        "frontapp.com", "hubspot.com", "hubspotemail.net", "kustomer.com", "gladly.com", "mailgun.org",
        "sendgrid.net", "amazonses.com",
    }
)  # fmt: skip
_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gouv", "ac", "gov"})  # example.co.uk, example.com.au
_NOT_A_BRAND = frozenset(
    {
        "mail", "email", "e", "em", "mx", "smtp", "www", "m", "info", "news", "reply", "replies", "support",
        "help", "aide", "service", "services", "client", "clients", "particuliers", "pro", "case", "eu", "us",
        "noreply", "no-reply", "notifications", "notification", "contact", "billing", "intercom-mail",
    }
)  # fmt: skip
_WORD = re.compile(r"^[a-z][a-z\-]{2,40}$")  # three letters at least: "mg", "e" are relays


def registrable(domain: str) -> str:
    """'particuliers.engie.fr' -> 'engie.fr'; 'shop.example.co.uk' -> 'example.co.uk'."""
    labels = domain.lower().strip(".").split(".")
    keep = 3 if len(labels) >= 3 and labels[-2] in _SECOND_LEVEL and len(labels[-1]) == 2 else 2
    return ".".join(labels[-keep:])


def correspondent_domain(addr: str | None) -> str | None:
    """The other side's domain as the journal keys it: registrable, except a hosted desk keeps its tenant."""
    if not addr or "@" not in addr:
        return None
    domain = addr.rsplit("@", 1)[1].lower().strip(".")
    base = registrable(domain)
    if base in HELPDESK_HOSTS:
        return domain
    return base


def provider_slug(domain: str | None) -> str | None:
    """The registry's slug for `domain`, else the brand label it shows, else None."""
    if not domain:
        return None
    known = provider_for_domain(domain)
    if known is not None:
        return known.slug
    base = registrable(domain)
    labels = domain.split(".")
    if base in HELPDESK_HOSTS:
        labels = labels[: -len(base.split("."))]
        candidates = list(reversed(labels))[:1]  # the tenant sits right before the desk's domain
    else:
        candidates = [base.split(".")[0]]
    for label in candidates:
        if _WORD.match(label) and label not in _NOT_A_BRAND:
            return slugify(label) or None
    return None
