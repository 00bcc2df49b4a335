"""Recurring debits: the charges of one merchant that come back at a steady period.

Per group of debits (account, merchant, currency, intermediary: see
`reconcile`), the debits are first tried as one series: a subscription whose
price went up, or a phone bill that varies a little, is still one steady
series. When they are not (Apple billing two subscriptions, a shop with a
yearly membership among purchases), they are split by exact amount, each
amount's regular chains are found (charges that fit no chain are skipped), and
chains that follow one another at the same period are joined again (a price
change). Dates are compared in
calendar months for monthly and longer periods, with a few days' tolerance
(weekends, bank holidays, card bookings that lag the purchase), so 31 January ->
28 February -> 31 March is monthly. One missed charge inside a run is tolerated.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache


@dataclass(frozen=True)
class Period:
    code: str  # ISO-8601 duration, as in subscriptions.billing_period
    days: int = 0
    months: int = 0
    tolerance: int = 3  # days either side

    def after(self, day: date, times: int = 1) -> date:
        if self.months:
            return add_months(day, self.months * times)
        return day + timedelta(days=self.days * times)


PERIODS = (
    Period("P1W", days=7, tolerance=3),
    Period("P2W", days=14, tolerance=3),
    Period("P1M", months=1, tolerance=4),  # before P4W: 9 Feb -> 9 Mar fits both, monthly is likelier
    Period("P4W", days=28, tolerance=3),  # gyms (Basic-Fit) bill every four weeks, 13 times a year
    Period("P2M", months=2, tolerance=5),
    Period("P3M", months=3, tolerance=6),
    Period("P6M", months=6, tolerance=8),
    Period("P1Y", months=12, tolerance=10),
)
BY_CODE = {p.code: p for p in PERIODS}
CONFIRMED_AT = 3  # charges; two are "early"
VARIATION = 1.5  # max/min amount within one series that is not split by amount


@dataclass(frozen=True)
class Charge:
    id: int
    booked_on: date
    amount_minor: int  # positive: the size of the debit


@dataclass
class Series:
    period: Period
    charges: list[Charge]
    amount_changes: list[dict[str, object]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "confirmed" if len(self.charges) >= CONFIRMED_AT else "early"

    @property
    def first_on(self) -> date:
        return self.charges[0].booked_on

    @property
    def last_on(self) -> date:
        return self.charges[-1].booked_on

    @property
    def amount_minor(self) -> int:
        """The latest amount: what the next charge will most likely be."""
        return self.charges[-1].amount_minor

    @property
    def next_expected_on(self) -> date:
        return self.period.after(self.last_on)


@lru_cache(maxsize=1 << 16)
def add_months(day: date, months: int) -> date:
    """Same day of the month `months` later, clamped to the month's end (31 Jan + 1 month = 28 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def steps(earlier: date, later: date, period: Period) -> int | None:
    """1 if `later` is one period after `earlier` (within tolerance), 2 if one charge was missed, else None.

    Months are counted both ways: the February charge of the 27th booked on 1 March is a month
    after 27 January, and 27 March is a month after it although 1 April is not close.
    """
    for times in (1, 2):
        if abs((later - period.after(earlier, times)).days) <= period.tolerance:
            return times
        if (
            period.months
            and abs((earlier - add_months(later, -period.months * times)).days) <= period.tolerance
        ):
            return times
    return None


def _regular(ks: list[int | None]) -> bool:
    """Every gap is one or two periods, and single periods are the majority."""
    return bool(ks) and None not in ks and ks.count(1) > ks.count(2)


def _chains(charges: list[Charge], period: Period) -> list[list[Charge]]:
    """Regular chains at `period` among same-amount charges, skipping the ones that do not fit.

    Each charge extends the chain whose next expected date it is closest to; an
    app bought at the iCloud price, or a second subscription at the same price
    on another day of the month, does not break the chain.
    """
    chains: list[list[Charge]] = []
    for charge in charges:
        best: tuple[int, int, list[Charge]] | None = None
        for chain in chains:
            times = steps(chain[-1].booked_on, charge.booked_on, period)
            if times:
                off = abs((charge.booked_on - period.after(chain[-1].booked_on, times)).days)
                if best is None or (times, off) < best[:2]:
                    best = (times, off, chain)
        if best:
            best[2].append(charge)
        else:
            chains.append([charge])
    return [
        chain
        for chain in chains
        if _regular([steps(a.booked_on, b.booked_on, period) for a, b in zip(chain, chain[1:], strict=False)])
    ]


def _best_whole(charges: list[Charge]) -> Period | None:
    """The period at which all of `charges` are regular, if one is."""
    best: tuple[tuple[int, int], Period] | None = None
    for period in PERIODS:
        ks: list[int | None] = []
        for a, b in zip(charges, charges[1:], strict=False):
            ks.append(steps(a.booked_on, b.booked_on, period))
            if ks[-1] is None:  # a shop's purchases fail at the first gap: stop there
                break
        if _regular(ks):
            score = (ks.count(1), -_drift(charges, period))
            if best is None or score > best[0]:
                best = (score, period)
    return best[1] if best else None


def _drift(charges: list[Charge], period: Period) -> int:
    """Total days between each charge and the schedule from the first one: tells 4-weekly from monthly.

    Anchored on the first charge, not on the previous one: 4 weeks and a month differ by 0-3 days a
    time, which only adds up along the schedule.
    """
    total = periods = 0
    for a, b in zip(charges, charges[1:], strict=False):
        periods += steps(a.booked_on, b.booked_on, period) or 1
        total += abs((b.booked_on - period.after(charges[0].booked_on, periods)).days)
    return total


def _amounts_plausible(charges: list[Charge], known: bool) -> bool:
    """Two charges must be equal unless the merchant is a known subscription; more may vary (bills, rises)."""
    amounts = [c.amount_minor for c in charges]
    if len(charges) == 2 and not known:
        return amounts[0] == amounts[1]
    return min(amounts) > 0 and max(amounts) / min(amounts) <= VARIATION


def detect(charges: list[Charge], known: bool = False) -> list[Series]:
    """The recurring series among one merchant's debits (any order); charges outside them are one-offs.

    `known`: the label names a subscription provider, so two charges of different amounts
    (a phone bill with extras) may already be a series.
    """
    charges = sorted(charges, key=lambda c: (c.booked_on, c.id))
    if len(charges) < 2:
        return []
    whole = _best_whole(charges)
    if whole and _amounts_plausible(charges, known):
        return [_with_changes(Series(whole, charges))]
    runs: list[tuple[Period, list[Charge]]] = []
    by_amount: dict[int, list[Charge]] = {}
    for charge in charges:
        by_amount.setdefault(charge.amount_minor, []).append(charge)
    for same in by_amount.values():
        if len(same) < 2:
            continue
        scored = []
        for period in PERIODS:
            chains = _chains(same, period)
            covered = sum(len(c) for c in chains)
            # most charges explained by the fewest chains (monthly, not three interleaved quarterly: a chain
            # costs two charges), then closest to the period
            fit = covered - 2 * len(chains)
            scored.append(((fit, covered, -sum(_drift(c, period) for c in chains)), period, chains))
        _, period, chains = max(scored, key=lambda item: item[0])
        chains = [c for c in chains if len(c) > 2]  # among other charges, two at one price prove nothing
        covered = sum(len(c) for c in chains)
        # A price paid at random (a bakery's baguette) makes short chains by chance and leaves many
        # charges out; a subscription's price is almost only its own (an app at the iCloud price aside).
        if chains and len(same) - covered <= covered // 5:
            runs.extend((period, c) for c in chains)
    return [_with_changes(s) for s in _join(runs)]


def _join(runs: list[tuple[Period, list[Charge]]]) -> list[Series]:
    """Runs at the same period where one starts a period after the other ends: a price change."""
    series: list[Series] = []
    for period, run in sorted(runs, key=lambda r: r[1][0].booked_on):
        for s in series:
            if (
                s.period == period
                and s.last_on < run[0].booked_on
                and steps(s.last_on, run[0].booked_on, period)
            ):
                s.charges.extend(run)
                break
        else:
            series.append(Series(period, list(run)))
    return series


def _with_changes(series: Series) -> Series:
    series.amount_changes = [
        {"on": b.booked_on.isoformat(), "from": a.amount_minor, "to": b.amount_minor}
        for a, b in zip(series.charges, series.charges[1:], strict=False)
        if a.amount_minor != b.amount_minor
    ]
    return series
