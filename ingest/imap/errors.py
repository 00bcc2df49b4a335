"""What can go wrong talking to an IMAP server, sorted by what the poller should do about it.

`TransientError`s (network down, server restarting, connection cut mid-FETCH) are retried
with exponential backoff. `PermanentError`s (wrong password, certificate mismatch, missing
folder) will not fix themselves: the account is marked failing and retried rarely (a slow
backoff up to an hour), so a bad password never becomes a retry storm that gets the account
locked. A `ConfigProblem` stops the daemon at once: the file must be fixed first. Messages name the account
and the cause a person can act on, never a secret.
"""

from __future__ import annotations


class ImapError(Exception):
    """Base class; `str(exc)` is a one-line, secret-free explanation."""


class TransientError(ImapError):
    """Worth retrying soon: DNS or network failure, refused connection, timeout, dropped session."""


class PermanentError(ImapError):
    """Needs a person: fix the configuration or the credentials, then the account recovers."""


class ConfigProblem(PermanentError):
    """The configuration cannot work as written (no password from its source, an OAuth2 table missing
    a key, an unreadable CA file): no retry can fix it, so the daemon stops and says so (exit 2)."""


class AuthError(PermanentError):
    """The server refused the credentials (or the OAuth2 token could not be obtained)."""


class TLSError(PermanentError):
    """The server's certificate could not be verified, or it does not offer the TLS asked for."""


class FolderError(PermanentError):
    """A configured folder does not exist or cannot be opened."""
