"""A text/plain part's control characters are looked for in its decoded bytes, not in its text again:
the body is the one `_without_controls` gives, whatever the bytes, charset and transfer encoding."""

from __future__ import annotations

import base64
import quopri
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from extractors.mail import parse

CHARSETS = ["utf-8", "UTF-8", "us-ascii", "ascii", "iso-8859-1", "windows-1252", "latin-1", "utf-16", "x-bad"]
DATA = st.binary(max_size=60) | st.text(max_size=40).map(lambda t: t.encode("utf-8", "surrogatepass"))


def message(data: bytes, charset: str, cte: str, html: bool) -> bytes:
    if cte == "base64":
        body = base64.encodebytes(data)
    elif cte == "quoted-printable":
        body = quopri.encodestring(data)
    else:
        body = data.replace(b"\r", b"").replace(b"\n", b" ")
    head = f'Content-Type: text/plain; charset="{charset}"\nContent-Transfer-Encoding: {cte}\n\n'.encode()
    if not html:
        return b"From: a@b.c\n" + head + body
    return (
        b'From: a@b.c\nContent-Type: multipart/alternative; boundary="b"\n\n--b\n'
        + head
        + body
        + b"\n--b\nContent-Type: text/html\n\n<p>\x01x</p>\n--b--\n"
    )


@settings(max_examples=800, deadline=None)
@given(
    DATA, st.sampled_from(CHARSETS), st.sampled_from(["base64", "quoted-printable", "8bit"]), st.booleans()
)
def test_a_body_checked_as_bytes_is_the_body_checked_as_text(
    data: bytes, charset: str, cte: str, html: bool
) -> None:
    raw = message(data, charset, cte, html)
    fast = parse.parse_message(raw)
    with mock.patch.object(parse, "_ASCII_SAFE", frozenset()):  # every body through `_without_controls`
        assert fast == parse.parse_message(raw)


def test_control_characters_are_still_dropped() -> None:
    for charset in CHARSETS[:-2]:
        parsed = parse.parse_message(message(b"a\x01b\x7fc\x0b\r\nd\te\x1f", charset, "base64", False))
        assert parsed.body_text == "abc\nd\te"
