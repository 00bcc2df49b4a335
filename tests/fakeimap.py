"""A small scripted IMAP server for fault tests: it says what the script says, when it says it.

It speaks just enough IMAP4rev1 for the poller to sync a few folders of a few messages
(CAPABILITY, STARTTLS, LOGIN, LIST, STATUS, EXAMINE, UID SEARCH, UID FETCH, NOOP, LOGOUT); by
default one folder, INBOX, holding one message. Any command's answer can be replaced by raw
bytes, a stall or a hang-up, so a test can send what no real server would: malformed
responses, a literal announcing 2 GB, silence mid-response. With `gmail=True` it answers as
Gmail does: `X-GM-EXT-1`, `X-GM-THRID` / `X-GM-MSGID` / `X-GM-LABELS` in every FETCH
response, before the asked items, and `UID` last. Every line the client sent is kept in
`received`, so a test can prove a password never left the client.
"""

from __future__ import annotations

import re
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
    mailboxes: dict[str, list[bytes]] = field(default_factory=lambda: {"INBOX": [MESSAGE]})
    folder_flags: dict[str, bytes] = field(default_factory=dict)  # e.g. {"[Gmail]/All Mail": b"\\All"}
    gmail: bool = False
    received: list[bytes] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []
        self._selected = "INBOX"  # one selected folder for the server: tests use one connection at a time

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
            answer = self._normal(key, tag, args)
            conn.sendall(answer)
            if key == "LOGOUT":
                return
            if key == "STARTTLS" and self.starttls:
                conn = self._context().wrap_socket(conn, server_side=True)
                self._conns.append(conn)
                reader = conn.makefile("rb")

    def _normal(self, key: str, tag: bytes, args: bytes) -> bytes:
        ok = tag + b" OK done\r\n"
        answers: dict[str, Callable[[], bytes]] = {
            "CAPABILITY": lambda: (
                b"* CAPABILITY IMAP4rev1 AUTH=PLAIN"
                + (b" STARTTLS" if self.starttls else b"")
                + (b" X-GM-EXT-1" if self.gmail else b"")
                + b"\r\n"
                + ok
            ),
            "STARTTLS": lambda: (tag + b" OK begin TLS\r\n") if self.starttls else (tag + b" BAD no\r\n"),
            "LIST": lambda: self._list() + ok,
            "STATUS": lambda: self._status(args) + ok,
            "EXAMINE": lambda: self._examine(args) + tag + b" OK [READ-ONLY] done\r\n",
            "UID SEARCH": lambda: self._search(args) + ok,
            "UID FETCH META": lambda: self._fetch(args) + ok,
            "UID FETCH BODY": lambda: self._fetch(args) + ok,
            "LOGOUT": lambda: b"* BYE bye\r\n" + ok,
        }
        answers["SELECT"] = answers["EXAMINE"]
        return answers.get(key, lambda: ok)()

    # --- a folder of messages -------------------------------------------------------------

    def _list(self) -> bytes:
        lines = b""
        if self.gmail:
            lines += b'* LIST (\\HasChildren \\Noselect) "/" "[Gmail]"\r\n'
        for name in self.mailboxes:
            flags = b"\\HasNoChildren" + (
                b" " + self.folder_flags[name] if name in self.folder_flags else b""
            )
            lines += b'* LIST (%s) "/" "%s"\r\n' % (flags, name.encode())
        return lines

    def _folder(self, args: bytes) -> str:
        quoted = re.match(rb'"((?:[^"\\]|\\.)*)"', args)
        return (quoted.group(1) if quoted else args.split(b" ", 1)[0]).decode()

    def _status(self, args: bytes) -> bytes:
        name = self._folder(args)
        count = len(self.mailboxes.get(name, []))
        return b'* STATUS "%s" (MESSAGES %d UIDNEXT %d UIDVALIDITY 7)\r\n' % (name.encode(), count, count + 1)

    def _examine(self, args: bytes) -> bytes:
        self._selected = self._folder(args)
        count = len(self.mailboxes.get(self._selected, []))
        return b"* %d EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 7] v\r\n* OK [UIDNEXT %d] n\r\n" % (
            count,
            count + 1,
        )

    def _uids(self, text: bytes) -> list[int]:
        """The UIDs of the selected folder a set such as `1:*,7` names (UIDs are 1..count)."""
        count = len(self.mailboxes.get(self._selected, []))
        found: set[int] = set()
        for part in text.split(b","):
            low, _, high = part.partition(b":")
            first = count if low == b"*" else int(low)
            last = first if not high else (count if high == b"*" else int(high))
            found.update(u for u in range(min(first, last), max(first, last) + 1) if 1 <= u <= count)
        return sorted(found)

    def _search(self, args: bytes) -> bytes:
        words = args.split()  # SEARCH UID 1:*  |  SEARCH ALL
        uids = self._uids(words[2]) if len(words) > 2 and words[1].upper() == b"UID" else self._uids(b"1:*")
        return b"* SEARCH" + b"".join(b" %d" % u for u in uids) + b"\r\n"

    def _fetch(self, args: bytes) -> bytes:
        _, uid_text, wanted = args.split(b" ", 2)
        wanted = wanted.upper()
        messages = self.mailboxes.get(self._selected, [])
        out = b""
        for uid in self._uids(uid_text):
            raw = messages[uid - 1]
            items: list[bytes] = []
            if self.gmail:
                gm = 1_500_000_000_000_000_000 + hash(raw) % 10**12
                items += [b"X-GM-THRID %d" % gm, b"X-GM-MSGID %d" % gm, b'X-GM-LABELS ("\\\\Inbox")']
            if b"RFC822.SIZE" in wanted:
                items.append(b"RFC822.SIZE %d" % len(raw))
            fields = re.search(rb"HEADER\.FIELDS \(([^)]*)\)", wanted)
            if fields:
                block = _header_fields(raw, fields.group(1).split())
                items.append(b"BODY[HEADER.FIELDS (%s)] {%d}\r\n%s" % (fields.group(1), len(block), block))
            if b"BODY.PEEK[]" in wanted:
                items.append(b"BODY[] {%d}\r\n%s" % (len(raw), raw))
            if b"INTERNALDATE" in wanted:
                items.append(b'INTERNALDATE "03-Mar-2026 09:15:00 +0000"')
            if b"FLAGS" in wanted:
                items.append(b"FLAGS (\\Seen)")
            uid_item = b"UID %d" % uid
            items = [*items, uid_item] if self.gmail else [uid_item, *items]
            out += b"* %d FETCH (%s)\r\n" % (uid, b" ".join(items))
        return out


def _header_fields(raw: bytes, names: list[bytes]) -> bytes:
    """The named header fields of `raw` (unfolded lines only: enough for test messages), then the blank line."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    wanted = {n.lower() for n in names}
    lines = [line for line in head.split(b"\r\n") if line.split(b":", 1)[0].strip().lower() in wanted]
    return b"".join(line + b"\r\n" for line in lines) + b"\r\n"
