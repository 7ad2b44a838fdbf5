"""The asset graph tells the truth: every dataset an asset reads during a real materialisation of
a small month is one its declared deps (with their partition mappings) cover, and every declared
dep is read. The lake records each read (bua_assets.lake.Lake.on_read) with the asset and
partition being materialised."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import dagster as dg
import pytest
from support import PARTITION

from bua_assets.assets.billing import CHECKED
from bua_assets.datasets import DATASETS, ERROR_SOURCES
from bua_assets.definitions import ALL_ASSETS, defs
from bua_assets.lake import RESERVED, Lake
from bua_assets.partitions import monthly_partitions
from bua_assets.resources import LakeResource, local_resources
from bua_assets.runner import HISTORY_ASSETS, backfill_interval_history

# Declared deps that are not lake reads (or not in every month), and why.
ORDERING_DEPS = {
    ("core_tables", "core_snapshot"): "core_snapshot restores (or opens) the month's CORE that core_tables extracts",
    (
        "meter_registers",
        "core_snapshot",
    ): "core_snapshot restores (or opens) the month's CORE that meter_registers extracts",
    ("errors", "accrual_summary"): "errors lists failed checks from the instance; reconciliation is the last of them",
    ("errors", "accrual_true_up"): "errors lists failed checks from the instance; true_up_bias among them",
    # Read for the days of bills issued since an earlier accrual in the lake, which this one-month
    # run has none of: tests/test_true_up_pipeline.py reads it.
    ("accrual_true_up", "interval_statistics"): "the bills' days of meter data, to apportion a bill to its days",
    # Read only when a correction splits a flat billed figure onto time of use (billing.rerating),
    # which the small retailer's month may not have: tests/test_corrections_usage.py reads it.
    ("invoice_line_items", "interval_reads"): "the billed days' interval data, for re-rating onto time of use",
}


class RecordingLakeResource(LakeResource):
    """The lake, recording (reading asset, its partition, dataset's asset, partition, dataset)."""

    record_to: str  # a JSON-lines file, so a read in any process is seen

    def lake(self) -> Lake:
        store = super().lake()
        store.on_read = self._record
        return store

    def _record(self, asset: str, partition: str, dataset: str) -> None:
        try:
            context = dg.AssetExecutionContext.get()
        except dg.DagsterInvariantViolationError:
            return  # outside an asset (the runner looking for history months already done)
        with open(self.record_to, "a") as out:
            out.write(
                json.dumps([context.asset_key.to_user_string(), context.partition_key, asset, partition, dataset])
                + "\n"
            )


Read = tuple[str, str, str, str]  # reader, reader's partition, upstream asset, upstream partition


def read_log(path: Path) -> set[Read]:
    return {tuple(json.loads(line)[:4]) for line in path.read_text().splitlines()}


def declared_upstream(asset_graph) -> Callable[[str, str], set[tuple[str, str]]]:
    """(asset, partition) -> every (parent, partition) its declared deps map it to."""

    def upstream(asset: str, partition: str) -> set[tuple[str, str]]:
        parents = asset_graph.get_parents_partitions(dg.AssetKey(asset), partition)
        return {
            (p.asset_key.to_user_string(), p.partition_key)
            for p in (*parents.parent_partitions, *parents.required_but_nonexistent_parents_partitions)
        }

    return upstream


def undeclared_reads(reads: Iterable[Read], upstream: Callable[[str, str], set[tuple[str, str]]]) -> list[str]:
    """Every read that is neither the asset's own partition nor covered by its declared deps."""
    return sorted(
        f"{reader}[{partition}] reads {asset}[{asset_partition}]"
        for reader, partition, asset, asset_partition in reads
        if (reader, partition) != (asset, asset_partition)
        and (asset, asset_partition) not in upstream(reader, partition)
    )


def unread_deps(reads: Iterable[Read], asset_graph, assets: Iterable[str]) -> list[str]:
    """Declared parents an asset never read (apart from the ordering deps above)."""
    read = {(reader, asset) for reader, _, asset, _ in reads}
    return sorted(
        f"{child} declares {parent} but never reads it"
        for child in assets
        for parent in (p.to_user_string() for p in asset_graph.get(dg.AssetKey(child)).parent_keys)
        if (child, parent) not in read and (child, parent) not in ORDERING_DEPS
    )


@pytest.fixture(scope="module")
def recorded_log(retailer, tmp_path_factory) -> Path:
    """The JSON-lines read log of one month materialised on the recording lake."""
    folder, url = retailer
    home = tmp_path_factory.mktemp("graph")
    log = home / "reads.jsonl"
    resources = local_resources(url, str(folder / "nem12"), home) | {
        "lake": RecordingLakeResource(base=str(home / "lake"), record_to=str(log))
    }
    with dg.instance_for_test() as instance:
        backfill_interval_history(PARTITION, instance, resources)
        result = dg.materialize(ALL_ASSETS, partition_key=PARTITION, resources=resources, instance=instance)
        assert result.success
    return log


@pytest.fixture(scope="module")
def recorded(recorded_log) -> set[Read]:
    return read_log(recorded_log)


def test_every_read_is_declared_with_its_partitions(recorded):
    graph = defs.resolve_asset_graph()
    readers = {reader for reader, *_ in recorded}
    # Every asset that reads the lake was seen reading it (core_snapshot and meter_registers read
    # none; core_tables its own tables for the consistency check; interval_reads last month's file
    # log for the deliveries check).
    assert readers == {a.key.to_user_string() for a in ALL_ASSETS} - {"core_snapshot", "meter_registers"}
    assert undeclared_reads(recorded, declared_upstream(graph)) == []
    assert unread_deps(recorded, graph, readers | {"core_tables", "meter_registers"}) == []
    # The windows are read as declared: 12 months of statistics for the profiles, the horizon's
    # interval data for the consumption, the previous month's accrual for the chart.
    stats_months = {p for r, _, a, p in recorded if r == "utility_profiles" and a == "interval_statistics"}
    assert len(stats_months) == 12 and max(stats_months) == PARTITION
    assert ("accrual_summary", PARTITION, "accrual_summary", "2026-09-01") in recorded
    assert ("interval_reads", PARTITION, "interval_reads", "2026-09-01") in recorded
    interval_months = {p for r, _, a, p in recorded if r == "unbilled_consumption" and a == "interval_reads"}
    assert len(interval_months) >= 2 and max(interval_months) == PARTITION, interval_months


def test_every_dataset_read_is_declared_in_the_registry(recorded_log):
    """bua_assets.datasets is the one list of the lake's datasets: whatever an asset reads is in it
    (a CORE table is read through read_core_frames and named after its table)."""
    read = {tuple(json.loads(line)[2:]) for line in recorded_log.read_text().splitlines()}
    declared = {(d.asset, d.name) for d in DATASETS}
    undeclared = sorted(
        {f"{a}.{d}" for a, _, d in read if a != "core_tables" and d not in RESERVED and (a, d) not in declared}
    )
    assert undeclared == [], "\n".join(undeclared)
    assert {(a, d) for a, _, d in read} >= {(d.asset, d.name) for d in ERROR_SOURCES if d.asset != "accrual_true_up"}


def test_the_comparison_catches_an_undeclared_read(recorded):
    """Without deps the graph used to lack, the same reads are reported, by asset and partition."""
    graph = defs.resolve_asset_graph()
    declared = declared_upstream(graph)
    dropped = {
        ("invoice_line_items", "core_tables"),
        ("invoice_line_items", "unbilled_window"),
        ("accrual_summary", "accrual_summary"),
    }

    def as_before(asset: str, partition: str) -> set[tuple[str, str]]:
        return {(parent, p) for parent, p in declared(asset, partition) if (asset, parent) not in dropped}

    found = undeclared_reads(recorded, as_before)
    assert found and {line.split(" reads ")[0] for line in found} == {
        f"invoice_line_items[{PARTITION}]",
        f"accrual_summary[{PARTITION}]",
    }
    assert f"accrual_summary[{PARTITION}] reads accrual_summary[2026-09-01]" in found
    assert f"invoice_line_items[{PARTITION}] reads unbilled_window[{PARTITION}]" in found
    # A read outside a declared window is caught too: the statistics 13 months back.
    assert undeclared_reads([("utility_profiles", PARTITION, "interval_statistics", "2025-09-01")], declared) == [
        f"utility_profiles[{PARTITION}] reads interval_statistics[2025-09-01]"
    ]


def test_an_asset_reading_what_it_does_not_declare_is_caught_in_a_real_run(tmp_path):
    """Two assets on the recording lake: the second reads the first without declaring it."""
    log = tmp_path / "reads.jsonl"

    @dg.asset(partitions_def=monthly_partitions, name="source_table")
    def source_table(context, lake: LakeResource) -> None:
        import pyarrow as pa

        with lake.lake().partition_writer("source_table", context.partition_key) as writer:
            writer.write("rows", pa.table({"x": [1, 2]}))

    @dg.asset(partitions_def=monthly_partitions, name="reader_table")  # no deps: the read is undeclared
    def reader_table(context, lake: LakeResource) -> None:
        lake.lake().read("source_table", context.partition_key, "rows")

    resources = {"lake": RecordingLakeResource(base=str(tmp_path / "lake"), record_to=str(log))}
    with dg.instance_for_test() as instance:
        for asset in (source_table, reader_table):  # nothing orders them: the graph does not know
            assert dg.materialize([asset], partition_key=PARTITION, resources=resources, instance=instance).success
    graph = dg.Definitions(assets=[source_table, reader_table], resources=resources).resolve_asset_graph()
    assert undeclared_reads(read_log(log), declared_upstream(graph)) == [
        f"reader_table[{PARTITION}] reads source_table[{PARTITION}]"
    ]


def test_the_readmes_downstream_selections_select_everything_downstream():
    """README "Using the UI" tells operators to type key:"<asset>"+ to redo an asset and all after it;
    Dagster must read each such string as the asset and its whole downstream closure."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    selections = sorted(set(re.findall(r'`(key:"(\w+)"\+)`', readme)))
    assert {name for _, name in selections} >= {"micro_scalars", "utility_profiles"}
    graph = defs.resolve_asset_graph()
    for selection, name in selections:
        chosen = dg.AssetSelection.from_string(selection).resolve(graph)
        expected = {dg.AssetKey(name)} | graph.get(dg.AssetKey(name)).child_keys
        frontier = set(expected)
        while frontier:  # the closure, walked by hand rather than by the selection under test
            frontier = {c for k in frontier for c in graph.get(k).child_keys} - expected
            expected |= frontier
        assert chosen == expected, selection
        assert len(chosen) > 3


def test_errors_lists_the_checks_of_every_asset_before_it():
    """errors reads the month's failed checks from the instance by the CHECKED registry: it must name
    every check of every asset errors follows (a new check is listed, or this fails), and none after."""
    graph = defs.resolve_asset_graph()
    before = dg.AssetSelection.assets("errors").upstream().resolve(graph) - {dg.AssetKey("errors")}
    assert set(CHECKED) == {
        (k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys if k.asset_key in before
    }
    assert len(CHECKED) == len(set(CHECKED))


def test_the_readmes_history_selection_is_what_the_runner_backfills():
    """README "Using the UI" step 1 gives the history months' selection as a filter; in the UI it must
    select exactly what the runner (./dev demo, period) materialises for a history month."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    (selection,) = re.findall(r'filter the graph with\s+`(\+key:"\w+")`', readme)
    chosen = dg.AssetSelection.from_string(selection).resolve(defs.resolve_asset_graph())
    assert chosen == {asset.key for asset, _ in HISTORY_ASSETS}
