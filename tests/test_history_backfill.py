"""The go-live history backfill (bua_assets.runner): a history month extracts only CORE's register
tables, months run side by side in worker processes on the caller's instance, and the lake they
leave is the one a month-at-a-time backfill leaves. A failing month is named, the others finish."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest
from support import PARTITION, month_resources

from bua_assets.datasets import INTERVAL_READS, REGISTER_STATS
from bua_assets.estimation.registers import CORE_INPUTS
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth
from bua_assets.resources import LakeResource, MeterDataResource
from bua_assets.runner import (
    HISTORY_ASSETS,
    HistoryBeforeFirstPartition,
    backfill_interval_history,
    history_partitions,
)

HISTORY_ASSET_NAMES = [a.key.to_user_string() for a, _ in HISTORY_ASSETS]


def lake_contents(lake: Path, months: list[str]) -> dict[tuple[str, str, str], pa.Table]:
    store = Lake(str(lake))
    return {
        (asset, month, dataset): store.read(asset, month, dataset)
        for asset in store.assets()
        for month in months
        for dataset in store.datasets(asset, month)
    }


def test_parallel_backfill_equals_one_month_at_a_time(retailer, tmp_path):
    folder, _ = retailer
    months = history_partitions(PARTITION)
    lakes = {}
    for workers in (1, 2):
        lakes[workers] = tmp_path / f"lake-{workers}"
        lines: list[str] = []
        with dg.instance_for_test() as instance:
            done = backfill_interval_history(
                PARTITION, instance, month_resources(folder, lakes[workers]), workers=workers, progress=lines.append
            )
            runs = instance.get_runs()
            materialised = {
                name: instance.get_materialized_partitions(dg.AssetKey(name))
                for name in [*HISTORY_ASSET_NAMES, "core_tables"]
            }
        assert done == months  # every history month of the generated retailer, oldest first
        # two runs per month (its ingest, then its statistics), of the history assets only
        # (not the whole of CORE), one progress line each
        assert sorted(line.rsplit(" in ", 1)[0] for line in lines) == sorted(
            f"interval history {m}: {names}"
            for m in months
            for names in ("core_snapshot, meter_registers, interval_reads", "interval_statistics")
        )
        assert len(runs) == 2 * len(months)
        assert materialised == {**{name: set(months) for name in HISTORY_ASSET_NAMES}, "core_tables": set()}
    sequential, parallel = lake_contents(lakes[1], months), lake_contents(lakes[2], months)
    assert sequential.keys() == parallel.keys()
    assert {asset for asset, _, _ in sequential} == set(HISTORY_ASSET_NAMES) - {"core_snapshot"}  # it writes nothing
    assert {d for a, _, d in sequential if a == "meter_registers"} == {*CORE_INPUTS.values(), "_observed_schema"}
    for key, table in sequential.items():
        assert table.equals(parallel[key]), key


class MeterDataFailingIn(MeterDataResource):
    """The meter data, unreadable for one month (its store unreachable when the step lists it)."""

    failing_month: str

    def month_entries(self, month: str):  # the step's listing (the runner asks has_month)
        if month == self.failing_month:
            raise OSError(f"meter data store unreachable for {month}")
        return super().month_entries(month)


def test_a_failed_month_stops_the_ingest_chain_and_a_rerun_picks_up_what_is_missing(retailer, tmp_path):
    folder, _ = retailer
    months = history_partitions(PARTITION)
    broken = months[3]
    resources = month_resources(folder, tmp_path / "lake")
    failing = resources | {
        "meter_data": MeterDataFailingIn(
            location=resources["meter_data"].location, failing_month=AccrualMonth.from_key(broken).label
        )
    }
    later = ", ".join(str(AccrualMonth.from_key(m)) for m in months[3:])
    with dg.instance_for_test() as instance:
        with pytest.raises(RuntimeError) as failed:
            backfill_interval_history(PARTITION, instance, failing, workers=2)
        # the months before are done; no month's ingest starts after the failed one (each judges
        # its peaks against the month before's)
        assert re.fullmatch(
            rf"history month {AccrualMonth.from_key(broken)} \(run [0-9a-f-]+\) failed; not run: {re.escape(later)}",
            str(failed.value),
        ), failed.value
        store = Lake(str(tmp_path / "lake"))
        assert [m for m in months if REGISTER_STATS.exists(store, m)] == months[:3]
        assert [m for m in months if INTERVAL_READS.exists(store, m)] == months[:3]
        # in the failed month's run meter_registers (a step of its own) succeeded, interval_reads did not
        assert [m for m in months if store.exists("meter_registers", m, "Utility")] == months[:4]
        lines: list[str] = []
        assert backfill_interval_history(PARTITION, instance, resources, workers=2, progress=lines.append) == months[3:]
    # the re-run redoes only what is missing: the broken month's registers were kept
    assert f"interval history {broken}: interval_reads in " in "\n".join(lines)
    assert all(line.startswith("interval history ") and " in " in line for line in lines)


def test_history_months_before_the_first_partition_are_named_with_the_setting_that_reaches_them(tmp_path):
    """A profile window reaching back past BUA_FIRST_MONTH (2023-09 in the tests): months with NEM12
    files there cannot be materialised, so the backfill stops before any run and says which months
    and what to set, instead of Dagster's unknown-partition error from a worker."""
    nem12 = tmp_path / "nem12"
    for month in ("2023-05", "2023-07", "2023-10"):  # the first two before the first partition
        (nem12 / month).mkdir(parents=True)
        (nem12 / month / "NEM12#1#MDP#RETAILER.csv").write_text("100,NEM12,202301010000,MDP,RETAILER\n900\n")
    resources = {
        "lake": LakeResource(base=str(tmp_path / "lake")),
        "meter_data": MeterDataResource(location=str(nem12)),
    }
    with dg.instance_for_test() as instance, pytest.raises(HistoryBeforeFirstPartition) as raised:
        backfill_interval_history("2024-02-01", instance, resources)
    assert str(raised.value) == (
        "the profile window of 2024-02 needs 2023-05, 2023-07, which have NEM12 files but are before the "
        "first partition (2023-09, BUA_FIRST_MONTH): set BUA_FIRST_MONTH=2023-05 (or earlier) so those "
        "months can be materialised, then run the month again"
    )
    assert not (tmp_path / "lake").exists() or not Lake(str(tmp_path / "lake")).assets()  # nothing was run
