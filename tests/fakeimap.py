"""A small scripted IMAP server for fault tests: it says what the script says, when it says it.

It speaks just enough IMAP4rev1 for the poller to sync one folder holding one message
(CAPABILITY, STARTTLS, LOGIN, LIST, STATUS, EXAMINE, UID SEARCH, UID FETCH, LOGOUT), and any
command's answer can be replaced by raw bytes, a stall or a hang-up, so a test can send what
no real server would: malformed responses, a literal announcing 2 GB, silence mid-response.
Every line the client sent is kept in `received`, so a test can prove a password never
left the client.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MESSAGE = (
    b"From: Shop <shop@fake-imap.example>\r\nTo: alice@example.org\r\nSubject: over fake IMAP\r\n"
    b"Date: Tue, 03 Mar 2026 09:15:00 +0000\r\nMessage-ID: <fake-imap-1@fake-imap.example>\r\n\r\nhello\r\n"
)
STALL = b"<stall>"  # in a script: stop answering (the connection stays open)
FLOOD = b"<flood>"  # in a script: stream `flood_bytes` bytes of junk, as fast as the client reads
HANG_UP = b"<hang-up>"  # in a script: close the connection


@dataclass
class FakeImap:
    """`script` maps a command key (CAPABILITY, LOGIN, STATUS, UID SEARCH, UID FETCH META,
    UID FETCH BODY, ...) to the bytes to send instead of the normal answer; `TAG` in them is
    replaced by the command's tag, and STALL / HANG_UP end them."""

    script: dict[str, bytes] = field(default_factory=dict)
    greeting: bytes = b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake server ready\r\n"
    starttls: bool = False  # advertise and honour STARTTLS
    implicit_tls: bool = False  # TLS from the first byte (port 993 style)
    cert: Path | None = None
    key: Path | None = None
    flood_bytes: int = 0
    received: list[bytes] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    def __enter__(self) -> FakeImap:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        for conn in self._conns:
            try:
                conn.close()
            except OSError:
                pass

    @property
    def wire(self) -> bytes:
        return b"".join(self.received)

    def _context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.implicit_tls:
                conn = self._context().wrap_socket(conn, server_side=True)
                self._conns.append(conn)
            self._session(conn)
        except (OSError, ssl.SSLError):
            pass  # the client gave up (a refused certificate, a timeout): that is the point
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _send(self, conn: socket.socket, data: bytes) -> bool:
        """Send a scripted answer; False when the script ends the conversation."""
        if FLOOD in data:
            before, _, after = data.partition(FLOOD)
            conn.sendall(before)
            chunk, left = b"x" * (1 << 20), self.flood_bytes
            while left > 0 and not self._stop.is_set():
                conn.sendall(chunk[:left])
                left -= len(chunk)
            data = after
        for marker in (STALL, HANG_UP):
            if marker in data:
                conn.sendall(data.split(marker)[0])
                if marker == STALL:
                    self._stop.wait()
                return False
        conn.sendall(data)
        return True

    def _session(self, conn: socket.socket) -> None:
        if not self._send(conn, self.greeting):
            return
        reader = conn.makefile("rb")
        while not self._stop.is_set():
            line = reader.readline(1_000_000)
            if not line:
                return
            self.received.append(line)
            tag, _, rest = line.rstrip(b"\r\n").partition(b" ")
            command, _, args = rest.partition(b" ")
            key = command.upper().decode("ascii", "replace")
            if key == "UID":
                sub = args.split(b" ", 1)[0].upper().decode("ascii", "replace")
                key = f"UID {sub}"
                if sub == "FETCH":
                    key += " BODY" if b"BODY.PEEK[]" in args.upper() else " META"
            if key in self.script:
                if not self._send(conn, self.script[key].replace(b"TAG", tag)):
                    return
                continue
            answer = self._normal(key, tag)
            conn.sendall(answer)
            if key == "LOGOUT":
                return
            if key == "STARTTLS" and self.starttls:
                conn = self._context().wrap_socket(conn, server_side=True)
                self._conns.append(conn)
                reader = conn.makefile("rb")

    def _normal(self, key: str, tag: bytes) -> bytes:
        ok = tag + b" OK done\r\n"
        answers: dict[str, Callable[[], bytes]] = {
            "CAPABILITY": lambda: (
                b"* CAPABILITY IMAP4rev1 AUTH=PLAIN" + (b" STARTTLS" if self.starttls else b"") + b"\r\n" + ok
            ),
            "STARTTLS": lambda: (tag + b" OK begin TLS\r\n") if self.starttls else (tag + b" BAD no\r\n"),
            "LIST": lambda: b'* LIST (\\HasNoChildren) "/" INBOX\r\n' + ok,
            "STATUS": lambda: b"* STATUS INBOX (MESSAGES 1 UIDNEXT 2 UIDVALIDITY 7)\r\n" + ok,
            "EXAMINE": lambda: (
                b"* 1 EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT 2] n\r\n"
                + tag
                + b" OK [READ-ONLY] done\r\n"
            ),
            "UID SEARCH": lambda: b"* SEARCH 1\r\n" + ok,
            "UID FETCH META": lambda: b"* 1 FETCH (UID 1 RFC822.SIZE %d)\r\n" % len(MESSAGE) + ok,
            "UID FETCH BODY": lambda: (
                b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(MESSAGE)
                + MESSAGE
                + b' INTERNALDATE "03-Mar-2026 09:15:00 +0000" FLAGS (\\Seen))\r\n'
                + ok
            ),
            "LOGOUT": lambda: b"* BYE bye\r\n" + ok,
        }
        answers["SELECT"] = answers["EXAMINE"]
        return answers.get(key, lambda: ok)()
