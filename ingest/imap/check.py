"""`subtrail check`: log in to each account and say plainly what works and what does not.

Each step is tried in the order a connection needs it — DNS, TCP + TLS + login, folders —
so the first failing line names the layer to fix. Nothing is written to the mailbox or
the database.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from imapclient.exceptions import IMAPClientError

from ingest.config import Account
from ingest.imap.connect import connect
from ingest.imap.errors import ConfigProblem, ImapError
from ingest.imap.folders import folders_to_sync, list_folders


@dataclass
class CheckReport:
    account: str
    lines: list[tuple[bool, str]] = field(default_factory=list)
    config_problem: bool = False  # the failure is in the configuration (exit 2), not on the server

    @property
    def ok(self) -> bool:
        return all(good for good, _ in self.lines)

    def add(self, good: bool, text: str) -> None:
        self.lines.append((good, text))


def check_account(account: Account) -> CheckReport:
    report = CheckReport(account.name)
    try:
        addresses = sorted({info[4][0] for info in socket.getaddrinfo(account.host, account.port)})
        report.add(True, f"DNS: {account.host} -> {', '.join(addresses[:3])}")
    except socket.gaierror as exc:
        report.add(False, f"DNS: cannot resolve {account.host} ({exc.strerror})")
        return report
    try:
        client = connect(account)
    except ImapError as exc:
        report.add(False, str(exc))
        report.config_problem = isinstance(exc, ConfigProblem)
        return report
    security = {"ssl": "TLS", "starttls": "STARTTLS", "none": "plain text (loopback)"}[account.security]
    report.add(True, f"login: {account.username} over {security} ({account.auth})")
    try:
        available = list_folders(client)
        names = {name for name, _ in available}
        wanted, sent = folders_to_sync(client, account)
        if not account.folders and sent is None:
            report.add(False, "folders: no \\Sent folder found; list the folder to sync in `folders`")
        for name, _flags in sorted(available):
            try:
                count = client.folder_status(name, [b"MESSAGES"])[b"MESSAGES"]
                text = f"{count} messages"
            except IMAPClientError as exc:
                text = f"status failed ({exc})"
            mark = " [synced]" if name in wanted else ""
            report.add(True, f"folder {name!r}: {text}{mark}")
        for name in wanted:
            if name not in names and name.upper() != "INBOX":
                report.add(False, f"folder {name!r}: configured but not on the server")
    except (IMAPClientError, OSError) as exc:
        report.add(False, f"folders: listing failed ({type(exc).__name__})")
    finally:
        try:
            client.logout()
        except Exception:
            pass
    return report
