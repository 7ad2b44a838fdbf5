"""Materialise a month the way an operator would: the interval history first (a backfill of
interval_reads for the months the profiles look back over, skipping months already in the lake),
then every asset for the month. Used by the demo, the benchmarks and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import dagster as dg

from bua_assets.assets.meter_data import interval_reads
from bua_assets.assets.profiles import HISTORY_MONTHS
from bua_assets.months import first_of_month_before
from bua_assets.partitions import month_start, run_date


def history_partitions(partition: str, months: int = HISTORY_MONTHS) -> list[str]:
    """The partitions before ``partition`` whose interval data its profiles read."""
    first = first_of_month_before(run_date(partition), months)
    out, d = [], first
    while d < month_start(partition):
        out.append(d.isoformat())
        d = first_of_month_before(d, -1)
    return out


def backfill_interval_history(partition: str, instance: dg.DagsterInstance, resources: dict, *,
                              refresh: bool = False, progress: Callable[[str], None] = lambda _: None) -> list[str]:
    """Materialise interval_reads for the history months that have NEM12 files and are not in the
    lake yet (all of them with ``refresh``). Returns the partitions materialised."""
    lake = resources["lake"].lake()
    done = []
    for key in history_partitions(partition):
        if not refresh and lake.exists("interval_reads", key, "interval_reads"):
            continue
        if not resources["meter_data"].month_files(key[:7]):
            continue
        t = time.perf_counter()
        dg.materialize([interval_reads], instance=instance, resources=resources, partition_key=key)
        progress(f"interval history {key}: {time.perf_counter() - t:.1f}s")
        done.append(key)
    return done
