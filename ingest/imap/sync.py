"""Sync one folder, read-only and crash-safe: the reliability core of the poller.

1. Cheap check: one STATUS (UIDVALIDITY, UIDNEXT, MESSAGES, HIGHESTMODSEQ) compared with
   `sync_state`; an unchanged folder costs that one round trip.
2. EXAMINE (read-only select) and `UID SEARCH UID last+1:*` for the new UIDs.
3. New UIDs are walked in windows: a metadata FETCH (sizes, and in `relevant` mode the few
   headers `extractors.relevance` reads), then `BODY.PEEK[]` (with internal date and flags)
   of the messages to keep, in batches bounded in count and bytes. Never `BODY[]`: `\\Seen`
   stays as it was.
4. Each batch's raw bytes are stored by `store.save_raw_batch` with the checkpoint
   (`sync_state.last_uid`, the header-only rows) in the same transaction, and queued in
   `parse_queue`: a crash anywhere loses nothing and stores nothing twice. Parsing,
   extraction and indexing follow the download (`ingest.pipeline.queue.drain`, run by the
   poller after each pass), so the mirror goes at the network's pace.
5. A changed UIDVALIDITY restarts the folder from UID 0 (messages re-link by sha256);
   UIDs that vanished from the server get `gone_at`, their messages stay (a `UID SEARCH
   ALL` only when the server's message count is below ours).
6. Widening: with `fetch = "all"`, messages an earlier `relevant` pass left header-only
   (`pending_bodies`) are fetched too, and leave that table as they are stored. With
   `fetch = "relevant"`, they are judged again (headers fetched, decision re-made) whenever
   the relevance rules changed since the folder's last complete pass.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError
from sqlite_utils import Database

from extractors import Identity
from extractors.relevance import HEADER_FIELDS, parse_headers, relevance, rules_fingerprint
from ingest.config import Account
from ingest.imap import state as st
from ingest.imap.errors import FolderError
from ingest.pipeline.progress import ProgressLine
from ingest.store import Job, Location, record_error, save_raw_batch

log = logging.getLogger("subtrail.poll")

WINDOW = 1000  # UIDs per metadata FETCH
BATCH_MESSAGES = 250  # bodies per batch (one FETCH, one transaction)
BATCH_BYTES = 8 * 1024 * 1024  # body bytes per batch; a bigger message is a batch of its own
HEADER_ITEM = "BODY.PEEK[HEADER.FIELDS (" + " ".join(HEADER_FIELDS) + ")]"


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
    uidvalidity_changed: bool = False
    stopped: bool = False


@dataclass
class _Batch:
    """One transaction's worth: bodies to store plus the checkpoint that covers them."""

    last_uid: int
    uids: list[int] = field(default_factory=list)  # UIDs whose bodies are in the batch
    pending: list[st.PendingBody] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)  # UIDs the server returned no body for


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

    def run(self, uids: list[int]) -> None:
        """Store each batch's raw bytes with its checkpoint (parsing comes after, `ingest.pipeline.queue`)."""
        for jobs, batch in self._batches(uids):
            saved = save_raw_batch(self.db, jobs, checkpoint=self._checkpoint(batch))
            self.result.new += saved.new
            self.result.errors += len(batch.missing)
            self.result.skipped += len(batch.pending)
            self.bar.show(self.result)
            if self.stop is not None and self.stop.is_set():
                self.result.stopped = True
                return

    def _batches(self, uids: list[int]) -> Iterator[tuple[list[Job], _Batch]]:
        """Windows of UIDs: one metadata FETCH each, then bodies in bounded batches."""
        relevant_mode = self.account.fetch == "relevant"
        for start in range(0, len(uids), WINDOW):
            window = uids[start : start + WINDOW]
            meta = fetch_sizes(self.client, window, headers=relevant_mode)
            batch = _Batch(last_uid=window[0])
            body_uids: list[int] = []
            body_bytes = 0
            for uid in window:
                if uid not in meta:  # expunged between SEARCH and FETCH
                    batch.last_uid = uid
                    continue
                size, header_block = meta[uid]
                if relevant_mode:
                    pending = self._header_only(uid, header_block, size)
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
        """Replies to a stored message, or to one kept earlier in this pass, are relevant."""
        wanted = list(ids)
        return (set(wanted) & self.thread_ids) | st.known_message_ids(self.db, wanted)

    def _checkpoint(self, batch: _Batch) -> Callable[[Database], None]:
        account, folder, uidvalidity = self.account.name, self.folder, self.uidvalidity

        def checkpoint(db: Database) -> None:
            st.save_pending(db, account, folder, uidvalidity, batch.pending)
            st.drop_pending(db, account, folder, uidvalidity, batch.uids)
            st.want_again(db, account, folder, uidvalidity, batch.missing)
            for uid in batch.missing:
                record_error(
                    db,
                    "imap",
                    f"server returned no body for UID {uid} (expunged meanwhile, or a server fault)",
                    None,
                    f"{account}/{folder}",
                )
            st.save_progress(db, account, folder, uidvalidity, batch.last_uid)

        return checkpoint

    def _bodies(self, uids: list[int], batch: _Batch) -> list[Job]:
        """`BODY.PEEK[]` of `uids` (never `BODY[]`: that would set \\Seen), with their internal
        date and flags (asked here, not in the metadata FETCH: only kept messages need them)."""
        if not uids:
            return []
        bodies = self.client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE", "FLAGS"])
        jobs: list[Job] = []
        for uid in uids:
            if uid not in bodies:
                # Expunged since the metadata FETCH, or a server fault: either way it is
                # recorded in ingest_errors, never skipped silently.
                batch.missing.append(uid)
                continue
            raw = bodies[uid].get(b"BODY[]")
            if not isinstance(raw, bytes):
                batch.missing.append(uid)
                continue
            info = bodies[uid]
            location = Location(
                account=self.account.name,
                folder=self.folder,
                uidvalidity=self.uidvalidity,
                uid=uid,
                internal_date=_iso(info.get(b"INTERNALDATE")),
                flags=" ".join(_text(f) for f in info.get(b"FLAGS", ())) or None,  # type: ignore[union-attr]
            )
            jobs.append(Job(raw, location))
            batch.uids.append(uid)
            self.result.fetched += 1
            self.result.bytes += len(raw)
        return jobs


def _as_mine(identity: Identity, addr: str | None) -> Identity:
    """Mail in the Sent folder is mine even from an address `[identity]` does not list."""
    return Identity(identity.addresses | {addr.lower()}) if addr else identity


_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")


def fetch_sizes(client: IMAPClient, uids: list[int], headers: bool) -> dict[int, tuple[int, bytes]]:
    """UID -> (RFC822.SIZE, the `HEADER_FIELDS` block or b"") for `uids`, in one FETCH.

    Sent through imaplib and read with two regexes rather than imapclient's parser: its
    pure-Python lexer walks every byte of each response line, and the server echoes the
    whole header-field list for every message, which made this FETCH cost more than the
    bodies in `relevant` mode. The response, for one message:

        * 12 FETCH (UID 12 RFC822.SIZE 4242 BODY[HEADER.FIELDS (FROM TO ...)] {311}
        <311 bytes of headers>)
    """
    items = "(RFC822.SIZE" + (f" {HEADER_ITEM})" if headers else ")")
    typ, data = client._imap.uid("FETCH", ",".join(map(str, uids)), items)
    if typ != "OK":
        raise IMAPClientError(f"FETCH failed: {data!r}"[:300])
    found: dict[int, tuple[int, bytes]] = {}
    for item in data:
        line, block = (item[0], item[1]) if isinstance(item, tuple) else (item, b"")
        if not isinstance(line, bytes):
            continue
        uid, size = _UID.search(line), _SIZE.search(line)
        if uid and size:  # unsolicited FETCH responses (flag changes) carry no UID: skipped
            found[int(uid.group(1))] = (int(size.group(1)), block if isinstance(block, bytes) else b"")
    return found


def _iso(value: object) -> str | None:
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        value = value.astimezone()  # imapclient normalised it to local time
    return value.astimezone(UTC).isoformat(timespec="seconds")


def _text(flag: object) -> str:
    return flag.decode("utf-8", "replace") if isinstance(flag, bytes) else str(flag)
