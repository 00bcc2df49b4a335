"""Which folders to sync: the configured ones, or INBOX plus the folder flagged `\\Sent`.

The journal needs both sides of a conversation, so the default is INBOX and the Sent
folder. Servers name Sent differently ("Sent", "Sent Items", "[Gmail]/Sent Mail",
"Éléments envoyés"); RFC 6154 SPECIAL-USE flags say which one it is, with common names
as a fallback for servers that do not flag it.
"""

from __future__ import annotations

from imapclient import IMAPClient

from ingest.config import Account

SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail", "INBOX.Sent", "Envoyés", "Éléments envoyés")


def list_folders(client: IMAPClient) -> list[tuple[str, tuple[bytes, ...]]]:
    """(name, flags) of every selectable folder."""
    folders = []
    for flags, _delimiter, name in client.list_folders():
        if b"\\Noselect" in flags or b"\\NonExistent" in flags:
            continue
        folders.append((str(name), tuple(flags)))
    return folders


def find_sent(folders: list[tuple[str, tuple[bytes, ...]]]) -> str | None:
    for name, flags in folders:
        if b"\\Sent" in flags:
            return name
    by_name = {name.lower(): name for name, _ in folders}
    for candidate in SENT_NAMES:
        for name in (candidate.lower(), f"[gmail]/{candidate.lower()}"):
            if name in by_name:
                return by_name[name]
    return None


def folders_to_sync(client: IMAPClient, account: Account) -> tuple[list[str], str | None]:
    """(folders, the Sent folder) from one LIST: the configured folders as written (a missing one
    fails on its own, the others go on), or INBOX and the Sent folder when none are configured."""
    sent = find_sent(list_folders(client))
    if account.folders:
        return list(account.folders), sent
    return ["INBOX"] + ([sent] if sent and sent != "INBOX" else []), sent
