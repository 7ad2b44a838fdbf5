"""Monthly partitions: the key is the accrual month; the run date is the first day of the next month."""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from bua_assets.months import AccrualMonth
from bua_assets.settings import defaults, time_zone_name

DEFAULT_FIRST_MONTH = "2023-09-01"  # production: the first month the BUA ran on Dagster
_MONTH_FOLDER = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def first_month(env: Mapping[str, str] = os.environ) -> str:
    """The first partition: BUA_FIRST_MONTH (``YYYY-MM`` or ``YYYY-MM-01``) when set; on the embedded
    default (no BUA_METER_DATA) the first month of its NEM12 folders, so the UI does not list
    months before the data as missing; otherwise DEFAULT_FIRST_MONTH."""
    configured = env.get("BUA_FIRST_MONTH", "").strip()
    if configured:
        try:
            return AccrualMonth.from_key(configured).key
        except ValueError:
            raise ValueError(f"BUA_FIRST_MONTH must be YYYY-MM or YYYY-MM-01, got {configured!r}") from None
    if not env.get("BUA_METER_DATA"):
        folder = Path(defaults(env.get("BUA_HOME")).meter_data)
        months = (
            sorted(f"{p.name}-01" for p in folder.glob("????-??") if _MONTH_FOLDER.match(p.name) and p.is_dir())
            if folder.is_dir()
            else []
        )
        if months:
            return months[0]
    return DEFAULT_FIRST_MONTH


FIRST_MONTH = first_month()
# A month's partition exists from local midnight on the 1st, when the month-end snapshot is taken
# (the same zone the EARL sensor reads snapshot dates in). The key is the accrual month: 2026-10-01
# is October's accrual, run on 1 November.
monthly_partitions = dg.MonthlyPartitionsDefinition(start_date=FIRST_MONTH, timezone=time_zone_name())


def before_first_partition(key: str) -> bool:
    """Whether partition key ``key`` is before the first partition: a month Dagster cannot run (a
    profile window reaching back past BUA_FIRST_MONTH)."""
    return key < FIRST_MONTH


def months_window(first_offset: int, last_offset: int = 0) -> dg.TimeWindowPartitionMapping:
    """Months ``first_offset``..``last_offset`` relative to the partition (-11..0: the twelve months
    to it). Months before the first partition do not exist; the assets read them as months without
    data, so they are allowed (a Dagster beta parameter, whose warning is silenced here)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*allow_nonexistent_upstream_partitions.*")
        return dg.TimeWindowPartitionMapping(
            start_offset=first_offset, end_offset=last_offset, allow_nonexistent_upstream_partitions=True
        )


def month_check(name: str, asset: str, description: str, blocking: bool = False) -> dg.AssetCheckSpec:
    """An asset check evaluated per month: its results carry the partition, so the UI shows each
    month's evaluation against that month (not "—"). Partitioned check specs are a Dagster
    preview feature; the warning saying so is silenced here, once, for these specs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*partitions_def on an AssetCheckSpec.*")
        return dg.AssetCheckSpec(
            name, asset=asset, description=description, blocking=blocking, partitions_def=monthly_partitions
        )
