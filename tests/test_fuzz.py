"""Property tests over generated MIME trees: parse -> extract -> store never loses a message.

Messages are rendered by hand (not by the `email` package) so they can be as broken as real mail:
random nesting, charsets that lie, bogus transfer encodings, folded and RFC 2047 headers, mixed line
endings, then truncated or corrupted. Invariants: no unhandled exception anywhere, raw bytes
stored byte-exact, re-import changes nothing, every parse problem is an `ingest_errors` row.
Example counts are bounded so the module runs in about 30 s on 2 shared cores.
"""

from __future__ import annotations

import base64
import quopri
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from extractors import EVENT_TYPES, KINDS, Identity
from extractors.mail.parse import parse_message
from ingest.pipeline import prepare
from ingest.pipeline.importer import import_paths
from ingest.pipeline.pool import prepare_chunks
from ingest.store import Job, Location
from ingest.store.schema import open_db

_NO_EOL = bytes.maketrans(b"\r\n", b"  ")
IDENTITY = Identity(frozenset({"alice@example.org"}))
CHARSETS = [
    "utf-8",
    "iso-8859-1",
    "windows-1252",
    "koi8-r",
    "shift_jis",
    "utf-16",
    "x-unknown",
    "",
    '"utf-8"',
]
ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "binary", "x-uuencode", "BASE64", ""]
LEAF_TYPES = [
    "text/plain",
    "text/html",
    "application/octet-stream",
    "image/png",
    "application/pdf",
    "text/calendar",
]
SUBTYPES = ["mixed", "alternative", "related", "report", "signed", "digest"]
SETTINGS = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

words = st.sampled_from(
    ["Netflix", "receipt", "reçu", "abonnement", "13,49 €", "$9.99", "renouvellement", "<script>", "Ticket #42",
     "annulé", "trial", "—", "日本語", "Привет", "\u202e", "=?", "?=", "\x00", "\x1b[31m", "</p>", "&amp;"]
)  # fmt: skip
text = st.one_of(st.text(max_size=200), st.lists(words, max_size=30).map(" ".join))


@dataclass
class Leaf:
    ctype: str
    charset: str
    encoding: str
    body: str
    filename: str | None


@dataclass
class Multi:
    subtype: str
    boundary: str
    children: list[Leaf | Multi] = field(default_factory=list)
    preamble: str = ""


leaves = st.builds(
    Leaf,
    ctype=st.sampled_from(LEAF_TYPES),
    charset=st.sampled_from(CHARSETS),
    encoding=st.sampled_from(ENCODINGS),
    body=text,
    filename=st.one_of(
        st.none(), st.sampled_from(["a.pdf", "../../etc/passwd", "/abs/x", "é.txt", ""]), text
    ),
)
boundaries = st.one_of(st.sampled_from(["b", "=_x", "same", '"quoted"', " spaced "]), st.text(max_size=70))
trees = st.recursive(
    leaves,
    lambda children: st.builds(
        Multi,
        subtype=st.sampled_from(SUBTYPES),
        boundary=boundaries,
        children=st.lists(children, max_size=5),
        preamble=st.sampled_from(["", "This is a multi-part message.", "--same"]),
    ),
    max_leaves=15,
)


def _encode_text(value: str, charset: str) -> bytes:
    try:
        return value.encode(charset.strip('"') or "ascii", "replace")
    except LookupError:
        return value.encode("utf-8", "surrogatepass")


def _transfer(data: bytes, encoding: str) -> bytes:
    if encoding.lower() == "base64":
        return base64.encodebytes(data)
    if encoding == "quoted-printable":
        return quopri.encodestring(data)
    return data


def render(node: Leaf | Multi, eol: bytes) -> bytes:
    """One MIME entity (headers, blank line, body) as bytes, broken wherever the tree says so."""
    if isinstance(node, Leaf):
        ctype = node.ctype.encode() + (f'; charset="{node.charset}"'.encode() if node.charset else b"")
        head = [b"Content-Type: " + ctype]
        if node.encoding:
            head.append(b"Content-Transfer-Encoding: " + node.encoding.encode())
        if node.filename is not None:
            head.append(
                b'Content-Disposition: attachment; filename="'
                + node.filename.encode("utf-8", "replace")
                + b'"'
            )
        body = _transfer(_encode_text(node.body, node.charset), node.encoding)
        return eol.join(head) + eol + eol + body
    boundary = node.boundary.encode("utf-8", "replace")
    parts = [b"Content-Type: multipart/" + node.subtype.encode() + b'; boundary="' + boundary + b'"', b""]
    if node.preamble:
        parts.append(node.preamble.encode())
    for child in node.children:
        parts += [b"--" + boundary, render(child, eol)]
    parts.append(b"--" + boundary + b"--")
    return eol.join(parts)


def _fold(header: bytes, every: int, eol: bytes) -> bytes:
    """Fold at every `every`-th space, as RFC 5322 allows (folding inside a word would change it)."""
    if every <= 0:
        return header
    words = header.split(b" ")
    lines = [b" ".join(words[i : i + every]) for i in range(0, len(words), every)]
    return (eol + b" ").join(lines)


def _encoded_word(value: str, charset: str, kind: str) -> str:
    data = _encode_text(value, charset or "utf-8")
    if kind == "b":
        return f"=?{charset}?b?{base64.b64encode(data).decode()}?="
    return f"=?{charset}?q?{quopri.encodestring(data, header=True).decode()}?="


@st.composite
def messages(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    name = draw(text)
    if draw(st.booleans()):
        name = _encoded_word(name, draw(st.sampled_from(CHARSETS)), draw(st.sampled_from("bq")))
    domain = draw(
        st.sampled_from(["netflix.com", "netfl1x.com", "example.org", "xn--ntflix-3of.com", "é.fr", ""])
    )
    sender = draw(st.sampled_from([f"billing@{domain}", "alice@example.org"]))  # inbound, or mine
    subject = " ".join(
        _encoded_word(w, draw(st.sampled_from(CHARSETS)), draw(st.sampled_from("bq")))
        if draw(st.booleans())
        else w
        for w in draw(st.lists(text, max_size=4))
    )
    headers = [
        b"From: " + f'"{name}" <{sender}>'.encode("utf-8", "surrogatepass"),
        b"To: " + (b"support@netflix.com" if sender.startswith("alice@") else b"alice@example.org"),
        b"Subject: " + subject.encode("utf-8", "surrogatepass"),
        b"Date: "
        + draw(
            st.sampled_from(["Tue, 03 Mar 2026 09:15:00 +0000", "yesterday", "", "Mon, 31 Feb 99999"])
        ).encode(),
        b"Message-ID: <" + draw(st.text(alphabet="abc@.<> ", max_size=20)).encode() + b">",
        b"MIME-Version: 1.0",
    ]
    for i in range(draw(st.integers(0, 2))):  # 8-bit values; now and then a line that is no header at all
        junk = draw(st.binary(max_size=60))
        headers.append(junk if draw(st.integers(0, 4)) == 0 else b"X-Fuzz-%d: " % i + junk.translate(_NO_EOL))
    fold = draw(st.integers(0, 4))
    head = eol.join(_fold(h, fold, eol) for h in headers)
    raw = head + eol + render(draw(trees), eol)
    cut = draw(st.integers(0, max(0, len(raw) - 1))) if draw(st.integers(0, 2)) == 0 else None
    if cut is not None:
        raw = raw[:cut]  # truncated in transit
    for _ in range(draw(st.integers(0, 3)) if draw(st.integers(0, 2)) == 0 else 0):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=8)) + raw[at:]  # corrupted
    return raw


@SETTINGS
@given(raw=st.one_of(messages(), st.binary(max_size=2000)))
def test_parse_and_extract_never_raise(raw: bytes) -> None:
    prepared = prepare(raw, Location(account="fuzz", folder="INBOX"), IDENTITY)
    assert prepared.parsed.raw is raw
    assert prepared.extraction.kind in KINDS
    assert all(e.event_type in EVENT_TYPES for e in prepared.extraction.events)
    assert "\x00" not in prepared.parsed.body_text + prepared.parsed.subject + (
        prepared.parsed.from_name or ""
    )


@settings(SETTINGS, max_examples=60)
@given(batch=st.lists(messages(), min_size=1, max_size=6))
def test_import_stores_byte_exact_and_is_idempotent(batch: list[bytes]) -> None:
    """Through the real import (sources, pipeline, store, derived tables): nothing lost, nothing twice."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        inbox = root / "inbox"
        inbox.mkdir()
        for i, raw in enumerate(batch):
            (inbox / f"{i}.eml").write_bytes(b"From: x@y.z\r\n" + raw)  # a header line: every file is mail
        db = open_db(root / "db" / "subtrail.db")
        first = import_paths(db, [str(inbox)], identity=IDENTITY, workers=1, progress=False)
        expected = {(inbox / f"{i}.eml").read_bytes() for i in range(len(batch))}
        stored = {r[0] for r in db.execute("select raw from raw_messages")}
        assert stored == expected
        assert first.new == len(expected) and db["messages"].count == len(expected)
        for raw in expected:
            parsed = parse_message(raw)
            recorded = {
                r[0] for r in db.execute("select error from ingest_errors where sha256 = ?", [parsed.sha256])
            }
            assert {p[:2000] for p in parsed.problems} <= recorded
        tables = (
            "messages",
            "raw_messages",
            "message_locations",
            "ingest_errors",
            "subscriptions",
            "tickets",
        )
        counts = {t: db[t].count for t in tables}
        second = import_paths(db, [str(inbox)], identity=IDENTITY, workers=1, progress=False)
        assert second.new == 0 and second.duplicates == len(batch)
        assert {t: db[t].count for t in tables} == counts
        db.close()


@settings(SETTINGS, max_examples=4)
@given(batch=st.lists(messages(), min_size=4, max_size=12))
def test_worker_pool_matches_in_process(batch: list[bytes]) -> None:
    """The process pool gives the same result as parsing in-process, raw bytes put back."""
    jobs = [Job(raw, Location(account="fuzz", folder=str(i))) for i, raw in enumerate(batch)]
    pooled = [p for chunk in prepare_chunks([jobs[:5], jobs[5:]], IDENTITY, workers=2) for p in chunk]
    local = [prepare(job.raw, job.location, IDENTITY) for job in jobs]
    assert [p.parsed.raw for p in pooled] == batch
    assert [(p.parsed.sha256, p.parsed.subject, p.parsed.problems, p.extraction.kind) for p in pooled] == [
        (p.parsed.sha256, p.parsed.subject, p.parsed.problems, p.extraction.kind) for p in local
    ]


def _mbox_safe(raw: bytes) -> bytes:
    """What an mbox writer stores: 'From ' at a line start quoted, a final newline."""
    raw = raw.replace(b"\nFrom ", b"\n>From ")
    if raw.startswith(b"From "):
        raw = b">" + raw
    return raw if raw.endswith(b"\n") else raw + b"\n"


@settings(SETTINGS, max_examples=40)
@given(batch=st.lists(messages(), min_size=1, max_size=8), eol=st.sampled_from([b"\n", b"\r\n"]))
def test_mbox_split_gives_back_each_message_byte_exact(batch: list[bytes], eol: bytes) -> None:
    """An mbox of generated messages (as a writer quotes them) yields exactly those messages."""
    from ingest.pipeline.sources import RawMail, iter_mbox

    expected = [_mbox_safe(raw) for raw in batch]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "all.mbox"
        path.write_bytes(
            b"".join(b"From MAILER-DAEMON Tue Mar  3 09:15:00 2026" + eol + m + eol for m in expected)
        )
        items = list(iter_mbox(path))
    assert all(isinstance(item, RawMail) for item in items)
    assert [item.raw for item in items if isinstance(item, RawMail)] == expected


def _html_to_text_reference(html: str) -> str:
    """The first html_to_text: line breaks inserted into the tree (quadratic, but obviously right)."""
    from bs4 import BeautifulSoup, Comment

    from extractors.mail.html import _BLANKS, _BLOCK, _DROP, _SPACES

    soup = BeautifulSoup(html, "lxml")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for tag in soup.find_all(_BLOCK):
        tag.insert_before("\n")
        tag.insert_after("\n")
    for cell in soup.find_all(("td", "th")):
        cell.insert_after(" ")
    lines = (_SPACES.sub(" ", line).strip() for line in soup.get_text().splitlines())
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


html_fragments = st.lists(
    st.one_of(
        st.sampled_from(
            ["p", "div", "td", "th", "tr", "table", "b", "script", "br", "li", "style", "svg"]
        ).flatmap(lambda t: st.sampled_from([f"<{t}>", f"</{t}>", f"<{t} class=x>"])),
        st.sampled_from(
            ["<!-- c -->", "<![CDATA[x]]>", "<!DOCTYPE html>", "&nbsp;", "&amp;", "\n", " ", "\t"]
        ),
        st.text(alphabet="ab é<>&", max_size=5),
    ),
    max_size=40,
).map("".join)


@settings(SETTINGS, max_examples=300)
@given(html=html_fragments)
def test_html_to_text_matches_the_reference(html: str) -> None:
    """The single-walk html_to_text (linear) says exactly what the tree-insertion one said."""
    from extractors.mail.html import html_to_text

    assert html_to_text(html) == _html_to_text_reference(html)
