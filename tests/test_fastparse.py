"""`extractors.mail.fastparse` builds the stdlib's own tree (compat32), or declines.

Every message of the corpora (CPython's e-mail tests, the fixtures, the hostile inputs, the
development corpus, generated receipts) and of generated MIME structures parses to the same
tree both ways: the headers and envelope, every part's payload, preamble and epilogue, the
default types and the defects. The fast path must also be the one taken for ordinary mail.
"""

from __future__ import annotations

import email
from email.message import Message
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from bench.mailgen import generate
from extractors.mail import fastparse
from extractors.mail.parse import parse_message
from tests.test_import import CPYTHON_CORPUS

REPO = Path(__file__).resolve().parent.parent
DEV_CORPUS = REPO.parent / "shared" / "corpus-dev" / "mails"


def signature(msg: Message) -> tuple[object, ...]:
    payload = msg._payload  # type: ignore[attr-defined]
    parts = tuple(signature(p) for p in payload) if isinstance(payload, list) else payload
    return (
        msg._headers,  # type: ignore[attr-defined]
        msg._unixfrom,  # type: ignore[attr-defined]
        msg.get_default_type(),
        msg.preamble,
        msg.epilogue,
        tuple((type(d).__name__, str(d)) for d in msg.defects),
        parts,
    )


def corpus() -> list[bytes]:
    files = sorted(CPYTHON_CORPUS.glob("msg_*.txt")) if CPYTHON_CORPUS.is_dir() else []
    files += sorted((REPO / "tests" / "fixtures").rglob("*.eml"))
    files += sorted(DEV_CORPUS.rglob("*.eml")) if DEV_CORPUS.is_dir() else []
    raws = [f.read_bytes() for f in files]
    generated = list(generate(40, seed=13))
    return raws + generated + [raw.replace(b"\r\n", b"\n") for raw in generated]


def check(raw: bytes) -> bool:
    """The fast tree equals the stdlib's; True when the fast path built it."""
    fast = fastparse.message_from_bytes(raw)
    if fast is None:
        return False
    assert signature(fast) == signature(email.message_from_bytes(raw))
    return True


def test_fast_tree_is_the_stdlib_tree_on_the_corpora() -> None:
    raws = corpus()
    assert len(raws) > 250
    taken = [check(raw) for raw in raws]
    assert sum(taken) > 0.8 * len(raws)  # ordinary mail takes the fast path


def test_parse_message_is_unchanged_when_the_stdlib_parses() -> None:
    """parse_message's answer is the same whichever parser built the tree."""
    for raw in corpus()[::3]:
        fast = parse_message(raw)
        original = fastparse.message_from_bytes
        fastparse.message_from_bytes = lambda raw: None  # type: ignore[assignment]
        try:
            slow = parse_message(raw)
        finally:
            fastparse.message_from_bytes = original
        assert fast == slow


def test_generated_receipts_take_the_fast_path() -> None:
    assert all(check(raw) for raw in generate(20, seed=17))


def test_declines_what_it_does_not_copy() -> None:
    """Structural defects, message/* parts and digests are left to the stdlib."""
    for raw in (
        b"Content-Type: multipart/mixed\n\nno boundary\n",
        b'Content-Type: multipart/mixed; boundary="b"\n\n--b\n\nopen part, never closed\n',
        b'Content-Type: multipart/mixed; boundary="b"\n\nno start boundary\n',
        b"Content-Type: message/rfc822\n\nSubject: inner\n\nbody\n",
        b'Content-Type: multipart/digest; boundary="b"\n\n--b\n\nx\n--b--\n',
        b"Subject: x\nnot a header line\n",
    ):
        assert fastparse.message_from_bytes(raw) is None, raw
        assert parse_message(raw).problems or True  # the stdlib path still answers


def test_deep_nesting_goes_to_the_stdlib() -> None:
    depth = fastparse.MAX_DEPTH + 5
    head = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth))
    tail = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    raw = (head + "Content-Type: text/plain\n\nhi\n" + tail).encode()
    assert fastparse.message_from_bytes(raw) is None


EOLS = st.sampled_from(["\n", "\r\n", "\r"])
LINE = st.sampled_from(
    [
        "text",
        "",
        " folded",
        "--",
        "-- ",
        "From here",
        "X-A: 1",
        ":no name",
        "--b",
        "--b--",
        "--b  ",
        "--bx",
        "--c",
    ]
)


@st.composite
def structures(draw: st.DrawFn, depth: int = 0) -> str:
    """A message as lines: headers (maybe odd), then a leaf body or parts between boundaries."""
    eol = draw(EOLS)
    boundary = draw(st.sampled_from(["b", "c", "b c", "=_x"]))
    headers = draw(st.lists(st.sampled_from(["Subject: s", "X-B: 2", " cont", "From x", ":bad"]), max_size=3))
    multipart = depth < 3 and draw(st.booleans())
    if multipart:
        cte = draw(
            st.sampled_from(["", "Content-Transfer-Encoding: 7bit", "Content-Transfer-Encoding: base64"])
        )
        headers += [
            f'Content-Type: multipart/{draw(st.sampled_from(["mixed", "alternative"]))}; boundary="{boundary}"'
        ]
        headers += [cte] if cte else []
    out = eol.join(headers) + eol + draw(st.sampled_from([eol, "", "body" + eol]))
    if not multipart:
        return out + eol.join(draw(st.lists(LINE, max_size=5))) + draw(st.sampled_from(["", eol]))
    out += "".join(line + eol for line in draw(st.lists(LINE, max_size=2)))  # preamble
    for _ in range(draw(st.integers(0, 3))):
        out += f"--{boundary}" + draw(st.sampled_from(["", " ", "\t"])) + eol
        out += draw(st.sampled_from(["", f"--{boundary}{eol}"]))  # a repeated boundary line
        out += draw(structures(depth + 1)) + eol
    if draw(st.booleans()):
        out += f"--{boundary}--" + draw(st.sampled_from(["", eol]))
        out += "".join(line + eol for line in draw(st.lists(LINE, max_size=2)))  # epilogue
    return out


@settings(max_examples=1500, deadline=None)
@given(structures())
def test_fast_tree_is_the_stdlib_tree_on_generated_structures(text: str) -> None:
    check(text.encode())


MUTATIONS = [b"-", b"--", b"\r", b"\n", b"\r\n", b" ", b":", b"\t", b"From ", b"\n\n", b'"', b";", b"\xff"]
MUTATIONS += [b"\n--x\n", b"\n--x--\n", b"Content-Type: multipart/mixed; boundary=x\n"]


def test_fast_tree_is_the_stdlib_tree_on_mutated_mail() -> None:
    """Corpus messages with bytes inserted, cut and lines repeated: same tree, or the stdlib's."""
    import random

    rng = random.Random(19)
    raws = corpus()
    fast = 0
    for _ in range(4000):
        raw = bytearray(rng.choice(raws)[:20_000])
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(len(raw) + 1)
            if rng.random() < 0.5:
                raw[at:at] = rng.choice(MUTATIONS)
            else:
                del raw[at : at + rng.randint(1, 30)]
        fast += check(bytes(raw))
    assert fast > 1000


HEADER_LINE = st.sampled_from(
    [
        "Subject: s",
        "Subject:s",
        "Subject:  \t s ",
        "X-Empty:",
        "X-Empty:   ",
        " folded",
        "\tfolded",
        " ",
        "\t",
        "From x",
        "From: a@b",
        "From :x",
        ":bad",
        "Na me: x",
        "X-\udcff: y",
        "X-A: \udcff",
        "X-A: a:b: c",
        "\x0bX: y",
        "no colon",
    ]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(HEADER_LINE, max_size=6), st.sampled_from(["\n", "", "body\n", "\nbody\n"]))
def test_lf_header_blocks_are_stored_as_the_stdlib_stores_them(lines: list[str], rest: str) -> None:
    """The field-by-field read of an LF header block (`_LF_FIELD`) against the stdlib, on odd lines."""
    text = "".join(line + "\n" for line in lines) + rest
    check(text.encode("utf-8", "surrogateescape"))
    check(
        ("Content-Type: multipart/mixed; boundary=b\n\n--b\n" + text + "\n--b--\n").encode(
            "utf-8", "surrogateescape"
        )
    )


def test_plain_lf_header_blocks_take_the_field_by_field_read(monkeypatch) -> None:
    monkeypatch.setattr(fastparse, "_store_plain_fields", None)  # the line-by-line read would fail
    for raw in generate(10, seed=23):
        assert check(raw.replace(b"\r\n", b"\n"))
