"""Monthly partitions: the key is the accrual month; the run date is the first day of the next month."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

FIRST_MONTH = "2023-09-01"
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH)


def month_start(partition_key: str) -> date:
    return date.fromisoformat(partition_key)


def run_date(partition_key: str) -> date:
    """The as-at date of the month's snapshot: every asset derives it from the key alone."""
    m = month_start(partition_key)
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def month_end(partition_key: str) -> date:
    return run_date(partition_key) - timedelta(days=1)
