"""Subscription facts: identify the provider, check the sender, classify, record events.

Layers, most reliable first, all feeding `fields.build_event`:
1. schema.org data in the HTML (`structured`) refines whatever layer found the target;
2. a provider file matching the sender (`registry`), checked by `spoofing`;
3. a billing platform attributing the charge to the app or merchant (`platforms`);
4. the generic FR/EN fallback for unknown senders (`generic`), low confidence.

`result.provider` is set for any mail from (or, for my own mail, to) a provider,
support mail included, because the support step that runs next relies on it.
Nothing here raises on bad input: `run` is wrapped so a surprise costs the
message its events, never the message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from extractors.registry import Provider, registry
from extractors.subscriptions import forwards, generic, labelled, platforms, structured
from extractors.subscriptions.classify import in_conversation, kind_of_provider_mail
from extractors.subscriptions.event import Target, build_event
from extractors.subscriptions.spoofing import vet_sender
from extractors.text import detect_lang, message_text

if TYPE_CHECKING:
    from extractors.mail.parse import ParsedMessage
    from extractors.model import EventFact, Extraction, Identity

log = logging.getLogger(__name__)
REVIEW_BELOW = 0.7  # events less sure than this put their message in the `needs_review` view


def run(parsed: ParsedMessage, identity: Identity, result: Extraction) -> None:
    """Identify the provider and record subscription events on `result`."""
    try:
        _run(parsed, identity, result)
    except Exception:  # never lose the message (nor the support step) over an extractor bug
        log.exception("subscription extractor failed on %s", parsed.sha256)
        result.events.clear()
        result.needs_review = True


def _recipient_provider(parsed: ParsedMessage) -> Provider | None:
    reg = registry()
    for addr in (*parsed.to_addrs, *parsed.cc_addrs):
        found = reg.for_address(addr)
        if found is not None:
            return found
    return None


def _run(parsed: ParsedMessage, identity: Identity, result: Extraction) -> None:
    if identity.is_mine(parsed.from_addr) and forwards.is_forward(parsed):
        inner = forwards.inner_message(parsed)
        if inner is not None and not identity.is_mine(inner.from_addr):
            _read_inbound(inner, identity, result)  # a receipt I forwarded is the receipt
            for fact in result.events:
                fact.confidence = min(fact.confidence, forwards.CONFIDENCE_CAP)
            return
    if result.direction == "outbound":
        mine = _recipient_provider(parsed)
        result.provider = mine.slug if mine else None
        return  # my own mail proves no subscription fact
    _read_inbound(parsed, identity, result)


def _read_inbound(parsed: ParsedMessage, identity: Identity, result: Extraction) -> None:
    reg = registry()
    credited, reason = vet_sender(parsed, reg, reg.for_address(parsed.from_addr))
    if reason is not None:
        result.suspicious = reason
        return
    result.provider = credited.slug if credited else None
    if in_conversation(parsed.subject, parsed.headers):
        return  # support mail is the journal's: the support step takes it from here
    text = message_text(parsed)
    embedded = structured.read(parsed.body_html)
    kind, targets, needs_words = _classify(parsed, text, credited, embedded)
    if kind is None:
        return
    result.kind = kind
    if len(targets) == 1 and targets[0][0].slug in reg.providers:
        result.provider = targets[0][0].slug  # a known service behind a platform: its mail, event or not
    lang = detect_lang(parsed, text)
    for target, about in targets:
        data = embedded if len(targets) == 1 else None  # an order's total is no single item's price
        fact = build_event(parsed, identity, target, kind, about, lang, data, needs_words)
        if fact is None:
            continue  # a one-off purchase or a notice proving nothing: the kind stays, no subscription
        if credited is None and fact.amount_minor is None and not _proves_without_price(fact, parsed.subject):
            result.needs_review = True  # an unknown sender without a price: a person should look
            continue
        result.events.append(fact)
        if fact.confidence < REVIEW_BELOW:
            result.needs_review = True
    if len(result.events) == 1:
        result.provider = result.events[0].provider
    if kind == "signup" and any(e.event_type == "trial_started" for e in result.events):
        result.kind = "trial"  # a welcome that starts a free trial is the trial's mail


def _proves_without_price(fact: EventFact, subject: str) -> bool:
    """Facts that need no price: a cancellation stating its access end, a regularisation bill (the contract
    runs; its one-off amount is no price)."""
    if fact.event_type == "cancellation_confirmed":
        return fact.ends_on is not None
    return fact.event_type == "charge" and bool(labelled.REGULARISATION_BILL.search(subject.lower()))


def _classify(
    parsed: ParsedMessage, text: str, credited: Provider | None, embedded: structured.Structured | None
) -> tuple[str | None, list[tuple[Target, str]], bool]:
    """(kind, the services it is about with the text about each, whether subscription wording is required)."""
    if credited is None:  # layer 4: an unknown sender, on its subject, else its body's possessive opening
        kind = kind_of_provider_mail(parsed.subject, text, ())
        target = generic.target(parsed, embedded.seller if embedded else None) if kind else None
        return kind, [(target, text)] if target else [], True
    kind = kind_of_provider_mail(parsed.subject, text, credited.subjects)
    if credited.role == "platform":  # layer 3; a platform also sells one-off things: wording required
        return kind, platforms.items(registry(), credited, parsed.subject, parsed.from_name or "", text), True
    needs_words = bool(credited.only_if) and not any(p.search(text) for p in credited.only_if)
    return kind, [(Target.of(credited), text)], needs_words  # layer 2
