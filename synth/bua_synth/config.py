"""The generator's configuration and the calendar arithmetic its world runs on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bua_assets.months import first_of_month_before


@dataclass(frozen=True)
class GeneratorConfig:
    accounts: int = 1000
    seed: int = 7
    as_at: date = date(2026, 11, 1)  # the run date: first day after the last month of data
    history_months: int = 13

    @property
    def start(self) -> date:
        return first_of_month_before(self.as_at, self.history_months)

    @property
    def end(self) -> date:
        return self.as_at - timedelta(days=1)


def month_starts(start: date, end: date) -> list[date]:
    out, d = [], date(start.year, start.month, 1)
    while d <= end:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def add_months(d: date, k: int, day: int) -> date:
    """``k`` months after ``d``'s month, on ``day`` (at most the 28th: every month has it)."""
    y, m = d.year, d.month + k
    while m > 12:
        y, m = y + 1, m - 12
    return date(y, m, min(day, 28))
