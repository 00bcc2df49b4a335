"""OFX / QFX statements through ofxtools (maintained, validates against the OFX spec, reads v1 SGML and v2 XML).

Each transaction's FITID is unique within its account by the OFX spec and
stays the same when the bank exports an overlapping period again, so it is the
re-import key. Dates are taken as the bank wrote them (YYYYMMDD...): ofxtools
converts timestamps to UTC, which can move a midnight CET booking to the day
before.
"""

from __future__ import annotations

import warnings
from pathlib import Path

from ofxtools.models.base import PrivateTagWarning
from ofxtools.Parser import OFXTree

from ingest.bank import BankError, Transaction, clean_label
from ingest.bank.csv_import import to_minor


def looks_like_ofx(data: bytes) -> bool:
    head = data[:2048].lstrip().upper()
    return head.startswith(b"OFXHEADER") or b"<OFX>" in head or b"<?OFX" in head


def read_ofx(path: str | Path, account: str | None = None) -> list[Transaction]:
    """Every transaction of every statement (bank and credit card) in the file; debits are negative."""
    path = Path(path)
    tree = OFXTree()
    try:
        with warnings.catch_warnings():  # QFX carries Intuit's private tags (<INTU.BID>): expected
            warnings.simplefilter("ignore", PrivateTagWarning)
            tree.parse(str(path))
            ofx = tree.convert()
    except Exception as exc:  # ofxtools raises a dozen types (header, SGML, validation)
        raise BankError(f"{path.name}: not a readable OFX file ({type(exc).__name__}: {exc})") from exc
    posted = {
        (el.findtext("FITID") or "").strip(): (el.findtext("DTPOSTED") or "").strip()
        for el in tree.getroot().iter("STMTTRN")
    }
    out: list[Transaction] = []
    for statement in ofx.statements:
        acct = account or str(statement.account.acctid)
        for txn in statement.transactions:
            currency = str(getattr(txn.currency, "cursym", None) or statement.curdef)
            raw_date = posted.get(str(txn.fitid), "")
            booked = (
                f"{raw_date[:4]}-{raw_date[4:6]}-{raw_date[6:8]}"
                if len(raw_date) >= 8 and raw_date[:8].isdigit()
                else txn.dtposted.date().isoformat()
            )
            name, memo = (
                clean_label(txn.name or txn.payee and txn.payee.name or ""),
                clean_label(txn.memo or ""),
            )
            label = name if memo in name else clean_label(f"{name} {memo}")
            out.append(
                Transaction(
                    account=acct,
                    booked_on=booked,
                    label=label,
                    amount_minor=to_minor(txn.trnamt, currency),
                    currency=currency,
                    source=f"ofx:{path.name}",
                    key=f"ofx|{acct}|{txn.fitid}",
                    fitid=str(txn.fitid),
                    account_number=str(statement.account.acctid),
                )
            )
    return out
