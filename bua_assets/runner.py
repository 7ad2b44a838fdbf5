"""Materialise a month the way an operator would: the interval history first (a backfill of
the months the profiles look back over: their CORE snapshot and register tables, interval data and statistics,
skipping months already in the lake, several months at once), then every asset for the month. Used
by the demo, the benchmarks and the tests."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from bua_assets.assets.core import core_snapshot, meter_registers
from bua_assets.assets.lake_reads import history_partitions
from bua_assets.assets.meter_data import interval_reads
from bua_assets.assets.profiles import interval_statistics
from bua_assets.datasets import INTERVAL_READS, METER_REGISTER_TABLES, REGISTER_STATS
from bua_assets.months import AccrualMonth
from bua_assets.partitions import FIRST_MONTH, before_first_partition
from bua_assets.settings import history_workers

# What a history month needs for its profile statistics, as (asset, a dataset it writes): nothing
# else of CORE (meter_registers extracts the register tables alone), no estimates, no pricing.
# core_snapshot writes nothing to the lake but opens the CORE meter_registers reads, so it is judged
# by meter_registers' dataset and runs with it: the month's graph is whole, and the UI sees no
# "upstream missing" for it.
HISTORY_ASSETS = (
    (core_snapshot, METER_REGISTER_TABLES["Utility"]),
    (meter_registers, METER_REGISTER_TABLES["Utility"]),
    (interval_reads, INTERVAL_READS),
    (interval_statistics, None),
)


def _history_month(
    instance: dg.DagsterInstance, resources: Mapping, key: str, asset_names: list[str], event_log: Path | None
) -> tuple[bool, str, float]:
    """Materialise ``asset_names`` (of HISTORY_ASSETS) for month ``key``: (success, run id, seconds)."""
    from bua_assets.quiet_runs import quiet_materialize

    run = quiet_materialize(event_log, terminal=False) if event_log else dg.materialize
    assets = [a for a, _ in HISTORY_ASSETS if a.key.to_user_string() in asset_names]
    t = time.perf_counter()
    result = run(assets, instance=instance, resources=resources, partition_key=key, raise_on_error=False)
    return result.success, result.run_id, time.perf_counter() - t


def _portable(resources: Mapping) -> dict:
    """The resources as (class, field values), for another process: a ConfigurableResource does not
    pickle (its config schema does not), but its class and fields do (EnvVar fields stay EnvVars,
    resolved in the worker from the environment it inherits)."""
    return {
        name: (type(r), {f: getattr(r, f) for f in type(r).model_fields})
        if isinstance(r, dg.ConfigurableResource)
        else (None, r)
        for name, r in resources.items()
    }


def _history_month_in_worker(
    instance_ref, portable: Mapping, key: str, asset_names: list[str], event_log: Path | None
) -> tuple[bool, str, float]:
    """_history_month in a worker process, on the caller's instance (by its ref)."""
    resources = {name: value if cls is None else cls(**value) for name, (cls, value) in portable.items()}
    with dg.DagsterInstance.from_ref(instance_ref) as instance:
        return _history_month(instance, resources, key, asset_names, event_log)


@dataclass
class _HistoryPlan:
    """Which runs a backfill needs: per month, the ingest run (meter_registers with the core_snapshot
    it reads, and interval_reads, those not in the lake) and the statistics run (interval_statistics),
    oldest month first."""

    ingest: dict[str, list[str]] = field(default_factory=dict)
    statistics: list[str] = field(default_factory=list)
    outcomes: dict[tuple[str, str], tuple[bool, str, float]] = field(default_factory=dict)

    def runs(self, key: str, stage: str) -> list[str]:
        return self.ingest[key] if stage == "ingest" else [interval_statistics.key.to_user_string()]

    def ready(self, running: set[tuple[str, str]]) -> list[tuple[str, str]]:
        """Runs that may start now, ingests first. interval_reads judges a month's peaks against
        the month before's (register_peaks), so a month's ingest waits for the previous month's,
        as a Dagster backfill orders a self-dependent asset; its statistics wait for it. No ingest
        starts after one failed."""
        done = {run for run, (ok, _, _) in self.outcomes.items() if ok}
        failed = len(done) < len(self.outcomes)
        ready: list[tuple[str, str]] = []
        previous: tuple[str, str] | None = None
        for key in self.statistics:
            if key in self.ingest:
                ingest, chained = (key, "ingest"), previous is None or previous in done
                previous = ingest
                if ingest not in done:
                    if chained and not failed and ingest not in running and ingest not in self.outcomes:
                        ready.append(ingest)
                    continue
            stats = (key, "statistics")
            if stats not in running and stats not in self.outcomes:
                ready.append(stats)
        return sorted(ready, key=lambda run: run[1] != "ingest")

    def failure(self) -> str | None:
        """What failed and what was not run because of it, or None."""
        failed = [(key, run_id) for (key, _), (ok, run_id, _) in sorted(self.outcomes.items()) if not ok]
        if not failed:
            return None
        runs = ", ".join(f"{AccrualMonth.from_key(key)} (run {run_id})" for key, run_id in failed)
        left = [str(AccrualMonth.from_key(k)) for k in self.statistics if (k, "statistics") not in self.outcomes]
        return f"history month{'s' if len(failed) > 1 else ''} {runs} failed" + (
            f"; not run: {', '.join(left)}" if left else ""
        )

    def materialised(self) -> list[str]:
        return [key for key in self.statistics if (key, "statistics") in self.outcomes]


class HistoryBeforeFirstPartition(RuntimeError):
    """History months with NEM12 files fall before the first partition: Dagster cannot run them."""


def _history_plan(partition: str, resources: Mapping, refresh: bool) -> _HistoryPlan:
    """The history months with NEM12 files whose statistics are not in the lake (all with ``refresh``).
    Raises HistoryBeforeFirstPartition when some of them are before the first partition."""
    lake = resources["lake"].lake()
    plan = _HistoryPlan()
    unreachable = []
    for key in history_partitions(partition):
        if REGISTER_STATS.exists(lake, key) and (not refresh or before_first_partition(key)):
            continue  # in the lake (a month before the first partition cannot be run again: it stands)
        if not resources["meter_data"].has_month(AccrualMonth.from_key(key).label):
            continue
        if before_first_partition(key):
            unreachable.append(key)
            continue
        plan.statistics.append(key)
        ingest = [
            asset.key.to_user_string()
            for asset, dataset in HISTORY_ASSETS
            if dataset is not None and (refresh or not dataset.exists(lake, key))
        ]
        if ingest:
            plan.ingest[key] = ingest
    if unreachable:
        months = ", ".join(str(AccrualMonth.from_key(k)) for k in unreachable)
        raise HistoryBeforeFirstPartition(
            f"the profile window of {AccrualMonth.from_key(partition)} needs {months}, which have NEM12 files "
            f"but are before the first partition ({AccrualMonth.from_key(FIRST_MONTH)}, BUA_FIRST_MONTH): "
            f"set BUA_FIRST_MONTH={AccrualMonth.from_key(unreachable[0]).label} (or earlier) so those months can "
            "be materialised, then run the month again"
        )
    return plan


def backfill_interval_history(
    partition: str,
    instance: dg.DagsterInstance,
    resources: dict,
    *,
    refresh: bool = False,
    progress: Callable[[str], None] = lambda _: None,
    event_log: Path | None = None,
    workers: int | None = None,
) -> list[str]:
    """For each history month with NEM12 files, materialise what its profile statistics need and
    is not in the lake yet (all of it with ``refresh``): core_snapshot and meter_registers (the
    month's CORE register tables) and interval_reads in one run, interval_statistics in a second. ``workers``
    (BUA_HISTORY_WORKERS, default one per CPU) runs go at once, each in its own process on the same
    instance: the months' ingests one after another (each judges peaks against the month before),
    each month's statistics beside the next months' ingests. One worker, or an instance with no
    ref (ephemeral), runs them here in month order. With ``event_log`` the runs' event logs go to
    that file. Returns the partitions materialised, oldest first; raises RuntimeError naming the
    months that failed and those not run because of it."""
    plan = _history_plan(partition, resources, refresh)
    workers = min(workers or history_workers(), len(plan.statistics))
    # an ephemeral instance (in memory) cannot be reached from other processes: months run here
    instance_ref = instance.get_ref() if workers > 1 and not instance.is_ephemeral else None

    def report(run: tuple[str, str], outcome: tuple[bool, str, float]) -> None:
        plan.outcomes[run] = outcome
        ok, run_id, seconds = outcome
        said = ", ".join(plan.runs(*run)) + (f" in {seconds:.1f}s" if ok else f" FAILED (run {run_id})")
        progress(f"interval history {run[0]}: {said}")

    if instance_ref is None:
        while ready := plan.ready(set()):
            report(ready[0], _history_month(instance, resources, ready[0][0], plan.runs(*ready[0]), event_log))
    else:
        portable = _portable(resources)
        # spawn, not fork: the parent may hold threads (Dagster's, the CLI's) a fork would copy mid-state
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running: dict[Future, tuple[str, str]] = {}
            while True:
                for run in plan.ready(set(running.values()))[: workers - len(running)]:
                    args = (instance_ref, portable, run[0], plan.runs(*run), event_log)
                    running[pool.submit(_history_month_in_worker, *args)] = run
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    report(running.pop(future), future.result())
    if failure := plan.failure():
        raise RuntimeError(failure)
    return plan.materialised()


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
    (bua_assets.quiet_runs). Raises HistoryFailed when a history month fails, and
    HistoryBeforeFirstPartition (before any run) when the window needs months Dagster cannot run."""
    from bua_assets.definitions import ALL_ASSETS
    from bua_assets.quiet_runs import quiet_materialize

    month_run = quiet_materialize(event_log) if event_log else dg.materialize
    try:
        backfill_interval_history(partition, instance, resources, progress=progress, event_log=event_log)
    except HistoryBeforeFirstPartition:
        raise  # nothing ran: the setting to change, not a failed month
    except RuntimeError as exc:
        raise HistoryFailed(str(exc)) from exc
    progress(f"materialising {len(ALL_ASSETS)} assets for partition {partition}")
    return month_run(
        ALL_ASSETS, instance=instance, resources=resources, partition_key=partition, tags=tags, raise_on_error=False
    )
