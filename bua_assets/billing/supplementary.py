"""Compare and cancel (DESIGN §5.6): supplementary lines for charge versions changed after billing.

    run_supplementary(versions, previous, period_start, period_end) -> list[Transaction]

One pass over every non-DRAFT version, grouped by billing account x supply point. Lines are
calculated only for APPROVED versions, but groups that hold only REPLACED versions are finalised
in the same pass: their previous debits, once cleansed of the credits that cancelled them, find
nothing to match and are reversed. A calculated line that matches a remaining previous debit
cancels it (nothing to bill again); the rest is billed. A group with nothing left yields nothing,
so a run in which nothing changed comes out empty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

STATUSES = ("APPROVED", "REPLACED", "DRAFT")


@dataclass(frozen=True)
class ChargeVersion:
    id: int
    billing_account: int | str
    supply_point: int | str
    start: date
    end: date | None  # None: open-ended
    status: str  # APPROVED | REPLACED | DRAFT
    charge_item: str  # a daily charge item, e.g. DAILY_RETAIL
    rate: float  # $ per day, ex-GST
    time_class: str = "ANYTIME"

    def __post_init__(self):
        if self.status not in STATUSES:
            raise ValueError(f"charge version {self.id}: status {self.status!r} is not one of {', '.join(STATUSES)}")
        if self.end is not None and self.end < self.start:
            raise ValueError(f"charge version {self.id}: ends ({self.end}) before it starts ({self.start})")


@dataclass(frozen=True)
class Transaction:
    billing_account: int | str
    supply_point: int | str
    charge_item: str
    time_class: str
    billable_days: int
    quantity: float
    rate: float
    amount: float
    is_credit: bool

    def match_key(self) -> tuple:
        """What makes two lines the same charge: item, time class, days, quantity and rate."""
        return (self.charge_item, self.time_class, self.billable_days, round(float(self.quantity), 3),
                round(float(self.rate), 6))


def cents(x: float) -> float:
    return float(Decimal(str(x)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def calculate(version: ChargeVersion, period_start: date, period_end: date) -> Transaction | None:
    """A daily charge over the version's overlap with the period (inclusive); None without overlap."""
    first = max(version.start, period_start)
    last = period_end if version.end is None else min(version.end, period_end)
    days = (last - first).days + 1
    if days <= 0:
        return None
    return Transaction(version.billing_account, version.supply_point, version.charge_item, version.time_class,
                       days, float(days), version.rate, cents(days * version.rate), False)


def cleanse(previous: Iterable[Transaction]) -> list[Transaction]:
    """Previous debits left after each credit cancels one matching debit."""
    debits: dict[tuple, list[Transaction]] = defaultdict(list)
    credits: list[Transaction] = []
    for t in previous:
        (credits if t.is_credit else debits[t.match_key()]).append(t)
    for c in credits:
        if debits[c.match_key()]:
            debits[c.match_key()].pop()
    return [t for group in debits.values() for t in group]


def run_supplementary(versions: Iterable[ChargeVersion], previous: Iterable[Transaction],
                      period_start: date, period_end: date) -> list[Transaction]:
    """Supplementary transactions for the period: new debits and reversing credits, per group."""
    groups: dict[tuple, list[ChargeVersion]] = defaultdict(list)
    for v in versions:
        if v.status != "DRAFT":
            groups[(v.billing_account, v.supply_point)].append(v)
    history: dict[tuple, list[Transaction]] = defaultdict(list)
    for t in previous:
        history[(t.billing_account, t.supply_point)].append(t)
    result: list[Transaction] = []
    for key in sorted(groups):
        calculated = [t for v in sorted(groups[key], key=lambda v: (v.start, v.id)) if v.status == "APPROVED"
                      for t in [calculate(v, period_start, period_end)] if t is not None]
        remaining: dict[tuple, list[Transaction]] = defaultdict(list)
        for t in cleanse(history.get(key, [])):
            remaining[t.match_key()].append(t)
        for line in calculated:
            if remaining[line.match_key()]:
                remaining[line.match_key()].pop()  # already billed as calculated: nothing to do
            else:
                result.append(line)
        result += [replace(t, is_credit=True) for group in remaining.values() for t in group]
    return result
