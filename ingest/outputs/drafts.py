"""Letters the person sends (subtrail never sends them): cancel, follow-up, claim (mise en demeure).

Every fact comes from the database (`build_dossier`: identifiers found in the mails, the
subscription, tickets and promises; `bank_charges_after_cancellation`) or from the provider
file (`providers`: cancel route, postal address, mediator, legal bases with their sources).
A fact not found stays a visible placeholder in the text ("[numéro de contrat]"): the
templates say `{{ value | ph("numéro de contrat") }}`, never a guess.

Templates are Jinja2 text files per language, `draft_templates/<lang>/<kind>.txt.j2` in this
package; a `draft_templates/` folder beside the config file overrides any of them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date
from babel.numbers import format_currency
from sqlite_utils import Database

from extractors.registry import registry
from ingest.outputs.dossier import Dossier, DossierError, build_dossier
from ingest.outputs.export import Filters
from ingest.outputs.humanize import Humanizer
from ingest.store import today as pinned_today

TEMPLATES = Path(__file__).with_name("draft_templates")
KINDS = ("cancel", "follow-up", "claim")
LANGUAGES = ("fr", "en")
CLAIM_DEADLINE_DAYS = 8  # « sous huit jours »: the usual delay a mise en demeure gives
SIGNALCONSO = "https://signal.conso.gouv.fr"
_SUBJECT = re.compile(r"^(?:Objet|Subject)\s*:\s*(.+)$", re.M)


def user_templates(config_path: Path | None) -> Path | None:
    """The folder of templates a user edited: `draft_templates/` beside the config file."""
    return config_path.parent / "draft_templates" if config_path else None


class DraftError(ValueError):
    """Nothing to draft from: unknown provider or ticket; the message says where to look."""


@dataclass
class Draft:
    kind: str
    lang: str
    text: str
    subject: str
    to_addr: str | None  # the provider's support address seen in the mails, if any
    provider: str
    facts: dict[str, Any] = field(default_factory=dict)


def _placeholder(value: Any, label: str) -> Any:
    return value if value not in (None, "", []) else f"[{label}]"


def _environment(user_templates: Path | None, lang: str, zone: str = "UTC") -> jinja2.Environment:
    folders = [str(p / lang) for p in (user_templates, TEMPLATES) if p is not None and (p / lang).is_dir()]
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(folders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # plain text for a letter; nothing here is rendered as HTML
    )
    env.filters["ph"] = _placeholder
    env.filters["day"] = lambda v: _local_day(v, zone, lang)
    env.filters["money"] = lambda minor, cur: (
        format_currency(minor / 100, cur, locale=lang) if minor is not None and cur else None
    )
    return env


def _local_day(value: str | None, zone: str, lang: str) -> str | None:
    """ "12 mars 2026": a date as it is, a UTC timestamp on the reader's clock (00:30 in Paris is the
    day after 23:30 UTC), so a letter dates every exchange the way its writer lived it."""
    if not value:
        return value
    day = date.fromisoformat(value[:10])
    if len(value) > 10:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        day = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(ZoneInfo(zone)).date()
    return format_date(day, "long", locale=lang)


def _first(dossier: Dossier, kind: str) -> str | None:
    return next((i.value for i in dossier.identifiers if i.kind == kind), None)


def _subscription(dossier: Dossier) -> dict[str, Any]:
    order = {"active": 0, "trial": 1, "payment_failed": 2, "cancelled": 3}
    subs = sorted(dossier.subscriptions, key=lambda s: (order.get(s["status"], 9), -(s["id"] or 0)))
    # No subscription seen (a provider known only from its file): every fact stays a placeholder.
    return (
        subs[0] if subs else dict.fromkeys(("id", "name", "service_name", "plan", "started_on", "platform"))
    )


def _support_address(dossier: Dossier) -> str | None:
    """Where a draft e-mail goes: the provider file's `[support] email` (a desk address someone
    checked), else the newest address the provider's support wrote from (a human desk, not a no-reply)."""
    listed = dict((dossier.provider or {}).get("support_channels") or {}).get("email")
    if listed:
        return str(listed)
    for ticket in reversed(dossier.tickets):
        for exchange in reversed(ticket["exchanges"]):
            if exchange["direction"] == "inbound" and exchange.get("message_sha256"):
                found = [
                    e["from_addr"] for e in dossier.evidence if e["sha256"] == exchange["message_sha256"]
                ]
                if found and found[0] and not re.search(r"no-?reply|ne-pas-repondre", found[0], re.I):
                    return found[0]
    return None


def _channel(dossier: Dossier, sub: dict[str, Any]) -> dict[str, Any]:
    """Where this cancellation goes: the billing platform, the online page, or a registered letter."""
    provider = dossier.provider or {}
    channels = dict(provider.get("support_channels") or {})
    platform_slug = registry().platform_providers.get(sub.get("platform") or "direct")
    if platform_slug and platform_slug != dossier.slug:
        route = next((r for r in dossier.platform_routes if r["platform"] == sub["platform"]), {})
        steps = [s for s in (route.get("cancel_steps") or "").splitlines() if s.strip()]
        return {"kind": "platform", "name": route.get("name") or sub["platform"],
                "url": route.get("cancel_url"), "steps": steps}  # fmt: skip
    return {
        "kind": "online" if provider.get("cancel_url") else "letter",
        "url": provider.get("cancel_url"),
        "postal_address": channels.get("postal_address"),
        "steps": [s for s in (provider.get("cancel_steps") or "").splitlines() if s.strip()],
    }


def _common(dossier: Dossier, today: date, my_addresses: frozenset[str]) -> dict[str, Any]:
    provider = dossier.provider or {}
    sub = _subscription(dossier)
    account_email = sub.get("account_email") or _first(dossier, "account_email")
    return {
        "today": today.isoformat(),
        "provider": {"slug": dossier.slug, "name": dossier.name, **provider},
        "sub": sub,
        "customer_number": _first(dossier, "customer_number"),
        "contract_number": _first(dossier, "contract_number") or _first(dossier, "account_number"),
        "login": _first(dossier, "login"),
        "line_number": _first(dossier, "line_number"),
        "account_email": account_email,
        "my_email": account_email or (sorted(my_addresses)[0] if my_addresses else None),
        "legal": provider.get("legal_basis") or [],
        "mediator": dict(provider.get("support_channels") or {}).get("mediator"),
        "postal_address": dict(provider.get("support_channels") or {}).get("postal_address"),
        "signalconso": SIGNALCONSO,
    }


def _cancel_facts(dossier: Dossier, facts: dict[str, Any]) -> dict[str, Any]:
    return {**facts, "channel": _channel(dossier, facts["sub"])}


def _ticket_facts(
    db: Database, ref: str, today: date, mine: frozenset[str], reader: Humanizer
) -> tuple[Dossier, dict[str, Any]]:
    by_id = ref.removeprefix("#")
    rows = [] if ref.startswith("#") else list(
        db.query("select id, provider from tickets where ticket_ref = ? order by id", [ref])
    )  # fmt: skip
    if not rows and by_id.isdigit():  # `#12` is always the case's id (the web's /journal/12)
        rows = list(db.query("select id, provider from tickets where id = ?", [int(by_id)]))
    if not rows:
        raise DraftError(f"no ticket {ref!r} (see: select ticket_ref, provider, subject from tickets)")
    dossier = build_dossier(db, rows[0]["provider"], today=today, my_addresses=mine, h=reader)
    ticket = next(t for t in dossier.tickets if t["id"] == rows[0]["id"])
    promises = [p for ex in ticket["exchanges"] for p in ex["promises"]]
    # Only what is still owed: a kept promise is not chased (the template then leaves a placeholder).
    open_promises = [p for p in promises if p["verdict"] in ("pending", "overdue")]
    evidence = [
        {"date": ex["sent_at"], "direction": ex["direction"], "channel": ex["channel"],
         "subject": ex.get("subject"), "agent": ex["agent_name"], "sha256": ex["message_sha256"]}
        for ex in ticket["exchanges"]
    ]  # fmt: skip
    facts = _common(dossier, today, mine)
    return dossier, {**facts, "ticket": ticket, "promises": open_promises, "evidence": evidence}


def _claim_facts(db: Database, dossier: Dossier, facts: dict[str, Any], today: date) -> dict[str, Any]:
    charges = [
        dict(r)
        for r in db.query(
            "select * from bank_charges_after_cancellation where provider = ? order by booked_on",
            [dossier.slug],
        )
    ]
    refund = re.compile(r"rembours|refund|avoir|credit", re.I)
    broken = [p for p in dossier.promises if p["verdict"] == "overdue" and refund.search(p["text"] or "")]
    cancelled = [s for s in dossier.subscriptions if s.get("cancelled_on")]
    cancel_mails = [
        e for e in dossier.evidence if e["kind"] == "cancellation" and e["direction"] != "outbound"
    ]
    total = sum(c["amount_minor"] for c in charges)
    return {
        **facts,
        "charges": charges,
        "total_minor": total if charges else None,
        "currency": charges[0]["currency"] if charges else None,
        "broken_promises": broken,
        "cancelled_on": cancelled[0]["cancelled_on"] if cancelled else None,
        "cancel_mails": cancel_mails,
        "deadline": (today + timedelta(days=CLAIM_DEADLINE_DAYS)).isoformat(),
        "evidence": [e for e in dossier.evidence if e["kind"] in ("cancellation", "receipt", "support")],
    }


def build_draft(
    db: Database,
    kind: str,
    target: str,
    *,
    lang: str = "fr",
    today: date | None = None,
    my_addresses: frozenset[str] | set[str] | tuple[str, ...] = (),
    user_templates: Path | None = None,
    timezone: str = "UTC",
) -> Draft:
    """Draft `kind` for `target` (a provider slug, or for a follow-up a ticket reference or `#id`);
    every day it names is on the writer's `timezone`."""
    if kind not in KINDS:
        raise DraftError(f"unknown draft {kind!r}: one of {', '.join(KINDS)}")
    if lang not in LANGUAGES:
        raise DraftError(f"language {lang!r}: drafts exist in {', '.join(LANGUAGES)}")
    today = today or pinned_today()  # SUBTRAIL_TODAY dates the letter and its deadline too
    mine = frozenset(a.lower() for a in my_addresses)
    try:
        reader = Humanizer(language=lang, timezone=timezone)
        if kind == "follow-up":
            dossier, facts = _ticket_facts(db, target, today, mine, reader)
        else:
            dossier = build_dossier(db, target, today=today, my_addresses=mine, h=reader)
            facts = _common(dossier, today, mine)
            facts = (
                _cancel_facts(dossier, facts) if kind == "cancel" else _claim_facts(db, dossier, facts, today)
            )
    except DossierError as exc:
        raise DraftError(str(exc)) from None
    text = _environment(user_templates, lang, timezone).get_template(f"{kind}.txt.j2").render(**facts)
    subject = _SUBJECT.search(text)
    return Draft(
        kind=kind,
        lang=lang,
        text=text,
        subject=subject.group(1).strip() if subject else kind,
        to_addr=_support_address(dossier),
        provider=dossier.slug,
        facts=facts,
    )


def evidence_filters(draft: Draft) -> Filters | None:
    """The evidence a letter goes with (`export evidence`'s ZIP): a formal notice always, a
    cancellation when it is a registered letter, a follow-up its case; None: no letter to back."""
    if draft.kind == "claim":
        return Filters(provider=draft.provider)
    if draft.kind == "cancel" and draft.facts.get("channel", {}).get("kind") == "letter":
        return Filters(provider=draft.provider)
    if draft.kind == "follow-up" and (ticket := draft.facts.get("ticket")):
        return Filters(ticket=ticket.get("ticket_ref") or f"#{ticket['id']}")
    return None


def evidence_zip_path(pdf_output: str | None, draft: Draft) -> Path:
    """Beside the PDF (`letter.pdf` -> `letter-evidence.zip`); a PDF on stdout: in the current folder."""
    if pdf_output and pdf_output != "-":
        pdf = Path(pdf_output)
        return pdf.with_name(f"{pdf.stem}-evidence.zip")
    return Path(f"{draft.kind}-{draft.provider}-evidence.zip")


def _written_at() -> datetime:
    """When the draft is written: now, or noon UTC of a pinned `SUBTRAIL_TODAY`, the day its letter is dated."""
    if os.environ.get("SUBTRAIL_TODAY", "").strip():
        return datetime.combine(pinned_today(), time(12, 0), tzinfo=UTC)
    return datetime.now(UTC)


def render_eml(draft: Draft) -> bytes:
    """An unsent message (`X-Unsent: 1`) a mail client opens as a draft, to the support address found."""
    msg = EmailMessage()
    msg["Subject"] = draft.subject
    if draft.to_addr:
        msg["To"] = draft.to_addr
    if (me := draft.facts.get("my_email")) and "@" in me:
        msg["From"] = me
    msg["Date"] = format_datetime(_written_at())
    msg["Message-ID"] = make_msgid(domain="subtrail.invalid")
    msg["X-Unsent"] = "1"
    msg["Content-Language"] = draft.lang
    body = _SUBJECT.sub("", draft.text, count=1).lstrip("\n")
    msg.set_content(body)
    return msg.as_bytes()


_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def render_pdf(draft: Draft) -> bytes:
    """The letter as a PDF (fpdf2): DejaVu Sans when installed (any character), else Helvetica (Latin-1)."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(True, margin=20)
    pdf.add_page()
    pdf.set_creator("subtrail")
    pdf.set_title(draft.subject)
    text = draft.text
    if _FONT.exists():
        pdf.add_font("DejaVu", "", str(_FONT))
        pdf.set_font("DejaVu", size=11)
    else:
        pdf.set_font("Helvetica", size=11)
        text = text.replace("€", "EUR").encode("latin-1", "replace").decode("latin-1")
    pdf.multi_cell(0, 5.5, text)
    return bytes(pdf.output())
