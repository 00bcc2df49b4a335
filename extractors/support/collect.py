"""Customer-service mail: recognise it and collect what the journal needs.

Runs after `extractors.subscriptions.run` (which sets `result.provider`). It never
touches the database: it puts an `extractors.model.SupportFacts` in `result.support`,
which the journal (`ingest.derived.journal`) stores and threads later. Support mail
gets `is_support=True`; a reply that only *may* continue a support thread (mine, or a
provider's) gets the same facts with `is_support=False`, so the journal can keep it
if it joins a ticket without ever reading the mail again.

RFC 3834 headers (Auto-Submitted, X-Autoreply, Precedence) are hints only: some
helpdesks stamp human replies with them, so an acknowledgement is classified by its
content too, and an acknowledgement is kept (it carries the ticket number).
"""

from __future__ import annotations

import re
from email.utils import getaddresses
from functools import cached_property
from typing import TYPE_CHECKING

from extractors.mail.parse import HELPDESK_HEADER_PREFIXES
from extractors.model import Promise, SupportFacts, TicketToken
from extractors.support.agents import agent_from_display_name, agent_from_signature, brand_words
from extractors.support.brand import HELPDESK_HOSTS, correspondent_domain, provider_slug, registrable
from extractors.support.promises import find_promises, find_requests, is_hedged, sentences
from extractors.support.quotes import is_greeting, split_reply
from extractors.support.refs import (
    TicketRef,
    display_ref,
    find_refs,
    may_hold_helpdesk_ref,
    normalise_subject,
)

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage
    from extractors.model import Extraction, Identity

_SUPPORT_LOCALPART = re.compile(
    r"^(?:support|help|aide|assistance|service[._-]?client(?:s|ele)?|serviceclient|sav|care|customer[._-]?care|"
    r"customer[._-]?service|customerservice|relation[._-]?client|relationclient|reclamations?|"
    r"contact|cs|helpdesk|service[._-]?abonnes?|abonnes?|serviceabonnes|billing[._-]?support|"
    r"service[._-]?(?:adh[ée]rents?|membres?|members?|usagers?|consommateurs?)|adherents?)\b",
    re.I,
)
_SUPPORT_NAME = re.compile(
    r"\b(?:support|service\s+client(?:s|èle)?|customer\s+(?:care|service|support)|assistance|help\s*desk|"
    r"relation\s+client|service\s+(?:abonnés|réclamations?)|sav)\b",
    re.I,
)
_SUPPORT_SUBJECT = re.compile(
    r"\b(?:réclamation|reclamation|contestation|litige|plainte|remboursement|résiliation|resiliation|"
    r"demande\s+d'assistance|incident|refund|dispute|complaint|double\s+charge|charged\s+twice|"
    r"cancellation\s+request|support\s+request|your\s+request|votre\s+demande|case)\b",
    re.I,
)
# Lower-case, and matched against lower-cased text: twice as fast as re.I on every
# message's first 5,000 characters, which made it a fifth of all extraction time.
_ACK = re.compile(
    r"\b(?:accusé\s+de\s+réception|nous\s+avons\s+(?:bien\s+)?reçu\s+votre\s+(?:demande|message|courriel|e-?mail|réclamation)|"
    r"votre\s+(?:demande|réclamation|message)\s+(?:a\s+(?:bien\s+)?été|est)\s+(?:enregistrée?|prise?\s+en\s+compte|transmise?)|"
    r"(?:un|l'un\s+de\s+nos)\s+conseillers?\s+(?:vous\s+)?(?:répondra|reviendra|traitera)|"
    r"we(?:'ve|\s+have)\s+received\s+your\s+(?:request|message|email|e-mail|ticket)|"
    r"your\s+(?:request|ticket)\s+(?:has\s+been|was)\s+(?:received|created|logged)|"
    r"(?:a\s+member\s+of\s+our\s+(?:support\s+)?team|one\s+of\s+our\s+agents|an?\s+(?:specialist|advisor|adviser|agent))\s+"
    r"will\s+(?:get\s+back|respond|reply|review|contact)|"
    r"(?:un|une)\s+(?:conseill\w+|spécialiste|expert\w*)\s+(?:va|vous)\s+(?:étudier|examiner|traiter|recontacter|répondre))",
)
# "This is an automated message, please do not reply": carriers, banks and shops say it too, so it marks an
# acknowledgement only in mail that is customer service on other grounds; it never makes a mail support.
_AUTOMATED = re.compile(
    r"\b(?:(?:this\s+is\s+an\s+)?automated\s+(?:response|reply|message)|"
    r"ceci\s+est\s+(?:une\s+réponse|un\s+message)\s+automatique)"
)
# Every alternative of _ACK contains one of these (lower-case): a cheap test before the regex.
_ACK_NEEDLES = (
    "réception", "reçu", "enregistr", "pris", "transmis", "conseill",
    "received", "created", "logged", "will", "spécialiste", "expert",
)  # fmt: skip
_RESOLVED = re.compile(
    r"\b(?:(?:le|votre)\s+remboursement(?:\s+de\s+[^\n]{1,30}?)?\s+(?:a\s+(?:bien\s+)?été|est)\s+(?:effectué|émis|réalisé|validé)|"
    r"nous\s+avons\s+(?:bien\s+)?(?:procédé|effectué|émis|validé)\s+(?:au|le|à|votre)\s+(?:remboursement|résiliation)|"
    r"(?:votre\s+)?résiliation\s+(?:est|a\s+(?:bien\s+)?été)\s+(?:confirmée|effectuée|prise\s+en\s+compte|enregistrée)|"
    r"(?:votre\s+)?(?:abonnement|contrat|compte|ligne|offre)\s+(?:est|a\s+(?:bien\s+)?été)\s+(?:résiliée?|annulée?|clôturée?|fermée?)|"
    r"(?:votre\s+)?(?:demande|dossier|réclamation|ticket)(?:\s*\([^)]{0,60}\)|\s+(?:n°\s*)?[A-Z0-9][\w\-]{2,20})?\s+"
    r"(?:est|a\s+(?:bien\s+)?été)\s+(?:désormais\s+|maintenant\s+|bien\s+)?(?:résolue?|clôturée?|traitée?)|"
    r"je\s+(?:passe|mets|clôture|ferme)\s+(?:votre|ce|cette|le|la)\s+(?:demande|dossier|ticket|réclamation|requête|conversation)"
    r"(?:\s+en\s+statut\s+(?:résolu|clôturé|fermé))?|"
    r"(?:i'm|i\s+am|we're|we\s+are)\s+(?:now\s+)?closing\s+(?:this|the|your)\s+(?:ticket|case|request|conversation)|"
    r"(?:i'll|i\s+will|we'll|we\s+will)\s+(?:now\s+)?(?:mark|set)\s+(?:this|the|your)\s+(?:ticket|case|request)\s+as\s+"
    r"(?:solved|resolved|closed)|"
    r"j'ai\s+(?:bien\s+)?reçu\s+(?:le|mon|votre)\s+(?:remboursement|virement|avoir)|"
    r"(?:votre\s+|le\s+|un\s+)?(?:crédit|avoir|geste\s+commercial)\b[^.\n]{0,40}?\s+a\s+(?:bien\s+)?été\s+"
    r"(?:ajouté|crédité|versé|appliqué|effectué)|"
    r"(?:the\s+|your\s+|a\s+)?credit\b[^.\n]{0,40}?\s+(?:has\s+been|was)\s+(?:added|applied|issued)|"
    r"i\s+(?:got|received|have\s+received|'ve\s+received)\s+(?:the|my|your)\s+(?:refund|credit|reimbursement)|"
    r"(?:i|we)(?:'ve|\s+have)\s+(?:now\s+|just\s+|gone\s+ahead\s+and\s+)?(?:issued|processed|sent|submitted|initiated)\s+"
    r"(?:a\s+|the\s+|your\s+)?(?:full\s+|partial\s+)?refund|"
    r"(?:problème|souci)\s+(?:est\s+)?(?:résolu|réglé)|c'est\s+(?:réglé|résolu)|vous\s+pouvez\s+clôturer|"
    r"(?:the|your)\s+refund(?:\s+of\s+[^\n]{1,30}?)?\s+(?:has\s+been|was)\s+(?:processed|issued|completed|sent)|"
    r"we\s+have\s+(?:now\s+)?refunded|"
    r"(?:your\s+)?(?:subscription|membership|account|plan)\s+(?:has\s+been|was)\s+cancell?ed|"
    r"(?:your\s+)?(?:issue|request|ticket|case)\s+(?:has\s+been|was|is)\s+(?:resolved|solved|closed)|"
    r"i(?:'ve|\s+have)\s+(?:now\s+)?received\s+the\s+refund|(?:that|this)\s+(?:solved|fixed|resolved)\s+(?:it|the\s+issue)|"
    r"you\s+can\s+close\s+(?:the|this)\s+(?:ticket|case))\b",
    re.I,
)
_ASKS = re.compile(
    r"\b(?:merci\s+de\s+(?:bien\s+vouloir\s+)?(?:nous\s+)?(?:transmettre|envoyer|communiquer|indiquer|faire\s+parvenir|préciser|confirmer|répondre)|"
    r"pourriez-vous|pouvez-vous|nous\s+avons\s+besoin|veuillez\s+(?:nous\s+)?(?:transmettre|envoyer|communiquer|indiquer|confirmer|répondre)|"
    r"could\s+you|can\s+you|would\s+you|please\s+(?:send|provide|reply|confirm|let\s+us\s+know|share|tell)|we\s+(?:need|require))\b",
    re.I,
)
_BOILERPLATE = re.compile(
    r"n'hésitez\s+pas|don't\s+hesitate|do\s+not\s+hesitate|anything\s+else|autre\s+question|other\s+questions?|"
    r"if\s+you\s+have\s+any|si\s+vous\s+avez|how\s+did\s+we\s+do|rate\s+(?:our|your)|satisfaction",
    re.I,
)


def run(parsed: ParsedMessage, identity: Identity, result: Extraction) -> None:
    """Mark support mail (`result.kind = "support"`) and fill `result.support`; never raises."""
    try:
        _run(parsed, result)
    except Exception:  # an extractor must never lose a message: the journal just misses this one
        return


_HEAD_CHARS = 5_000  # an acknowledgement says so at the top; no need to scan a long body twice


class _Scan:
    """What the support rules read from the text, each computed once and only when a rule asks for it:
    most mail (a receipt, a newsletter) is settled before the costly scans (the full ticket search,
    the acknowledgement phrases) are needed."""

    def __init__(self, parsed: ParsedMessage) -> None:
        self.parsed = parsed

    @cached_property
    def refs(self) -> list[TicketRef]:
        return find_refs(self.parsed.subject, self.parsed.body_text)

    @cached_property
    def helpdesk_ref(self) -> bool:
        parsed = self.parsed
        return may_hold_helpdesk_ref(parsed.subject, parsed.body_text) and any(
            ref.helpdesk for ref in self.refs
        )

    @cached_property
    def acked(self) -> bool:
        lowered = f"{self.parsed.subject}\n{self.parsed.body_text[:_HEAD_CHARS]}".lower()
        return any(needle in lowered for needle in _ACK_NEEDLES) and bool(_ACK.search(lowered))


def _run(parsed: ParsedMessage, result: Extraction) -> None:
    if result.suspicious:
        return  # a phishing mail posing as "Service Client" is no customer-service exchange
    outbound = result.direction == "outbound"
    scan = _Scan(parsed)
    is_support = _looks_like_support(parsed, result, scan, outbound)
    if is_support:
        result.kind = "support"
        result.support = _collect(parsed, result, scan.refs, is_support=True)
    elif parsed.in_reply_to or parsed.references:
        # A reply that may continue a support thread (mine, a provider's, a desk no provider file knows):
        # the journal keeps it only if it joins one.
        result.support = _collect(parsed, result, scan.refs, is_support=False)


def _collect(
    parsed: ParsedMessage, result: Extraction, refs: list[TicketRef], is_support: bool
) -> SupportFacts:
    """Everything the journal keeps about one exchange (keys, new text, agent, promises, requests, signals)."""
    outbound = result.direction == "outbound"
    reply = split_reply(parsed.body_text, parsed.body_html, parsed.from_name)
    header_auto = _auto_header(parsed.headers)
    new_text = f"{parsed.subject}\n{reply.text}".lower()
    acked = bool(_ACK.search(new_text) or _AUTOMATED.search(new_text))
    agent = None
    promises: list[Promise] = []
    requests: list[str] = []
    if outbound:
        requests = find_requests(reply.text)
    else:
        brands = brand_words(result.provider, parsed.from_domain)
        brands.update(filter(None, [provider_slug(correspondent_domain(parsed.from_addr))]))
        agent = next(
            (
                name
                for name in (
                    agent_from_display_name(parsed.from_name, brands),
                    agent_from_signature(reply.signature, brands),
                )
                # "Fitness Park" from fitnesspark.fr is the brand; my own name (quoted mail, greeting) is mine
                if name and not _is_brand(name, brands) and not _is_my_name(name, parsed)
            ),
            None,
        )
        promises = find_promises(reply.text, parsed.date)
    resolved = _resolves(reply.text)
    auto_ack = not outbound and (acked or header_auto) and agent is None and not resolved
    if auto_ack:
        promises = [p for p in promises if not is_hedged(p.text)]  # "en général sous 48 h" is no commitment
    return SupportFacts(
        refs=[TicketToken(system=r.system, value=r.value, is_global=r.is_global) for r in refs],
        ticket_ref=display_ref(refs),
        subject_key=normalise_subject(parsed.subject),
        correspondent=_correspondent(parsed, outbound),
        is_support=is_support,
        body=reply.text,
        agent_name=agent,
        auto_ack=auto_ack,
        auto_header=header_auto,
        promises=promises,
        requests=requests,
        asks=(not outbound) and not auto_ack and _asks(reply.text),
        resolved=resolved,
        courtesy=outbound and _is_courtesy(reply.text, requests),
    )


_THANKS = re.compile(
    r"\b(?:merci|thanks|thank\s+you|parfait|perfect|great|super|génial|top|ok|d'accord|noted|bien\s+noté)\b",
    re.I,
)
_COURTESY_MAX = 160


def _is_courtesy(text: str, requests: list[str]) -> bool:
    """'Parfait, merci beaucoup !': a thank-you that closes a settled case rather than reopening it."""
    lines = [line for line in text.split("\n") if line.strip()]
    if lines and is_greeting(lines[0]):
        lines = lines[1:]
    body = " ".join(lines)
    return (
        bool(body)
        and len(body) <= _COURTESY_MAX
        and "?" not in body
        and not requests
        and bool(_THANKS.search(body))
    )


def _my_names(parsed: ParsedMessage) -> set[str]:
    """First names the provider addresses me by: the display names and address local parts in To."""
    names: set[str] = set()
    for name, addr in getaddresses([parsed.headers.get("to", "")]):
        names.update(word.lower() for word in re.split(r"[\s,]+", name) if word)
        local = addr.split("@", 1)[0]
        names.update(word.lower() for word in re.split(r"[._\-+]", local) if len(word) > 1)
    return names


def _is_brand(name: str, brands: set[str]) -> bool:
    compact = re.sub(r"[^a-z]", "", name.lower())
    return any(compact == re.sub(r"[^a-z]", "", brand.lower()) for brand in brands)


def _is_my_name(agent: str, parsed: ParsedMessage) -> bool:
    words = [word.lower() for word in agent.split()]
    return bool(words) and words[0] in _my_names(parsed)


def message_signals(text: str) -> tuple[bool, bool]:
    """(asks me something, confirms the resolution) for a text, e.g. a manual note."""
    return _asks(text), _resolves(text)


def _auto_header(headers: dict[str, str]) -> bool:
    auto = headers.get("auto-submitted", "").strip().lower()
    precedence = headers.get("precedence", "").strip().lower()
    return (
        (bool(auto) and auto != "no")
        or bool(headers.get("x-autoreply") or headers.get("x-autorespond"))
        or precedence == "auto_reply"
    )


def _looks_like_support(parsed: ParsedMessage, result: Extraction, scan: _Scan, outbound: bool) -> bool:
    banner = "above this line" in parsed.body_text or "au-dessus de cette ligne" in parsed.body_text
    if banner or scan.helpdesk_ref:
        return True
    local = (parsed.from_addr or "").split("@", 1)[0]
    desk_sender = bool(_SUPPORT_LOCALPART.match(local) or _SUPPORT_NAME.search(parsed.from_name or ""))
    is_reply = bool(parsed.in_reply_to or parsed.references)
    if result.kind not in ("other", "support"):
        # A receipt or notice stays what the billing extractor said, unless a desk wrote it as a reply
        # ("Re: Échéancier erroné" from the customer service, which also talks money).
        return not outbound and is_reply and desk_sender
    if outbound:
        # My own mail to a provider is a customer-service contact (who else writes to Netflix?).
        to_desk = any(
            _SUPPORT_LOCALPART.match(addr.split("@", 1)[0]) or _hosted_desk(addr) for addr in parsed.to_addrs
        )
        return bool(result.provider) or to_desk or bool(_SUPPORT_SUBJECT.search(parsed.subject))
    if "list-unsubscribe" in parsed.headers and not scan.acked:
        return False  # newsletters and marketing
    if desk_sender or scan.acked:
        return True
    if is_reply and _desk_conversation(parsed):
        return True  # an agent answering from a hosted help desk, under the brand's own From:
    if is_reply and result.provider and scan.refs:
        return True  # a provider's reply quoting a reference
    return bool(_SUPPORT_SUBJECT.search(parsed.subject)) and bool(result.provider)


# Help desks stamp their conversations with their own headers and thread them through their own host
# even when the From: is the brand's (reply+123@intercom-mail.brand.com, <…@brand.zendesk.com>).
_DESK_WORDS = ("zendesk", "freshdesk", "helpscout", "intercom", "gorgias", "kayako", "kustomer", "zohodesk",
               "helpshift", "gladly", "frontapp")  # fmt: skip


def _desk_conversation(parsed: ParsedMessage) -> bool:
    """Sent from a hosted help desk's conversation (its own headers or threading hosts), whoever's name is on it."""
    if any(name.startswith(HELPDESK_HEADER_PREFIXES) for name in parsed.headers):
        return True
    hosts = [
        addr.rsplit("@", 1)[-1].lower()
        for addr in (parsed.reply_to, parsed.message_id)
        if addr and "@" in addr
    ]
    return any(word in label for host in hosts for label in host.split(".") for word in _DESK_WORDS)


def _hosted_desk(addr: str) -> bool:
    """An address at a hosted helpdesk (…@…case.salesforce.com, …@acme.zendesk.com): a case inbox."""
    domain = correspondent_domain(addr)
    return bool(domain) and registrable(domain) in HELPDESK_HOSTS


def _correspondent(parsed: ParsedMessage, outbound: bool) -> str | None:
    """The other side's domain (registrable part): mail from support.free-mobile.fr and to free-mobile.fr match.

    Of my recipients, the first one whose domain names a provider (a copy to a friend names none)."""
    addresses = parsed.to_addrs if outbound else [parsed.from_addr or ""]
    domains = [d for d in (correspondent_domain(addr) for addr in addresses) if d]
    return next((d for d in domains if provider_slug(d)), domains[0] if domains else None)


def _resolves(text: str) -> bool:
    """A sentence confirms the case is settled ("Le remboursement a été effectué"), not a question about it."""
    return any(_RESOLVED.search(s) and not s.endswith("?") for s in sentences(text))


def _asks(text: str) -> bool:
    for sentence in sentences(text):
        if _BOILERPLATE.search(sentence):
            continue
        if sentence.endswith("?") or _ASKS.search(sentence):
            return True
    return False
