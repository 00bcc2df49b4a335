"""The parser pool under `poll`'s signal handlers (`ingest.pipeline.pool`)."""

from __future__ import annotations

import signal
import time
from types import FrameType

import pytest

from extractors import Extraction, Identity
from extractors.mail.parse import ParsedMessage
from ingest import pipeline
from ingest.pipeline import pool as workers
from ingest.store import Job, Location, Prepared


def test_workers_take_default_signal_handlers_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that inherited `poll`'s graceful-stop handler ignored `Pool.terminate()`'s SIGTERM
    and hung the parent (seen as a `poll --once` that never returned after a kill -9 resume)."""

    def report_signals(
        raw: bytes, location: Location, identity: Identity, sha256: str | None = None
    ) -> Prepared:
        seen = f"{signal.getsignal(signal.SIGTERM)}|{signal.getsignal(signal.SIGINT)}"
        return Prepared(ParsedMessage(sha256=sha256 or "", raw=raw, subject=seen), Extraction(), location)

    def graceful(_signum: int, _frame: FrameType | None) -> None:  # what `subtrail poll` installs
        pass

    monkeypatch.setattr(pipeline, "prepare", report_signals)
    before = signal.signal(signal.SIGTERM, graceful), signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, graceful)
    try:
        chunks = [[Job(b"Subject: %d\r\n\r\nx" % i, Location(account="", folder="")) for i in range(4)]] * 3
        started = time.monotonic()
        done = list(workers.prepare_chunks(chunks, Identity(), workers=2))
        assert time.monotonic() - started < 30  # terminate() returned
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])
    seen = {p.parsed.subject for chunk in done for p in chunk}
    assert seen == {f"{signal.SIG_DFL}|{signal.SIG_IGN}"}


def test_workers_hash_copy_keys_only_when_the_writer_links_copies() -> None:
    """The import's writer links copies by `content_key`: the workers hash it, so the single writer
    process does not. Reprocess links none, and its workers skip the hash (~10% of its CPU). What
    goes back to the parent leaves out what it never reads (raw bytes, HTML, decoded headers)."""
    from extractors.mail.copies import content_key

    raws = [b"From: a@b.example\r\nSubject: %d\r\nX-Tag: t\r\n\r\n<p>x</p>" % i for i in range(6)]
    chunks = [[Job(raw, Location(account="", folder="")) for raw in raws]]
    keyed = [p for chunk in workers.prepare_chunks(chunks, Identity(), workers=2) for p in chunk]
    assert [p.content_key for p in keyed] == [content_key(raw) for raw in raws]
    assert [p.parsed.raw for p in keyed] == raws  # the parent's own bytes, put back
    assert all(p.parsed.headers == {} and p.parsed.subject for p in keyed)
    unkeyed = [
        p for chunk in workers.prepare_chunks(chunks, Identity(), workers=2, copy_keys=False) for p in chunk
    ]
    assert [p.content_key for p in unkeyed] == [None] * len(raws)


def test_what_crosses_the_pipe_comes_back_equal() -> None:
    """Results cross the pool's pipe pickled as their classes' field values (`_pickle_as_fields`):
    real mail with attachments, events, support facts, tokens and promises comes back equal."""
    import copyreg
    import pickle
    from pathlib import Path

    from extractors.model import Promise, SupportFacts, TicketToken

    assert {
        Prepared,
        ParsedMessage,
        Extraction,
        SupportFacts,
        TicketToken,
        Promise,
    } <= copyreg.dispatch_table.keys()
    fixtures = Path(__file__).parent / "fixtures"
    mail = sorted(fixtures.rglob("*.eml"))
    assert len(mail) > 100
    me = Identity(frozenset({"alice.martin@example.org", "moi@example.fr"}))
    seen = {"attachments": 0, "events": 0, "support": 0, "promises": 0}
    for path in mail:
        item = pipeline.prepare(path.read_bytes(), Location("t", "INBOX", uid=1, path=str(path)), me)
        item.extra_errors.append(("extract", "x"))
        assert pickle.loads(pickle.dumps(item)) == item, path.name
        seen["attachments"] += bool(item.parsed.attachments)
        seen["events"] += bool(item.extraction.events)
        seen["support"] += item.extraction.support is not None
        seen["promises"] += bool(item.extraction.support and item.extraction.support.promises)
    assert all(seen.values()), seen
