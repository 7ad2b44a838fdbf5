"""Monthly partitions: the key is the accrual month; the run date is the first day of the next month."""

from __future__ import annotations

import os
from datetime import date

import dagster as dg

from bua_assets.months import AccrualMonth
from bua_assets.ops.earl import DEFAULT_TIME_ZONE

FIRST_MONTH = "2023-09-01"
# A month's partition exists from local midnight on the 1st, when the month-end snapshot is taken
# (the same zone the EARL sensor reads snapshot dates in).
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH,
                                                    timezone=os.getenv("BUA_TIME_ZONE") or DEFAULT_TIME_ZONE)


def month_start(partition_key: str) -> date:
    return AccrualMonth.from_key(partition_key).start


def run_date(partition_key: str) -> date:
    """The as-at date of the month's snapshot: every asset derives it from the key alone."""
    return AccrualMonth.from_key(partition_key).run_date


def month_end(partition_key: str) -> date:
    return AccrualMonth.from_key(partition_key).end
