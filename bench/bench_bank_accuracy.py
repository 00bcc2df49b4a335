"""Precision and recall of recurring-charge detection on generated, labelled bank statements.

Usage:
    python bench/bench_bank_accuracy.py                  # 120 accounts, 18 months, seed 8
    python bench/bench_bank_accuracy.py --accounts 40 --months 12 --seed 3 --show 10
    python bench/bench_bank_accuracy.py --both-formats   # each account exported as CSV and OFX too

Each account gets a statement file in a real format (a Crédit Agricole-like CSV
in ISO-8859-1 for two accounts in three, an OFX file otherwise) mixing:
subscriptions of known providers and of unknown merchants at every period
(weekly to yearly, 4-weekly gyms), price increases, variable phone and power
bills, late starts (two charges: "early"), cancellations, a missed charge,
SEPA debits moved off weekends and holidays, card bookings 1-3 days late,
references that change every month, PayPal; and one-off noise: shops at random
days and amounts, bakeries with a few fixed prices, app-store purchases and
marketplace orders under the same label as a subscription, salary credits.

With `--both-formats`, each account's statement is also exported in the other
format over the last half of the period (OFX cuts labels at 32 characters): the
same lines, which must be stored once, so the figures must not change.

The files go through the real path (`read_statement` -> `save_statement`
-> `reconcile.refresh`) into a real SQLite file. A detected series is a true
positive when most of its charges belong to one labelled series not matched
before; a labelled series (two charges or more in the window) is found when
such a detected series exists.
"""

from __future__ import annotations

import argparse
import calendar
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ingest.bank.reconcile import refresh  # noqa: E402
from ingest.bank.statements import read_statement  # noqa: E402
from ingest.bank.store import save_statement  # noqa: E402
from ingest.store.schema import open_db  # noqa: E402

# (label template, period, amounts in cents, variable bill?) -- {ref} changes every charge, {dd} is the card date
CATALOGUE: list[tuple[str, str, tuple[int, ...], bool]] = [
    ("PRLV SEPA NETFLIX.COM ECH/{ech} MDT/NFX{mdt}", "P1M", (599, 1349, 1799), False),
    ("CB SPOTIFY {ref} {dd}", "P1M", (1199, 1799), False),
    ("PAYPAL *SPOTIFY", "P1M", (1199,), False),
    ("PRLV SEPA FREE MOBILE ECH/{ech}", "P1M", (1999, 1099), True),
    ("PRLV SEPA Free Telecom ECH/{ech}", "P1M", (2999, 3999), False),
    ("PRLV SEPA BASIC FIT FRANCE ECH/{ech}", "P4W", (2499, 2999), False),
    ("PRLV SEPA GROUPE CANAL+ ECH/{ech}", "P1M", (2499, 3499), False),
    ("CB DISNEYPLUS {dd}", "P1M", (599, 999), False),
    ("CB DISNEYPLUS {dd}", "P1Y", (9990,), False),
    ("AMAZON PRIME FR*{ref}", "P1Y", (6990,), False),
    ("AMAZON PRIME FR*{ref}", "P1M", (699,), False),
    ("GOOGLE *YouTubePremium", "P1M", (1299,), False),
    ("GOOGLE *Google One", "P1M", (199, 299), False),
    ("APPLE.COM/BILL ITUNES.COM", "P1M", (99, 299, 999), False),
    ("MSFT *{ref}", "P1Y", (9900,), False),
    ("ADOBE *CREATIVE CLOUD {ref}", "P1M", (2399, 1199), False),
    ("DROPBOX*{ref}", "P1Y", (11988,), False),
    ("PAYPAL *OPENAI CHATGPT", "P1M", (2300,), False),
    ("AUDIBLE*{ref}", "P1M", (995,), False),
    ("PRLV SEPA ORANGE SA ECH/{ech} REF/{mdt}", "P1M", (4499, 3299), True),
    ("PRLV SEPA SOSH ECH/{ech}", "P1M", (1599,), False),
    ("PRLV SEPA RED BY SFR ECH/{ech}", "P1M", (1500,), False),
    ("PRLV SEPA BOUYGUES TELECOM ECH/{ech}", "P1M", (2799,), True),
    ("PRLV SEPA EDF clients particuliers ECH/{ech}", "P1M", (6200, 9400), False),
    ("PRLV SEPA EDF clients particuliers ECH/{ech}", "P2M", (14500,), True),
    ("PRLV SEPA LE MONDE ECH/{ech}", "P1M", (1199,), False),
    ("CB MEDIAPART {dd}", "P1M", (1100,), False),
    ("PRLV SEPA MAIF ASSURANCE HABITATION ECH/{ech} MDT/{mdt}", "P1M", (1840, 2210), False),
    ("PRLV SEPA MUTUELLE HARMONIE ECH/{ech}", "P1M", (5430,), False),
    ("PRLV SEPA MACIF ASSURANCE AUTO ECH/{ech}", "P3M", (11200,), False),
    ("CB COURS DE YOGA MARAIS {dd}", "P1W", (1500,), False),
    ("CB CRECHE LES PETITS PAS {dd}", "P2W", (9000,), False),
    ("PRLV SEPA ECOLE DE MUSIQUE ECH/{ech}", "P3M", (18000,), False),
    ("CB NORDVPN {ref}", "P1Y", (5988,), False),
    ("PRLV SEPA NAVIGO ANNUEL ECH/{ech}", "P1M", (8640,), False),
    ("PRLV SEPA TRESOR PUBLIC TAXE FONCIERE {mdt}", "P1M", (9100,), False),
]
SHOPS = [
    "CARREFOUR CITY", "MONOPRIX PARIS 11", "FNAC PARIS", "SNCF INTERNET", "PHARMACIE DU MARCHE",
    "UBER EATS", "PICARD SURGELES", "LEROY MERLIN", "DECATHLON", "CINEMA MK2", "RESTAURANT LE PETIT ZINC",
    "ZARA", "BIOCOOP", "LA POSTE", "TOTAL ENERGIES", "IKEA", "DARTY", "CAFE DE LA PAIX",
]  # fmt: skip
HOLIDAYS = {(1, 1), (5, 1), (5, 8), (7, 14), (8, 15), (11, 1), (11, 11), (12, 25)}


def add_months(day: date, months: int) -> date:
    i = day.month - 1 + months
    y, m = day.year + i // 12, i % 12 + 1
    return date(y, m, min(day.day, calendar.monthrange(y, m)[1]))


def step(day: date, code: str, n: int) -> date:
    days = {"P1W": 7, "P2W": 14, "P4W": 28}.get(code)
    if days:
        return day + timedelta(days=days * n)
    return add_months(day, {"P1M": 1, "P2M": 2, "P3M": 3, "P6M": 6, "P1Y": 12}[code] * n)


def business_day(day: date) -> date:
    while day.weekday() >= 5 or (day.month, day.day) in HOLIDAYS:
        day += timedelta(days=1)
    return day


def ref(rnd: random.Random) -> str:
    return "".join(rnd.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(6))


@dataclass
class Line:
    booked: date
    label: str
    cents: int  # signed
    truth: int | None  # labelled series id, None for one-offs and credits


@dataclass
class Account:
    name: str
    lines: list[Line] = field(default_factory=list)


def generate(rnd: random.Random, index: int, start: date, end: date, next_id: list[int]) -> Account:
    account = Account(f"FR76{index:08d}")
    lines = account.lines
    picked: dict[str, tuple[str, str, tuple[int, ...], bool]] = {}
    for entry in rnd.sample(CATALOGUE, rnd.randint(4, 10)):  # one plan per merchant and channel
        picked.setdefault(entry[0].split("*")[0].split(" {")[0], entry)
    for template, period, amounts, variable in picked.values():
        sid = next_id[0]
        next_id[0] += 1
        amount = rnd.choice(amounts)
        first = start + timedelta(days=rnd.randint(-60, 30))
        if rnd.random() < 0.15:  # a late start: some will only have two charges (early)
            first = end - timedelta(days=rnd.randint(20, 100))
        stop = end
        if rnd.random() < 0.15:  # cancelled during the window
            stop = start + timedelta(days=rnd.randint(40, (end - start).days))
        raise_at = rnd.randint(2, 12) if rnd.random() < 0.3 else None
        missed = rnd.randint(1, 10) if rnd.random() < 0.05 else None
        card = template.startswith(
            ("CB ", "PAYPAL", "AMAZON", "GOOGLE", "APPLE", "MSFT", "ADOBE", "DROPBOX", "AUDIBLE")
        )
        mandate = ref(rnd)
        lag = rnd.randint(1, 3)  # a card processor posts with its own, mostly constant, delay
        n = 0
        while (due := step(first, period, n)) <= stop:
            n += 1
            if due < start or n - 1 == missed:
                continue
            cents = amount
            if raise_at and n > raise_at:
                cents = int(amount * rnd.choice((1.08, 1.15, 1.2)))
            if variable:
                cents = int(cents * rnd.uniform(0.9, 1.12))
            jitter = rnd.choice((0, 0, 0, 1))
            booked = business_day(due + timedelta(days=lag + jitter)) if card else business_day(due)
            if booked > end:
                break
            label = template.format(
                ech=due.strftime("%d%m%y"), mdt=mandate, ref=ref(rnd), dd=due.strftime("%d/%m")
            )
            lines.append(Line(booked, label, -cents, sid))
    day = start
    while (day := day + timedelta(days=rnd.choice((0, 1, 1, 2, 3, 5)))) <= end:  # shopping
        shop = rnd.choice(SHOPS)
        lines.append(
            Line(
                business_day(day + timedelta(days=1)),
                f"CB {shop} {day:%d/%m}",
                -rnd.randint(300, 12000),
                None,
            )
        )
    for _ in range(rnd.randint(20, 80)):  # bakery: a handful of fixed prices at random days
        day = start + timedelta(days=rnd.randint(0, (end - start).days))
        lines.append(
            Line(day, f"CB BOULANGERIE AUGUSTIN {day:%d/%m}", -rnd.choice((120, 130, 250, 480)), None)
        )
    for _ in range(rnd.randint(0, 8)):  # app purchases under the same label as iCloud
        day = start + timedelta(days=rnd.randint(0, (end - start).days))
        lines.append(Line(day, "APPLE.COM/BILL ITUNES.COM", -rnd.choice((99, 199, 449, 1099)), None))
    for _ in range(rnd.randint(0, 12)):  # marketplace orders
        day = start + timedelta(days=rnd.randint(0, (end - start).days))
        lines.append(Line(day, f"AMZN MKTP FR*{ref(rnd)}", -rnd.randint(500, 9000), None))
    month = start.replace(day=28)
    while month <= end:  # salary
        lines.append(Line(business_day(month), "VIR SEPA RECU /DE ACME SAS /MOTIF SALAIRE", 245000, None))
        month = add_months(month, 1)
    lines.sort(key=lambda line: (line.booked, line.label))
    return account


def fmt(cents: int) -> str:
    return f"{abs(cents) // 100:,}".replace(",", " ") + f",{abs(cents) % 100:02d}"


def write_csv(path: Path, account: Account, start: date, end: date) -> None:
    out = [f"Téléchargement du {end:%d/%m/%Y};", "", f"Compte de Dépôt carte n° {account.name[4:]};", "",
           "Date;Libellé;Débit euros;Crédit euros;"]  # fmt: skip
    for line in reversed(account.lines):
        debit, credit = (fmt(line.cents), "") if line.cents < 0 else ("", fmt(line.cents))
        out.append(f"{line.booked:%d/%m/%Y};{line.label};{debit};{credit};")
    path.write_text("\r\n".join(out) + "\r\n", encoding="iso-8859-1")


def write_ofx(path: Path, account: Account, start: date, end: date) -> None:
    body = []
    for i, line in enumerate(account.lines):
        body.append(
            f"<STMTTRN>\n<TRNTYPE>{'DEBIT' if line.cents < 0 else 'CREDIT'}\n<DTPOSTED>{line.booked:%Y%m%d}\n"
            f"<TRNAMT>{line.cents / 100:.2f}\n<FITID>{account.name}{i:06d}\n<NAME>{line.label[:32]}\n"
            + (f"<MEMO>{line.label[32:]}\n" if len(line.label) > 32 else "")
            + "</STMTTRN>"
        )
    text = (
        "OFXHEADER:100\nDATA:OFXSGML\nVERSION:102\nSECURITY:NONE\nENCODING:USASCII\nCHARSET:1252\n"
        "COMPRESSION:NONE\nOLDFILEUID:NONE\nNEWFILEUID:NONE\n\n<OFX>\n<SIGNONMSGSRSV1>\n<SONRS>\n<STATUS>\n"
        f"<CODE>0\n<SEVERITY>INFO\n</STATUS>\n<DTSERVER>{end:%Y%m%d}\n<LANGUAGE>FRA\n</SONRS>\n</SIGNONMSGSRSV1>\n"
        "<BANKMSGSRSV1>\n<STMTTRNRS>\n<TRNUID>0\n<STATUS>\n<CODE>0\n<SEVERITY>INFO\n</STATUS>\n<STMTRS>\n"
        f"<CURDEF>EUR\n<BANKACCTFROM>\n<BANKID>30002\n<ACCTID>{account.name[4:]}\n<ACCTTYPE>CHECKING\n"
        f"</BANKACCTFROM>\n<BANKTRANLIST>\n<DTSTART>{start:%Y%m%d}\n<DTEND>{end:%Y%m%d}\n"
        + "\n".join(body)
        + f"\n</BANKTRANLIST>\n<LEDGERBAL>\n<BALAMT>1000.00\n<DTASOF>{end:%Y%m%d}\n</LEDGERBAL>\n</STMTRS>\n"
        "</STMTTRNRS>\n</BANKMSGSRSV1>\n</OFX>\n"
    )
    path.write_text(text.replace("\n", "\r\n"), encoding="cp1252")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=120)
    parser.add_argument("--months", type=int, default=18)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--show", type=int, default=5, help="examples of errors to print")
    parser.add_argument(
        "--both-formats", action="store_true", help="also import each account in the other format"
    )
    args = parser.parse_args()
    rnd = random.Random(args.seed)
    end = date(2026, 2, 28)
    start = add_months(end, -args.months) + timedelta(days=1)
    next_id = [1]
    accounts = [generate(rnd, i, start, end, next_id) for i in range(args.accounts)]

    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, account in enumerate(accounts):
            path = Path(tmp) / (f"{account.name}.ofx" if i % 3 == 2 else f"{account.name}.csv")
            (write_ofx if path.suffix == ".ofx" else write_csv)(path, account, start, end)
            files.append(path)
        if args.both_formats:  # the same account in the other format, over the last half
            middle = start + (end - start) / 2
            for path, account in zip(list(files), accounts, strict=True):
                half = Account(account.name, [line for line in account.lines if line.booked >= middle])
                other = path.with_name(f"{path.stem}-other{'.csv' if path.suffix == '.ofx' else '.ofx'}")
                (write_ofx if other.suffix == ".ofx" else write_csv)(other, half, middle, end)
                files.append(other)
        db = open_db(Path(tmp) / "bench.db")
        started = time.perf_counter()
        for path in files:
            save_statement(db, read_statement(path))
        imported = time.perf_counter()
        with db.atomic():
            refresh(db)
        detected = time.perf_counter()
        rows = db.execute(
            "select account, booked_on, label, amount_minor, recurring_charge_id from bank_transactions"
        ).fetchall()
        series = {
            r[0]: r for r in db.execute("select id, billing_period, status, merchant from recurring_charges")
        }

    truth: dict[tuple[str, str, int], list[int | None]] = defaultdict(list)
    periods: dict[int, str] = {}
    for account in accounts:
        for line in account.lines:
            truth[(account.name[4:], line.booked.isoformat(), line.cents)].append(line.truth)
    for template, period, *_ in CATALOGUE:  # labelled period per series id comes from generation order
        del template, period
    members: dict[int, list[int | None]] = defaultdict(list)  # detected id -> labelled ids of its charges
    true_count: Counter[int] = Counter()
    charge_tp = charge_fp = 0
    for account, booked, _label, amount, rid in rows:
        labels = truth[(account, booked, amount)]
        label = Counter(labels).most_common(1)[0][0] if labels else None
        if label is not None:
            true_count[label] += 1
        if rid is not None:
            members[rid].append(label)
            charge_tp += label is not None
            charge_fp += label is None
    labelled = {sid for sid, n in true_count.items() if n >= 2}
    matched: dict[int, int] = {}
    false_pos = []
    for rid, labels in members.items():
        best, n = Counter(labels).most_common(1)[0]
        if best is not None and n * 2 > len(labels) and best not in matched.values():
            matched[rid] = best
        else:
            false_pos.append(rid)
    found = set(matched.values())
    missed = labelled - found
    tp = len(matched)
    precision = tp / (tp + len(false_pos)) if members else 0.0
    recall = len(found & labelled) / len(labelled) if labelled else 0.0
    expected_status = {sid: "confirmed" if true_count[sid] >= 3 else "early" for sid in labelled}
    status_ok = sum(series[rid][2] == expected_status.get(sid) for rid, sid in matched.items())
    del periods
    charges_true = sum(true_count[s] for s in labelled)
    print(
        f"bank recurring-charge detection: {len(accounts)} generated statements over {args.months} months "
        f"({len(rows):,} lines stored of {sum(len(a.lines) for a in accounts):,} generated, "
        f"{len(files)} files, {len(labelled)} labelled series, seed {args.seed})"
    )
    print(
        f"  series:  precision {precision:.3f}  recall {recall:.3f}  ({tp} found, {len(false_pos)} false, {len(missed)} missed)"
    )
    print(f"  status (confirmed / early) right on {status_ok / max(tp, 1):.1%} of the series found")
    print(
        f"  charges: precision {charge_tp / max(charge_tp + charge_fp, 1):.3f}  "
        f"recall {charge_tp / max(charges_true, 1):.3f}"
    )
    print(
        f"  time: import {imported - started:.1f}s ({len(rows) / (imported - started):,.0f} lines/s), "
        f"detection + linking {detected - imported:.2f}s"
    )
    by_id = {}
    for account in accounts:
        for line in account.lines:
            if line.truth is not None:
                by_id.setdefault(line.truth, line.label)
    for rid in false_pos[: args.show]:
        print(f"  false: #{rid} {series[rid][3]} {series[rid][1]} ({len(members[rid])} charges)")
    for sid in sorted(missed)[: args.show]:
        print(f"  missed: {by_id[sid]} ({true_count[sid]} charges)")


if __name__ == "__main__":
    main()
