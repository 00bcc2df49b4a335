"""Open an authenticated IMAP session for one account: TCP, TLS, login. Nothing else.

TLS certificates are verified against the system store (plus `tls_ca_file` if set); a
self-signed server can instead be pinned by the sha256 of its certificate
(`tls_fingerprint`), checked before any credential is sent. `security = "none"` is only
allowed on loopback (the config refuses it elsewhere; checked again here).
Every failure becomes an `ImapError` subclass whose message never contains a secret.
"""

from __future__ import annotations

import hashlib
import imaplib
import logging
import socket
import ssl

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from ingest.config import Account, ConfigError
from ingest.imap.errors import AuthError, ImapError, PermanentError, TLSError, TransientError
from ingest.pipeline.sources import MAX_MESSAGE_BYTES

CONNECT_TIMEOUT = 15.0  # TCP connect, TLS handshake and greeting; an account's smaller `timeout` wins

# imapclient logs every command and response at DEBUG (message bodies, AUTHENTICATE data):
# keep it quiet whatever the root level, so neither mail nor tokens reach our logs.
logging.getLogger("imapclient").setLevel(logging.WARNING)


def tls_context(account: Account) -> ssl.SSLContext:
    """Verify by default; trust `tls_ca_file` too; with a pinned fingerprint, the pin is the check."""
    context = ssl.create_default_context()
    if account.tls_ca_file:
        try:
            context.load_verify_locations(cafile=account.tls_ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise TLSError(f"account {account.name!r}: cannot read tls_ca_file ({exc})") from None
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


def connect(account: Account, timeout: float | None = None) -> IMAPClient:
    """A logged-in client. Raises `AuthError`, `TLSError` (permanent) or `TransientError`."""
    if account.security == "none" and not account.is_loopback:
        raise PermanentError(f"account {account.name!r}: security = 'none' is refused off loopback")
    read_timeout = timeout or account.timeout
    try:
        client = IMAPClient(
            account.host,
            port=account.port,
            ssl=account.security == "ssl",
            ssl_context=tls_context(account) if account.security == "ssl" else None,
            timeout=SocketTimeout(connect=min(CONNECT_TIMEOUT, read_timeout), read=read_timeout),
        )
    except Exception as exc:
        raise describe_network_error(account, exc) from None
    limit_literals(client)
    quiet_imaplib(client)
    try:
        if account.security == "starttls":
            if b"STARTTLS" not in client.capabilities():
                raise TLSError(f"account {account.name!r}: server does not offer STARTTLS")
            client.starttls(tls_context(account))
        check_pin(client, account)
        login(client, account)
    except BaseException as exc:
        _close_quietly(client)
        if isinstance(exc, ImapError | KeyboardInterrupt | SystemExit):
            raise
        raise describe_network_error(account, exc) from None
    return client


def login(client: IMAPClient, account: Account) -> None:
    """Password or XOAUTH2 login; a refusal is an `AuthError` quoting the server, not the secret.

    The server's words are quoted with the secret cut out: a server that echoes the LOGIN line
    in its refusal ("NO bad password hunter2") would otherwise put it in logs and ingest_errors.
    """
    secret = ""
    try:
        if account.auth == "xoauth2":
            from ingest.imap.oauth import access_token

            secret = access_token(account)
            client.oauth2_login(account.username, secret)
        else:
            secret = account.password()
            client.login(account.username, secret)
    except ConfigError as exc:
        raise AuthError(str(exc)) from None
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
