"""Open an authenticated IMAP session for one account: TCP, TLS, login. Nothing else.

TLS certificates are verified against the system store (plus `tls_ca_file` if set); a
self-signed server can instead be pinned by the sha256 of its certificate
(`tls_fingerprint`), checked before any credential is sent. `security = "none"` is only
allowed on loopback (the config refuses it elsewhere; checked again here).
Every failure becomes an `ImapError` subclass whose message never contains a secret.

The socket is opened here rather than by imapclient, for two reasons: the TCP connect waits
in short slices that check the stop request (a blocking connect to a host that drops packets
cannot be interrupted), and the connected socket is handed to the `Stop` before the greeting
is awaited, so a stop shuts it down even then (`ingest.imap.stopping`). Knowing the phase
also lets a silent server be reported as what it is: no IMAP greeting within N s.
"""

from __future__ import annotations

import errno
import hashlib
import imaplib
import logging
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from imapclient import IMAPClient, tls
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from ingest.config import Account, ConfigError
from ingest.imap.errors import AuthError, ConfigProblem, ImapError, TLSError, TransientError
from ingest.imap.stopping import Stop, stopping
from ingest.pipeline.sources import MAX_MESSAGE_BYTES

CONNECT_TIMEOUT = 15.0  # TCP connect, TLS handshake and greeting; an account's smaller `timeout` wins

# imapclient logs every command and response at DEBUG (message bodies, AUTHENTICATE data):
# keep it quiet whatever the root level, so neither mail nor tokens reach our logs. The steps of
# the conversation are logged by `_Session` instead (`subtrail poll -v`): commands, folders and
# counts, never a secret nor a byte of mail.
logging.getLogger("imapclient").setLevel(logging.WARNING)
log = logging.getLogger("subtrail.imap")


def tls_context(account: Account) -> ssl.SSLContext:
    """Verify by default; trust `tls_ca_file` too; with a pinned fingerprint, the pin is the check."""
    context = ssl.create_default_context()
    if account.tls_ca_file:
        try:
            context.load_verify_locations(cafile=account.tls_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigProblem(f"account {account.name!r}: cannot read tls_ca_file ({exc})") from None
    if account.tls_fingerprint:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _normalise_fingerprint(value: str) -> str:
    return value.replace(":", "").replace(" ", "").lower().removeprefix("sha256")


def check_pin(client: IMAPClient, account: Account) -> None:
    """Compare the server certificate with `tls_fingerprint` before sending credentials."""
    if not account.tls_fingerprint:
        return
    sock = client.socket()
    der = sock.getpeercert(binary_form=True) if isinstance(sock, ssl.SSLSocket) else None
    if der is None:
        raise TLSError(f"account {account.name!r}: tls_fingerprint set but the connection is not TLS")
    actual = hashlib.sha256(der).hexdigest()
    if actual != _normalise_fingerprint(account.tls_fingerprint):
        raise TLSError(
            f"account {account.name!r}: server certificate sha256 {actual} does not match tls_fingerprint"
        )


def describe_network_error(account: Account, exc: BaseException) -> ImapError:
    """Turn a socket/TLS/imaplib exception into a classified, secret-free error."""
    where = f"account {account.name!r} ({account.host}:{account.port})"
    if isinstance(exc, ImapError):
        return exc
    if isinstance(exc, socket.gaierror):
        return TransientError(f"{where}: DNS cannot resolve {account.host} ({exc.strerror})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return TLSError(
            f"{where}: TLS certificate not trusted ({exc.verify_message}); "
            "set tls_ca_file or tls_fingerprint for a self-signed server"
        )
    if isinstance(exc, ssl.SSLError):
        return TLSError(f"{where}: TLS handshake failed ({exc.reason or exc}); is security right?")
    if isinstance(exc, ConnectionRefusedError):
        return TransientError(f"{where}: connection refused (server down or wrong port)")
    if isinstance(exc, TimeoutError | socket.timeout):
        return TransientError(f"{where}: timed out")
    if isinstance(exc, OSError):
        return TransientError(f"{where}: network error ({exc.strerror or type(exc).__name__})")
    if isinstance(exc, imaplib.IMAP4.abort):
        return TransientError(f"{where}: connection lost ({_short(exc)})")
    return TransientError(f"{where}: {type(exc).__name__}: {_short(exc)}")


def _short(exc: BaseException) -> str:
    text = str(exc)
    if text.startswith(("b'", 'b"')):
        text = text[2:-1]
    return text[:300]


def limit_literals(client: IMAPClient, limit: int = MAX_MESSAGE_BYTES) -> None:
    """imaplib reads a literal whole, whatever size the server announces: a server sending
    `{2147483648}` and streaming took gigabytes. A literal over the message size limit
    (the one offline imports use) ends the session instead."""
    imap = client._imap
    read = imap.read

    def read_within_limit(size: int) -> bytes:
        if size > limit:
            raise imaplib.IMAP4.abort(f"server announced a {size}-byte literal, over the {limit} limit")
        return read(size)

    imap.read = read_within_limit


def quiet_imaplib(client: IMAPClient) -> None:
    """Stop imaplib from formatting every response for a debug log nobody reads.

    imapclient sets imaplib's `debug = 5` and routes it to a logger: imaplib then builds the
    `repr` of each response (a 20 KB message costs a 20 KB repr, the whole batch another)
    before the disabled logger drops it. That was 80 % of the CPU of a body FETCH: a
    10,000-message download went from 1.6 s of client CPU to 0.3 s. Raw IMAP traffic carries
    mail and credentials, so it is never logged anyway.
    """
    client._imap.debug = 0


@dataclass
class _Opening:
    """How far a connection got (connect, tls, greeting), and how to end its watch by a `Stop`."""

    phase: str = "connect"
    release: Callable[[], None] = field(default=lambda: None)


def _connect_within(
    sock: socket.socket, address: object, deadline: float, stop: threading.Event | None
) -> None:
    """A non-blocking connect waited for in 0.1 s slices, so a stop request is seen at once."""
    sock.setblocking(False)
    code = sock.connect_ex(address)
    while code in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
        if stopping(stop):
            raise InterruptedError("stopped")
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        _, writable, failed = select.select([], [sock], [sock], min(0.1, left))
        if writable or failed:
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if code:
        raise OSError(code, os.strerror(code))


def _open_socket(
    host: str, port: int, wait: float, stop: threading.Event | None, opening: _Opening
) -> socket.socket:
    """TCP to (host, port) within `wait` seconds (every address DNS gives, in turn), then watched
    by `stop`; the TLS handshake and the greeting get `wait` seconds too."""
    deadline = time.monotonic() + wait
    error: OSError = TimeoutError("timed out")
    for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        sock = socket.socket(family, kind, proto)
        try:
            _connect_within(sock, address, deadline, stop)
        except OSError as exc:
            sock.close()
            error = exc
            if isinstance(exc, TimeoutError | InterruptedError):
                break
            continue
        sock.settimeout(wait)
        if isinstance(stop, Stop):
            opening.release = stop.watch(sock)
        opening.phase = "greeting"
        return sock
    raise error


class _PlainIMAP4(imaplib.IMAP4):
    def __init__(self, host: str, port: int, opener: Callable[[], socket.socket]) -> None:
        self._opener = opener
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._opener()


class _TLSIMAP4(imaplib.IMAP4):
    """Implicit TLS (port 993), as imapclient's `IMAP4_TLS`, on a socket from `_open_socket`."""

    def __init__(
        self,
        host: str,
        port: int,
        opener: Callable[[], socket.socket],
        context: ssl.SSLContext,
        opening: _Opening,
    ) -> None:
        self._opener, self.ssl_context, self._opening = opener, context, opening
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        sock = self._opener()
        self._opening.phase = "tls"
        wrapped = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        self._opening.phase = "greeting"
        return wrapped


class _Session(IMAPClient):
    """An `IMAPClient` whose socket comes from `_open_socket`; logout or shutdown ends its watch.

    Each step of the conversation is logged at DEBUG on `subtrail.imap` (folder, counts, never
    content), so `-v` shows where a session stands or stalls."""

    def __init__(
        self, host: str, *, stop: threading.Event | None, opening: _Opening, label: str = "", **kwargs: object
    ) -> None:
        self._stop, self._opening, self.label = stop, opening, label
        super().__init__(host, **kwargs)  # type: ignore[arg-type]

    def select_folder(self, folder: str, readonly: bool = False) -> dict[bytes, Any]:
        selected = super().select_folder(folder, readonly=readonly)
        log.debug(
            "imap select folder=%s readonly=%s exists=%s uidnext=%s uidvalidity=%s account=%s",
            folder, readonly, selected.get(b"EXISTS"), selected.get(b"UIDNEXT"),
            selected.get(b"UIDVALIDITY"), self.label,
        )  # fmt: skip
        return selected

    def search(self, criteria: Any = "ALL", charset: str | None = None) -> list[int]:
        found = super().search(criteria, charset)
        shown = criteria if isinstance(criteria, str) else " ".join(str(c) for c in criteria)
        log.debug("imap search criteria=%r found=%d account=%s", shown, len(found), self.label)
        return found  # type: ignore[no-any-return]

    def list_folders(self, directory: str = "", pattern: str = "*") -> list[Any]:
        folders = super().list_folders(directory, pattern)
        log.debug("imap list folders=%d account=%s", len(folders), self.label)
        return folders  # type: ignore[no-any-return]

    def folder_status(self, folder: str, what: Any = None) -> dict[bytes, Any]:
        status = super().folder_status(folder, what)
        shown = " ".join(f"{k.decode()}={v}" for k, v in status.items())
        log.debug("imap status folder=%s %s account=%s", folder, shown, self.label)
        return status  # type: ignore[no-any-return]

    def idle(self) -> Any:
        log.debug("imap idle account=%s", self.label)
        return super().idle()

    def _create_IMAP4(self) -> imaplib.IMAP4:
        wait = float(self._timeout.connect or CONNECT_TIMEOUT)

        def opener() -> socket.socket:
            return _open_socket(self.host, self.port, wait, self._stop, self._opening)

        if self.ssl:
            context = self.ssl_context or tls.create_default_context()
            return _TLSIMAP4(self.host, self.port, opener, context, self._opening)
        return _PlainIMAP4(self.host, self.port, opener)

    def logout(self) -> bytes:
        log.debug("imap logout account=%s", self.label)
        try:
            return super().logout()  # type: ignore[no-any-return]
        finally:
            self._opening.release()

    def shutdown(self) -> None:
        try:
            super().shutdown()
        finally:
            self._opening.release()


def _opening_error(account: Account, exc: BaseException, opening: _Opening, wait: float) -> ImapError:
    """What went wrong before the session existed, named by the phase it stopped in."""
    where = f"account {account.name!r} ({account.host}:{account.port})"
    if isinstance(exc, TimeoutError | socket.timeout):
        if opening.phase == "greeting":
            return TransientError(f"{where}: no IMAP greeting within {wait:g} s")
        if opening.phase == "tls":
            return TransientError(f"{where}: no TLS handshake within {wait:g} s; is security right?")
        return TransientError(f"{where}: no TCP connection within {wait:g} s (timed out)")
    return describe_network_error(account, exc)


def connect(
    account: Account, timeout: float | None = None, stop: threading.Event | None = None
) -> IMAPClient:
    """A logged-in client. Raises `AuthError`, `TLSError` (permanent) or `TransientError`.

    With a `Stop` (`ingest.imap.stopping`), setting it ends any wait of this session at once."""
    if account.security == "none" and not account.is_loopback:
        raise ConfigProblem(f"account {account.name!r}: security = 'none' is refused off loopback")
    read_timeout = timeout or account.timeout
    wait = min(CONNECT_TIMEOUT, read_timeout)
    opening = _Opening()
    log.debug(
        "imap connecting account=%s host=%s port=%d security=%s timeout=%gs",
        account.name, account.host, account.port, account.security, read_timeout,
    )  # fmt: skip
    try:
        client = _Session(
            account.host,
            label=account.name,
            port=account.port,
            ssl=account.security == "ssl",
            ssl_context=tls_context(account) if account.security == "ssl" else None,
            timeout=SocketTimeout(connect=wait, read=read_timeout),
            stop=stop,
            opening=opening,
        )
    except Exception as exc:
        opening.release()
        if stopping(stop):
            raise TransientError(f"account {account.name!r}: stopped while connecting") from None
        raise _opening_error(account, exc, opening, wait) from None
    limit_literals(client)
    quiet_imaplib(client)
    if account.security == "ssl":  # implicit TLS: the handshake came before the greeting
        _log_tls(client, account)
    log.debug("imap greeting received account=%s", account.name)
    try:
        if account.security == "starttls":
            if b"STARTTLS" not in client.capabilities():
                raise TLSError(f"account {account.name!r}: server does not offer STARTTLS")
            client.starttls(tls_context(account))
        if account.security != "ssl":
            _log_tls(client, account)
        check_pin(client, account)
        login(client, account)
    except BaseException as exc:
        _close_quietly(client)
        if isinstance(exc, ImapError | KeyboardInterrupt | SystemExit):
            raise
        raise describe_network_error(account, exc) from None
    return client


def _log_tls(client: IMAPClient, account: Account) -> None:
    sock = client.socket()
    if isinstance(sock, ssl.SSLSocket):
        cipher = sock.cipher()
        log.debug(
            "imap TLS %s cipher=%s verified=%s account=%s",
            sock.version(), cipher[0] if cipher else "?",
            "pin" if account.tls_fingerprint else "certificate", account.name,
        )  # fmt: skip
    else:
        log.debug("imap TLS none (loopback plain text) account=%s", account.name)


def login(client: IMAPClient, account: Account) -> None:
    """Password or XOAUTH2 login; a refusal is an `AuthError` quoting the server, not the secret.

    The server's words are quoted with the secret cut out: a server that echoes the LOGIN line
    in its refusal ("NO bad password hunter2") would otherwise put it in logs and ingest_errors.
    """
    secret = ""
    log.debug("imap login as %s account=%s auth=%s", account.username, account.name, account.auth)
    try:
        if account.auth == "xoauth2":
            from ingest.imap.oauth import access_token

            secret = access_token(account)
            client.oauth2_login(account.username, secret)
        else:
            secret = account.password()
            client.login(account.username, secret)
    except ConfigError as exc:  # no secret from its source: the setup, not the server
        raise ConfigProblem(str(exc)) from None
    except LoginError as exc:
        if "[UNAVAILABLE]" in str(exc):
            # RFC 5530: the server cannot check credentials right now; not the user's fault
            raise TransientError(f"account {account.name!r}: server auth temporarily unavailable") from None
        raise AuthError(
            f"account {account.name!r}: the server refused the login for {account.username!r} "
            f"({redact(_short(exc), secret)}); check the password or token"
        ) from None
    except IMAPClientError as exc:  # e.g. no AUTH=XOAUTH2 capability
        raise AuthError(f"account {account.name!r}: login failed ({redact(_short(exc), secret)})") from None
    except Exception as exc:  # the connection dropped mid-login: its message may quote the server too
        error = describe_network_error(account, exc)
        raise type(error)(redact(str(error), secret)) from None
    log.debug("imap logged in account=%s", account.name)


def redact(text: str, secret: str) -> str:
    """`text` without `secret`, as sent or as IMAP-quoted (backslash-escaped) or byte-repr'd."""
    if not secret:
        return text
    quoted = secret.replace("\\", "\\\\").replace('"', '\\"')
    for form in {secret, quoted, repr(secret.encode())[2:-1], repr(quoted.encode())[2:-1]}:
        text = text.replace(form, "[secret]")
    return text


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:
        pass
