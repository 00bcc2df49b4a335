"""Which lines of a plain-text reply are new text: a line classifier in the spirit of talon.

Every line gets one marker — `e` empty, `t` text, `m` quoted (`>`), `s` attribution, `h` quoted
header, `f` forward separator — and the rules read the marker string, not the words:

- an attribution is "On … wrote:", "Le … a écrit :", "---- X wrote ----", "2026-03-03 9:14 GMT+01:00
  X <x@y>:", the verb-first forms of other languages, and their wrapped forms (each with a year, a time
  or an address, so a sentence is never one), or any "X wrote:" / "X a écrit :" right above a quote;
- a quoted header is an "-----Original Message-----" / "-----Message d'origine-----" separator or a
  header block ("From: / Sent: / To:", "De : / Envoyé le : / À :", Yahoo and Orange "Message du : / De :
  / A :"), with the rule of dashes or underscores drawn just above it. Outlook quotes that way, without
  `>` and without quoting the reply's own history apart, so everything from it to the end is history;
- an attribution followed by unquoted lines opens history that runs to the end;
- an attribution followed by `>` lines is a quote: the quoted lines go, the unquoted lines after and
  between them stay (a reply written under or between the quoted paragraphs);
- a mail whose first marker other than text is a forward separator is a forward: it is all content;
- a line framed with arrows (">>> Visit us <<<") is decoration, not a quote, and a link or a sentence
  wrapped out of a quote without its `>` is still quoted.

Attributions wrapped over several lines count as one splitter, and an attribution glued to the end of
the reply's last line ("Noted. On Tue, … wrote:") is moved to its own line first. Everything here is
regular expressions over single lines, so a reply costs a fraction of a millisecond.
"""

from __future__ import annotations

import quopri
import re

_WEEKDAY = (
    r"(?:mon|tue|wed|thu|fri|sat|sun|lun|mar|mer|jeu|ven|sam|dim)[a-zéè]*\.?"
    r"|(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|lundi|mardi|mercredi|jeudi|vendredi|"
    r"samedi|dimanche)"
)
_QUOTED = re.compile(r"^ {0,3}>")
# "On Tue, 3 Mar 2026 at 09:14, X <x@y> wrote:", "Le 3 mars 2026 à 09:14, X a écrit :", "On … sent:",
# Yahoo "En date de : …, X a écrit :"; bold or dashed ("------On 12/29 …, X wrote-----").
# A client's attribution always carries a year, a time or an address; "Le technicien est passé le 3 mars et
# a envoyé :" is a sentence.
_STAMP = r"(?=.{0,250}?(?:\b(?:19|20)\d\d\b|\d{1,2}[:h.]\d\d|@))"
_ON_WROTE = re.compile(
    rf"^[\s*_>\-]*(?:on|le|en\s+date\s+d[eu]\s*:)\s{_STAMP}.{{0,250}}?"
    r"(?:\b(?:wrote|a\s+écrit)\s*(?::|-{2,})|@.{0,250}\b(?:sent|a\s+envoyé)\s*:)[\s*_\-]*$",
    re.I,
)
# Other languages put the verb before the sender: "Am 3. März 2026 um 09:14 schrieb X <x@y>:", "Den 3. mar.
# 2026 kl. 09.14 skrev X:", "W dniu … użytkownik X napisał:", "02.03.2026 14:20 пользователь X написал:".
_OTHER_OPENING = r"^[\s*_>\-]*(?:am|op|den|på|w\s+dniu|dnia|el|il|em|vào|\d+)\b"
_OTHER_WROTE = re.compile(
    rf"{_OTHER_OPENING}{_STAMP}.{{0,250}}?"
    r"\b(?:schrieb|schreef|geschreven|verzond|skrev|napisał|написал|написала|escribió|ha\s+scritto|escreveu|"
    r"đã\s+viết)\b.{0,150}:\s*$",
    re.I,
)
# Its first words, which fail at once on most lines: tested before lower-casing a long paragraph for the verbs.
_OTHER_START = re.compile(_OTHER_OPENING, re.I)
# Substrings of those verbs, tested with `in` before the pattern runs (a regex search on every line costs more).
_OTHER_VERBS = (
    "schr",
    "geschreven",
    "verzond",
    "skrev",
    "napisa",
    "написал",
    "escribi",
    "scritto",
    "escreveu",
    "viết",
)
# "---- John Smith wrote ----", Zoho "---- On … wrote ----": an attribution framed with dashes.
_DASHED_WROTE = re.compile(r"^\s*-{2,40}.{1,250}\b(?:wrote|a\s+écrit)\b\s*:?\s*-{2,40}\s*$", re.I)
# "Sent from Samsung Mobile X <x@y> wrote:", "Kettle Works <help@kettle.io> a écrit :": an address before it.
_ADDRESS_WROTE = re.compile(
    r"^.{0,200}?[\w.+\-]{1,64}@[\w\-]{1,63}\.[\w.\-]{1,200}.{0,80}\b(?:wrote|a\s+écrit)\s*:\s*$", re.I
)
# "2014-10-17 11:28 GMT+03:00 X <x@y>:", "2011/4/7 X <x@y>", "Thu, 26 Jun 2014 14:00:51 +0400 X <x@y>:".
_DATE_ADDRESS = re.compile(
    rf"^[\s*]*(?:\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}|\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{2,4}}|(?:{_WEEKDAY}),?\s+\d)"
    r".{0,200}?[\s<\[(\"]?[\w.+\-]{1,64}@[\w\-]{1,63}\.[\w.\-]{1,200}[>\])\"]?\s*(?P<colon>:)?\s*$",
    re.I,
)
_ORIGINAL = re.compile(
    r"^[\s*_>]*[-=_]{2,}\s*(?:original\s+message|reply\s+message|message\s+d'origine|message\s+d’origine|"
    r"message\s+original|message\s+initial|mail\s+original|mail\s+d'origine|message\s+de\s+réponse|réponse|ursprüngliche\s+nachricht|"
    r"antwort\s+nachricht|oprindelig\s+meddelelse|mensaje\s+original|messaggio\s+originale|"
    r"oorspronkelijk\s+bericht|originalmeddelande)\s*[-=_]{2,}[\s*_]*$",
    re.I,
)
_FORWARD = re.compile(
    r"^[\s*_]*(?:-{2,}\s*(?:forwarded\s+message|message\s+transféré|message\s+réexpédié)\s*-{2,}"
    r"|begin\s+forwarded\s+message\s*:|début\s+du\s+message\s+(?:réexpédié|transféré)\s*:)[\s*_]*$",
    re.I,
)
# A header field of a quoted mail, bold or not: "From:", "*Envoyé :*", "De :", "Message du :".
_FIELD = re.compile(
    r"^\s*[*_]*(?:(?P<orange>message\s+du)(?=\s+\d)|(?P<name>from|de|sent|envoyé(?:\s+le)?|date|to|à|a|cc|cci|"
    r"bcc|subject|objet|sujet|reply-to|répondre\s+à|copie\s+à|message\s+du|expéditeur|destinataire|on\s+behalf\s+of"
    # German, Dutch, Danish, Norwegian, Swedish, Polish, Russian, Spanish, Italian, Portuguese, Vietnamese
    r"|von|van|fra|från|od|от|da|từ|gesendet|verzonden|sendt|skickat|wysłano|отправлено|datum|data|fecha|enviado|"
    r"inviato|an|aan|til|till|do|кому|para|betreff|onderwerp|emne|ämne|temat|тема|asunto|oggetto|assunto)"
    r"[*_]*\s*:)",
    re.I,
)
_FROM_FIELDS = {"from", "de", "expéditeur", "message du", "von", "van", "fra", "från", "od", "от", "da", "từ"}
_DATE_FIELDS = {"sent", "envoyé", "envoyé le", "date", "gesendet", "verzonden", "sendt", "skickat", "wysłano"}
_DATE_FIELDS |= {"отправлено", "datum", "data", "fecha", "enviado", "inviato"}
_TO_FIELDS = {"to", "à", "a", "destinataire", "cc", "an", "aan", "til", "till", "do", "кому", "para"}
_HEADER_VALUE = re.compile(r"@|\d")  # a quoted header gives an address or a date
_RULE = re.compile(r"^[\s>*]*[-_=]{5,}[\s*]*$")
# Cheap test before joining a line with the next ones: the first words an attribution can start with.
_ON_START = re.compile(r"^[\s*_>\-]*(?:on|le)\s", re.I)
_ATTRIBUTION_START = re.compile(
    rf"^[\s*_>\-]*(?:on|le|en\s+date|sent\s+from|\d+|{_WEEKDAY}|am|op|den|på|w\s+dniu|dnia|el|il|em|vào)\b",
    re.I,
)
# An attribution glued after the reply's text on the same line: "reply On Wed, Apr 4, 2012 at 3:59 PM, x wrote:".
_GLUED = re.compile(
    rf"(?<=\S)\s*(?P<split>(?:-+\s*|\b)(?:On|Le)\s+(?:{_WEEKDAY}|\d).{{3,200}}?\b(?:wrote|a\s+écrit)\s*:)\s*$",
    re.I,
)
# "Kettle Works a écrit :", "Quoting Desk <d@x.io>:", "Citation de X :" right above a quote introduce it.
_INTRO = re.compile(
    r"^(?:.{0,200}\b(?:wrote|a\s+écrit)|\s*(?:quoting|citation\s+de)\b.{0,200})\s*:\s*$", re.I
)
_LINK_OPEN = re.compile(r"\(https?://")
# Escapes only quoted-printable writes: UTF-8 sequences, accented Latin-1 letters, '=' and spaces.
_QP_ESCAPE = re.compile(r"=(?:[C-F][0-9A-F]=[89AB][0-9A-F]|[C-F][0-9A-F]|3D|20|09)")
# A quoted header block (a dozen fields at most, some wrapped) never runs longer: the scan stops there.
_MAX_HEADER_LINES = 24
# An attribution spreads over at most this many extra lines (Polymail puts the address on three).
_MAX_JOIN = 5


def prepare(text: str) -> list[str]:
    """Lines of a body with undecoded quoted-printable repaired and glued attributions cut off."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "=\n" in text and len(_QP_ESCAPE.findall(text)) >= 2:
        # A part whose transfer encoding was lost still reads "w=\nrote:" and "=E2=80=AF".
        raw = quopri.decodestring(text.encode("utf-8"))
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252", errors="replace")
    lines = text.split("\n")
    out: list[str] = []
    for index, line in enumerate(lines):
        glued = _GLUED.search(line) if "wrote" in line or "écrit" in line else None
        if glued and not _QUOTED.match(line) and _next_is_quote_or_end(lines, index):
            out.extend([line[: glued.start()].rstrip(), glued.group("split").strip()])
        else:
            out.append(line)
    return out


def _next_is_quote_or_end(lines: list[str], index: int) -> bool:
    for line in lines[index + 1 :]:
        if line.strip():
            return bool(_QUOTED.match(line))
    return True


def mark(lines: list[str]) -> str:
    """The marker string of `lines` (one of e, t, m, s, h, f per line)."""
    marks = ["e" if not line.strip() else "m" if _QUOTED.match(line) else "t" for line in lines]
    index = 0
    while index < len(lines):
        if marks[index] != "t":
            index += 1
            continue
        line = lines[index].strip()
        if _FORWARD.match(line):
            marks[index] = "f"
        elif _ORIGINAL.match(line):
            marks[index] = "h"
        elif span := _splitter_span(lines, index):
            for j in range(index, index + span):
                marks[j] = "s"
            index += span
            continue
        elif span := _header_block(lines, marks, index):
            for j in range(index, index + span):
                marks[j] = "h"
            _mark_rule_above(lines, marks, index)
            index += span
            continue
        index += 1
    for index, mark_ in enumerate(marks):
        if mark_ in "sh" and (index == 0 or marks[index - 1] != mark_):
            _mark_rule_above(lines, marks, index)
        elif mark_ == "m" and (index == 0 or marks[index - 1] != "m"):
            _mark_intro_above(lines, marks, index)
    return "".join(marks)


def _splitter_span(lines: list[str], index: int) -> int:
    """How many lines the attribution or separator starting at `index` takes (0: none)."""
    line = lines[index].strip()
    if _is_splitter_line(line, lines, index + 1):
        return 1
    if not _ATTRIBUTION_START.match(line) or len(line) > 250 or line.endswith((".", "!", "?")):
        return 0  # a sentence that starts with "Le …" or a date is no attribution
    joined = line
    blank = False
    for extra in range(1, _MAX_JOIN + 1):
        if index + extra >= len(lines):
            break
        part = lines[index + extra].strip()
        if len(part) > 120 or _ON_START.match(part):
            break  # an attribution never holds a long line, nor another attribution's start
        blank = blank or not part
        joined = f"{joined} {part}".strip()
        if _ON_WROTE.match(joined) or _OTHER_WROTE.match(joined):
            return extra + 1
        if not blank and (_ADDRESS_WROTE.match(joined) or _is_date_address(joined, lines, index + extra + 1)):
            return extra + 1
    return 0


def _is_splitter_line(line: str, lines: list[str], after: int) -> bool:
    wrote = "wrote" in line or "écrit" in line
    if wrote and _DASHED_WROTE.match(line):
        return True
    if (wrote or "sent" in line or "envoyé" in line) and (
        _ON_WROTE.match(line) or _ADDRESS_WROTE.match(line)
    ):
        return True
    if (
        _OTHER_START.match(line)
        and any(verb in line.lower() for verb in _OTHER_VERBS)
        and _OTHER_WROTE.match(line)
    ):
        return True
    return "@" in line and _is_date_address(line, lines, after)


def _is_date_address(text: str, lines: list[str], after: int) -> bool:
    """A date then an address: an attribution when it ends with ':' or a quote follows it."""
    match = _DATE_ADDRESS.match(text)
    if not match:
        return False
    if match.group("colon"):
        return True
    for line in lines[after : after + 3]:
        if line.strip():
            return bool(_QUOTED.match(line))
    return False


def opens_with_header(lines: list[str]) -> bool:
    """Whether `lines` start with a quoted mail's header block (the HTML side asks it after a rule)."""
    filled = [line for line in lines if line.strip()]
    return bool(filled) and _header_block(filled, ["t"] * len(filled), 0) > 0


def _header_block(lines: list[str], marks: list[str], index: int) -> int:
    """Lines taken by a quoted mail's header block starting at `index` (0: not one).

    A block is two or more header fields, at most one blank line or two wrapped value lines apart; it
    names a sender ("From:", "De :", "Message du :"), or a date and a recipient ("Date: … / To: …").
    "Date: … / Time: … / Address: …" in an invitation is not one.
    """
    first = _FIELD.match(lines[index])
    if not first:
        return 0
    names = {_field_name(first)}
    end = index + 1
    gap = 0
    cursor = index + 1
    while cursor < min(len(lines), index + _MAX_HEADER_LINES) and marks[cursor] != "m":
        line = lines[cursor]
        field = _FIELD.match(line) if line.strip() else None
        if field:
            names.add(_field_name(field))
            end = cursor + 1
            gap = 0
        else:
            gap += 1
            if gap > 2 or (not line.strip() and cursor + 1 < len(lines) and not lines[cursor + 1].strip()):
                break
        cursor += 1
    if len(names) < 2 or not _HEADER_VALUE.search(" ".join(lines[index:end])):
        return 0  # "From: my side it works. / To: be honest…" names no address and no date
    if names & _FROM_FIELDS or (names & _DATE_FIELDS and names & _TO_FIELDS):
        return end - index
    return 0


def _field_name(field: re.Match[str]) -> str:
    return (field.group("orange") or field.group("name")).lower()


def _mark_intro_above(lines: list[str], marks: list[str], index: int) -> None:
    """An attribution of any form ("Kettle Works a écrit :") directly above a quote is one."""
    above = index - 1
    while above >= 0 and marks[above] == "e" and index - above < 3:
        above -= 1
    if above >= 0 and marks[above] == "t" and _INTRO.match(lines[above]):
        marks[above] = "s"


def _mark_rule_above(lines: list[str], marks: list[str], index: int) -> None:
    """The line of dashes or underscores a client draws above a quoted header belongs to it."""
    above = index - 1
    while above >= 0 and marks[above] == "e":
        above -= 1
    if above >= 0 and marks[above] == "t" and _RULE.match(lines[above]):
        marks[above] = marks[index]


def new_lines(lines: list[str], marks: str | None = None) -> list[str]:
    """The lines of the newest message: quoted history, attributions and quoted header blocks removed."""
    marks = marks if marks is not None else mark(lines)
    if "m" in marks:
        # ">>> Visit our site <<<" is decoration, not a quote: no client closes a quoted line with '<'.
        marks = "".join(
            "t" if mark_ == "m" and _is_decoration(lines[index]) else mark_
            for index, mark_ in enumerate(marks)
        )
    first = re.search("[smfh]", marks)
    if first and marks[first.start()] == "f":
        return lines  # a forward: the forwarded mail is the content
    marks = _links_inside_quotes(lines, marks)
    out: list[str] = []
    index = 0
    while index < len(lines):
        mark_ = marks[index]
        if mark_ in "te":
            out.append(lines[index])
            index += 1
        elif mark_ == "m":
            index += 1
        elif mark_ == "h":
            break  # Outlook's quote: a header block or "-----Original Message-----", then history to the end
        else:
            after = index
            while after < len(lines) and marks[after] in "sef":
                after += 1
            if after < len(lines) and marks[after] == "t":
                break  # history without quote marks runs to the end
            index = after
    if not any(line.strip() for line in out):
        # Nothing left (a mail that is only a pasted header and its body): its unquoted text is the content.
        return [line for line, mark_ in zip(lines, marks, strict=True) if mark_ in "te"]
    return out


def _is_decoration(line: str) -> bool:
    """'>>> Visit us <<<': arrows on both sides, words between (no regex: a line of arrows must stay cheap)."""
    stripped = line.strip()
    inner = stripped.strip("<> ")
    return stripped.startswith(">>") and stripped.endswith("<<") and any(char.isalnum() for char in inner)


def _links_inside_quotes(lines: list[str], marks: str) -> str:
    """A line wrapped out of a quote is still quoted: a long link ('> View (http://x' / ' _nonce=3)'), or the
    end of a long quoted sentence that a client re-wrapped without its '>' (one line, lower case, no blank)."""
    chars = list(marks)
    for match in re.finditer(r"(?<=m)e*(t)e*(?=m)", marks):
        index = match.start(1)
        previous = lines[match.start() - 1]
        line = lines[index].strip()
        if _LINK_OPEN.search(previous) or _LINK_OPEN.match(line):
            chars[index] = "m"
        elif (
            match.start() == index and match.end() == index + 1 and len(previous) >= 60 and line[:1].islower()
        ):
            chars[index] = "m"
    return "".join(chars)
