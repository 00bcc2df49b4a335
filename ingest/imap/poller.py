"""Passes over accounts: `poll_once` (one pass, then exit) and `run_daemon` (until stopped).

One account failing never stops the others. Transient trouble (network, server restart,
a connection cut mid-FETCH) is retried: a few quick reconnects within a pass, exponential
backoff with jitter in the daemon. Permanent trouble (a refused login, an untrusted
certificate) is logged in plain words, recorded in `poll_runs`, and retried with a slow
backoff (`PERMANENT_FIRST` seconds, doubling up to `PERMANENT_RETRY`), so a wrong password
never turns into a retry storm, and a password fixed on the server side is picked up within
the hour. A configuration problem (`ConfigProblem`: no password from its source, an OAuth2
table missing a key) stops the whole daemon at once: no retry can fix the file.

The daemon runs one thread per connection, and an account has one connection per folder
(up to the account's `idle_connections`): IMAP is a blocking, one-folder-at-a-time protocol, and IDLE
watches the one selected folder. Each thread has its own SQLite connection (WAL lets them
and Datasette coexist); downloaded mail is processed under one lock (`ingest.pipeline.queue.drain`).
The cross-message tables are rebuilt by one more thread once new mail has been quiet for a
moment (`Deriver`), so a delivery never waits for a rebuild.
"""

from __future__ import annotations

import imaplib
import logging
import random
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from imapclient import IMAPClient
from sqlite_utils import Database

from extractors import Identity
from ingest.config import Account, Config
from ingest.imap import state as st
from ingest.imap.connect import connect, describe_network_error
from ingest.imap.errors import (
    AuthError,
    ConfigProblem,
    FolderError,
    ImapError,
    PermanentError,
    TLSError,
    TransientError,
)
from ingest.imap.folders import folders_to_sync
from ingest.imap.stopping import Stop, stopping
from ingest.imap.sync import FolderResult, sync_folder
from ingest.outputs.notify import notifier_for
from ingest.pipeline.queue import DrainSummary, drain
from ingest.pipeline.steps import STEPS, Step, refresh_derived
from ingest.store import now_iso, record_error
from ingest.store.schema import connect_db

log = logging.getLogger("subtrail.poll")

ONCE_RETRIES = 3  # reconnects within one `poll --once` pass after a transient error
PERMANENT_FIRST = 300.0  # seconds before a daemon first retries an account with bad credentials
PERMANENT_RETRY = 3600.0  # ... doubling up to this
IDLE_RENEW = 600.0  # re-issue IDLE every 10 min: well inside RFC 2177's 29-minute server timeout
DEFAULT_INTERVAL = 300.0  # seconds between polls of folders without IDLE
DERIVE_DELAY = 10.0  # seconds of quiet after new mail before the derived tables are rebuilt
# Errors raised by the socket, TLS and imaplib layers while a session is in use.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (OSError, ssl.SSLError, imaplib.IMAP4.abort, EOFError)


@dataclass
class AccountResult:
    account: str
    folders: list[FolderResult] = field(default_factory=list)
    error: ImapError | None = None

    @property
    def errors(self) -> int:
        return sum(f.errors for f in self.folders) + (1 if self.error else 0)

    @property
    def new(self) -> int:
        return sum(f.new for f in self.folders)


@dataclass
class PassSummary:
    accounts: list[AccountResult] = field(default_factory=list)
    seconds: float = 0.0
    processed: int = 0  # queued messages parsed, extracted and indexed in this pass
    processing_seconds: float = 0.0  # of `seconds`, the time spent on that (the rest: IMAP and storing)
    processing_errors: int = 0  # of those, messages with a parse or extractor problem (in ingest_errors)

    def add(self, drained: DrainSummary) -> None:
        self.processed += drained.messages
        self.processing_seconds += drained.seconds
        self.processing_errors += drained.errors

    @property
    def errors(self) -> int:
        return sum(a.errors for a in self.accounts) + self.processing_errors

    @property
    def new(self) -> int:
        return sum(a.new for a in self.accounts)

    @property
    def exit_status(self) -> int:
        return 1 if self.errors else 0


def _status_of(exc: ImapError) -> str:
    """The `poll_runs.status` word for a failure."""
    kinds = (
        (ConfigProblem, "config_error"),
        (AuthError, "auth_failed"),
        (TLSError, "tls_failed"),
        (FolderError, "folder_error"),
    )
    for kind, status in kinds:
        if isinstance(exc, kind):
            return status
    return "unreachable" if isinstance(exc, TransientError) else "failed"


def _record_account_error(db: Database, account: Account, exc: ImapError, started: str) -> None:
    run_id = st.start_run(db, account.name, None, started)
    st.end_run(db, run_id, _status_of(exc), errors=1, error=str(exc))
    with db.atomic():
        record_error(db, "imap", str(exc), None, account.name)


def sync_account(
    client: IMAPClient,
    db: Database,
    account: Account,
    identity: Identity,
    *,
    stop: threading.Event | None = None,
    progress: bool | None = None,
    record_unchanged: bool = True,
    folders: list[str] | None = None,
    sent: str | None = None,
) -> AccountResult:
    """Sync `folders` (default: the account's, from one LIST) of a connected account;
    a missing folder is an error for it alone. `sent` names the Sent folder when `folders` is given."""
    result = AccountResult(account.name)
    if folders is None:
        folders, sent = folders_to_sync(client, account)
    for folder in folders:
        if stop is not None and stop.is_set():
            break
        started = now_iso()
        try:
            outcome = sync_folder(
                client, db, account, folder, identity,
                stop=stop, progress=progress, is_sent=folder == sent,
            )  # fmt: skip
        except FolderError as exc:
            log.error("folder failed account=%s folder=%s error=%s", account.name, folder, exc)
            run_id = st.start_run(db, account.name, folder, started)
            st.end_run(db, run_id, "folder_error", errors=1, error=str(exc))
            with db.atomic():
                record_error(db, "imap", str(exc), None, f"{account.name}/{folder}")
            result.folders.append(FolderResult(folder=folder, errors=1))
            continue
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt | SystemExit):
                raise
            if stopping(stop):  # the stop shut the socket: the committed batches stay, nothing failed
                run_id = st.start_run(db, account.name, folder, started)
                st.end_run(db, run_id, "stopped")
                result.folders.append(FolderResult(folder=folder, stopped=True))
                return result
            error = describe_network_error(account, exc)
            run_id = st.start_run(db, account.name, folder, started)
            st.end_run(db, run_id, _status_of(error), errors=1, error=str(error))
            raise error from None
        result.folders.append(outcome)
        if outcome.unchanged and not record_unchanged:
            continue
        status = "stopped" if outcome.stopped else ("unchanged" if outcome.unchanged else "ok")
        run_id = st.start_run(db, account.name, folder, started)
        st.end_run(db, run_id, status, outcome.fetched, outcome.skipped, outcome.errors)
        if not outcome.unchanged:
            log.info(
                "synced account=%s folder=%s new_uids=%d fetched=%d stored=%d header_only=%d gone=%d "
                "errors=%d mb=%.1f%s",
                account.name, folder, outcome.seen, outcome.fetched, outcome.new, outcome.skipped,
                outcome.gone, outcome.errors, outcome.bytes / 1e6,
                " uidvalidity_changed=1" if outcome.uidvalidity_changed else "",
            )  # fmt: skip
    return result


def _logout(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        try:
            client.shutdown()
        except Exception:
            pass


def poll_account_once(
    db: Database,
    account: Account,
    identity: Identity,
    *,
    stop: threading.Event | None = None,
    progress: bool | None = None,
    retry_delay: float = 1.0,
) -> AccountResult:
    """One pass over one account, reconnecting a few times after transient errors."""
    attempt = 0
    result = AccountResult(account.name)

    def failed(error: ImapError, started: str) -> AccountResult:
        log.error("account failed account=%s error=%s", account.name, error)
        _record_account_error(db, account, error, started)
        result.error = error
        return result

    while True:
        started = now_iso()
        try:
            client = connect(account, stop=stop)
            try:
                partial = sync_account(client, db, account, identity, stop=stop, progress=progress)
            finally:
                _logout(client)
            result.folders.extend(partial.folders)
            return result
        except ImapError as exc:
            if stopping(stop):  # a wait the stop cut short: not a failure of the account
                return result
            if isinstance(exc, PermanentError):
                return failed(exc, started)
            attempt += 1
            if attempt > ONCE_RETRIES:
                return failed(exc, started)
            log.warning("retrying account=%s attempt=%d error=%s", account.name, attempt, exc)
            _sleep(stop, retry_delay * 2 ** (attempt - 1))
        except Exception as exc:  # e.g. a BAD answer to LIST: this account fails, the others go on
            if stopping(stop):
                return result
            return failed(describe_network_error(account, exc), started)


def _sleep(stop: threading.Event | None, seconds: float) -> None:
    """Sleep, waking within 50 ms of a stop. Polls `is_set()` instead of `stop.wait()`: this runs
    in the main thread, whose signal handler sets `stop`, and Event.wait holds the lock set() needs."""
    deadline = time.monotonic() + seconds
    while not stopping(stop) and time.monotonic() < deadline:
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def poll_once(
    db: Database,
    config: Config,
    *,
    stop: threading.Event | None = None,
    progress: bool | None = None,
    workers: int | None = None,
    retry_delay: float = 1.0,
    steps: Sequence[Step] = STEPS,
) -> PassSummary:
    """`subtrail poll --once`: every account and folder once (raw bytes first), then the
    parse queue, then the derived tables.

    The download comes first even when a crash or a stop left messages queued: parsing is
    the slow part, and runs killed while they drained the queue used to add no new mail at
    all (5 to 7 kills in a row stored nothing new). A reply to a queued message still counts
    as in a known thread (`sync` reads the queued messages' Message-IDs)."""
    began = time.monotonic()
    summary = PassSummary()
    for account in config.accounts:
        if stop is not None and stop.is_set():
            break
        summary.accounts.append(
            poll_account_once(
                db, account, config.identity, stop=stop, progress=progress, retry_delay=retry_delay
            )
        )
    summary.add(drain(db, config.identity, workers=workers, stop=stop, progress=progress, steps=steps))
    if summary.new or summary.processed:
        refresh_derived(db, steps)
    summary.seconds = time.monotonic() - began
    return summary


class Backoff:
    """Exponential delays with jitter: 2, 4, 8 ... up to `cap` seconds, reset after a success."""

    def __init__(self, base: float = 2.0, cap: float = 300.0) -> None:
        self.base, self.cap, self.failures = base, cap, 0

    def next(self) -> float:
        delay = min(self.cap, self.base * 2**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        self.failures = 0


@dataclass
class DaemonSettings:
    interval: float = DEFAULT_INTERVAL
    idle_renew: float = IDLE_RENEW
    backoff_base: float = 2.0
    backoff_cap: float = 300.0
    permanent_retry: float = PERMANENT_RETRY  # the longest wait after a permanent error
    permanent_first: float = PERMANENT_FIRST  # the first wait after one (capped by permanent_retry)
    workers: int | None = None
    derive_delay: float = DERIVE_DELAY
    steps: tuple[Step, ...] = STEPS  # what each drain and each rebuild runs (`ingest.pipeline.steps`)


def connection_slots(account: Account) -> int:
    """How many connections (each IDLE on one folder) an account gets: one per folder to sync
    (INBOX and Sent by default), at most its `idle_connections`; servers cap connections per user
    (Dovecot 10 per address, Gmail 15), so the folders past the cap share the last one."""
    return max(1, min(account.idle_connections, len(account.folders) if account.folders else 2))


class AccountLoop:
    """The daemon's life for one connection of an account: connect, catch up, then IDLE or poll.

    An account has `slots` loops (`connection_slots`). Where the server offers IDLE, loop `slot`
    owns folder `slot` and IDLEs on it, and the last loop also polls the folders past the cap;
    so new mail in Sent arrives as fast as in INBOX. Without IDLE, loop 0 polls every folder
    and the others stand by.
    """

    def __init__(
        self,
        db_path: str,
        account: Account,
        identity: Identity,
        stop: threading.Event,
        settings: DaemonSettings,
        deriver: Deriver | None = None,
        slot: int = 0,
        slots: int = 1,
        logged_in: threading.Event | None = None,
        problems: list[ConfigProblem] | None = None,
    ) -> None:
        self.db_path, self.account, self.identity = db_path, account, identity
        self.slot, self.slots = slot, slots
        # Set by slot 0's first login; the other slots wait for it, so a wrong password or a
        # server that is down costs one login attempt and one recorded error, not one per slot.
        self.logged_in = logged_in or threading.Event()
        self.stop, self.settings, self.deriver = stop, settings, deriver
        self.backoff = Backoff(settings.backoff_base, settings.backoff_cap)
        cap = settings.permanent_retry
        self.refusals = Backoff(min(settings.permanent_first, cap), cap)
        # A configuration problem met by any loop lands here, and the daemon stops (`run_daemon`).
        self.problems = problems if problems is not None else []
        self._forced: tuple[object, object] | None = None

    def run(self) -> None:
        if self.slot:
            while not self.logged_in.wait(0.2):
                if self.stop.is_set():
                    return
        db = connect_db(self.db_path)
        try:
            while not self.stop.is_set():
                started = now_iso()
                try:
                    self._session(db)
                except Exception as exc:
                    if self.stop.is_set():  # the stop cut a wait short: nothing failed
                        break
                    self._failed(db, exc, started)
        finally:
            db.close()

    def _failed(self, db: Database, exc: Exception, started: str) -> None:
        """Log and record a failed session, then wait as long as its kind deserves (or stop the daemon)."""
        if isinstance(exc, ConfigProblem):
            log.error("configuration problem, stopping account=%s error=%s", self.account.name, exc)
            _record_account_error(db, self.account, exc, started)
            self.problems.append(exc)
            self.stop.set()
        elif isinstance(exc, PermanentError):
            delay = self.refusals.next()
            log.error("account failing account=%s error=%s (attempt %d, next try in %.0fs)",
                      self.account.name, exc, self.refusals.failures, delay)  # fmt: skip
            _record_account_error(db, self.account, exc, started)
            self.stop.wait(delay)
        elif isinstance(exc, (TransientError, *NETWORK_ERRORS)):
            error = describe_network_error(self.account, exc)
            delay = self.backoff.next()
            log.warning("account unreachable account=%s error=%s (retry in %.1fs)",
                        self.account.name, error, delay)  # fmt: skip
            if self.backoff.failures == 1:  # one row per outage, not one per retry
                _record_account_error(db, self.account, error, started)
            self.stop.wait(delay)
        else:  # a bug or a database error must not end the account's loop
            log.error("account loop error account=%s", self.account.name, exc_info=exc)
            error = TransientError(f"account {self.account.name!r}: {type(exc).__name__}: {exc}")
            _record_account_error(db, self.account, error, started)
            self.stop.wait(self.backoff.next())

    def _pass(self, client: IMAPClient, db: Database, folders: list[str], sent: str | None) -> None:
        sync_account(
            client, db, self.account, self.identity, stop=self.stop,
            record_unchanged=False, folders=folders, sent=sent,
        )  # fmt: skip
        done = drain(
            db, self.identity, workers=self.settings.workers, stop=self.stop, progress=False,
            steps=self.settings.steps,
        )  # fmt: skip
        if done.messages and self.deriver is not None:
            self.deriver.touch()

    def _mine(self, folders: list[str], idle: bool) -> list[str]:
        """This connection's folders: its own with IDLE (the last takes the rest), all or none without."""
        if not idle:
            return folders if self.slot == 0 else []
        if self.slot < self.slots - 1:
            return folders[self.slot : self.slot + 1]
        return folders[self.slot :]

    def _session(self, db: Database) -> None:
        client = connect(self.account, stop=self.stop)
        self.logged_in.set()
        self.refusals.reset()
        try:
            every, sent = folders_to_sync(client, self.account)
            idle = b"IDLE" in client.capabilities()
            folders = self._mine(every, idle)
            if folders:
                self._serve(client, db, folders, sent, idle)
        finally:
            _logout(client)
        if not folders:  # fewer folders than connections, or no IDLE: nothing for this one
            self.backoff.reset()
            self.stop.wait(self.settings.permanent_retry)

    def _serve(
        self, client: IMAPClient, db: Database, folders: list[str], sent: str | None, idle: bool
    ) -> None:
        """Catch up, then IDLE on the first folder (if offered) and poll the others, until stopped."""
        self._pass(client, db, folders, sent)
        self.backoff.reset()
        idle_folder = folders[0] if idle else None
        others = [f for f in folders if f != idle_folder]
        next_poll = time.monotonic() + self._jittered()
        while not self.stop.is_set():
            if idle_folder:
                changed = self._idle(client, db, idle_folder, until=next_poll)
                if changed and not self.stop.is_set():
                    self._pass(client, db, [idle_folder], sent)
            else:
                self.stop.wait(max(0.0, next_poll - time.monotonic()))
            if time.monotonic() >= next_poll:
                if others and not self.stop.is_set():
                    self._pass(client, db, others, sent)
                next_poll = time.monotonic() + self._jittered()

    def _jittered(self) -> float:
        """Spread polls (±10 %) so many accounts or instances do not hit servers in lockstep."""
        return self.settings.interval * random.uniform(0.9, 1.1)

    def _idle(self, client: IMAPClient, db: Database, folder: str, until: float) -> bool:
        """IDLE on `folder` until the server reports a change, `until`, renewal time or stop."""
        selected = client.select_folder(folder, readonly=True)
        saved = st.load_state(db, self.account.name, folder)
        seen = (selected.get(b"UIDNEXT"), selected.get(b"EXISTS"))
        if (saved is None or (saved.uidnext, saved.messages) != seen) and seen != self._forced:
            # mail arrived between the last sync and this SELECT: IDLE would not report it
            self._forced = seen  # once: a folder that keeps failing must not spin
            return True
        client.idle()
        changed = False
        renew_at = time.monotonic() + self.settings.idle_renew
        try:
            while not self.stop.is_set():
                now = time.monotonic()
                if now >= until or now >= renew_at:
                    break
                responses = client.idle_check(timeout=min(1.0, until - now, renew_at - now))
                if any(isinstance(r, tuple) and len(r) > 1 and r[1] in (b"EXISTS", b"EXPUNGE", b"FETCH")
                       for r in responses):  # fmt: skip
                    changed = True
                    break
        finally:
            client.idle_done()
        return changed


class Deriver:
    """Rebuilds the cross-message tables (inventory, journal) after new mail, off the delivery path.

    A rebuild costs time in proportion to the whole database; run after every IDLE delivery,
    it would make each delivery wait for the previous rebuild. Account loops call `touch()`;
    this thread rebuilds once mail has been quiet for `delay` seconds, and once more at the end
    if anything is left. One rebuild at a time, on its own connection.
    """

    def __init__(self, db_path: str, delay: float, steps: Sequence[Step] = STEPS) -> None:
        self.db_path, self.delay, self.steps = db_path, delay, steps
        self.done = threading.Event()  # set when every account loop has finished
        self._lock = threading.Lock()
        self._dirty_at: float | None = None

    def touch(self) -> None:
        with self._lock:
            self._dirty_at = time.monotonic()

    def _take(self, finishing: bool) -> bool:
        with self._lock:
            due = self._dirty_at is not None and (
                finishing or time.monotonic() - self._dirty_at >= self.delay
            )
            if due:
                self._dirty_at = None
            return due

    def run(self) -> None:
        db = connect_db(self.db_path)
        try:
            while True:
                finishing = self.done.wait(0.2)
                if self._take(finishing):
                    started = time.monotonic()
                    try:
                        refresh_derived(db, self.steps)
                        log.info("derived tables rebuilt seconds=%.1f", time.monotonic() - started)
                    except Exception:
                        log.exception("rebuilding derived tables failed")
                if finishing:
                    return
        finally:
            db.close()


def run_daemon(
    db_path: str,
    config: Config,
    stop: threading.Event,
    settings: DaemonSettings | None = None,
) -> ConfigProblem | None:
    """Run every account's loop until `stop` is set; returns once every thread has finished its batch
    and the derived tables are up to date: None, or the configuration problem that stopped it.

    The loops get a `Stop` (`stop` itself if it is one, else one set from here when `stop` is),
    so a stop ends their network waits at once, whoever asks for it (`serve --poll` too)."""
    settings = settings or DaemonSettings()
    loops_stop = stop if isinstance(stop, Stop) else Stop()
    deriver = Deriver(db_path, settings.derive_delay, settings.steps)
    derive_thread = threading.Thread(target=deriver.run, name="derive", daemon=True)
    threads = []
    problems: list[ConfigProblem] = []
    for account in config.accounts:
        slots, logged_in = connection_slots(account), threading.Event()
        for slot in range(slots):
            loop = AccountLoop(
                db_path, account, config.identity, loops_stop, settings, deriver, slot, slots, logged_in,
                problems,
            )  # fmt: skip
            threads.append(threading.Thread(target=loop.run, name=f"poll-{account.name}-{slot}", daemon=True))
    derive_thread.start()
    for thread in threads:
        thread.start()
    log.info("daemon started accounts=%d connections=%d interval=%.0fs",
             len(config.accounts), len(threads), settings.interval)  # fmt: skip
    notifier = notifier_for(db_path, config)
    while any(t.is_alive() for t in threads):
        notifier.tick()  # reminders due (`subtrail notify`), at most once a minute
        for thread in threads:
            thread.join(timeout=0.1)
            if stop.is_set() and not loops_stop.is_set():
                loops_stop.set()
    deriver.done.set()
    derive_thread.join()
    if problems:
        log.error("daemon stopped on a configuration problem: %s", problems[0])
        return problems[0]
    log.info("daemon stopped")
    return None
