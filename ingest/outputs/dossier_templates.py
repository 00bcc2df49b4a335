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
# Dossier: {{ d.name | md }}

Prepared on {{ d.today }} by subtrail for a contact with {{ d.name | md }} customer service.

## Account identifiers

{% for i in d.identifiers %}
- {{ LABELS[i.kind] }}: **{{ i.value | md }}**{% if i.seen %} (in {{ i.seen }} message{{ "s" if i.seen > 1 }}, first {{ (i.first_seen or "")[:10] }}, sha256 {{ (i.sha256 or "")[:12] }}){% else %} (from the inventory){% endif %}

{% else %}
- None found in the mails: look for them in your account page.
{% endfor %}

## Subscription history

{% for s in d.subscriptions %}
### {{ (s.service_name or d.name) | md }}{% if s.plan %} ({{ s.plan | md }}){% endif %}


- Status: {{ s.status or "unknown" }}
- Platform: {{ s.platform or "unknown" }}
- Account e-mail: {{ (s.account_email or "unknown") | md }}
- Started on: {{ s.started_on or "unknown" }}
{% if s.trial_ends_on %}- Trial ends on: {{ s.trial_ends_on }}
{% endif %}
- Current price: {{ s.price or "unknown" }}{% if s.billing_period %} every {{ s.billing_period }}{% endif %}

{% if s.next_renewal_on %}- Next renewal: {{ s.next_renewal_on }}
{% endif %}
{% if s.last_charged_on %}- Last charged on: {{ s.last_charged_on }}
{% endif %}
{% if s.cancelled_on %}- Cancelled on: {{ s.cancelled_on }}{% if s.ends_on %}, service ends on {{ s.ends_on }}{% endif %}

{% endif %}

Price history:

{% for p in s.price_history %}
- since {{ p.since or "?" }}: {{ p.price }}{% if p.period %} / {{ p.period }}{% endif %}

{% else %}
- no priced event recorded
{% endfor %}

Last charges:

{% for c in s.charges %}
- {{ c.occurred_on or "?" }}: {{ c.event_type }} {{ c.price }}{% if c.message_sha256 %} (sha256 {{ c.message_sha256[:12] }}){% endif %}

{% else %}
- none recorded
{% endfor %}

{% else %}
No subscription with {{ d.name | md }} was found in the mails.

{% endfor %}
## How to cancel

{% if d.provider %}
{% if d.provider.cancel_url | safe_url %}- Account page: <{{ d.provider.cancel_url | safe_url }}>
{% endif %}
{% if d.provider.cancel_steps %}- Steps:
{% for line in d.provider.cancel_steps.splitlines() %}
    {{ loop.index }}. {{ line.split(". ", 1)[-1] | md }}
{% endfor %}
{% endif %}
{% if d.provider.platform_route %}- When billed by a store or an operator: {{ d.provider.platform_route | md }}
{% endif %}
{% if d.provider.notice %}- Notice / commitment: {{ d.provider.notice | md }}
{% endif %}
{% for law in d.provider.legal_basis %}
- Law: {{ law.basis | md }}. {{ law.text | md }}{% if law.source | safe_url %} Source: <{{ law.source | safe_url }}>{% endif %}

{% endfor %}
{% if d.provider.support_url | safe_url %}- Support: <{{ d.provider.support_url | safe_url }}>
{% endif %}
{% for key, value in d.provider.support_channels | dictsort %}
- {{ CHANNELS.get(key, key) | md }}: {{ value | md }}
{% endfor %}
{% for src in d.provider.sources %}{% if loop.first %}- Sources:{% endif %} <{{ src | safe_url }}>{% endfor %}

{% else %}
No cancellation data for this provider yet (add `[cancel]` to its provider file, see docs/providers.md).
{% endif %}
{% for r in d.platform_routes %}

Billed through {{ r.name | md }}: cancel there, not with {{ d.name | md }}.

{% if r.cancel_url | safe_url %}- Subscriptions page: <{{ r.cancel_url | safe_url }}>
{% endif %}
{% if r.platform_route %}- {{ r.platform_route | md }}
{% endif %}
{% if r.cancel_steps %}- Steps:
{% endif %}
{% for line in (r.cancel_steps or "").splitlines() %}
    {{ loop.index }}. {{ line.split(". ", 1)[-1] | md }}
{% endfor %}
{% endfor %}

## Correspondence

{% for t in d.tickets %}
### Ticket {{ (t.ticket_ref or ("#" ~ t.id)) | md }}: {{ t.subject | md }}

Status: {{ t.status or "unknown" }}; opened {{ (t.opened_at or "?")[:16] }}, last activity {{ (t.last_activity_at or "?")[:16] }}.

{% for e in t.exchanges %}
- **{{ (e.sent_at or "?")[:16] | replace("T", " ") }}** {{ "me →" if e.direction == "outbound" else "← " ~ d.name | md }} ({{ e.channel or "?" }}{% if e.agent_name %}, agent {{ e.agent_name | md }}{% endif %}){% if e.message_sha256 %} sha256 {{ e.message_sha256[:12] }}{% endif %}

  > {{ e.excerpt | md }}
{% for p in e.promises %}
  - Promise: {{ p.text | md }}{% if p.due_on %}, due {{ p.due_on }}{% endif %}: **{{ p.verdict }}**
{% endfor %}
{% endfor %}

{% else %}
No exchange with customer service recorded yet.

{% endfor %}
## Promises

{% for p in d.promises %}
- {{ p.made_on or "?" }}{% if p.agent_name %} ({{ p.agent_name | md }}){% endif %}: {{ p.text | md }}{% if p.due_on %}, due {{ p.due_on }}{% endif %}: **{{ p.verdict }}**
{% else %}
- No promise recorded.
{% endfor %}

## Resolution I want

- What I ask for (cancellation, refund of …, repair by …):
- By when:
- What I will do otherwise (formal notice, mediator, DGCCRF / SignalConso report):
{% for p in d.promises if p.verdict == "overdue" %}
{% if loop.first %}- Promises not kept, to cite:
{% endif %}
    - {{ p.text | md }} (promised {{ p.made_on or "?" }}{% if p.agent_name %} by {{ p.agent_name | md }}{% endif %}, due {{ p.due_on }})
{% endfor %}

## Evidence

{% for m in d.evidence %}
- {{ (m.date or "undated")[:16] | replace("T", " ") }} {{ (m.subject or "(no subject)") | md }} — sha256 `{{ m.sha256 }}`{% if m.message_id %}, Message-ID {{ m.message_id | md }}{% endif %}

{% else %}
- No stored message.
{% endfor %}

Export the raw messages and their checksums with `subtrail export evidence --provider {{ d.slug | md }} --format zip`.
"""

HTML = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Dossier: {{ d.name }}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 58rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
code, .hash { font-family: ui-monospace, monospace; font-size: .9em; }
blockquote { border-left: 3px solid #ccc; margin: .3rem 0 .6rem; padding-left: .8rem; color: #333; }
.overdue { color: #a00; font-weight: bold; } .kept { color: #070; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .2rem .5rem; text-align: left; }
.fill { border-bottom: 1px dotted #999; min-height: 1.5rem; }
@media print { body { margin: 0; max-width: none; } a { color: inherit; } h2 { break-after: avoid; } }
</style></head><body>
<h1>Dossier: {{ d.name }}</h1>
<p>Prepared on {{ d.today }} by subtrail for a contact with {{ d.name }} customer service.</p>

<h2 id="identifiers">Account identifiers</h2>
<ul>
{% for i in d.identifiers %}
<li>{{ LABELS[i.kind] }}: <strong>{{ i.value }}</strong>{% if i.seen %} (in {{ i.seen }} message{{ "s" if i.seen > 1 }}, first {{ (i.first_seen or "")[:10] }}, <span class="hash">{{ (i.sha256 or "")[:12] }}</span>){% else %} (from the inventory){% endif %}</li>
{% else %}
<li>None found in the mails: look for them in your account page.</li>
{% endfor %}
</ul>

<h2 id="subscriptions">Subscription history</h2>
{% for s in d.subscriptions %}
<h3>{{ s.service_name or d.name }}{% if s.plan %} ({{ s.plan }}){% endif %}</h3>
<table>
<tr><th>Status</th><td>{{ s.status or "unknown" }}</td></tr>
<tr><th>Platform</th><td>{{ s.platform or "unknown" }}</td></tr>
<tr><th>Account e-mail</th><td>{{ s.account_email or "unknown" }}</td></tr>
<tr><th>Started on</th><td>{{ s.started_on or "unknown" }}</td></tr>
{% if s.trial_ends_on %}<tr><th>Trial ends on</th><td>{{ s.trial_ends_on }}</td></tr>{% endif %}
<tr><th>Current price</th><td>{{ s.price or "unknown" }}{% if s.billing_period %} every {{ s.billing_period }}{% endif %}</td></tr>
{% if s.next_renewal_on %}<tr><th>Next renewal</th><td>{{ s.next_renewal_on }}</td></tr>{% endif %}
{% if s.last_charged_on %}<tr><th>Last charged on</th><td>{{ s.last_charged_on }}</td></tr>{% endif %}
{% if s.cancelled_on %}<tr><th>Cancelled on</th><td>{{ s.cancelled_on }}{% if s.ends_on %}, service ends on {{ s.ends_on }}{% endif %}</td></tr>{% endif %}
</table>
<p>Price history:</p>
<ul>
{% for p in s.price_history %}<li>since {{ p.since or "?" }}: {{ p.price }}{% if p.period %} / {{ p.period }}{% endif %}</li>
{% else %}<li>no priced event recorded</li>{% endfor %}
</ul>
<p>Last charges:</p>
<ul>
{% for c in s.charges %}<li>{{ c.occurred_on or "?" }}: {{ c.event_type }} {{ c.price }}{% if c.message_sha256 %} <span class="hash">{{ c.message_sha256[:12] }}</span>{% endif %}</li>
{% else %}<li>none recorded</li>{% endfor %}
</ul>
{% else %}
<p>No subscription with {{ d.name }} was found in the mails.</p>
{% endfor %}

<h2 id="cancel">How to cancel</h2>
{% if d.provider %}
<ul>
{% if d.provider.cancel_url | safe_url %}<li>Account page: <a href="{{ d.provider.cancel_url | safe_url }}" rel="noopener noreferrer">{{ d.provider.cancel_url }}</a></li>{% endif %}
{% if d.provider.cancel_steps %}<li>Steps:<ol>{% for line in d.provider.cancel_steps.splitlines() %}<li>{{ line.split(". ", 1)[-1] }}</li>{% endfor %}</ol></li>{% endif %}
{% if d.provider.platform_route %}<li>When billed by a store or an operator: {{ d.provider.platform_route }}</li>{% endif %}
{% if d.provider.notice %}<li>Notice / commitment: {{ d.provider.notice }}</li>{% endif %}
{% for law in d.provider.legal_basis %}<li>Law: {{ law.basis }}. {{ law.text }}{% if law.source | safe_url %} <a href="{{ law.source | safe_url }}" rel="noopener noreferrer">source</a>{% endif %}</li>{% endfor %}
{% if d.provider.support_url | safe_url %}<li>Support: <a href="{{ d.provider.support_url | safe_url }}" rel="noopener noreferrer">{{ d.provider.support_url }}</a></li>{% endif %}
{% for key, value in d.provider.support_channels | dictsort %}<li>{{ CHANNELS.get(key, key) }}: {{ value }}</li>{% endfor %}
{% if d.provider.sources %}<li>Sources: {% for src in d.provider.sources %}{% if src | safe_url %}<a href="{{ src | safe_url }}" rel="noopener noreferrer">{{ src }}</a> {% endif %}{% endfor %}</li>{% endif %}
</ul>
{% else %}
<p>No cancellation data for this provider yet.</p>
{% endif %}
{% for r in d.platform_routes %}
<p>Billed through {{ r.name }}: cancel there, not with {{ d.name }}.
{% if r.cancel_url | safe_url %}<a href="{{ r.cancel_url | safe_url }}" rel="noopener noreferrer">{{ r.cancel_url }}</a>{% endif %}
{% if r.platform_route %}<br>{{ r.platform_route }}{% endif %}</p>
{% if r.cancel_steps %}<ol>{% for line in r.cancel_steps.splitlines() %}<li>{{ line.split(". ", 1)[-1] }}</li>{% endfor %}</ol>{% endif %}
{% endfor %}

<h2 id="correspondence">Correspondence</h2>
{% for t in d.tickets %}
<h3>Ticket {{ t.ticket_ref or ("#" ~ t.id) }}: {{ t.subject }}</h3>
<p>Status: {{ t.status or "unknown" }}; opened {{ (t.opened_at or "?")[:16] }}, last activity {{ (t.last_activity_at or "?")[:16] }}.</p>
<ul>
{% for e in t.exchanges %}
<li><strong>{{ (e.sent_at or "?")[:16] | replace("T", " ") }}</strong> {{ "me →" if e.direction == "outbound" else "← " ~ d.name }} ({{ e.channel or "?" }}{% if e.agent_name %}, agent {{ e.agent_name }}{% endif %}){% if e.message_sha256 %} <span class="hash">{{ e.message_sha256[:12] }}</span>{% endif %}
<blockquote>{{ e.excerpt }}</blockquote>
{% for p in e.promises %}<div>Promise: {{ p.text }}{% if p.due_on %}, due {{ p.due_on }}{% endif %}: <span class="{{ p.verdict }}">{{ p.verdict }}</span></div>{% endfor %}
</li>
{% endfor %}
</ul>
{% else %}
<p>No exchange with customer service recorded yet.</p>
{% endfor %}

<h2 id="promises">Promises</h2>
<ul>
{% for p in d.promises %}<li>{{ p.made_on or "?" }}{% if p.agent_name %} ({{ p.agent_name }}){% endif %}: {{ p.text }}{% if p.due_on %}, due {{ p.due_on }}{% endif %}: <span class="{{ p.verdict }}">{{ p.verdict }}</span></li>
{% else %}<li>No promise recorded.</li>{% endfor %}
</ul>

<h2 id="resolution">Resolution I want</h2>
<p>What I ask for (cancellation, refund of …, repair by …):</p><div class="fill"></div>
<p>By when:</p><div class="fill"></div>
<p>What I will do otherwise (formal notice, mediator, DGCCRF / SignalConso report):</p><div class="fill"></div>
{% for p in d.promises if p.verdict == "overdue" %}{% if loop.first %}<p>Promises not kept, to cite:</p><ul>{% endif %}
<li>{{ p.text }} (promised {{ p.made_on or "?" }}{% if p.agent_name %} by {{ p.agent_name }}{% endif %}, due {{ p.due_on }})</li>
{% if loop.last %}</ul>{% endif %}{% endfor %}

<h2 id="evidence">Evidence</h2>
<table>
<tr><th>Date</th><th>Subject</th><th>sha256</th><th>Message-ID</th></tr>
{% for m in d.evidence %}
<tr><td>{{ (m.date or "undated")[:16] | replace("T", " ") }}</td><td>{{ m.subject or "(no subject)" }}</td><td class="hash">{{ m.sha256 }}</td><td class="hash">{{ m.message_id or "" }}</td></tr>
{% endfor %}
</table>
<p>Export the raw messages and their checksums with <code>subtrail export evidence --provider {{ d.slug }} --format zip</code>.</p>
</body></html>
"""

LABELS = {
    "account_email": "Account e-mail",
    "customer_number": "Customer number",
    "contract_number": "Contract number",
    "account_number": "Account number",
    "login": "Login / identifier",
    "line_number": "Line number",
}
CHANNELS = {
    "form_url": "Contact form",
    "chat": "Chat",
    "phone": "Phone",
    "postal_address": "Postal address (registered letter)",
    "email": "E-mail",
    "mediator": "Consumer mediator",
}


@cache
def markdown_template():  # type: ignore[no-untyped-def]
    return _env(autoescape=False).from_string(MARKDOWN, globals={"LABELS": LABELS, "CHANNELS": CHANNELS})


@cache
def html_template():  # type: ignore[no-untyped-def]
    return _env(autoescape=True).from_string(HTML, globals={"LABELS": LABELS, "CHANNELS": CHANNELS})
