"""Offline sources: .eml files, Maildir folders and mbox files, found recursively.

Each yields `RawMail` items (the exact bytes plus where they were found) or
`SourceProblem` items for files that are not mail, so the importer can record
them and go on. mbox files are streamed block by block: memory is bounded by the
largest single message, not by the file (a Takeout mbox can be 10 GB).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

IMPORT_ACCOUNT = "import"
MAX_MESSAGE_BYTES = 512 * 1024 * 1024  # a single message larger than this is refused, not loaded


@dataclass
class RawMail:
    raw: bytes
    folder: str  # the Maildir or mbox (or .eml's directory) it came from
    path: str  # the file it came from
    index: int | None = None  # position inside an mbox
    account: str = IMPORT_ACCOUNT


@dataclass
class SourceProblem:
    path: str
    error: str


SourceItem = RawMail | SourceProblem

_SKIP_NAMES = {
    ".DS_Store",
    "Thumbs.db",
    "dovecot.index",
    "dovecot-uidlist",
    "dovecot-keywords",
    "maildirfolder",
}
_MAIL_SUFFIXES = {".eml", ".msg", ".txt", ".mail", ""}


def iter_sources(paths: Iterable[str | os.PathLike[str]]) -> Iterator[SourceItem]:
    """Walk every path given on the command line, in a stable (sorted) order.

    Symbolic links are followed only when given on the command line: below them, a link in an
    unpacked archive could loop forever or pull a file from elsewhere (~/.ssh/id_rsa) into the
    database as a "message". Skipped links and special files (FIFOs, devices) are reported.
    """
    for path in paths:
        yield from _iter_path(Path(path), given=True)


def _iter_path(path: Path, given: bool = False) -> Iterator[SourceItem]:
    if not given and path.is_symlink():
        yield SourceProblem(
            str(path), "symbolic link not followed (name it on the command line to import it)"
        )
    elif not path.exists():
        yield SourceProblem(str(path), "no such file or directory")
    elif path.is_dir():
        if is_maildir(path):
            yield from iter_maildir(path)
            children = [
                c for c in sorted(path.iterdir()) if c.is_dir() and c.name not in ("cur", "new", "tmp")
            ]
        else:
            children = sorted(path.iterdir())
        for child in children:
            if child.name.startswith(".") and not (child.is_dir() and is_maildir(child)):
                continue  # hidden files; Maildir++ subfolders (".Sent") are still read
            yield from _iter_path(child)
    elif path.is_file():
        yield from _iter_file(path)
    else:
        yield SourceProblem(str(path), "not a regular file (FIFO, socket or device)")


def is_maildir(path: Path) -> bool:
    return (path / "cur").is_dir() and (path / "new").is_dir()


def iter_maildir(path: Path) -> Iterator[SourceItem]:
    """Messages in cur/ and new/ (tmp/ holds half-delivered mail and is skipped)."""
    for sub in ("cur", "new"):
        for entry in sorted((path / sub).iterdir()):
            if entry.name.startswith("."):
                continue
            if entry.is_symlink() or not entry.is_file():
                yield SourceProblem(str(entry), "not a regular file in a Maildir (link or special file)")
            else:
                yield _read_file(entry, folder=str(path))


def _iter_file(path: Path) -> Iterator[SourceItem]:
    if path.name in _SKIP_NAMES:
        return
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        yield SourceProblem(str(path), f"cannot read: {exc.strerror}")
        return
    if head.startswith(b"From "):
        yield from _mbox_or_single(path)
    elif path.suffix.lower() in (".mbox", ".mbx"):
        if head.strip():
            yield SourceProblem(str(path), "mbox file does not start with a 'From ' line")
    elif looks_like_mail(head):
        yield _read_file(path, folder=str(path.parent))
    elif path.suffix.lower() in _MAIL_SUFFIXES and head.strip() and b"\0" not in head:
        # Text where mail is expected but with no header block: keep it (it may be evidence),
        # the parser records the missing headers as a problem.
        yield _read_file(path, folder=str(path.parent))
    else:
        yield SourceProblem(str(path), "not an e-mail message (no header block found)")


_HEADER_LINE = (
    b"from:", b"to:", b"subject:", b"date:", b"message-id:", b"received:", b"return-path:",
    b"mime-version:", b"content-type:", b"delivered-to:", b"x-", b"reply-to:", b"sender:", b"cc:",
)  # fmt: skip


def looks_like_mail(head: bytes) -> bool:
    """A file is mail when it opens with RFC 5322 header lines, at least one of them a known one."""
    lines = head.split(b"\n", 20)[:20]
    known = 0
    for line in lines:
        stripped = line.rstrip(b"\r")
        if not stripped:
            break
        if stripped[:1] in (b" ", b"\t"):
            continue
        name, sep, _ = stripped.partition(b":")
        if not sep or not name or b" " in name:
            break  # the header block ended without its blank line (a common defect)
        if stripped.lower().startswith(_HEADER_LINE):
            known += 1
    return known > 0


def _read_file(path: Path, folder: str) -> SourceItem:
    try:
        size = path.stat().st_size
        if size > MAX_MESSAGE_BYTES:
            return SourceProblem(
                str(path), f"message of {size} bytes is larger than the {MAX_MESSAGE_BYTES} limit"
            )
        return RawMail(path.read_bytes(), folder=folder, path=str(path))
    except OSError as exc:
        return SourceProblem(str(path), f"cannot read: {exc.strerror}")


def _mbox_or_single(path: Path) -> Iterator[SourceItem]:
    """A file holding one message after a 'From ' envelope line is kept whole (byte-exact as the file);
    only a real mbox (two messages or more, or named .mbox) is split."""
    messages = iter_mbox(path)
    first = next(messages, None)
    second = next(messages, None)
    if second is None and path.suffix.lower() not in (".mbox", ".mbx"):
        yield _read_file(path, folder=str(path.parent))
        return
    for item in (first, second):
        if item is not None:
            yield item
    yield from messages


MBOX_BLOCK = 1024 * 1024  # bytes read at a time from an mbox


def iter_mbox(path: Path, block: int = MBOX_BLOCK) -> Iterator[SourceItem]:
    """Stream an mbox: a message starts at a 'From ' line that follows a blank line (or the file start).

    The bytes kept are the message as stored between separators, without the
    'From ' envelope line and without the blank line mbox puts before the next one.
    '>From ' quoting is left as it is in the file (mboxo and mboxrd can't be told apart).
    The file is read in blocks and searched with `bytes.find`: a loop over its lines cost a
    third of the importer's own time. Memory: one block plus the message being read (a message
    past `MAX_MESSAGE_BYTES` is let go as it is read, and reported).
    """
    index = 0
    with path.open("rb") as fh:
        buf = b"\n\n"  # a blank line before the file: its first line may be a separator
        body = -1  # where the current message's bytes start in `buf`; -1 before the first separator
        dropped = 0  # bytes of the current message already let go (it is too big)
        scan = 0  # where the next separator search starts
        eof = False
        while True:
            sep = _next_separator(buf, scan)
            line_end = buf.find(b"\n", sep) if sep >= 0 else -1
            if sep < 0 or (line_end < 0 and not eof):
                if eof:
                    break
                # Search on from here once more is read: a separator may straddle two blocks.
                scan = max(scan, len(buf) - 6) if sep < 0 else sep - 1
                if sep < 0 and body >= 0 and dropped + scan - body > MAX_MESSAGE_BYTES:
                    cut = max(body, scan - 2)  # too big (all before `scan` is its): let its bytes go
                    dropped, body = dropped + cut - body, cut
                keep = max(0, min(scan - 2, body) if body >= 0 else scan - 2)  # 2 bytes of lookbehind
                data = fh.read(block)
                eof = not data
                buf = buf[keep:] + data
                scan -= keep
                if body >= 0:
                    body -= keep
                continue
            if body >= 0:
                yield _mbox_message(path, index, buf[body:sep], dropped)
                index += 1
            body = len(buf) if line_end < 0 else line_end + 1
            dropped = 0
            scan = body
        if body >= 0:
            yield _mbox_message(path, index, buf[body:], dropped)


def _next_separator(buf: bytes, scan: int) -> int:
    """Where the next 'From ' line that follows a blank line ('\\n' or '\\r\\n') starts, or -1."""
    at = buf.find(b"\nFrom ", scan)
    while at >= 0:
        if buf[at - 1 : at] == b"\n" or buf[at - 2 : at] == b"\n\r":
            return at + 1
        at = buf.find(b"\nFrom ", at + 1)
    return -1


def _mbox_message(path: Path, index: int, content: bytes, dropped: int) -> SourceItem:
    size = dropped + len(content)
    if size > MAX_MESSAGE_BYTES:
        return SourceProblem(
            f"{path}#{index}", f"message of {size} bytes is larger than the {MAX_MESSAGE_BYTES} limit"
        )
    # The separator blank line belongs to the mbox, not the message.
    if content.endswith(b"\n\n") or content == b"\n":
        content = content[:-1]
    elif content.endswith(b"\n\r\n") or content == b"\r\n":
        content = content[:-2]
    return RawMail(content, folder=str(path), path=str(path), index=index)
