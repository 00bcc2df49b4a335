"""The boundary matcher behaves exactly like the regex email.feedparser would compile."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from email._policybase import Policy, compat32
from email.message import Message
from email.policy import SMTP
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.mailgen import generate
from extractors.mail import fastmime
from tests.test_import import CPYTHON_CORPUS

LINE_TAILS = [
    "",
    "\n",
    "\r\n",
    "\r",
    "--",
    "--\n",
    "--\r\n",
    "  \t\n",
    "--  \r\n",
    "x\n",
    "--x",
    " -\n",
    "\n\n",
    "\r\n\n",
]


def regex_for(separator: str) -> re.Pattern[str]:
    return re.compile(
        "(?P<sep>" + re.escape(separator) + r")(?P<end>--)?(?P<ws>[ \t]*)(?P<linesep>\r\n|\r|\n)?$"
    )


def same(separator: str, line: str) -> None:
    expected = regex_for(separator).match(line)
    got = fastmime.BoundaryMatcher(separator).match(line)
    assert (expected is None) == (got is None), (separator, line)
    if expected and got:
        for name in ("sep", "end", "ws", "linesep"):
            assert expected.group(name) == got.group(name), (name, separator, line)


@pytest.mark.parametrize("tail", LINE_TAILS)
@pytest.mark.parametrize("separator", ["--B", "--===============123==", "--a.b(c)+*?[x]", "--"])
def test_matcher_equals_regex(separator: str, tail: str) -> None:
    same(separator, separator + tail)
    same(separator, "x" + separator + tail)


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet="ab-=._()+ \t", min_size=1, max_size=12),
    st.text(alphabet="-ab \t\r\n", max_size=8),
)
def test_matcher_equals_regex_property(boundary: str, tail: str) -> None:
    separator = "--" + boundary
    same(separator, separator + tail)


def corpus() -> list[bytes]:
    files = sorted(Path(CPYTHON_CORPUS).glob("msg_*.txt")) if CPYTHON_CORPUS.is_dir() else []
    return [f.read_bytes() for f in files] + list(generate(40, seed=11))


def structure(raw: bytes) -> list[tuple[str, object, object, object]]:
    msg = email.message_from_bytes(raw)
    return [
        (
            part.get_content_type(),
            part.get_payload() if not part.is_multipart() else None,
            part.preamble,
            part.epilogue,
        )
        for part in msg.walk()
    ] + [tuple(type(d).__name__ for p in msg.walk() for d in p.defects)]  # type: ignore[list-item]


def test_parse_tree_identical_on_corpus() -> None:
    raws = corpus()
    assert len(raws) > 60
    fastmime.install()
    fast = [structure(r) for r in raws]
    fastmime.uninstall()
    try:
        slow = [structure(r) for r in raws]
    finally:
        fastmime.install()
    assert fast == slow


# --- header reads: Fields, content_type, boundary against the stdlib's own methods ---------------

CTYPE_PIECES = [
    *("multipart/mixed", "text/plain", "Multipart/Alternative", "multipart", "a/b/c", "/", "*"),
    *(";", " ", "\t", "\r\n ", "\n\t", "\r", "\x0b", "\x1c", "=", '"', "\\", '\\"', "'", "(", ")"),
    *("boundary", "BOUNDARY", "Boundary", "boundary*", "boundary*0", "boundary*1", "boundary*0*"),
    *("utf-8''", "us-ascii'en'", "%41%e9", "abc", "==x==", "<", ">", "<b>", "charset=utf-8", "name"),
    *("ı", "İ", "ſ", "K", "é", "١", "\udc80", "\x00"),  # noqa: RUF001  (case and digit traps, 8-bit)
]
TOKEN_CHARS = ["abcXYZ019!#$%&'+.^_`|~-", "ab*=<>ıK\\"]  # noqa: RUF001  (plain, then traps)
QUOTED_CHARS = ["ab =-_.:/?()<>,'\t\x0b\x1c", 'ab;\\"\r\né']


def ctype_message(*values: str) -> Message:
    msg = Message()
    for value in values:
        msg.set_raw("Content-Type", value)  # stored as read, as the parsers store it
    return msg


def outcome(read: Callable[[], object]) -> object:
    """What `read` returns, or the type of what it raises (the stdlib's RFC 2231 code can raise)."""
    try:
        return read()
    except Exception as exc:
        return type(exc)


def same_reads(*values: str) -> None:
    msg = ctype_message(*values)
    fields = fastmime.first_values(msg)
    assert outcome(lambda: fastmime.boundary_of(msg, fields)) == outcome(msg.get_boundary), values
    assert outcome(lambda: fastmime.content_type_of(msg, fields)) == outcome(msg.get_content_type), values


PLAIN_OWS, ODD_OWS = ["", " ", "\t", "\r\n ", "\n\t", "  "], ["\x0b", "\r", " \x1c"]


@st.composite
def plain_like_ctypes(draw: st.DrawFn) -> str:
    """Mostly the plain form `boundary` reads itself; else with odd pieces that send it to the stdlib."""
    odd = draw(st.integers(0, 3)) == 0

    def pick(plain: list[str], odd_ones: list[str]) -> str:
        return draw(st.sampled_from(plain + odd_ones if odd else plain))

    out = pick(PLAIN_OWS, ODD_OWS) + pick(["multipart/mixed", "text/plain"], ["multipart", "a/b/c", "a=b/c"])
    out += pick(PLAIN_OWS, ODD_OWS)
    for _ in range(draw(st.integers(0, 4))):
        name = pick(["boundary", "BOUNDARY", "charset", "type"], ["boundary*", "boundary*0", "b o"])
        alphabet = draw(st.sampled_from([0, 1] if odd else [0]))
        if draw(st.booleans()):
            value = '"' + draw(st.text(alphabet=QUOTED_CHARS[alphabet], max_size=10)) + '"'
        else:
            value = draw(st.text(alphabet=TOKEN_CHARS[alphabet], min_size=1, max_size=10))
        out += ";" + pick(PLAIN_OWS, ODD_OWS) + name + pick(["="], [" =", "= ", ""]) + value
        out += pick(PLAIN_OWS, ODD_OWS)
    return out + pick(["", ";", "; "], [";;", "; ;"])


@settings(max_examples=2000, deadline=None)
@given(plain_like_ctypes())
def test_boundary_equals_stdlib_on_plain_like_values(value: str) -> None:
    same_reads(value)


@settings(max_examples=2000, deadline=None)
@given(st.lists(st.sampled_from(CTYPE_PIECES), max_size=14).map("".join))
def test_boundary_equals_stdlib_on_any_value(value: str) -> None:
    same_reads(value)


@pytest.mark.parametrize(
    "values",
    [
        ('multipart/mixed; boundary="===============7303123609644395563=="',),
        ("multipart/alternative;\n boundary=\"b1\"; boundary='b2'",),
        ('multipart/mixed; boundary="<abc>"',),  # unquoted twice by the stdlib: abc
        ('multipart/mixed; boundary="a b  "',),  # right-stripped
        ('multipart/mixed; boundary=""',),
        ("multipart/mixed; boundary*0=a; boundary*1=b",),  # RFC 2231: the stdlib's
        ("multipart/mixed; boundary*=utf-8''%41b",),
        ('multipart/mixed; boundary="a\\"b"',),
        ("multipart/mixed; boundary = x",),
        ("multipart/mixed",),
        ("boundary=x",),
        ('multipart/mixed; boundary="one"', 'multipart/mixed; boundary="two"'),  # the first header
        ('multipart/mixed; boundary="\udc80"',),  # 8-bit: a Header object
    ],
)
def test_boundary_examples(values: tuple[str, ...]) -> None:
    same_reads(*values)


def test_plain_boundaries_are_read_without_the_stdlib(monkeypatch: pytest.MonkeyPatch) -> None:
    msg = ctype_message('multipart/alternative;\n boundary="===============1395725312926695230=="')
    monkeypatch.setattr(Message, "get_boundary", None)
    assert fastmime.boundary_of(msg, fastmime.first_values(msg)) == "===============1395725312926695230=="


header_names = st.sampled_from(["Content-Type", "content-type", "CONTENT-TYPE", "X-A", "x-a", "Subject", "K"])  # noqa: RUF001
header_values = st.text(alphabet='ab; ="\t\r\né\udc80', max_size=8)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(header_names, header_values), max_size=6), st.sampled_from([compat32, SMTP]))
def test_first_values_equal_message_get(headers: list[tuple[str, str]], policy: Policy) -> None:
    msg = Message(policy=policy)
    for name, value in headers:
        msg.set_raw(name, value)
    fields = fastmime.first_values(msg)
    for name in ("content-type", "x-a", "subject", "k", "missing"):
        got, expected = fields.get(name, "dflt"), msg.get(name, "dflt")
        assert type(got).__name__ == type(expected).__name__  # the header registry makes classes per call
        assert outcome(lambda: str(got)) == outcome(lambda: str(expected))  # noqa: B023
    assert list(fields) == list(dict.fromkeys(name.lower() for name, _ in headers))
    assert outcome(lambda: fastmime.content_type_of(msg, fields)) == outcome(msg.get_content_type)


@settings(max_examples=1000, deadline=None)
@given(
    st.sampled_from(["", "quoted-printable", "Quoted-Printable", "base64", "7bit", "8bit", "x-uue", "bogus"]),
    st.text(alphabet="ab=\r\n\t =3D=C3=A9\udce9é", max_size=40),
    st.booleans(),
)
def test_decoded_payload_equals_stdlib(cte: str, payload: str, with_cte: bool) -> None:
    msg = Message()
    if with_cte:
        msg.set_raw("Content-Transfer-Encoding", cte)
    msg.set_payload(payload)
    got = outcome(lambda: fastmime.decoded_payload(msg, fastmime.first_values(msg)))
    assert got == outcome(lambda: msg.get_payload(decode=True))
