"""One entry point for every statement format: OFX/QFX by content, CSV otherwise."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from ingest.bank import BankError, Transaction
from ingest.bank.csv_import import read_csv
from ingest.bank.ofx_import import looks_like_ofx, read_ofx


@dataclass
class Statement:
    kind: str  # "ofx" or "csv"
    account: str
    transactions: list[Transaction]
    problems: list[str] = field(default_factory=list)
    name: str = ""  # the file's name
    raw: bytes = field(default=b"", repr=False)  # the file as read: kept as evidence


def read_statement(
    path: Path, account: str | None = None, columns: str | None = None, currency: str | None = None
) -> Statement:
    """Sniff the content, not the extension: banks name OFX files .qfx, .qbo, .txt or .ofx."""
    raw = path.read_bytes()
    head = raw[:4096]
    if looks_like_ofx(head):
        txns = read_ofx(path, account)
        accounts = sorted({t.account for t in txns}) or [account or "?"]
        return Statement("ofx", ", ".join(accounts), txns, name=path.name, raw=raw)
    if b"\x00" in head:
        raise BankError(f"{path.name}: a binary file, not a CSV or OFX statement (export it as CSV or OFX)")
    try:
        result = read_csv(path, account=account, columns=columns, currency=currency)
    except csv.Error as exc:  # a field over the csv module's size limit, a NUL byte in the text
        raise BankError(f"{path.name}: not a readable CSV statement ({exc})") from exc
    return Statement("csv", result.account, result.transactions, result.problems, name=path.name, raw=raw)
