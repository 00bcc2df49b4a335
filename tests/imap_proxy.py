"""A fault-injecting IMAP proxy for tests: it sits on loopback in front of a real server (the
Dovecot of `tests/dovecot.py`) and rewrites the server's untagged FETCH responses.

What a real server may legitimately do, and Dovecot never does by itself: put the data items
of a FETCH response in another order (RFC 3501 §7.4.2, RFC 9051 §7.5.2), spell `UID` in
lower case, add items nobody asked for (`MODSEQ`, Gmail's `X-GM-MSGID`), send a literal in
several TCP segments. And what a faulty one does: answer a UID under another UID, or not
answer it at all. `Faults` says which; `RewritingProxy` applies them, counts what it did,
and stops by itself (a lifetime and a connection cap bound it, whatever a test forgets).

The proxy parses the server's stream response by response (lines and the literals they
announce), so literals are never scanned and any size passes. What the client sends goes
through untouched; `on_command` sees each command line before it is forwarded (a test can
change the mailbox at that exact moment).

PYTEST_DONT_REWRITE (a helper imported by test modules and by bench/.)
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

_FETCH = re.compile(rb"\* (\d+) FETCH \(", re.IGNORECASE)
_LITERAL = re.compile(rb"\{(\d+)\}\r\n$")
_PLACEHOLDER = re.compile(rb"\x00(\d+)\x00")
# Tokens of a FETCH item list: parentheses, a quoted string, a literal's placeholder, or an
# atom (which may carry a [section] with spaces and parentheses, and a <partial>).
_TOKEN = re.compile(rb'\s*(\(|\)|"(?:[^"\\]|\\.)*"|\x00\d+\x00|(?:[^\s()"\[\x00]|\[[^\]]*\])+)')


@dataclass
class Faults:
    """What to do to the server's FETCH responses. Kinds: "header" (the metadata FETCH, with a
    `BODY[HEADER...]` item), "body" (`BODY[]`), "meta" (`RFC822.SIZE` without headers)."""

    uid_last: bool = False  # UID moved after every other item (after the literals)
    shuffle: bool = False  # items in a random order (seeded, so a failure can be replayed)
    lower_uid: bool = False  # `uid 12` instead of `UID 12`
    extras: bool = False  # MODSEQ, X-GM-MSGID, X-GM-THRID, X-GM-LABELS added in front
    split: bool = False  # each response sent in pieces, cut inside its literals
    only: set[str] | None = None  # rewrite only responses of these kinds (None: all FETCH responses)
    misnumber: dict[int, int] = field(default_factory=dict)  # UID a answered as UID b
    drop: set[int] = field(default_factory=set)  # UIDs whose answers are never sent
    times: int | None = None  # misnumber / drop act on the first `times` answers for a UID (None: always)
    stall_after: int | None = None  # after this many rewritten responses, send nothing more
    seed: int = 20


@dataclass
class Stats:
    connections: int = 0
    rewritten: int = 0
    dropped: int = 0
    misnumbered: int = 0
    stalled: bool = False


class RewritingProxy:
    """`with RewritingProxy(server.port, Faults(uid_last=True)) as proxy:` then connect to `proxy.port`."""

    def __init__(
        self,
        target_port: int,
        faults: Faults | None = None,
        *,
        on_command: Callable[[bytes], None] | None = None,
        lifetime: float = 300.0,
        max_connections: int = 50,
    ) -> None:
        self.target_port = target_port
        self.faults = faults or Faults()
        self.on_command = on_command
        self.max_connections = max_connections
        self.stats = Stats()
        self._rng = random.Random(self.faults.seed)
        self._seen: dict[tuple[str, int], int] = {}  # (fault, uid) -> times applied
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True
        self._timer.start()

    def __enter__(self) -> RewritingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._closed.set()
        self._timer.cancel()
        for sock in [self._listener, *self._sockets]:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    # --- plumbing ---------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self.stats.connections += 1
                refused = self.stats.connections > self.max_connections
            if refused:
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sockets += [client, upstream]
            threading.Thread(target=self._upstream, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._downstream, args=(upstream, client), daemon=True).start()

    def _upstream(self, client: socket.socket, upstream: socket.socket) -> None:
        """Client to server, as sent; `on_command` sees each line first."""
        pending = b""
        try:
            while True:
                data = client.recv(65536)
                if not data:
                    break
                if self.on_command is None:
                    upstream.sendall(data)
                    continue
                pending += data
                while b"\r\n" in pending:
                    line, pending = pending.split(b"\r\n", 1)
                    self.on_command(line)
                    upstream.sendall(line + b"\r\n")
        except OSError:
            pass
        _close(client, upstream)

    def _downstream(self, upstream: socket.socket, client: socket.socket) -> None:
        """Server to client, one whole response at a time, FETCH responses rewritten."""
        reader = upstream.makefile("rb")
        try:
            while not self._closed.is_set():
                pieces = _read_response(reader)
                if pieces is None:
                    break
                out = self._rewrite(pieces) if _FETCH.match(pieces[0]) else [b"".join(pieces)]
                if self.stats.stalled:
                    self._closed.wait()  # the connection stays open, silent
                    break
                for index, chunk in enumerate(out):
                    if index:
                        time.sleep(0.0002)  # let the cut reach the client as its own segment
                    client.sendall(chunk)
        except (OSError, ValueError):
            pass
        _close(client, upstream)

    # --- the faults -------------------------------------------------------------------------

    def _rewrite(self, pieces: list[bytes]) -> list[bytes]:
        """The response as chunks to send (none when it is dropped)."""
        seq, items, literals = _parse_fetch(pieces)
        faults = self.faults
        if faults.only is not None and _kind(items) not in faults.only:
            return [b"".join(pieces)]
        with self._lock:
            if faults.stall_after is not None and self.stats.rewritten >= faults.stall_after:
                self.stats.stalled = True
                return []
            self.stats.rewritten += 1
            uid = next((int(v) for n, v in items if n.upper() == b"UID"), None)
            if uid is not None and uid in faults.drop and self._apply("drop", uid):
                self.stats.dropped += 1
                return []
            if uid is not None and uid in faults.misnumber and self._apply("misnumber", uid):
                self.stats.misnumbered += 1
                items = [(n, b"%d" % faults.misnumber[uid] if n.upper() == b"UID" else v) for n, v in items]
            if faults.extras:
                gm = 1_600_000_000_000_000_000 + (uid or 0)
                items = [
                    (b"MODSEQ", b"(%d)" % (1000 + (uid or 0))),
                    (b"X-GM-THRID", b"%d" % gm),
                    (b"X-GM-MSGID", b"%d" % gm),
                    (b"X-GM-LABELS", b'("\\\\Inbox" "\\\\Important")'),
                    *items,
                ]
            if faults.shuffle:
                self._rng.shuffle(items)
            if faults.uid_last:
                items.sort(key=lambda item: item[0].upper() == b"UID")  # stable: only UID moves
            if faults.lower_uid:
                items = [(b"uid" if n.upper() == b"UID" else n, v) for n, v in items]
            cut = self._rng.random() if faults.split else None
        text = b"* %d FETCH (" % seq + b" ".join(n + b" " + v for n, v in items) + b")\r\n"
        return _serialise(text, literals, cut)

    def _apply(self, fault: str, uid: int) -> bool:
        """Whether `fault` still acts on `uid` (at most `times` times). Caller holds the lock."""
        done = self._seen.get((fault, uid), 0)
        if self.faults.times is not None and done >= self.faults.times:
            return False
        self._seen[(fault, uid)] = done + 1
        return True


def _read_response(reader: BinaryIO) -> list[bytes] | None:
    """One server response: lines, each followed by the literal it announces; None at EOF."""
    pieces: list[bytes] = []
    while True:
        line = reader.readline()
        if not line:
            return None
        pieces.append(line)
        announced = _LITERAL.search(line)
        if not announced:
            return pieces
        pieces.append(reader.read(int(announced.group(1))))


def _parse_fetch(pieces: list[bytes]) -> tuple[int, list[tuple[bytes, bytes]], list[bytes]]:
    """(sequence number, [(item name, value as sent)], literals) of one FETCH response.

    Literals are replaced by placeholders in the values, so reordering moves them whole."""
    text, literals = b"", []
    for index, piece in enumerate(pieces):
        if index % 2:  # a literal
            text += b"\x00%d\x00" % len(literals)
            literals.append(piece)
        else:
            text += _LITERAL.sub(b"", piece)
    head = _FETCH.match(text)
    assert head, text[:80]
    seq, body = int(head.group(1)), text[head.end() : text.rstrip().rindex(b")")]
    tokens = [(m.group(1), m.start(1), m.end(1)) for m in _TOKEN.finditer(body)]
    items: list[tuple[bytes, bytes]] = []
    i = 0
    while i < len(tokens):
        name = tokens[i][0]
        start = tokens[i + 1][1]
        depth, j = 0, i + 1
        while True:
            depth += {b"(": 1, b")": -1}.get(tokens[j][0], 0)
            if depth == 0:
                break
            j += 1
        items.append((name, body[start : tokens[j][2]]))
        i = j + 1
    return seq, items, literals


def _kind(items: list[tuple[bytes, bytes]]) -> str:
    names = [n.upper() for n, _ in items]
    if any(n.startswith(b"BODY[HEADER") for n in names):
        return "header"
    if b"BODY[]" in names:
        return "body"
    return "meta"


def _serialise(text: bytes, literals: list[bytes], cut: float | None) -> list[bytes]:
    """The response's bytes with its literals back in place; with `cut`, several chunks, each
    literal split at that fraction (sent as separate TCP segments: TCP_NODELAY)."""
    chunks: list[bytes] = []
    current = b""
    last = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = literals[int(match.group(1))]
        current += text[last : match.start()] + b"{%d}\r\n" % len(literal)
        if cut is None:
            current += literal
        else:
            at = max(1, int(len(literal) * cut))
            chunks.append(current + literal[:at])
            current = literal[at:]
        last = match.end()
    current += text[last:]
    return [*chunks, current]


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()
