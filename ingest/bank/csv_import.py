"""CSV statements as banks export them: find the table, its columns, its number and date styles.

French exports are the hard case and the model: `;` separators, `13,49` decimals,
separate Débit/Crédit columns, ISO-8859-1 (or cp1252) text, account and balance
lines above the table, labels wrapped over several lines inside quotes. The
reader tries each plausible separator, takes the first row whose cells name a
date, a label and an amount (or debit/credit) as the header, and reads every
later row that has a date and an amount; anything else (balances, footers) is
skipped. `--columns` overrides the detection for exports it gets wrong.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from babel import Locale
from babel.numbers import NumberFormatError, get_currency_precision, parse_decimal

from ingest.bank import BankError, Transaction, clean_label, content_keys

ROLES = ("date", "label", "amount", "debit", "credit", "currency", "account")
DELIMITERS = ";,\t|"
DEFAULT_ACCOUNT = "default"
_LABEL_WORDS = {
    "libelle", "libelles", "label", "description", "detail", "details", "memo", "payee", "beneficiaire",
    "narrative", "verwendungszweck", "wording", "intitule", "reference", "motif", "buchungstext",
}  # fmt: skip
_AMOUNT_WORDS = {"montant", "amount", "betrag", "importe", "somme", "sum"}
_CURRENCY_WORDS = {"devise", "currency", "waehrung", "wahrung", "monnaie"}
# Locales chosen for their separators only: de_DE reads 1.234,56 and en_US 1,234.56 (parsed once).
_COMMA, _DOT = Locale.parse("de_DE"), Locale.parse("en_US")
_CURRENCY_HINTS = {"EUR": r"\beur(os?)?\b|€", "USD": r"\busd\b|\$", "GBP": r"\bgbp\b|£", "CHF": r"\bchf\b"}


@dataclass
class CsvResult:
    transactions: list[Transaction]
    account: str
    problems: list[str] = field(default_factory=list)
    skipped: int = 0


def _words(cell: str) -> list[str]:
    """`dateOp`, `Libellé opération`, `Débit euros` -> plain lowercase words without accents."""
    cell = re.sub(r"([a-z])([A-Z])", r"\1 \2", cell)
    text = unicodedata.normalize("NFKD", cell).encode("ascii", "ignore").decode().lower()
    return re.findall(r"[a-z0-9]+", text)


def role_of(cell: str) -> str | None:
    """The role a header cell names, or None (value dates, balances, categories are not ours)."""
    words = _words(cell)
    joined = " ".join(words)
    ws = set(words)
    if ws & {"account", "compte", "konto"} and ws & {"num", "number", "numero", "no", "n", "nummer", "iban"}:
        return "account"  # Boursorama's accountNum: several accounts in one export
    if not ws or ws & {"solde", "balance", "saldo", "categorie", "category", "account", "compte"}:
        return None
    if "date" in ws or ws & {"datum", "buchungstag", "booked", "posted"}:
        return None if ws & {"valeur", "value", "val", "valuta", "wertstellung"} else "date"
    if ws & _CURRENCY_WORDS:
        return "currency"
    if ws & {"debit", "debits", "withdrawal", "withdrawals", "sortie", "sorties"} or re.search(
        r"\b(money|paid) out\b", joined
    ):
        return "debit"
    if ws & {"credit", "credits", "deposit", "deposits", "entree", "entrees"} or re.search(
        r"\b(money|paid) in\b", joined
    ):
        return "credit"
    if ws & _AMOUNT_WORDS:
        return "amount"
    if ws & _LABEL_WORDS:
        return "label"
    return None


def _header_roles(row: list[str]) -> dict[str, list[int]]:
    roles: dict[str, list[int]] = {}
    for index, cell in enumerate(row):
        role = role_of(cell)
        if role:
            roles.setdefault(role, []).append(index)
    return roles


def _is_header(roles: dict[str, list[int]]) -> bool:
    return "date" in roles and "label" in roles and bool({"amount", "debit", "credit"} & roles.keys())


def decode(data: bytes) -> str:
    """UTF-8 (with or without BOM) if it decodes, else cp1252 (ISO-8859-1 plus the € sign)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\b")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})\b")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")


def parse_date(text: str, month_first: bool = False) -> str | None:
    """A statement date as YYYY-MM-DD, or None: `14/03/2026`, `14.03.26`, `2026-03-14`, `20260314`."""
    text = text.strip()
    try:
        if m := _ISO.match(text) or _COMPACT.match(text):
            return date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        if m := _DMY.match(text):
            first, second, year = int(m[1]), int(m[2]), int(m[3])
            year += 2000 if year < 100 else 0
            day, month = (second, first) if month_first else (first, second)
            return date(year, month, day).isoformat()
    except ValueError:
        return None
    return None


def _month_first(values: list[str]) -> bool:
    """US exports write 03/14/2026: only a second field above 12 proves it, else day first."""
    for value in values:
        if (m := _DMY.match(value.strip())) and int(m[2]) > 12:
            return True
    return False


def parse_amount(text: str, decimal_comma: bool) -> Decimal | None:
    """`-13,49`, `1 234,56 €`, `1.234,56`, `(13.49)`, `13,49-` -> Decimal; empty or junk -> None."""
    text = text.strip().replace("\u2212", "-")
    text = re.sub(r"[€$£]|\b(EUR|USD|GBP|CHF)\b", "", text, flags=re.I)
    text = re.sub(r"[\s'\u00a0\u202f]", "", text)
    negative = False
    if text.startswith("(") and text.endswith(")"):
        text, negative = text[1:-1], True
    if text.endswith("-"):
        text, negative = text[:-1], True
    if not text or not re.fullmatch(r"[+-]?[\d.,]*\d[\d.,]*", text):
        return None
    try:
        value = parse_decimal(text, locale=_COMMA if decimal_comma else _DOT)
    except (NumberFormatError, InvalidOperation):
        return None
    return -value if negative else value


def _decimal_comma(values: list[str], delimiter: str) -> bool:
    """The file's decimal mark: what precedes the last one or two digits of its amounts."""
    commas = sum(bool(re.search(r"\d,\d{1,2}\s*(€|EUR)?-?\)?$", v.strip())) for v in values)
    dots = sum(bool(re.search(r"\d\.\d{1,2}\s*(€|EUR)?-?\)?$", v.strip())) for v in values)
    if commas != dots:
        return commas > dots
    return delimiter != ","


def to_minor(value: Decimal, currency: str) -> int:
    """Decimal units -> integer minor units (13.49 EUR -> 1349; JPY has none)."""
    return int((value * (10 ** get_currency_precision(currency))).to_integral_value())


def parse_columns(spec: str) -> dict[str, str]:
    """`date=1,label=3,amount=5` or `date=Date opération,debit=Débit,credit=Crédit` -> {role: ref}."""
    mapping: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        role, sep, ref = part.partition("=")
        role = role.strip().lower()
        if not sep or role not in ROLES or not ref.strip():
            raise BankError(
                f"--columns: {part!r} is not ROLE=COLUMN with ROLE one of {', '.join(ROLES)} "
                "and COLUMN a 1-based number or a header name"
            )
        mapping[role] = ref.strip()
    if "date" not in mapping or not {"amount", "debit", "credit"} & mapping.keys():
        raise BankError("--columns needs date= and amount= (or debit= / credit=)")
    return mapping


def _rows(text: str, delimiter: str) -> list[list[str]]:
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _delimiter_order(text: str) -> list[str]:
    """csv.Sniffer on the table's tail (the header lines above confuse it) goes first, the rest after."""
    tail = "\n".join(text.splitlines()[-30:])
    try:
        sniffed = csv.Sniffer().sniff(tail, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ";"
    return [sniffed] + [d for d in DELIMITERS if d != sniffed]


@dataclass
class Table:
    rows: list[list[str]]
    start: int  # index of the first data row (0: no header row)
    roles: dict[str, list[int]]  # role -> column indexes
    delimiter: str


def _find_table(text: str, override: dict[str, str] | None) -> Table:
    """Where the statement's table starts, in which separator, and which column holds what."""
    for delimiter in _delimiter_order(text):
        rows = _rows(text, delimiter)
        for index, row in enumerate(rows[:80]):
            if override:
                named = {k: v for k, v in override.items() if not v.isdigit()}
                if named and all(any(_words(c) == _words(v) for c in row) for v in named.values()):
                    return Table(rows, index + 1, _override_roles(override, row), delimiter)
            elif _is_header(roles := _header_roles(row)):
                return Table(rows, index + 1, roles, delimiter)
        if override and all(v.isdigit() for v in override.values()):
            width = max((len(r) for r in rows), default=0)
            if width > max(int(v) for v in override.values()) - 1 and width > 1:
                return Table(rows, 0, _override_roles(override, None), delimiter)
    if override:
        raise BankError("--columns: no row of the file names the columns given")
    inferred = _infer_headerless(text)
    if inferred:
        return inferred
    raise BankError("no statement table found (no row names a date, a label and an amount); try --columns")


def _override_roles(override: dict[str, str], header: list[str] | None) -> dict[str, list[int]]:
    roles: dict[str, list[int]] = {}
    for role, ref in override.items():
        if ref.isdigit():
            roles[role] = [int(ref) - 1]
        else:
            assert header is not None
            roles[role] = [i for i, cell in enumerate(header) if _words(cell) == _words(ref)][:1]
    return roles


def _share(rows: list[list[str]], col: int, test: Callable[[str], object]) -> float:
    return sum(bool(test(r[col])) for r in rows) / len(rows)


def _infer_headerless(text: str) -> Table | None:
    """A table without a header row: the column of dates, the column of amounts, the longest text."""
    for delimiter in _delimiter_order(text):
        rows = [r for r in _rows(text, delimiter) if len(r) >= 3]
        if len(rows) < 2:
            continue
        width = min(len(r) for r in rows)

        dates = [c for c in range(width) if _share(rows, c, parse_date) >= 0.8]
        amounts = [
            c
            for c in range(width)
            if c not in dates and _share(rows, c, lambda v: re.search(r"\d[.,]\d\d\b", v)) >= 0.8
        ]
        if not dates or not amounts:
            continue
        others = [c for c in range(width) if c not in dates and c not in amounts]
        if not others:
            continue
        label = max(others, key=lambda c: sum(len(r[c]) for r in rows))
        return Table(rows, 0, {"date": dates[:1], "amount": amounts[:1], "label": [label]}, delimiter)
    return None


def _find_account(lines: list[list[str]]) -> str | None:
    """An account number in the lines above the table (`Compte courant n° 00012345678`)."""
    for row in lines:
        text = " ".join(row)
        m = re.search(
            r"(?:compte|account|n°|no\.?|iban)\D{0,40}?([A-Z]{2}\d{2}[\d ]{10,}|\d[\d ]{5,}\d)", text, re.I
        )
        if m:
            return re.sub(r"\s", "", m[1])
    return None


def _file_currency(header: list[str], preamble: list[list[str]]) -> str | None:
    text = " ".join(header + [c for row in preamble for c in row]).lower()
    for code, pattern in _CURRENCY_HINTS.items():
        if re.search(pattern, text, re.I):
            return code
    return None


def read_csv(
    path: str | Path,
    account: str | None = None,
    columns: str | None = None,
    currency: str | None = None,
) -> CsvResult:
    """Read one CSV statement into transactions (debits negative), keyed for idempotent re-import."""
    path = Path(path)
    text = decode(path.read_bytes())
    override = parse_columns(columns) if columns else None
    table = _find_table(text, override)
    rows, start, roles = table.rows, table.start, table.roles
    header = rows[start - 1] if start else []
    preamble = rows[: max(start - 1, 0)]
    file_number = _find_account(preamble)
    file_account = file_number or DEFAULT_ACCOUNT
    currency = (currency or _file_currency(header, preamble) or "EUR").upper()

    def cells(row: list[str], role: str) -> list[str]:
        return [row[i] for i in roles.get(role, []) if i < len(row)]

    body = rows[start:]
    date_values = [v for r in body for v in cells(r, "date")]
    month_first = _month_first(date_values)
    money = [v for r in body for role in ("amount", "debit", "credit") for v in cells(r, role)]
    comma = _decimal_comma(money, table.delimiter)
    label_cols = roles.get("label", [])
    if len(label_cols) > 1:  # several label columns: the most informative one
        label_cols = [max(label_cols, key=lambda c: sum(len(r[c]) for r in body if c < len(r)))]

    result = CsvResult(transactions=[], account=account or file_account)
    parsed: list[Transaction] = []
    for number, row in enumerate(body, start=start + 1):
        booked = next((d for v in cells(row, "date") if (d := parse_date(v, month_first))), None)
        if not booked:
            result.skipped += 1
            continue
        amount = _row_amount(row, roles, comma)
        if amount is None:
            if any(v.strip() for role in ("amount", "debit", "credit") for v in cells(row, role)):
                result.problems.append(f"{path.name} line {number}: unreadable amount in {row!r}")
            else:
                result.skipped += 1
            continue
        row_currency = next((v.strip().upper() for v in cells(row, "currency") if v.strip()), currency)
        row_number = next((v.strip() for v in cells(row, "account") if v.strip()), file_number)
        row_account = account or row_number or DEFAULT_ACCOUNT
        label = clean_label(" ".join(row[c] for c in label_cols if c < len(row)))
        parsed.append(
            Transaction(
                account=row_account,
                booked_on=booked,
                label=label,
                amount_minor=to_minor(amount, row_currency),
                currency=row_currency,
                source=f"csv:{path.name}",
                line=number,
                account_number=row_number,
            )
        )
    result.transactions = content_keys(parsed, "csv")
    if not account and (accounts := sorted({t.account for t in parsed})):
        result.account = ", ".join(accounts)
    return result


def _row_amount(row: list[str], roles: dict[str, list[int]], comma: bool) -> Decimal | None:
    """Signed amount: the amount column as written, or credit minus debit."""

    def value(role: str) -> Decimal | None:
        for index in roles.get(role, []):
            if index < len(row) and (parsed := parse_amount(row[index], comma)) is not None:
                return parsed
        return None

    if "amount" in roles and (amount := value("amount")) is not None:
        return amount
    debit, credit = value("debit"), value("credit")
    if debit is None and credit is None:
        return None
    return abs(credit or Decimal(0)) - abs(debit or Decimal(0))
