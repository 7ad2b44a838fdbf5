"""Calendar-month arithmetic shared by the pure modules (no Dagster imports)."""

from __future__ import annotations

from datetime import date


def first_of_month_before(d: date, months: int) -> date:
    """The first day of the month ``months`` calendar months before ``d``'s month (negative: after)."""
    y, m = d.year, d.month - months
    while m <= 0:
        y, m = y - 1, m + 12
    while m > 12:
        y, m = y + 1, m - 12
    return date(y, m, 1)
