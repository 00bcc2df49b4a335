"""The dossier's two layouts (Markdown, HTML) as Jinja templates over one `Dossier`.

Everything that comes from a mail (subjects, agent names, bodies, identifiers)
is hostile text. In HTML, Jinja's autoescape handles it. In Markdown, the `md`
filter backslash-escapes every character a Markdown renderer would act on
(including `<`, so no raw HTML survives) and folds newlines, so a mail cannot
add headings, links or HTML to the dossier. Links come only from provider
files, and only http(s) URLs become links.
"""

from __future__ import annotations

import re
from functools import cache

from jinja2 import Environment, StrictUndefined

from ingest.outputs.humanize import N_

_MD_SPECIAL = re.compile(r"([\\`*_\[\]!|~])")
# `<` and `&` become entities, not backslash escapes: every renderer honours entities,
# while Python-Markdown ignores `\<` inside headings and lists. No tag can open, so `>` stays readable.
_MD_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;"})
_MD_LIST_NUMBER = re.compile(r"^\d+(?=[.)])")


def md(value: object) -> str:
    """Text -> inline Markdown that renders as exactly that text (no emphasis, link, HTML or heading)."""
    text = " ".join(str(value if value is not None else "").split())
    text = _MD_SPECIAL.sub(r"\\\1", text).translate(_MD_ENTITIES)
    number = _MD_LIST_NUMBER.match(text)
    if number:  # "12. foo" would start an ordered list
        return f"{text[: number.end()]}\\{text[number.end() :]}"
    return "\\" + text if text and text[0] in "#+-=>" else text


def safe_url(value: object) -> str:
    """An http(s) URL, or "" — a `javascript:` URL typed into the providers table never becomes a link."""
    text = str(value or "").strip()
    return text if re.match(r"https?://[^\s<>\"']+$", text) else ""


def _env(autoescape: bool) -> Environment:
    env = Environment(
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = md
    env.filters["safe_url"] = safe_url
    return env


MARKDOWN = """\
# {{ _("Dossier: %(name)s") % {"name": d.name | md} }}

{{ _("Prepared on %(day)s by subtrail for a contact with %(name)s customer service.") % {"day": h.date(d.today), "name": d.name | md} }}

## {{ _("Account identifiers") }}

{% for i in d.identifiers %}
- {{ _(LABELS[i.kind]) }}{{ h.colon }}**{{ i.value | md }}**{% if i.seen %} ({{ h.ngettext("in %(count)d message, first %(day)s, sha256 %(hash)s", "in %(count)d messages, first %(day)s, sha256 %(hash)s", i.seen) % {"count": i.seen, "day": h.date(i.first_seen), "hash": (i.sha256 or "")[:12]} }}){% else %} ({{ _("from the inventory") }}){% endif %}

{% else %}
- {{ _("None found in the mails: look for them in your account page.") }}
{% endfor %}

## {{ _("Subscription history") }}

{% for s in d.subscriptions %}
### {{ s.heading | md }}


- {{ _("Status") }}{{ h.colon }}{{ h.subscription_status(s.status) or _("unknown") }}
- {{ _("Platform") }}{{ h.colon }}{{ h.platform(s.platform) or _("unknown") }}
- {{ _("Account e-mail") }}{{ h.colon }}{{ (s.account_email or _("unknown")) | md }}
{% set start = h.start(s) %}
- {{ start[0] }}{{ h.colon }}{{ start[1] or _("unknown") }}
{% if s.trial_ends_on %}- {{ _("Trial ends on") }}{{ h.colon }}{{ h.date(s.trial_ends_on) }}
{% endif %}
- {{ _("Last price") if s.status in ("cancelled", "expired", "unknown") else _("Current price") }}{{ h.colon }}{{ h.price(s.amount_minor, s.currency, s.billing_period) or _("unknown") }}
{% if s.next_renewal_on %}- {{ _("Next renewal") }}{{ h.colon }}{{ h.date(s.next_renewal_on) }}
{% endif %}
{% if s.last_charged_on %}- {{ _("Last charged on") }}{{ h.colon }}{{ h.date(s.last_charged_on) }}
{% endif %}
{% if s.cancelled_on %}- {{ _("Cancelled on") }}{{ h.colon }}{{ h.date(s.cancelled_on) }}{% if s.ends_on %}, {{ (_("service ended on %(day)s") if s.ends_on < d.today else _("service ends on %(day)s")) % {"day": h.date(s.ends_on)} }}{% endif %}

{% endif %}
{% for c in s.statements %}
{% if loop.first %}

{{ _("Your statements:") }}

{% endif %}
- {{ h.statement(c) | md }}
{% endfor %}

{{ _("Price history:") }}

{% for p in s.price_history %}
- {{ _("since %(day)s: %(price)s") % {"day": h.date(p.since) or "?", "price": h.price(p.key[0], p.key[1], p.period)} }}
{% else %}
- {{ _("no priced event recorded") }}
{% endfor %}

{{ _("Last charges:") }}

{% for c in s.charges %}
- {{ h.date(c.occurred_on) or "?" }}{{ h.colon }}{{ h.event_type(c.event_type) }} {{ c.price }}{% if c.message_sha256 %} (sha256 {{ c.message_sha256[:12] }}){% endif %}

{% else %}
- {{ _("none recorded") }}
{% endfor %}

{% else %}
{{ _("No subscription with %(name)s was found in the mails.") % {"name": d.name | md} }}

{% endfor %}
{% if d.bank_debits or d.bank %}
## {{ _("From your bank statements") }}

{% for sentence in h.bank_sentences(d.bank) %}
- **{{ sentence | md }}**
{% endfor %}
{% for r in d.bank_series %}
- {{ h.ngettext("%(merchant)s: %(price)s, %(count)d debit from %(first)s to %(last)s", "%(merchant)s: %(price)s, %(count)d debits from %(first)s to %(last)s", r.occurrences) % {"merchant": r.merchant | md, "price": h.price(r.amount_minor, r.currency, r.billing_period), "count": r.occurrences, "first": h.date(r.first_on), "last": h.date(r.last_on)} }}{% if r.subscription_id is none %} — {{ _("no mail explains it") }}{% endif %}

{% endfor %}
{% for t in d.bank_debits %}
{% if loop.first %}

{{ _("Latest debits:") }}

{% endif %}
- {{ h.date(t.booked_on) }}{{ h.colon }}{{ h.money(t.amount_minor, t.currency) }} — {{ t.label | md }} ({{ _("account %(account)s") % {"account": t.account | md} }})
{% endfor %}

{% endif %}
## {{ _("How to cancel") }}

{% if d.provider %}
{% if d.provider.cancel_url | safe_url %}- {{ _("Account page") }}{{ h.colon }}<{{ d.provider.cancel_url | safe_url }}>
{% endif %}
{% if d.provider.cancel_steps %}- {{ _("Steps:") }}
{% for line in d.provider.cancel_steps.splitlines() %}
    {{ loop.index }}. {{ line.split(". ", 1)[-1] | md }}
{% endfor %}
{% endif %}
{% if d.provider.platform_route %}- {{ _("When billed by a store or an operator") }}{{ h.colon }}{{ d.provider.platform_route | md }}
{% endif %}
{% if d.provider.notice %}- {{ _("Notice / commitment") }}{{ h.colon }}{{ d.provider.notice | md }}
{% endif %}
{% for law in d.provider.legal_basis %}
- {{ _("Law") }}{{ h.colon }}{{ law.basis | md }}. {{ law.text | md }}{% if law.source | safe_url %} {{ _("Source") }}{{ h.colon }}<{{ law.source | safe_url }}>{% endif %}

{% endfor %}
{% if d.provider.support_url | safe_url %}- {{ _("Support") }}{{ h.colon }}<{{ d.provider.support_url | safe_url }}>
{% endif %}
{% for key, value in d.provider.support_channels | dictsort %}
- {{ (_(CHANNELS[key]) if key in CHANNELS else key) | md }}{{ h.colon }}{{ value | md }}
{% endfor %}
{% for src in d.provider.sources %}{% if loop.first %}- {{ _("Sources:") }}{% endif %} <{{ src | safe_url }}>{% endfor %}

{% else %}
{{ _("No cancellation data for this provider yet (add `[cancel]` to its provider file, see docs/providers.md).") }}
{% endif %}
{% for r in d.platform_routes %}

{{ _("Billed through %(platform)s: cancel there, not with %(name)s.") % {"platform": r.name | md, "name": d.name | md} }}

{% if r.cancel_url | safe_url %}- {{ _("Subscriptions page") }}{{ h.colon }}<{{ r.cancel_url | safe_url }}>
{% endif %}
{% if r.platform_route %}- {{ r.platform_route | md }}
{% endif %}
{% if r.cancel_steps %}- {{ _("Steps:") }}
{% endif %}
{% for line in (r.cancel_steps or "").splitlines() %}
    {{ loop.index }}. {{ line.split(". ", 1)[-1] | md }}
{% endfor %}
{% endfor %}

## {{ _("Correspondence") }}

{% for t in d.tickets %}
### {{ _("Ticket %(ref)s: %(subject)s") % {"ref": (t.ticket_ref or ("#" ~ t.id)) | md, "subject": t.subject | md} }}

{{ _("Status: %(status)s; opened %(opened)s, last activity %(last)s.") % {"status": h.ticket_status(t.status) or _("unknown"), "opened": h.datetime(t.opened_at) or "?", "last": h.datetime(t.last_activity_at) or "?"} }}

{% for e in t.exchanges %}
- **{{ h.datetime(e.sent_at) or "?" }}** {{ _("me →") if e.direction == "outbound" else "← " ~ d.name | md }} ({{ h.channel(e.channel) or "?" }}{% if e.agent_name %}, {{ _("agent %(name)s") % {"name": e.agent_name | md} }}{% endif %}){% if e.message_sha256 %} sha256 {{ e.message_sha256[:12] }}{% endif %}

  > {{ e.excerpt | md }}
{% for p in e.promises %}
  - {{ _("Promise: %(text)s") % {"text": _("“%(note)s”") % {"note": p.text | md}} }}{% if p.due_on %}, {{ _("due %(day)s") % {"day": h.date(p.due_on)} }}{% endif %}{{ h.colon }}**{{ h.promise_status(p.verdict) }}**
{% endfor %}
{% endfor %}

{% else %}
{{ _("No exchange with customer service recorded yet.") }}

{% endfor %}
## {{ _("Promises") }}

{% for p in d.promises %}
- {{ h.date(p.made_on) or "?" }}{% if p.agent_name %} ({{ p.agent_name | md }}){% endif %}{{ h.colon }}{{ _("“%(note)s”") % {"note": p.text | md} }}{% if p.due_on %}, {{ _("due %(day)s") % {"day": h.date(p.due_on)} }}{% endif %}{{ h.colon }}**{{ h.promise_status(p.verdict) }}**
{% else %}
- {{ _("No promise recorded.") }}
{% endfor %}

## {{ _("Resolution I want") }}

- {{ _("What I ask for (cancellation, refund of …, repair by …):") }}
- {{ _("By when:") }}
- {{ _("What I will do otherwise (formal notice, mediator, DGCCRF / SignalConso report):") }}
{% for p in d.promises if p.verdict == "overdue" %}
{% if loop.first %}- {{ _("Promises not kept, to cite:") }}
{% endif %}
    - {{ _("“%(note)s”") % {"note": p.text | md} }} ({{ _("promised %(day)s") % {"day": h.date(p.made_on) or "?"} }}{% if p.agent_name %} {{ _("by %(agent)s") % {"agent": p.agent_name | md} }}{% endif %}, {{ _("due %(day)s") % {"day": h.date(p.due_on)} }})
{% endfor %}

## {{ _("Evidence") }}

{% for m in d.evidence %}
- {{ h.datetime(m.date) or _("undated") }} {{ (m.subject or _("(no subject)")) | md }} — sha256 `{{ m.sha256 }}`{% if m.message_id %}, Message-ID {{ m.message_id | md }}{% endif %}

{% else %}
- {{ _("No stored message.") }}
{% endfor %}

{{ _("Export the raw messages and their checksums with %(command)s.") % {"command": "`subtrail export evidence --provider " ~ (d.slug | md) ~ " --format zip`"} }}
"""

HTML = """\
<!DOCTYPE html>
<html lang="{{ h.language }}"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>{{ _("Dossier: %(name)s") % {"name": d.name} }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 58rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
code, .hash { font-family: ui-monospace, monospace; font-size: .9em; }
blockquote { border-left: 3px solid #ccc; margin: .3rem 0 .6rem; padding-left: .8rem; color: #333; }
.overdue, .claim { color: #a00; font-weight: bold; } .kept { color: #070; }
.statement { font-style: italic; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
.fill { border-bottom: 1px dotted #999; min-height: 1.5rem; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } h2 { break-after: avoid; } }
</style></head><body>
<h1>{{ _("Dossier: %(name)s") % {"name": d.name} }}</h1>
<p>{{ _("Prepared on %(day)s by subtrail for a contact with %(name)s customer service.") % {"day": h.date(d.today), "name": d.name} }}</p>

<h2 id="identifiers">{{ _("Account identifiers") }}</h2>
<ul>
{% for i in d.identifiers %}
<li>{{ _(LABELS[i.kind]) }}{{ h.colon }}<strong>{{ i.value }}</strong>{% if i.seen %} ({{ h.ngettext("in %(count)d message, first %(day)s, sha256 %(hash)s", "in %(count)d messages, first %(day)s, sha256 %(hash)s", i.seen) % {"count": i.seen, "day": h.date(i.first_seen), "hash": (i.sha256 or "")[:12]} }}){% else %} ({{ _("from the inventory") }}){% endif %}</li>
{% else %}
<li>{{ _("None found in the mails: look for them in your account page.") }}</li>
{% endfor %}
</ul>

<h2 id="subscriptions">{{ _("Subscription history") }}</h2>
{% for s in d.subscriptions %}
<h3>{{ s.heading }}</h3>
<table>
<tr><th>{{ _("Status") }}</th><td>{{ h.subscription_status(s.status) or _("unknown") }}</td></tr>
<tr><th>{{ _("Platform") }}</th><td>{{ h.platform(s.platform) or _("unknown") }}</td></tr>
<tr><th>{{ _("Account e-mail") }}</th><td>{{ s.account_email or _("unknown") }}</td></tr>
{% set start = h.start(s) %}
<tr><th>{{ start[0] }}</th><td>{{ start[1] or _("unknown") }}</td></tr>
{% if s.trial_ends_on %}<tr><th>{{ _("Trial ends on") }}</th><td>{{ h.date(s.trial_ends_on) }}</td></tr>{% endif %}
<tr><th>{{ _("Last price") if s.status in ("cancelled", "expired", "unknown") else _("Current price") }}</th><td>{{ h.price(s.amount_minor, s.currency, s.billing_period) or _("unknown") }}</td></tr>
{% if s.next_renewal_on %}<tr><th>{{ _("Next renewal") }}</th><td>{{ h.date(s.next_renewal_on) }}</td></tr>{% endif %}
{% if s.last_charged_on %}<tr><th>{{ _("Last charged on") }}</th><td>{{ h.date(s.last_charged_on) }}</td></tr>{% endif %}
{% if s.cancelled_on %}<tr><th>{{ _("Cancelled on") }}</th><td>{{ h.date(s.cancelled_on) }}{% if s.ends_on %}, {{ (_("service ended on %(day)s") if s.ends_on < d.today else _("service ends on %(day)s")) % {"day": h.date(s.ends_on)} }}{% endif %}</td></tr>{% endif %}
</table>
{% if s.statements %}<p>{{ _("Your statements:") }}</p>
<ul>{% for c in s.statements %}<li class="statement">{{ h.statement(c) }}</li>{% endfor %}</ul>{% endif %}
<p>{{ _("Price history:") }}</p>
<ul>
{% for p in s.price_history %}<li>{{ _("since %(day)s: %(price)s") % {"day": h.date(p.since) or "?", "price": h.price(p.key[0], p.key[1], p.period)} }}</li>
{% else %}<li>{{ _("no priced event recorded") }}</li>{% endfor %}
</ul>
<p>{{ _("Last charges:") }}</p>
<ul>
{% for c in s.charges %}<li>{{ h.date(c.occurred_on) or "?" }}{{ h.colon }}{{ h.event_type(c.event_type) }} {{ c.price }}{% if c.message_sha256 %} <span class="hash">{{ c.message_sha256[:12] }}</span>{% endif %}</li>
{% else %}<li>{{ _("none recorded") }}</li>{% endfor %}
</ul>
{% else %}
<p>{{ _("No subscription with %(name)s was found in the mails.") % {"name": d.name} }}</p>
{% endfor %}

{% if d.bank_debits or d.bank %}
<h2 id="bank">{{ _("From your bank statements") }}</h2>
<ul>
{% for sentence in h.bank_sentences(d.bank) %}<li class="claim">{{ sentence }}</li>{% endfor %}
{% for r in d.bank_series %}<li>{{ h.ngettext("%(merchant)s: %(price)s, %(count)d debit from %(first)s to %(last)s", "%(merchant)s: %(price)s, %(count)d debits from %(first)s to %(last)s", r.occurrences) % {"merchant": r.merchant, "price": h.price(r.amount_minor, r.currency, r.billing_period), "count": r.occurrences, "first": h.date(r.first_on), "last": h.date(r.last_on)} }}{% if r.subscription_id is none %} — {{ _("no mail explains it") }}{% endif %}</li>{% endfor %}
</ul>
{% if d.bank_debits %}<p>{{ _("Latest debits:") }}</p>
<table>
{% for t in d.bank_debits %}<tr><td>{{ h.date(t.booked_on) }}</td><td>{{ h.money(t.amount_minor, t.currency) }}</td><td>{{ t.label }}</td><td>{{ _("account %(account)s") % {"account": t.account} }}</td></tr>
{% endfor %}
</table>{% endif %}
{% endif %}

<h2 id="cancel">{{ _("How to cancel") }}</h2>
{% if d.provider %}
<ul>
{% if d.provider.cancel_url | safe_url %}<li>{{ _("Account page") }}{{ h.colon }}<a href="{{ d.provider.cancel_url | safe_url }}" rel="noopener noreferrer">{{ d.provider.cancel_url }}</a></li>{% endif %}
{% if d.provider.cancel_steps %}<li>{{ _("Steps:") }}<ol>{% for line in d.provider.cancel_steps.splitlines() %}<li>{{ line.split(". ", 1)[-1] }}</li>{% endfor %}</ol></li>{% endif %}
{% if d.provider.platform_route %}<li>{{ _("When billed by a store or an operator") }}{{ h.colon }}{{ d.provider.platform_route }}</li>{% endif %}
{% if d.provider.notice %}<li>{{ _("Notice / commitment") }}{{ h.colon }}{{ d.provider.notice }}</li>{% endif %}
{% for law in d.provider.legal_basis %}<li>{{ _("Law") }}{{ h.colon }}{{ law.basis }}. {{ law.text }}{% if law.source | safe_url %} <a href="{{ law.source | safe_url }}" rel="noopener noreferrer">{{ _("Source") }}</a>{% endif %}</li>{% endfor %}
{% if d.provider.support_url | safe_url %}<li>{{ _("Support") }}{{ h.colon }}<a href="{{ d.provider.support_url | safe_url }}" rel="noopener noreferrer">{{ d.provider.support_url }}</a></li>{% endif %}
{% for key, value in d.provider.support_channels | dictsort %}<li>{{ _(CHANNELS[key]) if key in CHANNELS else key }}{{ h.colon }}{{ value }}</li>{% endfor %}
{% if d.provider.sources %}<li>{{ _("Sources:") }} {% for src in d.provider.sources %}{% if src | safe_url %}<a href="{{ src | safe_url }}" rel="noopener noreferrer">{{ src }}</a> {% endif %}{% endfor %}</li>{% endif %}
</ul>
{% else %}
<p>{{ _("No cancellation data for this provider yet.") }}</p>
{% endif %}
{% for r in d.platform_routes %}
<p>{{ _("Billed through %(platform)s: cancel there, not with %(name)s.") % {"platform": r.name, "name": d.name} }}
{% if r.cancel_url | safe_url %}<a href="{{ r.cancel_url | safe_url }}" rel="noopener noreferrer">{{ r.cancel_url }}</a>{% endif %}
{% if r.platform_route %}<br>{{ r.platform_route }}{% endif %}</p>
{% if r.cancel_steps %}<ol>{% for line in r.cancel_steps.splitlines() %}<li>{{ line.split(". ", 1)[-1] }}</li>{% endfor %}</ol>{% endif %}
{% endfor %}

<h2 id="correspondence">{{ _("Correspondence") }}</h2>
{% for t in d.tickets %}
<h3>{{ _("Ticket %(ref)s: %(subject)s") % {"ref": t.ticket_ref or ("#" ~ t.id), "subject": t.subject} }}</h3>
<p>{{ _("Status: %(status)s; opened %(opened)s, last activity %(last)s.") % {"status": h.ticket_status(t.status) or _("unknown"), "opened": h.datetime(t.opened_at) or "?", "last": h.datetime(t.last_activity_at) or "?"} }}</p>
<ul>
{% for e in t.exchanges %}
<li><strong>{{ h.datetime(e.sent_at) or "?" }}</strong> {{ _("me →") if e.direction == "outbound" else "← " ~ d.name }} ({{ h.channel(e.channel) or "?" }}{% if e.agent_name %}, {{ _("agent %(name)s") % {"name": e.agent_name} }}{% endif %}){% if e.message_sha256 %} <span class="hash">{{ e.message_sha256[:12] }}</span>{% endif %}
<blockquote>{{ e.excerpt }}</blockquote>
{% for p in e.promises %}<div>{{ _("Promise: %(text)s") % {"text": _("“%(note)s”") % {"note": p.text}} }}{% if p.due_on %}, {{ _("due %(day)s") % {"day": h.date(p.due_on)} }}{% endif %}{{ h.colon }}<span class="{{ p.verdict }}">{{ h.promise_status(p.verdict) }}</span></div>{% endfor %}
</li>
{% endfor %}
</ul>
{% else %}
<p>{{ _("No exchange with customer service recorded yet.") }}</p>
{% endfor %}

<h2 id="promises">{{ _("Promises") }}</h2>
<ul>
{% for p in d.promises %}<li>{{ h.date(p.made_on) or "?" }}{% if p.agent_name %} ({{ p.agent_name }}){% endif %}{{ h.colon }}{{ _("“%(note)s”") % {"note": p.text} }}{% if p.due_on %}, {{ _("due %(day)s") % {"day": h.date(p.due_on)} }}{% endif %}{{ h.colon }}<span class="{{ p.verdict }}">{{ h.promise_status(p.verdict) }}</span></li>
{% else %}<li>{{ _("No promise recorded.") }}</li>{% endfor %}
</ul>

<h2 id="resolution">{{ _("Resolution I want") }}</h2>
<p>{{ _("What I ask for (cancellation, refund of …, repair by …):") }}</p><div class="fill"></div>
<p>{{ _("By when:") }}</p><div class="fill"></div>
<p>{{ _("What I will do otherwise (formal notice, mediator, DGCCRF / SignalConso report):") }}</p><div class="fill"></div>
{% for p in d.promises if p.verdict == "overdue" %}{% if loop.first %}<p>{{ _("Promises not kept, to cite:") }}</p><ul>{% endif %}
<li>{{ _("“%(note)s”") % {"note": p.text} }} ({{ _("promised %(day)s") % {"day": h.date(p.made_on) or "?"} }}{% if p.agent_name %} {{ _("by %(agent)s") % {"agent": p.agent_name} }}{% endif %}, {{ _("due %(day)s") % {"day": h.date(p.due_on)} }})</li>
{% if loop.last %}</ul>{% endif %}{% endfor %}

<h2 id="evidence">{{ _("Evidence") }}</h2>
<table>
<tr><th>{{ _("Date") }}</th><th>{{ _("Subject") }}</th><th>sha256</th><th>Message-ID</th></tr>
{% for m in d.evidence %}
<tr><td>{{ h.datetime(m.date) or _("undated") }}</td><td>{{ m.subject or _("(no subject)") }}</td><td class="hash">{{ m.sha256 }}</td><td class="hash">{{ m.message_id or "" }}</td></tr>
{% endfor %}
</table>
{% set around = _("Export the raw messages and their checksums with %(command)s.").split("%(command)s") %}
<p>{{ around[0] }}<code>subtrail export evidence --provider {{ d.slug }} --format zip</code>{{ around[1:] | join("") }}</p>
</body></html>
"""

# Translated where shown (`_(LABELS[kind])`): the English texts are the catalogue's msgids.
LABELS = {
    "account_email": N_("Account e-mail"),
    "customer_number": N_("Customer number"),
    "contract_number": N_("Contract number"),
    "account_number": N_("Account number"),
    "login": N_("Login / identifier"),
    "line_number": N_("Line number"),
}
CHANNELS = {
    "form_url": N_("Contact form"),
    "chat": N_("Chat"),
    "phone": N_("Phone"),
    "postal_address": N_("Postal address (registered letter)"),
    "email": N_("E-mail"),
    "mediator": N_("Consumer mediator"),
}


@cache
def markdown_template():  # type: ignore[no-untyped-def]
    return _env(autoescape=False).from_string(MARKDOWN, globals={"LABELS": LABELS, "CHANNELS": CHANNELS})


@cache
def html_template():  # type: ignore[no-untyped-def]
    return _env(autoescape=True).from_string(HTML, globals={"LABELS": LABELS, "CHANNELS": CHANNELS})
