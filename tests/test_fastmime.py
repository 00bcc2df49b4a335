"""The boundary matcher behaves exactly like the regex email.feedparser would compile."""

from __future__ import annotations

import email
import re
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
