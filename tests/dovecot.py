"""A real Dovecot IMAP server for tests, on a free loopback port under a temp dir.

Use it from a test module with ``pytest_plugins = ["tests.dovecot"]`` (or import the
fixtures explicitly), then:

- ``dovecot``: a session-wide plain-text server (``security = "none"`` on loopback).
- ``dovecot_tls``: a session-wide server with ``ssl = required`` and a self-signed
  certificate for ``127.0.0.1``/``localhost``; ``server.cert`` is the PEM to trust.
- ``mailbox``: a fresh user on ``dovecot`` for one test (users are cheap, servers are not).
- ``Dovecot().start()`` for a private server a test may stop and restart; ``cleanup()``
  removes its directory.

Helpers cover what sync tests need: ``seed`` (copy files straight into the Maildir: the
fast way to load thousands of messages before the first login), ``append`` (IMAP APPEND,
for mail arriving during a test), ``expunge``, ``set_flags``, ``flags``, ``uidvalidity``
and ``change_uidvalidity`` (``doveadm mailbox update``). ``make_message`` builds unique,
well-formed messages (optionally padded with an attachment); ``CutProxy`` sits between a
client and the server and cuts connections mid-response, a fault Dovecot cannot be asked for.

Facts behind the config (see /work/shared/DOVECOT.md): as root, login and internal
processes run as ``dovenull``/``dovecot``, mail belongs to ``dovecot``, and services need
``chroot =`` because the base dir is not a standard root-owned one. As a normal user,
everything runs as that user. The server's directory is its own ``mkdtemp`` under the
system temp dir, not pytest's ``tmp_path``: pytest keeps ``/tmp/pytest-of-USER`` at mode
0700 (and resets it whenever any pytest run starts), which the ``dovecot`` user cannot
traverse.

PYTEST_DONT_REWRITE (helpers, not tests: test modules import it before pytest registers it.)
"""

from __future__ import annotations

import getpass
import itertools
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
DOVEADM = shutil.which("doveadm") or "/usr/bin/doveadm"
SENT = "Sent"

_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{users}
first_valid_uid = 1
first_valid_gid = 1
auth_mechanisms = plain login
disable_plaintext_auth = no
{ssl}
mail_location = maildir:{root}/mail/%u
mail_plugins =
imap_idle_notify_interval = 2 mins
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={root}/home/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox {sent} {{
    special_use = \\Sent
  }}
  mailbox Trash {{
    special_use = \\Trash
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {ssl_port}
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  chroot =
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """A throw-away certificate valid for 127.0.0.1 and localhost; returns (cert, key)."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class Dovecot:
    """One Dovecot instance; `start()` writes its config, `stop()` shuts it down.

    With ``tls=True`` the server refuses plain-text login: clients use implicit TLS on
    ``ssl_port`` or STARTTLS on ``port``.
    """

    def __init__(self, root: Path | None = None, tls: bool = False, port: int | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="subtrail-dovecot-"))
        self.root.chmod(0o711)  # unprivileged dovecot processes traverse it
        self.tls = tls
        self.port = port or free_port()
        self.ssl_port = free_port() if tls else 0
        self.cert: Path | None = None
        self.passwords: dict[str, str] = {}
        self._unique = itertools.count(1)
        if os.geteuid() == 0:
            self.mail_user, self.login_user, self.internal_user = "dovecot", "dovenull", "dovecot"
        else:
            me = getpass.getuser()
            self.mail_user = self.login_user = self.internal_user = me
        for sub in ("run", "state", "mail", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.conf = self.root / "dovecot.conf"

    # --- lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 10.0) -> Dovecot:
        ssl_conf = "ssl = no"
        if self.tls:
            if self.cert is None:
                self.cert, key = make_self_signed(self.root)
            else:
                key = self.root / "key.pem"
            ssl_conf = f"ssl = required\nssl_cert = <{self.cert}\nssl_key = <{key}"
        users = f"default_login_user = {self.login_user}\ndefault_internal_user = {self.internal_user}"
        self.conf.write_text(
            _CONF.format(
                root=self.root,
                users=users,
                ssl=ssl_conf,
                port=self.port,
                ssl_port=self.ssl_port,
                sent=SENT,
                mail_user=self.mail_user,
                mail_group=self.mail_user,
            )
        )
        (self.root / "users").mkdir(exist_ok=True)
        self._chown(self.root / "mail")
        self._chown(self.root / "home")
        # Dovecot daemonises and keeps inherited pipes open: send its output to a file, not a pipe.
        with open(self.root / "startup.log", "ab") as out:
            subprocess.run([DOVECOT, "-c", str(self.conf)], check=True, stdout=out, stderr=out)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"dovecot did not start; log:\n{self.log()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM to the master, as `doveadm stop` does without its 2 s wait)."""
        pid_file = self.root / "run" / "master.pid"
        try:
            os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
        except (OSError, ValueError):
            subprocess.run([DOVEADM, "-c", str(self.conf), "stop"], capture_output=True)
        deadline = time.monotonic() + 10
        while pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    time.sleep(0.02)
            except OSError:
                break

    def cleanup(self) -> None:
        """Stop if running and remove the server's directory."""
        if (self.root / "run" / "master.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- users and mail ------------------------------------------------------

    def add_user(self, name: str | None = None, password: str | None = None) -> tuple[str, str]:
        """Create a user, no restart needed; returns (name, password).

        One passwd-file per user (`users/%u`): Dovecot caches a shared passwd-file and may
        miss a change made within the same second, a new file is always read.
        """
        name = name or f"user{next(self._unique)}-{os.getpid()}"
        password = password or f"pw-{name}-{os.urandom(4).hex()}"
        self.passwords[name] = password
        (self.root / "users").mkdir(exist_ok=True)
        (self.root / "users" / name).write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        self.folder_path(name, "INBOX")
        self.folder_path(name, SENT)
        return name, password

    def folder_path(self, user: str, folder: str) -> Path:
        """The Maildir of `folder` (Maildir++: INBOX is the root, others are `.Name`), created if missing."""
        base = self.root / "mail" / user
        path = base if folder == "INBOX" else base / ("." + folder.replace("/", "."))
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        self._chown(base)
        return path

    def seed(self, user: str, folder: str, messages: Iterable[bytes], seen: bool = False) -> int:
        """Copy messages as files into the folder's `cur/` (before the first login is fastest)."""
        target = self.folder_path(user, folder) / "cur"
        flags = "S" if seen else ""
        uid, gid = self._ids()
        count = 0
        stamp = int(time.time())
        for count, raw in enumerate(messages, 1):
            path = target / f"{stamp}.M{count}P{os.getpid()}Q{next(self._unique)}.subtrail:2,{flags}"
            path.write_bytes(raw)
            if uid is not None:
                os.chown(path, uid, gid)
        return count

    def client(self, user: str) -> IMAPClient:
        """A logged-in read-write client (for the test's own changes, never for the code under test)."""
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.cert))
            client = IMAPClient("127.0.0.1", port=self.ssl_port, ssl=True, ssl_context=context, timeout=30)
        else:
            client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, self.passwords[user])
        return client

    def append(self, user: str, folder: str, raw: bytes, flags: tuple[bytes, ...] = ()) -> int:
        """APPEND one message; returns its UID (UIDPLUS)."""
        with self.client(user) as client:
            response = client.append(folder, raw, flags=flags)
        # b'[APPENDUID 1700000000 3] Append completed.'
        return int(response.split(b"]")[0].split()[-1])

    def uids(self, user: str, folder: str) -> list[int]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            return sorted(client.search("ALL"))

    def flags(self, user: str, folder: str) -> dict[int, tuple[bytes, ...]]:
        with self.client(user) as client:
            client.select_folder(folder, readonly=True)
            return dict(client.get_flags(client.search("ALL")))

    def set_flags(self, user: str, folder: str, uids: list[int], flags: tuple[bytes, ...]) -> None:
        with self.client(user) as client:
            client.select_folder(folder)
            client.set_flags(uids, flags)

    def expunge(self, user: str, folder: str, uids: list[int]) -> None:
        with self.client(user) as client:
            client.select_folder(folder)
            client.delete_messages(uids)
            client.uid_expunge(uids)

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.client(user) as client:
            return int(client.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def change_uidvalidity(self, user: str, folder: str, value: int | None = None) -> int:
        """Give the folder a new UIDVALIDITY, as a server does after rebuilding its index."""
        value = value or self.uidvalidity(user, folder) + 1000
        subprocess.run(
            [DOVEADM, "-c", str(self.conf), "mailbox", "update", "-u", user,
             "--uid-validity", str(value), folder],
            check=True, capture_output=True,
        )  # fmt: skip
        return value

    # --- internals -----------------------------------------------------------

    def _ids(self) -> tuple[int | None, int]:
        if os.geteuid() != 0:
            return None, -1
        entry = pwd.getpwnam(self.mail_user)
        return entry.pw_uid, entry.pw_gid

    def _chown(self, top: Path) -> None:
        uid, gid = self._ids()
        if uid is None:
            return
        os.chown(top, uid, gid)
        for dirpath, dirnames, filenames in os.walk(top):
            for name in dirnames + filenames:
                os.chown(os.path.join(dirpath, name), uid, gid)


class CutProxy:
    """A loopback TCP proxy in front of a server that cuts connections on demand.

    Faults a real server does not produce: the first `cuts` connections are closed (both
    sides, abruptly) once `after_bytes` bytes have gone from server to client — e.g. in
    the middle of a FETCH response; later connections pass through untouched.
    """

    def __init__(self, target_port: int, after_bytes: int, cuts: int = 1) -> None:
        self.target_port, self.after_bytes, self.remaining = target_port, after_bytes, cuts
        self.cut_count = 0
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            with self._lock:
                self.connections += 1
                cut = self.remaining > 0
                self.remaining -= int(cut)
            limit = self.after_bytes if cut else None
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, limit), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if limit is not None and sent + len(data) >= limit:
                    dst.sendall(data[: max(0, limit - sent)])
                    with self._lock:
                        self.cut_count += 1
                    break
                dst.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def make_message(
    n: int,
    sender: str = "billing@netflix.com",
    to: str = "alice@example.org",
    subject: str | None = None,
    body: str | None = None,
    extra_headers: str = "",
    padding: int = 0,
) -> bytes:
    """A small, well-formed, unique message; `padding` adds a base64 attachment of about that size
    (an attachment, not text, so it weighs on the transfer and the store, not on the extractors)."""
    subject = subject if subject is not None else f"Your receipt #{n}"
    body = body if body is not None else f"Thank you for your payment of 13,49 EUR. Order {n}."
    head = (
        f"From: Sender <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Date: Mon, 02 Mar 2026 10:{n % 60:02d}:00 +0000\r\n"
        f"Message-ID: <msg{n}.{os.getpid()}@test.example>\r\n{extra_headers}MIME-Version: 1.0\r\n"
    )
    if not padding:
        return (head + f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n").encode()
    line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n"
    blob = line * max(1, padding // len(line))
    return (
        head + 'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        f"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
        "--b1\r\nContent-Type: application/octet-stream\r\n"
        f'Content-Disposition: attachment; filename="data{n}.bin"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{blob}--b1--\r\n"
    ).encode()


def require_dovecot() -> None:
    """Skip the calling test when Dovecot is not installed (`scripts/test.sh` installs it as root)."""
    if not Path(DOVECOT).exists():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")


def _session_server(tls: bool) -> Iterator[Dovecot]:
    require_dovecot()
    server = Dovecot(tls=tls).start()
    yield server
    server.cleanup()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A plain-text Dovecot on loopback shared by the session; add a user per test."""
    yield from _session_server(tls=False)


@pytest.fixture(scope="session")
def dovecot_tls() -> Iterator[Dovecot]:
    """A TLS-only Dovecot with a self-signed certificate (`server.cert`)."""
    yield from _session_server(tls=True)


@pytest.fixture
def mailbox(dovecot: Dovecot) -> tuple[Dovecot, str, str]:
    """(server, user, password): a fresh, empty mailbox with INBOX and Sent."""
    user, password = dovecot.add_user()
    return dovecot, user, password
