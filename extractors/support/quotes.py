"""The new text of a reply: without quoted history, helpdesk banners, footers or signature.

Which lines are quoted history is `extractors.support.reply_lines`' job (a line classifier in the
spirit of talon: attributions and header blocks of every common client, FR and EN, bottom-posted and
interleaved replies). Here come the rest: the HTML quote markup (gmail_quote, blockquote, Outlook's
divRplyFwdMsg or bordered header, a rule followed by a header block), helpdesk banners and the
"full thread" notifications of Zendesk, app and list footers, and a sign-off detector that returns
the signature separately, since the agent's name is in it. bench/bench_quote_suites.py measures this
on the peer parsers' own suites, bench/bench_journal_accuracy.py on the labelled fixtures.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, PageElement, Tag

from extractors.mail.html import html_to_text, tree_to_text
from extractors.support.names import VALEDICTION, clean_name
from extractors.support.reply_lines import mark, new_lines, opens_with_header, prepare

_MAX_CHARS = 200_000  # new text comes first: past this, a body is history or an attachment pasted in

_SPACE_CHARS = "\u00a0\u202f\u2007\t\u200e\u200f"  # no-break spaces, tabs, direction marks
# "##- Veuillez répondre au-dessus de cette ligne -##", "## Please type your reply above this line ##".
_BANNER = re.compile(
    r"^\s*[#\-=*]*\s*(?:[\w'’]+\s+){1,6}(?:above\s+this\s+line|au[- ]dessus\s+de\s+cette\s+ligne)\s*[#\-=*]*\s*$",
    re.I,
)
# Helpdesk lines after which everything is boilerplate or the desk's own copy of the thread.
_CUT_LINE = re.compile(
    r"^\s*(?:this\s+email\s+is\s+a\s+service\s+from\b.*"
    r"|ce\s+(?:message|courriel|e-mail)\s+est\s+un\s+service\s+de\b.*"
    r"|\[[0-9A-Z]{6}-[0-9A-Z]{4,5}\]"
    r"|\[?\s*ref:\S+:ref\s*\]?|thread::[0-9A-Za-z_\-]+::"
    r"|(?:ceci\s+est\s+un\s+message\s+automatique|merci\s+de\s+ne\s+pas\s+répondre\s+à\s+(?:ce|cet)\b).*"
    r"|(?:please\s+do\s+not\s+reply\s+to\s+this\s+(?:e-?mail|message)).*"
    r")$",
    re.I,
)
# A client's footer: "Sent from my iPhone", "Sent from TypeApp", "Envoyé à partir de Outlook pour iOS". Short and
# unpunctuated, so "Sent from my desk, is much easier than my phone." stays text. It closes the new text and is
# returned with the signature (the peers keep it in the reply).
_FOOTER = re.compile(
    r"^(?:sent\s+(?:from|with|via)|envoyé\s+(?:de|depuis|à\s+partir\s+de|avec|via)|get\s+outlook\s+for|"
    r"obtenir\s+outlook\s+pour|télécharger\s+outlook\s+pour)\s+[\w'’.\- ]{1,50}$",
    re.I,
)
_RULE = re.compile(r"^[-_=*\s]{5,}$")
# "-Abhishek Kona", "-- Julie", "/John": a dash or a slash and a name alone on the last line sign the mail.
_DASH_NAME = re.compile(r"^(?:-{1,2}|/)\s?(?P<name>[A-ZÀ-Ý][\w'’.\-]*(?:\s+[A-ZÀ-Ý][\w'’.\-]*){0,3})$")
_LIST_FOOTER = re.compile(r"^\S+\s+mailing\s+list$|/mailman/listinfo/|^to\s+unsubscribe\b", re.I)
_UPDATE_LINE = re.compile(
    r"^(?:your\s+request\s+\(\d+\)\s+has\s+been\s+updated|votre\s+demande\s+\(\d+\)\s+a\s+été\s+mise\s+à\s+jour)\b.*$",
    re.I,
)
_COMMENT_STAMP = re.compile(
    r"^(?:\d{1,2}\s+[a-zéû]{3,9}\.?\s+\d{4}|[a-z]{3,9}\.?\s+\d{1,2},\s+\d{4}),?\s+\d{1,2}:\d{2}(?:\s*[ap]m)?"
    r"(?:\s+(?:utc|gmt)\s*(?:[+-]\d{1,2}(?::\d{2})?)?)?$",
    re.I,
)
_MAX_SIGNATURE_LINES = 6
# "Nathalie, votre conseillère Orange", "Priya | Customer Care": a name then a role, closing the mail.
_NAME_ROLE_LINE = re.compile(
    r"^[A-ZÀ-Ý][a-zà-ÿ'’\-]+(?:\s+[A-ZÀ-Ý][a-zà-ÿ'’.\-]*)?\s*(?:,|\||–|-|\bfrom\b|\bde\b)\s*"
    r".{0,40}\b(?:conseill\w*|advisor|adviser|agent|support|service|care|team|équipe|customer|client\w*)\b.{0,30}$",
    re.I,
)
# A closing line that signs for a team, not a person: "L'équipe Free Mobile", "The Spotify Support Team".
_TEAM_LINE = re.compile(
    r"^(?:(?i:l['’]équipe\b|(?:le\s+|votre\s+)?service\s+(?:client(?:s|èle)?|abonnés?|consommateurs?|réclamations?)\b)"
    r"[^.?!:]{0,40}"
    # English team names are Title Case ("The Spotify Support Team"); "Contact our support team" is a sentence.
    r"|(?:The\s+)?(?:[A-Z0-9][\w+&.'’\-]*\s+){1,4}(?:Support|Customer\s+(?:Service|Care)|Help\s*[Dd]esk|Care|Team)"
    r"(?:\s+Team)?)$"
)
_ROLE_LINE = re.compile(
    r"\b(?:conseill\w*|chargée?\s+de\s+clientèle|service\s+clients?|advisor|adviser|agent|specialist|"
    r"support|customer\s+(?:care|service|success)|team|équipe)\b",
    re.I,
)
_GREETING = re.compile(
    r"^(?:bonjour|bonsoir|hello|hi|hey|dear|cher|chère|madame|monsieur)\b[^.!?]{0,40}[,!]?$", re.I
)

# HTML elements that hold quoted history (class or tag), and those after which everything is quoted (id).
_HTML_QUOTE_CLASSES = {"gmail_quote", "moz-cite-prefix", "yahoo_quoted"}
_HTML_QUOTE_IDS = {"appendonsend"}
_HTML_CUT_IDS = {"divrplyfwdmsg", "mail-editor-reference-message-container", "olk_src_body_section"}
_MAX_RULES = 20  # rules looked at for a quoted header: history follows one of the first, never the 500th
_HTML_MARKERS = (
    "gmail_quote",
    "<blockquote",
    "divrplyfwdmsg",
    "moz-cite-prefix",
    "yahoo_quoted",
    "appendonsend",
    "border-top:solid",
    "olk_src_body_section",
    "mail-editor-reference-message-container",
    "<hr",
)
_NO_TEXT = ("style", "script", "title", "head")
# Outlook's bordered quote div opens on the sender's label ("From:", "De :"); a desk's summary opens otherwise.
_OUTLOOK_FROM = re.compile(r"^\s*\*?(?:de|from|von|van|fra|från|od)\s*\*?\s*:", re.I)
_HEADER_STRINGS = 40  # strings read after a rule or in a bordered div to recognise a header block
# The first words of a quoted header as HTML renders them: "From:", "De :", "Date:", "*Envoyé :*".
_HTML_HEADER = re.compile(
    r"^\s*\*?(?:de|from|envoyé(?:\s+le)?|sent|date|à|a|to|objet|subject|message\s+du)\s*\*?\s*:", re.I
)


@dataclass
class Reply:
    """`text` is the new text; `signature` the sign-off block cut from its end (agent names live there)."""

    text: str
    signature: str = ""


def split_reply(body_text: str, body_html: str | None = None, sender_name: str | None = None) -> Reply:
    """New text and signature of a message body; never raises (worst case: the whole body).

    The text part is read first; the HTML part only when the text part is empty or shows no quote
    while the markup does (a client that sends the whole thread as HTML and a flat text copy).
    `sender_name` (the From display name) lets a bare name closing the mail count as its signature.
    """
    try:
        lines = _lines(body_text or "")
        marks = mark(lines)
        if body_html and (
            not "".join(lines).strip() or (not re.search("[smh]", marks) and _has_html_quote(body_html))
        ):
            stripped = _lines(strip_html_quotes(body_html[:_MAX_CHARS]))
            if any(line.strip() for line in stripped):
                lines = stripped
            elif not any(line.strip() for line in lines):
                # Nothing outside the quote markup: a template that indents with <blockquote>, not a quote.
                lines = _lines(html_to_text(body_html[:_MAX_CHARS]))
            marks = mark(lines)
        return _split_lines(lines, marks, sender_name)
    except Exception:
        return Reply(text=(body_text or "").strip())


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in prepare(_plain_spaces(text[:_MAX_CHARS]))]


def _plain_spaces(text: str) -> str:
    """Each of `_SPACE_CHARS` made a plain space: one search for a single character is far cheaper on a
    long body than a regex over a class (and replaces nothing, copies nothing, where none is found)."""
    for char in _SPACE_CHARS:
        text = text.replace(char, " ")
    return text


def _has_html_quote(html: str) -> bool:
    lowered = html.lower()
    return any(marker in lowered for marker in _HTML_MARKERS)


def strip_html_quotes(html: str) -> str:
    """Text of an HTML body with its quoted history removed (the markup says what is quoted)."""
    soup = BeautifulSoup(html, "lxml")
    quotes: list[Tag] = []
    cut_points: list[Tag] = []
    rules: list[Tag] = []
    for node in soup.find_all(True):  # one walk, not one CSS query per client (soupsieve is slow on big mail)
        ident = str(node.get("id") or "").lower()
        if ident in _HTML_CUT_IDS:
            cut_points.append(node)
        elif (
            node.name == "blockquote"
            or ident in _HTML_QUOTE_IDS
            or _HTML_QUOTE_CLASSES & set(node.get("class") or ())
        ):
            quotes.append(node)
        elif node.name == "hr":
            rules.append(node)
        elif node.name == "div" and "border-top" in str(node.get("style") or "").lower():
            # Outlook desktop: no id, a div with a top border holding "From: … Sent: …" / "De : … Envoyé : …".
            if _OUTLOOK_FROM.match(_plain_spaces(next((t for t in node.stripped_strings), ""))):
                cut_points.append(node)
    for node in cut_points:
        if node.decomposed:
            continue
        previous = node.find_previous_sibling()
        if previous is not None and previous.name == "hr":
            previous.decompose()
        _cut_from(node)
    for node in quotes:
        if not node.decomposed:
            node.decompose()
    for rule in rules[:_MAX_RULES]:
        if not rule.decomposed and _header_follows(rule):
            _cut_from(_quote_container(rule, soup))
            break
    return tree_to_text(soup)


def _header_follows(rule: Tag) -> bool:
    """A rule (Hotmail, Outlook 2003, webmails) opens the quote when a header block comes right after it."""
    return _header_in(rule.find_all_next(string=True, limit=_HEADER_STRINGS))


def _header_in(strings: Iterable[PageElement]) -> bool:
    """Whether these strings (the next ones in the tree) start with a quoted mail's header block: the
    text classifier decides, so a desk's own "Date : … / Montant : …" under a rule is no header."""
    lines: list[str] = []
    for count, string in enumerate(strings):
        if count >= _HEADER_STRINGS:
            break
        text = _plain_spaces(str(string)).strip()
        if type(string) is not NavigableString or not text or string.parent.name in _NO_TEXT:
            continue
        # A label and its value are separate strings ("<b>From:</b> x@y"): glue each value to its label.
        if lines and lines[-1].endswith(":") and not _HTML_HEADER.match(text):
            lines[-1] = f"{lines[-1]} {text}"
        else:
            lines.append(text)
    return opens_with_header(lines)


def _quote_container(rule: Tag, soup: BeautifulSoup) -> Tag:
    """The block that holds the rule, unless it also holds the reply's first words: clients wrap the
    separator, the header and the quoted mail in one element."""
    parent = rule.parent
    if parent is None or parent.name in ("body", "html", "[document]"):
        return rule
    root = soup.body or soup
    first = next(
        (
            string
            for string in root.descendants  # a generator: stops at the first words
            if type(string) is NavigableString and string.strip() and string.parent.name not in _NO_TEXT
        ),
        None,
    )
    inside = first is not None and any(ancestor is parent for ancestor in first.parents)
    return rule if inside else parent


def _cut_from(node: Tag) -> None:
    """Remove `node` and everything after it in document order: the quoted header and the history below."""
    current: Tag | None = node
    while current is not None and current.name not in ("body", "html", "[document]"):
        for sibling in list(current.next_siblings):
            sibling.extract()  # strings too: find_next_siblings() returns only tags
        current = current.parent
    node.decompose()


def _split_lines(lines: list[str], marks: str, sender_name: str | None = None) -> Reply:
    lines = _latest_comment(_drop_banner(lines))
    if len(lines) != len(marks):
        marks = mark(lines)
    kept: list[str] = []
    footer: list[str] = []
    for line in new_lines(lines, marks):
        stripped = line.strip()
        if _FOOTER.match(stripped):
            footer = [stripped]
            break
        if _CUT_LINE.match(line):
            break
        kept.append(stripped)
    kept = _drop_list_footer(kept)
    while kept and (not kept[-1] or _RULE.match(kept[-1])):
        kept.pop()
    body, signature = _split_signature(kept, _name_forms(sender_name))
    return Reply(text=_tidy(body), signature=_tidy([*signature, *footer]))


def _drop_list_footer(lines: list[str]) -> list[str]:
    """A mailing list's footer paragraph ("riak-users mailing list", a listinfo URL) is not the sender's text."""
    for index, line in enumerate(lines):
        lowered = line.lower()
        if (
            "mailing" in lowered or "listinfo" in lowered or "unsubscribe" in lowered
        ) and _LIST_FOOTER.search(line):
            start = index
            while start > 0 and lines[start - 1] and not re.fullmatch(r"[_\-=]{10,}", lines[start - 1]):
                start -= 1
            if start > 0 and re.fullmatch(r"[_\-=]{10,}", lines[start - 1]):
                start -= 1
            return lines[:start]
    return lines


def _drop_banner(lines: list[str]) -> list[str]:
    """A banner at the top of a helpdesk mail goes; one further down starts the quoted history."""
    for index, line in enumerate(lines):
        if _BANNER.match(line):
            if all(not earlier.strip() for earlier in lines[:index]):
                return lines[index + 1 :]
            return lines[:index]
    return lines


def _latest_comment(lines: list[str]) -> list[str]:
    """Zendesk "full thread" notifications list the comments newest first, each under its author and a time
    ("Lisa (Audible)" / "7 avr. 2026, 10:12 UTC+02:00"), with no quote marks: keep the newest comment's text."""
    stamps = [index for index, line in enumerate(lines) if _COMMENT_STAMP.match(line.strip())]
    if not stamps:
        return lines
    updated = any(_UPDATE_LINE.match(line.strip()) for line in lines[: stamps[0]])
    if len(stamps) < 2 and not updated:
        end = _above(lines, stamps[0])  # the author's line
        if any(line.strip() for line in lines[:end]):
            # the desk's text above, then an earlier comment under its author and time: that comment is history,
            # and so is the rule the desk draws between them
            rule = _above(lines, end)
            return lines[: rule if rule < end and _RULE.match(lines[rule]) else end]
        return lines
    end = len(lines)
    if len(stamps) > 1:
        end = stamps[1]
        while end > stamps[0] + 1 and not lines[end - 1].strip():
            end -= 1
        end -= 1  # the next comment's author line
    return lines[stamps[0] + 1 : max(end, stamps[0] + 1)]


def _above(lines: list[str], index: int) -> int:
    """Index of the last non-blank line before `index` (or `index` itself when there is none)."""
    above = index - 1
    while above >= 0 and not lines[above].strip():
        above -= 1
    return above if above >= 0 else index


def _name_forms(sender_name: str | None) -> set[str]:
    if not sender_name:
        return set()
    name = re.sub(r"[\"'()]", "", sender_name).strip().lower()
    return {name, name.split()[0]} if name else set()


def _split_signature(lines: list[str], names: set[str]) -> tuple[list[str], list[str]]:
    """Cut at '-- ', at the last sign-off followed only by a few short lines, at a team line or my name."""
    for index, line in enumerate(lines):
        if line in ("--", "-- "):
            return lines[:index], lines[index:]  # the delimiter stays with the block, as the peers keep it
    filled = [i for i, line in enumerate(lines) if line]
    if len(filled) > 1 and filled[-1] - 1 not in filled:
        dashed = _DASH_NAME.match(lines[filled[-1]])
        if dashed and clean_name(dashed.group("name")):
            return lines[: filled[-1]], lines[filled[-1] :]
    closing: list[str] = []
    while True:
        filled = [i for i, line in enumerate(lines) if line]
        if len(filled) < 2:
            break
        last = lines[filled[-1]]
        if not _is_sender_name(last, names) and not _TEAM_LINE.match(last):
            if not closing and _is_name_and_role(last):
                closing.insert(0, last)  # a name-and-role line signs the mail even without "Cordialement"
                lines = lines[: filled[-1]]
            break
        closing.insert(0, last)
        lines = lines[: filled[-1]]
    if closing and not VALEDICTION.match(closing[0]):
        filled = [i for i, line in enumerate(lines) if line]
        if len(filled) > 1 and filled[-1] == len(lines) - 1 and _is_bare_name(lines[filled[-1]]):
            closing.insert(0, lines[filled[-1]])  # "Claire" right above "Service Abonnés du Monde"
            lines = lines[: filled[-1]]
    body, signature = _valediction_split(lines)
    if not signature and not closing:
        body, signature = _name_block_split(body)
    return body, [*signature, *closing]


def _is_sender_name(line: str, names: set[str]) -> bool:
    """`line` is one of the sender's name forms ("Julie,"). Stripping before lowering gives the same words (no
    letter lowers to " ,.") and lowering never shortens them: a long paragraph is not lowered to be compared."""
    words = line.strip(" ,.")
    return len(words) <= max(map(len, names), default=-1) and words.lower() in names


def _name_block_split(lines: list[str]) -> tuple[list[str], list[str]]:
    """'Nathalie / Conseillère Service Clients / Bouygues Telecom' closing the mail without a sign-off:
    a last paragraph of a few short lines, a bare name first, a role or team after it."""
    filled = [i for i, line in enumerate(lines) if line]
    if len(filled) < 3:
        return lines, []
    start = filled[-1]
    while start > 0 and lines[start - 1]:
        start -= 1
    block = lines[start : filled[-1] + 1]
    if (
        start == 0
        or not 2 <= len(block) <= 4
        or any(len(line) > 50 or line.endswith((".", "?", "!", ":")) for line in block)
    ):
        return lines, []
    if not _is_bare_name(block[0]) or not any(_is_role_or_team(line) for line in block[1:]):
        return lines, []
    return lines[:start], block


def _is_role_or_team(line: str) -> bool:
    return bool(_TEAM_LINE.match(line) or _ROLE_LINE.search(line))


def _is_bare_name(line: str) -> bool:
    return len(line) <= 40 and clean_name(line) == line.strip()


def _is_name_and_role(line: str) -> bool:
    """'Nathalie, votre conseillère Orange' yes; 'Merci de contacter le service client' no (not a name)."""
    return (
        len(line) <= 70
        and not line.endswith((".", "?", "!", ":"))
        and bool(_NAME_ROLE_LINE.match(line))
        and not VALEDICTION.match(line)
        and clean_name(line) is not None
    )


def _valediction_split(lines: list[str]) -> tuple[list[str], list[str]]:
    """Cut at the last sign-off followed by a signature: a few short lines, then at most a legal footer."""
    for index in range(len(lines) - 1, -1, -1):
        match = VALEDICTION.match(lines[index])
        if not match:
            continue
        tail = [line for line in lines[index + 1 :] if line]
        if len(tail) > _MAX_SIGNATURE_LINES or any(len(line) > 70 for line in tail):
            if not _signs_before_footer(match, lines[index + 1 :]):
                break
            # "Cordialement,\nJulie, conseillère\n\nSAS au capital de … RCS Paris …": the footer goes too.
        if not any(line and not _GREETING.match(line) for line in lines[:index]):
            # "Merci !" alone is the message, not a sign-off: keep it, the name after it is the signature.
            return lines[: index + 1], lines[index + 1 :]
        return lines[:index], lines[index:]
    return lines, []


def _signs_before_footer(match: re.Match[str], after: list[str]) -> bool:
    """The sign-off's own block (up to the first blank line) names a person or a team."""
    block: list[str] = []
    for line in after:
        if not line:
            break
        block.append(line)
    candidates = [match.group("rest") or "", *block]
    if len(block) > _MAX_SIGNATURE_LINES or any(len(line) > 70 for line in block):
        return False
    return any(clean_name(c) or _TEAM_LINE.match(c) or _is_name_and_role(c) for c in candidates if c)


def is_greeting(line: str) -> bool:
    """'Bonjour Julie,', 'Hi,': the opening line, which carries no content of its own."""
    return bool(_GREETING.match(line.strip()))


def _tidy(lines: list[str]) -> str:
    text = "\n".join(lines).strip()
    # The regex has no literal prefix to skip ahead with: it would try every position of a long signature.
    return re.sub(r"\n{3,}", "\n\n", text) if "\n\n\n" in text else text
