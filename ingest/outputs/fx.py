"""One currency for totals: what a foreign-currency subscription costs in the main currency.

Order of preference, never a silent 1:1:
1. the bank debit matched to the subscription (`recurring_charges.subscription_id`) when it
   is in the main currency — what the user really pays, card fees included;
2. the ECB euro reference rates, fetched once a day when online (`current_rates`: a small
   request with a timeout, kept with its date next to the database) and otherwise from the
   rates file shipped with subtrail (`data/eurofxref.csv`, the ECB's own CSV format, what
   the tests use); their date is shown beside every converted total;
3. otherwise "not converted": left out of the total, and the page says so.
"""

from __future__ import annotations

import csv
import functools
import json
import os
import urllib.request
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from xml.etree import ElementTree

from ingest.outputs.humanize import decimal_to_minor, minor_to_decimal

RATES_FILE = Path(__file__).resolve().parent / "data" / "eurofxref.csv"
ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
URL_ENV = "SUBTRAIL_ECB_URL"  # another address (a test server), or "off": never fetch
CACHE_NAME = "ecb-rates.json"
TIMEOUT_S = 3.0
MAX_BYTES = 64 * 1024  # the daily file is about 1.5 kB


@dataclass(frozen=True)
class Rates:
    """ECB reference rates: units of each currency for one euro, as published on `day`."""

    day: date
    per_euro: dict[str, Decimal]

    def convert(self, amount_minor: int, source: str, target: str) -> int | None:
        """`amount_minor` in `source` expressed in `target` (through the euro), or None if a rate is missing."""
        if source == target:
            return amount_minor
        per_euro = {**self.per_euro, "EUR": Decimal(1)}
        if source not in per_euro or target not in per_euro:
            return None
        euros = minor_to_decimal(amount_minor, source) / per_euro[source]
        return decimal_to_minor(euros * per_euro[target], target)


def parse_ecb_csv(text: str) -> Rates:
    """The ECB's `eurofxref.csv`: a header `Date, USD, JPY, ...` and one line `30 October 2026, 1.1172, ...`."""
    rows = [[cell.strip() for cell in row] for row in csv.reader(text.splitlines()) if row]
    header, values = rows[0], rows[1]
    day = datetime.strptime(values[0], "%d %B %Y").date()
    per_euro = {
        code: Decimal(value)
        for code, value in zip(header[1:], values[1:], strict=False)
        if code and value and value != "N/A"
    }
    return Rates(day=day, per_euro=per_euro)


def parse_ecb_xml(data: bytes) -> Rates:
    """The ECB's `eurofxref-daily.xml`: `<Cube time="2026-11-26"><Cube currency="USD" rate="1.05"/>…`."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:  # the ECB sends neither; refuse entity tricks
        raise ValueError("unexpected DOCTYPE in the ECB rates")
    root = ElementTree.fromstring(data)
    for cube in root.iter():
        if cube.tag.endswith("Cube") and cube.get("time"):
            per_euro = {}
            for item in cube:
                code, rate = item.get("currency"), item.get("rate")
                if code and rate:
                    try:
                        per_euro[code.strip().upper()] = Decimal(rate)
                    except InvalidOperation:
                        continue
            if per_euro:
                return Rates(day=date.fromisoformat(cube.get("time", "")), per_euro=per_euro)
    raise ValueError("no dated rates in the ECB file")


def fetch_rates(url: str = ECB_URL, timeout: float = TIMEOUT_S) -> Rates:
    """One small GET with a timeout; raises OSError or ValueError when offline or the file is wrong."""
    request = urllib.request.Request(url, headers={"User-Agent": "subtrail (ECB reference rates)"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # http(s) only: see fetch_url
        data = response.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError("the ECB rates file is larger than expected")
    return parse_ecb_xml(data)


def fetch_url(env: dict[str, str] | None = None) -> str | None:
    """Where to fetch today's rates, or None: never when off, nor when `SUBTRAIL_TODAY` pins the day
    (a pinned run must not depend on the real date) unless a test server is named explicitly."""
    env = dict(os.environ) if env is None else env
    chosen = env.get(URL_ENV, "").strip()
    if chosen.lower() in ("off", "0", "no", "none"):
        return None
    if chosen:
        return chosen if chosen.startswith(("http://", "https://")) else None
    return None if env.get("SUBTRAIL_TODAY", "").strip() else ECB_URL


def _read_cache(path: Path) -> tuple[Rates | None, date | None]:
    """The cached rates and the day a fetch was last tried (successful or not)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tried = date.fromisoformat(data["tried_on"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None
    try:
        rates = Rates(
            day=date.fromisoformat(data["day"]),
            per_euro={code: Decimal(value) for code, value in data["per_euro"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation):
        rates = None
    return rates, tried


def _write_cache(path: Path, rates: Rates | None, tried_on: date) -> None:
    data: dict[str, object] = {"tried_on": tried_on.isoformat()}
    if rates is not None:
        data |= {
            "day": rates.day.isoformat(),
            "per_euro": {k: str(v) for k, v in sorted(rates.per_euro.items())},
        }
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError:  # a read-only data directory: use the rates without keeping them
        partial.unlink(missing_ok=True)


def current_rates(
    cache_dir: Path | None, today: date, url: str | None = None, timeout: float = TIMEOUT_S
) -> Rates | None:
    """The newest rates known: fetched from `url` at most once a day (kept in `cache_dir`), the
    cache, or the shipped file. Offline, a failed try is remembered for the day, so `status`
    never waits on the network twice in a day."""
    shipped = shipped_rates()
    if cache_dir is None:
        return shipped
    path = Path(cache_dir) / CACHE_NAME
    cached, tried = _read_cache(path)
    if url and (tried is None or tried < today):
        try:
            cached = fetch_rates(url, timeout)
        except (OSError, ValueError, ElementTree.ParseError):
            pass  # offline or a bad answer: yesterday's rates or the shipped file
        _write_cache(path, cached, today)
    candidates = [r for r in (cached, shipped) if r is not None]
    return max(candidates, key=lambda r: r.day) if candidates else None


@functools.cache
def shipped_rates(path: Path = RATES_FILE) -> Rates | None:
    try:
        return parse_ecb_csv(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Converted:
    """An amount in the main currency and how it was obtained: `same`, `bank`, `ecb` or `none`."""

    amount_minor: int | None
    how: str
    rate_day: date | None = None


def to_main(
    amount_minor: int | None,
    currency: str | None,
    main: str,
    bank_amount_minor: int | None = None,
    bank_currency: str | None = None,
    rates: Rates | None = None,
) -> Converted:
    if amount_minor is None or not currency:
        return Converted(None, "none")
    if currency == main:
        return Converted(amount_minor, "same")
    if bank_amount_minor is not None and bank_currency == main:
        return Converted(abs(bank_amount_minor), "bank")
    if rates is not None and (value := rates.convert(amount_minor, currency, main)) is not None:
        return Converted(value, "ecb", rates.day)
    return Converted(None, "none")
