"""A stop request that also ends the network waits made on its behalf.

`poll` must stop promptly on SIGTERM/SIGINT whatever it is doing. Between batches it checks
the event; but blocked in a read (a server that never greets, a FETCH that stalls) it would
wait the account's `timeout`, 60 s by default. So each IMAP socket opened for a `Stop` is
watched by it, and `set()` shuts them down: the blocked read returns at once, the session
fails, and the poller, seeing the stop, reports a stop rather than an error. Nothing is
half-written: a batch is stored only once its FETCH is complete, in one transaction, so a
cut socket loses the batch in flight and keeps every one committed before it.

Safe to call from a signal handler: no lock is taken here (adding to a set and copying it
are atomic under the GIL), and the shutdown goes through a duplicate of the descriptor, so
it works on a TLS socket too, even one still in its handshake.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable


class Stop(threading.Event):
    """`threading.Event` whose `set()` also shuts down the sockets it watches."""

    def __init__(self) -> None:
        super().__init__()
        self._watched: set[socket.socket] = set()

    def watch(self, sock: socket.socket) -> Callable[[], None]:
        """Shut `sock` down when the stop comes (at once if it came already); returns the
        function that ends the watch, to call when the session is over."""
        duplicate = sock.dup()
        self._watched.add(duplicate)
        if self.is_set():  # set() ran between the connect and now: it did not see this socket
            _shut(duplicate)

        def release() -> None:
            self._watched.discard(duplicate)
            duplicate.close()

        return release

    def set(self) -> None:
        super().set()  # first, so whoever wakes from a shut socket already sees the stop
        for sock in list(self._watched):
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed, or never connected


def stopping(stop: threading.Event | None) -> bool:
    return stop is not None and stop.is_set()
