"""The FETCH-response parser (`ingest/imap/fetch.py`) on imaplib's own data shapes: items in any
order and case, extra items, literals anywhere, unsolicited and conflicting responses."""

from __future__ import annotations

import itertools

import pytest

from ingest.imap.fetch import (
    body_of,
    flags_of,
    header_block,
    internal_date,
    parse_fetch,
    size_of,
    uid_set,
)

HEADERS = b"From: Shop <shop@example.org>\r\nSubject: Your receipt\r\n\r\n"
RAW = b"From: Shop <shop@example.org>\r\nSubject: Your receipt\r\n\r\nThank you.\r\n"
ITEMS = {
    b"UID": b"UID 12",
    b"SIZE": b"RFC822.SIZE 4242",
    b"HEADER": b"BODY[HEADER.FIELDS (FROM SUBJECT)] {%d}" % len(HEADERS),
    b"MODSEQ": b"MODSEQ (90211)",
    b"GM": b'X-GM-MSGID 1278455344230334865 X-GM-LABELS ("\\\\Inbox" \\Important "[Gmail]/All Mail")',
}


def imaplib_data(seq: int, items: list[bytes], literals: dict[bytes, bytes]) -> list[object]:
    """What imaplib returns for one response made of `items`: a (text, literal) tuple per
    literal, then the text after the last one."""
    data: list[object] = []
    text = b"%d (" % seq
    for index, item in enumerate(items):
        text += (b" " if index else b"") + item
        key = next((k for k in literals if item.endswith(k)), None)
        if key is not None:
            data.append((text, literals[key]))
            text = b""
    data.append(text + b")")
    return data


@pytest.mark.parametrize("order", list(itertools.permutations([b"UID", b"SIZE", b"HEADER", b"MODSEQ"])))
def test_metadata_items_in_any_order(order: tuple[bytes, ...]) -> None:
    items = [ITEMS[name] for name in order]
    data = imaplib_data(7, items, {b"{%d}" % len(HEADERS): HEADERS})
    answer = parse_fetch(data).get(12)
    assert answer is not None
    assert size_of(answer) == 4242
    assert header_block(answer) == HEADERS


def test_body_answer_with_uid_after_the_literal_lower_case_and_gmail_items() -> None:
    data = [
        (b'3 (x-gm-thrid 1278455344230334865 internaldate "03-Mar-2026 09:15:00 +0100" body[] {%d}' % len(RAW),
         RAW),
        b" flags (\\Seen $Forwarded) " + ITEMS[b"GM"] + b" modseq (12) uid 44)",
    ]  # fmt: skip
    answer = parse_fetch(data).get(44)
    assert answer is not None
    assert body_of(answer) == RAW
    assert internal_date(answer) == "2026-03-03T08:15:00+00:00"
    assert flags_of(answer) == "\\Seen $Forwarded"
    assert answer[b"X-GM-LABELS"] == [b"\\Inbox", b"\\Important", b"[Gmail]/All Mail"]


def test_several_responses_and_several_literals_in_one() -> None:
    data = [
        *imaplib_data(1, [ITEMS[b"SIZE"], ITEMS[b"HEADER"], b"UID 1"], {b"{%d}" % len(HEADERS): HEADERS}),
        b"2 (UID 2 RFC822.SIZE 0 BODY[HEADER.FIELDS (FROM)] NIL)",  # Dovecot, for a message expunged meanwhile
        (b"3 (BODY[HEADER.FIELDS (FROM)] {5}", b"F: x\n"),
        (b" BODY[] {3}", b"abc"),
        b" UID 3 RFC822.SIZE 3)",
    ]
    answers = parse_fetch(data)
    assert sorted(answers.by_uid) == [1, 2, 3]
    assert header_block(answers.by_uid[2]) is None  # not an empty header block: no answer
    assert header_block(answers.by_uid[3]) == b"F: x\n" and body_of(answers.by_uid[3]) == b"abc"


def test_quoted_strings_keep_their_escapes_and_nil_is_none() -> None:
    answer = parse_fetch([b'1 (UID 9 X-NOTE "a \\"quoted\\" word \\\\ (not a list)" X-NONE NIL)']).get(9)
    assert answer == {b"UID": b"9", b"X-NOTE": b'a "quoted" word \\ (not a list)', b"X-NONE": None}


def test_unsolicited_flag_updates_are_not_answers_and_merge() -> None:
    data = [
        b"5 (FLAGS (\\Seen))",  # no UID: a flag change for message 5, not an answer for UID 5
        *imaplib_data(6, [b"UID 20", b"BODY[] {3}"], {b"{3}": b"abc"}),
        b"6 (UID 20 FLAGS (\\Flagged))",  # a later flag change for the same message
    ]
    answers = parse_fetch(data)
    assert list(answers.by_uid) == [20]
    assert body_of(answers.by_uid[20]) == b"abc" and flags_of(answers.by_uid[20]) == "\\Flagged"
    assert not answers.conflicting


def test_a_uid_answered_twice_with_different_content_is_not_trusted() -> None:
    """UID 4's message answered as UID 5 while UID 5 is answered too: neither copy is believed."""
    data = [
        *imaplib_data(4, [b"UID 5", b"BODY[] {3}"], {b"{3}": b"aaa"}),
        *imaplib_data(5, [b"UID 5", b"BODY[] {3}"], {b"{3}": b"bbb"}),
    ]
    answers = parse_fetch(data)
    assert answers.get(5) is None and 5 in answers.conflicting and answers.get(4) is None


@pytest.mark.parametrize(
    "broken",
    [
        b"1 (UID 1 FLAGS ((\\Seen))",  # unbalanced
        b"1 (UID 1 RFC822.SIZE)",  # an item without a value
        b"1 UID 1",  # no item list
        b"1 (UID 1 RFC822.SIZE 5 \x01)",  # a control character
    ],
)
def test_an_unreadable_response_is_left_out_alone(broken: bytes) -> None:
    answers = parse_fetch([broken, b"2 (UID 2 RFC822.SIZE 7)"])
    assert list(answers.by_uid) == [2] and answers.unreadable == 1


def test_no_fetch_response_at_all() -> None:
    assert parse_fetch([None]).by_uid == {}


@pytest.mark.parametrize(
    ("uids", "text"),
    [([1, 2, 3, 4], "1:4"), ([7], "7"), ([9, 1, 2, 5, 6, 7, 2], "1:2,5:7,9"), ([], "")],
)
def test_uid_set_as_ranges(uids: list[int], text: str) -> None:
    assert uid_set(uids) == text
