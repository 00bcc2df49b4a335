"""Address headers a mailbox repeats are parsed once; long ones are never kept (memory stays bounded)."""

from __future__ import annotations

from extractors.mail import parse
from extractors.mail.parse import parse_message

MESSAGE = b"From: Netflix <info@account.netflix.com>\nTo: %s\nSubject: s\nMessage-ID: <%d@x>\n\nbody\n"


def test_a_repeated_address_header_is_parsed_once() -> None:
    parse._cached_addresses.cache_clear()
    first = parse_message(MESSAGE % (b"Alice Martin <alice.martin@example.org>", 1))
    hits = parse._cached_addresses.cache_info().hits
    second = parse_message(MESSAGE % (b"Alice Martin <alice.martin@example.org>", 2))
    assert parse._cached_addresses.cache_info().hits >= hits + 2  # From and To
    assert first.to_addrs == second.to_addrs == ["alice.martin@example.org"]
    assert second.from_addr == "info@account.netflix.com" and second.from_name == "Netflix"


def test_a_long_address_header_is_not_kept() -> None:
    parse._cached_addresses.cache_clear()
    many = b", ".join(b"user%d@example.org" % i for i in range(2000))
    parsed = parse_message(MESSAGE % (many, 3))
    assert len(parsed.to_addrs) == 500  # the cap on stored recipients
    assert parse._cached_addresses.cache_info().currsize == 1  # only the short From
