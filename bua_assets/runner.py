"""Materialise a month the way an operator would: the interval history first (a backfill of
the months the profiles look back over: their CORE registers, interval data and statistics,
skipping months already in the lake), then every asset for the month. Used by the demo, the benchmarks and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import dagster as dg

from bua_assets.assets.core import core_tables
from bua_assets.assets.lake_reads import HISTORY_MONTHS
from bua_assets.assets.meter_data import interval_reads
from bua_assets.assets.profiles import interval_statistics
from bua_assets.datasets import REGISTER_STATS
from bua_assets.months import AccrualMonth


def history_partitions(partition: str, months: int = HISTORY_MONTHS) -> list[str]:
    """The partitions before ``partition`` whose interval data its profiles read: the profile window
    is ``months`` months ending with the partition's own, so ``months - 1`` months before it."""
    return [m.key for m in AccrualMonth.from_key(partition).history(months - 1)]


def backfill_interval_history(
    partition: str,
    instance: dg.DagsterInstance,
    resources: dict,
    *,
    refresh: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    materialize: Callable[..., dg.ExecuteInProcessResult] = dg.materialize,
) -> list[str]:
    """For each history month with NEM12 files, materialise what its profile statistics need and
    is not in the lake yet (all of it with ``refresh``): core_tables (the month's registers and
    segments), interval_reads and interval_statistics. Returns the partitions materialised.
    ``materialize``: how to run each month (the CLI's logs to a file; dg.materialize by default)."""
    lake = resources["lake"].lake()
    done = []
    for key in history_partitions(partition):
        if not refresh and REGISTER_STATS.exists(lake, key):
            continue
        if not resources["meter_data"].month_entries(AccrualMonth.from_key(key).label):
            continue
        needed = [
            asset
            for asset, dataset in ((core_tables, "Account"), (interval_reads, "interval_reads"))
            if refresh or not lake.exists(asset.key.path[-1], key, dataset)
        ] + [interval_statistics]
        t = time.perf_counter()
        result = materialize(needed, instance=instance, resources=resources, partition_key=key, raise_on_error=False)
        if not result.success:
            raise RuntimeError(f"history month {AccrualMonth.from_key(key)} failed (run {result.run_id})")
        progress(
            f"interval history {key}: {', '.join(a.key.to_user_string() for a in needed)} "
            f"in {time.perf_counter() - t:.1f}s"
        )
        done.append(key)
    return done


class HistoryFailed(RuntimeError):
    """A history month of the profile window failed: the month itself was not run."""


def run_month(
    partition: str,
    instance: dg.DagsterInstance,
    resources: dict,
    *,
    event_log: Path | None = None,
    tags: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> dg.ExecuteInProcessResult:
    """The month as an operator runs it from a terminal (``demo``, ``period``): the interval history
    it needs (one progress line per history month), then every asset for the month. With
    ``event_log`` Dagster's event log goes to that file and only progress reaches the terminal
    (bua_assets.quiet_runs). Raises HistoryFailed when a history month fails."""
    from bua_assets.definitions import ALL_ASSETS
    from bua_assets.quiet_runs import quiet_materialize

    month_run = quiet_materialize(event_log) if event_log else dg.materialize
    history_run = quiet_materialize(event_log, terminal=False) if event_log else dg.materialize
    try:
        backfill_interval_history(partition, instance, resources, progress=progress, materialize=history_run)
    except RuntimeError as exc:
        raise HistoryFailed(str(exc)) from exc
    progress(f"materialising {len(ALL_ASSETS)} assets for partition {partition}")
    return month_run(
        ALL_ASSETS, instance=instance, resources=resources, partition_key=partition, tags=tags, raise_on_error=False
    )
