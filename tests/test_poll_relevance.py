"""Pure parts of the poller: header-only relevance, backoff, the OAuth2 token file."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import pytest

from extractors import Identity
from extractors.relevance import Headers, is_provider_domain, parse_headers, relevance
from ingest.imap.oauth import cached_access_token, load_tokens, save_tokens
from ingest.imap.poller import Backoff

ME = Identity(frozenset({"alice@example.org"}))
DOMAINS = frozenset({"netflix.com", "free-mobile.fr"})


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (Headers(from_addr="info@account.netflix.com", subject="Nouveautés"), "provider domain"),
        (Headers(from_addr="shop@unknown.example", subject="Your receipt from Shop"), "subject vocabulary"),
        (Headers(from_addr="shop@unknown.example", subject="Votre facture de mars"), "subject vocabulary"),
        (Headers(from_addr="x@unknown.example", subject="Suite à votre réclamation"), "subject vocabulary"),
        (Headers(from_addr="x@unknown.example", subject="Ticket #AB-12345 updated"), "subject vocabulary"),
        (Headers(from_addr="x@unknown.example", subject="Prélèvement à venir"), "subject vocabulary"),
        (
            Headers(from_addr="alice@example.org", to_addrs=["service@free-mobile.fr"], subject="Bonjour"),
            "sent to a provider",
        ),
        (Headers(from_addr="alice@example.org", to_addrs=["bob@friends.example"], subject="Salut"), None),
        (Headers(from_addr="bob@friends.example", subject="Dinner on Friday?"), None),
        (Headers(from_addr="news@weekly.example", subject="This week in gardening"), None),
        (Headers(from_addr="x@unknown.example", subject="Dossier n° AB1234"), "subject vocabulary"),
        (Headers(from_addr="x@unknown.example", subject="Case No. 4455 closed"), "subject vocabulary"),
        # "no"/"ref" followed by letters are words, not references (they matched before)
        (Headers(from_addr="news@garden.example", subject="Roses in November"), None),
        (Headers(from_addr="x@unknown.example", subject="New notifications waiting"), None),
        (Headers(from_addr="x@unknown.example", subject="The reference guide"), None),
        (Headers(from_addr=None, subject=""), None),
    ],
)
def test_relevance_by_sender_subject_and_direction(headers: Headers, reason: str | None) -> None:
    assert relevance(headers, ME, None, DOMAINS) == reason


def test_a_reply_in_a_known_thread_is_relevant() -> None:
    known = {"<case-1@vendor.example>"}
    reply = Headers(
        from_addr="bob@friends.example", subject="Re: hello", in_reply_to="<case-1@vendor.example>"
    )
    other = Headers(from_addr="bob@friends.example", subject="Re: hello", in_reply_to="<other@x.example>")

    def lookup(ids: object) -> set[str]:
        return known & set(ids)  # type: ignore[call-overload]

    assert relevance(reply, ME, lookup, DOMAINS) == "reply in a known thread"
    assert relevance(other, ME, lookup, DOMAINS) is None


def test_subdomains_count_but_lookalikes_do_not() -> None:
    assert is_provider_domain("a@mailer.netflix.com", DOMAINS)
    assert not is_provider_domain("a@netflix.com.evil.example", DOMAINS)
    assert not is_provider_domain("a@notnetflix.com", DOMAINS)


def test_header_block_as_fetched_is_parsed() -> None:
    block = (
        b"From: =?utf-8?q?Free_Mobile?= <freemobile@free-mobile.fr>\r\nTo: alice@example.org\r\n"
        b"Subject: =?utf-8?q?Votre_facture_de_f=C3=A9vrier?=\r\nMessage-ID: <a1@free.fr>\r\n"
        b"References: <r1@x> <r2@x>\r\nIn-Reply-To: <r2@x>\r\n\r\n"
    )
    headers = parse_headers(block)
    assert headers.from_addr == "freemobile@free-mobile.fr"
    assert headers.subject == "Votre facture de février"
    assert headers.message_id == "<a1@free.fr>"
    assert headers.thread_ids() == ["<r1@x>", "<r2@x>"]
    assert headers.date is None  # no Date header
    assert parse_headers(b"Date: Mon, 02 Mar 2026 11:00:00 +0100\r\n\r\n").date == "2026-03-02T10:00:00+00:00"


def test_backoff_grows_to_its_cap_and_resets() -> None:
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.next() for _ in range(6)]
    assert all(0.5 * min(8.0, 2**i) <= d <= min(8.0, 2**i) for i, d in enumerate(delays))
    backoff.reset()
    assert backoff.next() <= 1.0


def test_token_file_is_private_and_rewritten_atomically(tmp_path: Path) -> None:
    path = tmp_path / "data" / "oauth-gmail.json"
    save_tokens(path, {"refresh_token": "r1", "access_token": "a1", "expires_at": time.time() + 3600})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    save_tokens(path, {"refresh_token": "r2-rotated"})
    assert load_tokens(path) == {"refresh_token": "r2-rotated"}
    assert [p.name for p in path.parent.iterdir()] == ["oauth-gmail.json"]  # no temp file left


def test_cached_access_token_is_used_only_well_before_expiry() -> None:
    now = 1_000_000.0
    assert cached_access_token({"access_token": "a", "expires_at": now + 3600}, now) == "a"
    assert cached_access_token({"access_token": "a", "expires_at": now + 60}, now) is None
    assert cached_access_token({}, now) is None
