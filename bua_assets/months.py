"""Calendar-month arithmetic and the accrual month, shared by the pure modules (no Dagster imports)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta


def first_of_month_before(d: date, months: int) -> date:
    """The first day of the month ``months`` calendar months before ``d``'s month (negative: after)."""
    y, m = d.year, d.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    while m > 12:
        y, m = y + 1, m - 12
    return date(y, m, 1)


@dataclass(frozen=True, order=True)
class AccrualMonth:
    """The calendar month an accrual is computed for: the one home for what a partition key means.

    The partition key ``2024-05-01`` is the May 2024 accrual. Its snapshot is taken as at the
    ``run_date`` (1 June, local midnight); the month's usage runs ``start`` .. ``end`` inclusive.
    """

    start: date

    def __post_init__(self) -> None:
        if self.start.day != 1:
            raise ValueError(f"an accrual month starts on the 1st, not {self.start.isoformat()}")

    @classmethod
    def from_key(cls, key: str) -> AccrualMonth:
        """From a partition key (``2024-05-01``) or a month (``2024-05``)."""
        text = key.strip()
        try:
            return cls(date.fromisoformat(text if len(text) > 7 else f"{text}-01"))
        except ValueError as exc:
            raise ValueError(f"not a month: {key!r} (expected YYYY-MM or YYYY-MM-01)") from exc

    @classmethod
    def containing(cls, d: date) -> AccrualMonth:
        return cls(d.replace(day=1))

    @property
    def key(self) -> str:
        """The Dagster partition key: ``2024-05-01``."""
        return self.start.isoformat()

    @property
    def label(self) -> str:
        """How people write the month: ``2024-05`` (also the meter data folder name)."""
        return f"{self.start:%Y-%m}"

    @property
    def compact(self) -> str:
        """``202405``: the month in file names, tags and identifiers."""
        return f"{self.start:%Y%m}"

    @property
    def run_date(self) -> date:
        """The as-at date of the month's snapshot: the first day of the next month."""
        return first_of_month_before(self.start, -1)

    @property
    def end(self) -> date:
        """The month's last day."""
        return self.run_date - timedelta(days=1)

    @property
    def span(self) -> tuple[date, date]:
        """(start, end): the month's first and last day, inclusive."""
        return self.start, self.end

    @property
    def days(self) -> int:
        return (self.run_date - self.start).days

    def shifted(self, months: int) -> AccrualMonth:
        """The month ``months`` later (negative: earlier)."""
        return AccrualMonth(first_of_month_before(self.start, -months))

    @property
    def previous(self) -> AccrualMonth:
        return self.shifted(-1)

    def history(self, months: int) -> list[AccrualMonth]:
        """The ``months`` months before this one, oldest first (the profile history window)."""
        return [self.shifted(-n) for n in range(months, 0, -1)]

    def __str__(self) -> str:
        return self.label
