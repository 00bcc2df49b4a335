"""Encoded-word headers read as the sender wrote them (RFC 2047 over RFC 5322 folding)."""

from __future__ import annotations

import pytest

from extractors.mail.parse import decode_header


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # a plain word, then an encoded word folded onto the next line: the folding space stays
        ("Rejet de votre\r\n =?UTF-8?Q?pr=C3=A9l=C3=A8vement?=", "Rejet de votre prélèvement"),
        ("Votre facture a\n =?utf-8?q?=C3=A9t=C3=A9?= émise", "Votre facture a été émise"),
        ("=?utf-8?q?R=C3=A9siliation?=\r\n\tconfirmée", "Résiliation confirmée"),
        # between two encoded words the space is only a separator (RFC 2047 §6.2), folded or not
        ("=?UTF-8?Q?pr=C3=A9?=\r\n =?UTF-8?Q?l=C3=A8vement?=", "prélèvement"),
        ("=?utf-8?b?w6k=?= =?utf-8?b?w6k=?=", "éé"),
        ("Plain subject\r\n folded", "Plain subject folded"),
    ],
)
def test_folded_encoded_words_keep_the_space_between_words(raw: str, expected: str) -> None:
    assert decode_header(raw) == expected
