"""Sync one folder, read-only and crash-safe: the reliability core of the poller.

1. Cheap check: one STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ) compared with
   `sync_state`; an unchanged folder costs that one round trip.
2. EXAMINE (read-only select) and `UID SEARCH UID last+1:*` for the new UIDs.
3. New UIDs are walked in windows: a metadata FETCH (sizes, and in `relevant` mode the few
   headers `extractors.relevance` reads), then `BODY.PEEK[]` (with internal date and flags)
   of the messages to keep, in batches bounded in count and bytes. Never `BODY[]`: `\\Seen`
   stays as it was. Both answers are read by `ingest.imap.fetch`: items in any order and
   case, matched to their message by the `UID` item wherever the server puts it.
4. Each batch's raw bytes are stored by `store.save_raw_batch` with the checkpoint
   (`sync_state.last_uid`, the header-only rows) in the same transaction, and queued in
   `parse_queue`: a crash anywhere loses nothing and stores nothing twice. Parsing,
   extraction and indexing follow the download (`ingest.pipeline.queue.drain`, run by the
   poller after each pass), so the mirror goes at the network's pace.
5. The checkpoint rule: `last_uid` passes a UID the server listed only once that UID is
   accounted for, in the same transaction: stored (raw bytes and location), header-only
   (`pending_bodies`), confirmed expunged, or recorded. A UID a FETCH left unanswered is
   asked again on its own, then looked up with `UID SEARCH UID n` (after a NOOP, so pending
   EXPUNGE news arrives first): no longer listed is confirmed expunged; still listed is
   recorded, as an `ingest_errors` row and a `pending_bodies` row with `body_wanted = 1`,
   which every later pass asks for again, in either fetch mode, until the UID is stored,
   header-only or gone. No UID is ever taken for expunged because an answer was missing.
6. A changed UIDVALIDITY restarts the folder from UID 0 (messages re-link by sha256);
   UIDs that vanished from the server get `gone_at`, their messages stay (a `UID SEARCH
   ALL` only when the server's message count is below ours).
7. Widening: with `fetch = "all"`, messages an earlier `relevant` pass left header-only
   (`pending_bodies`) are fetched too, and leave that table as they are stored. With
   `fetch = "relevant"`, they are judged again (headers fetched, decision re-made) whenever
   the relevance rules changed since the folder's last complete pass.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlite_utils import Database

from extractors import Identity
from extractors.relevance import HEADER_FIELDS, parse_headers, relevance, rules_fingerprint
from ingest.config import Account
from ingest.imap import state as st
from ingest.imap.errors import FolderError
from ingest.imap.fetch import (
    Value,
    body_of,
    flags_of,
    header_block,
    internal_date,
    size_of,
    uid_fetch,
    uid_set,
)
from ingest.pipeline.progress import ProgressLine
from ingest.store import Job, Location, record_error, save_raw_batch

log = logging.getLogger("subtrail.poll")

WINDOW = 1000  # UIDs per metadata FETCH
BATCH_MESSAGES = 250  # bodies per batch (one FETCH, one transaction)
BATCH_BYTES = 8 * 1024 * 1024  # body bytes per batch; a bigger message is a batch of its own
HEADER_ITEM = "BODY.PEEK[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]"
META_ITEMS = "(UID RFC822.SIZE)"
META_ITEMS_HEADERS = f"(UID RFC822.SIZE {HEADER_ITEM})"
BODY_ITEMS = "(UID BODY.PEEK[] INTERNALDATE FLAGS)"  # never BODY[]: that would set \Seen
REASK_ONE_BY_ONE = 50  # UIDs a FETCH left unanswered are asked again one by one up to this many


@dataclass
class FolderResult:
    """What one folder sync did; `unchanged` means the cheap check was enough."""

    folder: str
    unchanged: bool = False
    seen: int = 0  # new UIDs found
    fetched: int = 0  # bodies downloaded
    new: int = 0  # messages stored for the first time
    skipped: int = 0  # header-only (pending_bodies)
    errors: int = 0
    gone: int = 0
    bytes: int = 0
    expunged: int = 0  # listed by UID SEARCH, then confirmed gone before they could be fetched
    uidvalidity_changed: bool = False
    stopped: bool = False


@dataclass
class _Batch:
    """One transaction's worth: bodies to store plus the checkpoint that covers them."""

    last_uid: int
    uids: list[int] = field(default_factory=list)  # UIDs whose bodies are in the batch
    pending: list[st.PendingBody] = field(default_factory=list)
    missing: dict[int, str] = field(default_factory=dict)  # UID -> what the server did not send
    gone: list[int] = field(default_factory=list)  # UIDs the server confirmed expunged meanwhile


class Progress:
    """Per-folder progress line on a terminal: messages, MB, rate. Silent when not a tty."""

    def __init__(self, label: str, total: int, enabled: bool | None = None) -> None:
        self.label = label
        self.total = total
        self.line = ProgressLine(enabled)

    def show(self, result: FolderResult) -> None:
        if not self.total:
            return
        done = result.fetched + result.skipped
        self.line.write(
            f"{self.label}: {done}/{self.total} messages, {result.bytes / 1e6:,.1f} MB, "
            f"{self.line.rate(done):,.0f} msg/s"
        )

    def close(self) -> None:
        self.line.close()


def status_items(client: IMAPClient) -> list[bytes]:
    items = [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"]
    if b"CONDSTORE" in client.capabilities():
        items.append(b"HIGHESTMODSEQ")
    return items


def folder_status(client: IMAPClient, account: Account, folder: str) -> st.FolderState:
    """One STATUS round trip. `last_uid` is left 0: STATUS does not say what we stored."""
    try:
        status = client.folder_status(folder, status_items(client))
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise FolderError(f"account {account.name!r}: cannot open folder {folder!r} ({exc})") from None
    modseq = status.get(b"HIGHESTMODSEQ")
    return st.FolderState(
        uidvalidity=int(status[b"UIDVALIDITY"]),
        uidnext=int(status[b"UIDNEXT"]),
        messages=int(status[b"MESSAGES"]),
        highestmodseq=int(modseq) if modseq is not None else None,
    )


def is_unchanged(saved: st.FolderState | None, now: st.FolderState) -> bool:
    return (
        saved is not None
        and saved.uidvalidity == now.uidvalidity
        and saved.uidnext == now.uidnext
        and saved.messages == now.messages
        and saved.highestmodseq == now.highestmodseq
    )


def sync_folder(
    client: IMAPClient,
    db: Database,
    account: Account,
    folder: str,
    identity: Identity,
    *,
    stop: threading.Event | None = None,
    progress: bool | None = None,
    is_sent: bool = False,
) -> FolderResult:
    """Bring (account, folder) up to date; safe to interrupt at any point and run again."""
    result = FolderResult(folder=folder)
    saved = st.load_state(db, account.name, folder)
    status = folder_status(client, account, folder)
    status.relevance_rules = rules_fingerprint()
    if account.fetch == "relevant" and saved is not None and saved.relevance_rules != status.relevance_rules:
        with db.atomic():
            again = st.judge_again(db, account.name, folder)
        if again:
            log.info(
                "relevance rules changed account=%s folder=%s judging_again=%d", account.name, folder, again
            )
    # Bodies still owed: every pending one in "all" mode, else those a server failed to send.
    owed = st.pending_uids(db, account.name, folder, wanted_only=account.fetch != "all")
    widening = bool(owed)
    if is_unchanged(saved, status) and not widening:
        with db.atomic():
            st.touch_success(db, account.name, folder)
        result.unchanged = True
        return result

    try:
        selected = client.select_folder(folder, readonly=True)  # EXAMINE: the mailbox is never modified
    except IMAPClientAbortError:
        raise
    except IMAPClientError as exc:
        raise FolderError(f"account {account.name!r}: cannot open folder {folder!r} ({exc})") from None
    uidvalidity = int(selected[b"UIDVALIDITY"])
    last_uid = saved.last_uid if saved else 0
    if saved and saved.uidvalidity is not None and saved.uidvalidity != uidvalidity:
        st.reset_for_uidvalidity(db, account.name, folder, uidvalidity)
        result.uidvalidity_changed = True
        last_uid = 0
    status.uidvalidity = uidvalidity

    new_uids = sorted(u for u in client.search(["UID", f"{last_uid + 1}:*"]) if u > last_uid)
    result.seen = len(new_uids)
    if saved and not result.uidvalidity_changed:
        result.gone = _mark_deleted(
            client, db, account.name, folder, uidvalidity, last_uid, int(selected[b"EXISTS"]) - len(new_uids)
        )

    backlog = st.pending_uids(db, account.name, folder, uidvalidity, wanted_only=account.fetch != "all")
    bar = Progress(f"{account.name}/{folder}", len(new_uids) + len(backlog), progress)
    fetch = _Fetch(client, db, account, folder, identity, uidvalidity, result, bar, stop, is_sent)
    try:
        for uids in (new_uids, backlog):
            if not result.stopped:
                fetch.run(uids)
    finally:
        bar.close()
    if result.stopped:
        return result
    status.last_uid = new_uids[-1] if new_uids else last_uid
    with db.atomic():
        st.save_complete(db, account.name, folder, status)
    return result


def _mark_deleted(
    client: IMAPClient,
    db: Database,
    account: str,
    folder: str,
    uidvalidity: int,
    last_uid: int,
    old_on_server: int,
) -> int:
    """Places we hold that the server no longer lists.

    The server's count of old messages (EXISTS minus the new UIDs) equal to ours means
    nothing was deleted; only a smaller count costs a `UID SEARCH ALL`.
    """
    known = {u for u in st.live_uids(db, account, folder, uidvalidity) if u <= last_uid}
    if old_on_server >= len(known):
        return 0
    vanished = known - set(client.search("ALL"))
    return st.mark_gone(db, account, folder, uidvalidity, vanished) if vanished else 0


@dataclass
class _Fetch:
    """Download, parse and store a list of UIDs of one selected folder, batch by batch."""

    client: IMAPClient
    db: Database
    account: Account
    folder: str
    identity: Identity
    uidvalidity: int
    result: FolderResult
    bar: Progress
    stop: threading.Event | None
    is_sent: bool
    thread_ids: set[str] = field(default_factory=set)  # Message-IDs kept in this pass
    queued_ids: set[str] | None = None  # Message-IDs stored but not parsed yet; read when first needed

    def run(self, uids: list[int]) -> None:
        """Store each batch's raw bytes with its checkpoint (parsing comes after, `ingest.pipeline.queue`)."""
        for jobs, batch in self._batches(uids):
            saved = save_raw_batch(self.db, jobs, checkpoint=self._checkpoint(batch))
            self.result.new += saved.new
            self.result.errors += len(batch.missing)
            self.result.skipped += len(batch.pending)
            self.result.expunged += len(batch.gone)
            self.bar.show(self.result)
            if self.stop is not None and self.stop.is_set():
                self.result.stopped = True
                return

    def _batches(self, uids: list[int]) -> Iterator[tuple[list[Job], _Batch]]:
        """Windows of UIDs: one metadata FETCH each, then bodies in bounded batches. Every UID
        of a batch up to its `last_uid` is accounted for in that batch or an earlier one."""
        relevant_mode = self.account.fetch == "relevant"
        items = META_ITEMS_HEADERS if relevant_mode else META_ITEMS
        for start in range(0, len(uids), WINDOW):
            window = uids[start : start + WINDOW]
            meta, unanswered, expunged = self._ask(window, items, _has_metadata(relevant_mode))
            batch = _Batch(last_uid=window[0])
            body_uids: list[int] = []
            body_bytes = 0
            for uid in window:
                answer = meta.get(uid)
                if answer is None:
                    if uid in unanswered:
                        batch.missing[uid] = "metadata"
                    else:
                        batch.gone.append(uid)
                    batch.last_uid = uid
                    continue
                size = size_of(answer) or 0
                if relevant_mode:
                    pending = self._header_only(uid, header_block(answer) or b"", size)
                    if pending is not None:
                        batch.pending.append(pending)
                        batch.last_uid = uid
                        continue
                if body_uids and (len(body_uids) >= BATCH_MESSAGES or body_bytes + size > BATCH_BYTES):
                    yield self._bodies(body_uids, batch), batch
                    batch = _Batch(last_uid=uid)
                    body_uids, body_bytes = [], 0
                body_uids.append(uid)
                body_bytes += size
                batch.last_uid = uid
            yield self._bodies(body_uids, batch), batch

    def _ask(
        self, uids: list[int], items: str, usable: Callable[[dict[bytes, Value]], bool]
    ) -> tuple[dict[int, dict[bytes, Value]], set[int], set[int]]:
        """FETCH `items` of `uids`: (usable answers by UID, UIDs still listed but not answered,
        UIDs confirmed expunged). A UID not answered is asked again on its own (all together
        past `REASK_ONE_BY_ONE`), then looked up with `UID SEARCH`: never assumed expunged."""
        answers = uid_fetch(self.client, uids, items)
        found: dict[int, dict[bytes, Value]] = {}
        missing: list[int] = []
        for uid in uids:
            answer = answers.get(uid)
            if answer is not None and usable(answer):
                found[uid] = answer
            else:
                missing.append(uid)
        if not missing:
            return found, set(), set()
        log.warning(
            "server did not answer for %d of %d UIDs account=%s folder=%s: asking again",
            len(missing), len(uids), self.account.name, self.folder,
        )  # fmt: skip
        again = [[uid] for uid in missing] if len(missing) <= REASK_ONE_BY_ONE else [missing]
        for group in again:
            answers = uid_fetch(self.client, group, items)
            for uid in group:
                answer = answers.get(uid)
                if answer is not None and usable(answer):
                    found[uid] = answer
        still = [uid for uid in missing if uid not in found]
        if not still:
            return found, set(), set()
        listed = self._listed(still)
        return found, {u for u in still if u in listed}, {u for u in still if u not in listed}

    def _listed(self, uids: list[int]) -> set[int]:
        """Which of `uids` the server still has. NOOP first: it delivers the EXPUNGE news a
        session may hold back, so the search sees the folder as it is."""
        self.client.noop()
        return {int(u) for u in self.client.search(["UID", uid_set(uids)])}

    def _header_only(self, uid: int, header_block: bytes, size: int) -> st.PendingBody | None:
        """None if the message is relevant (fetch its body), else its header-only record."""
        headers = parse_headers(header_block)
        who = _as_mine(self.identity, headers.from_addr) if self.is_sent else self.identity
        if relevance(headers, who, self._known_ids):
            if headers.message_id:
                self.thread_ids.add(headers.message_id)
            return None
        return st.PendingBody(uid, headers.message_id, headers.from_addr, headers.subject, headers.date, size)

    def _known_ids(self, ids: Iterable[str]) -> set[str]:
        """Replies to a stored message, to one kept earlier in this pass, or to one stored but
        still waiting in `parse_queue` (the queue is drained after the download) are relevant."""
        wanted = list(ids)
        if self.queued_ids is None:
            self.queued_ids = st.queued_message_ids(self.db)
        return (set(wanted) & (self.thread_ids | self.queued_ids)) | st.known_message_ids(self.db, wanted)

    def _checkpoint(self, batch: _Batch) -> Callable[[Database], None]:
        account, folder, uidvalidity = self.account.name, self.folder, self.uidvalidity

        def checkpoint(db: Database) -> None:
            st.save_pending(db, account, folder, uidvalidity, batch.pending)
            st.drop_pending(db, account, folder, uidvalidity, batch.uids)
            st.want_again(db, account, folder, uidvalidity, list(batch.missing))
            for uid, what in batch.missing.items():
                record_error(
                    db,
                    "imap",
                    f"server returned no {what} for UID {uid} (asked twice; UID SEARCH still lists it): "
                    "asked again on the next pass",
                    None,
                    f"{account}/{folder}",
                )
            if batch.gone:
                st.mark_gone(db, account, folder, uidvalidity, batch.gone)
            st.save_progress(db, account, folder, uidvalidity, batch.last_uid)

        return checkpoint

    def _bodies(self, uids: list[int], batch: _Batch) -> list[Job]:
        """`BODY.PEEK[]` of `uids` (never `BODY[]`: that would set \\Seen), with their internal
        date and flags (asked here, not in the metadata FETCH: only kept messages need them)."""
        if not uids:
            return []
        bodies, unanswered, _expunged = self._ask(uids, BODY_ITEMS, lambda a: body_of(a) is not None)
        jobs: list[Job] = []
        for uid in uids:
            answer = bodies.get(uid)
            if answer is None:
                if uid in unanswered:
                    batch.missing[uid] = "body"
                else:
                    batch.gone.append(uid)
                continue
            raw = body_of(answer) or b""
            location = Location(
                account=self.account.name,
                folder=self.folder,
                uidvalidity=self.uidvalidity,
                uid=uid,
                internal_date=internal_date(answer),
                flags=flags_of(answer),
            )
            jobs.append(Job(raw, location))
            batch.uids.append(uid)
            self.result.fetched += 1
            self.result.bytes += len(raw)
        return jobs


def _has_metadata(headers: bool) -> Callable[[dict[bytes, Value]], bool]:
    """Whether a metadata answer carries what was asked: the size, and the header block if asked."""

    def usable(answer: dict[bytes, Value]) -> bool:
        return size_of(answer) is not None and (not headers or header_block(answer) is not None)

    return usable


def _as_mine(identity: Identity, addr: str | None) -> Identity:
    """Mail in the Sent folder is mine even from an address `[identity]` does not list."""
    return Identity(identity.addresses | {addr.lower()}) if addr else identity
