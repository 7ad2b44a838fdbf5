"""Re-execution from failure: a mid-graph asset fails for a month; re-executing from the failure
recomputes only it and what depends on it, and the exports equal a clean run's."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import reexecution_job
from support import PARTITION

from bua_assets.resources import local_resources
from bua_assets.runner import backfill_interval_history

IN_PROCESS: dict = {"execution": {"config": {"in_process": {}}}}  # one process: the injected failure applies
UPSTREAM = {
    "core_snapshot",
    "core_tables",
    "interval_reads",
    "unbilled_window",
    "utility_profiles",
    "segment_profiles",
    "macro_profiles",
}


def exports(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (home / "integration").rglob("*") if p.is_file()}


def run_month(home: Path, retailer, monkeypatch, instance):
    folder, url = retailer
    for key, value in {
        "BUA_TEST_CORE_URL": url,
        "BUA_TEST_NEM12": str(folder / "nem12"),
        "BUA_TEST_LAKE": str(home / "lake"),
        "BUA_TEST_EXPORTS": str(home / "exports"),
        "BUA_TEST_INTEGRATION": str(home / "integration"),
    }.items():
        monkeypatch.setenv(key, value)
    backfill_interval_history(PARTITION, instance, local_resources(url, str(folder / "nem12"), home))
    return dg.execute_job(
        dg.reconstructable(reexecution_job.monthly_job),
        instance=instance,
        run_config=IN_PROCESS,
        tags={"dagster/partition": PARTITION},
    )


def test_reexecute_from_failure_recomputes_only_the_failed_part_and_matches_a_clean_run(
    retailer, tmp_path, monkeypatch
):
    with dg.instance_for_test() as instance:
        clean = run_month(tmp_path / "clean", retailer, monkeypatch, instance)
        assert clean.success

    import bua_assets.estimation.micro_scalars as profiles  # micro_scalars asset calls it

    real = profiles.with_segment_averages

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure: the segment-average step fell over")

    with dg.instance_for_test() as instance:
        monkeypatch.setattr(profiles, "with_segment_averages", broken)
        failed = run_month(tmp_path / "failed", retailer, monkeypatch, instance)
        assert not failed.success
        failed_steps = {e.step_key for e in failed.all_events if e.event_type_value == "STEP_FAILURE"}
        assert failed_steps == {"micro_scalars"}
        assert not (tmp_path / "failed" / "integration").exists()  # nothing exported from a failed month

        monkeypatch.setattr(profiles, "with_segment_averages", real)
        again = dg.execute_job(
            dg.reconstructable(reexecution_job.monthly_job),
            instance=instance,
            run_config=IN_PROCESS,
            tags={"dagster/partition": PARTITION},  # as the UI carries it
            reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
        )
        assert again.success, [
            str(e.event_specific_data.error.message)[:300]
            for e in again.all_events
            if e.event_type_value == "STEP_FAILURE" or e.event_type_value == "RUN_FAILURE"
        ]
        recomputed = {e.asset_key.to_user_string() for e in again.get_asset_materialization_events()}
        assert "micro_scalars" in recomputed and "bua_export" in recomputed
        assert not recomputed & UPSTREAM  # what succeeded before the failure is not redone
        assert instance.get_run_by_id(again.run_id).tags["dagster/partition"] == PARTITION
    assert exports(tmp_path / "failed") == exports(tmp_path / "clean")


SHARD_STEP = "unbilled_consumption.unbilled_consumption_shard[shard_{:05d}]"


def test_a_failed_shard_is_recomputed_alone_and_the_month_matches_a_clean_run(retailer, tmp_path, monkeypatch):
    """unbilled_consumption in three shards, the second failing: nothing of the month is committed;
    re-executing from the failure runs that shard alone (the others' files are found in the lake's
    staging area under the root run) and commits the month whole."""
    from bua_assets.lake import Lake

    monkeypatch.setenv("BUA_SHARD_ACCOUNTS", "45")  # the small retailer's accounts in three shards
    with dg.instance_for_test() as instance:
        clean = run_month(tmp_path / "clean", retailer, monkeypatch, instance)
        assert clean.success

    import bua_assets.assets.estimation as estimation

    real = estimation.compute_unbilled_consumption

    def failing_in_the_second_shard(unbilled_months, *args, **kwargs):
        if len(unbilled_months) and (unbilled_months["account_id"] % 3 == 1).all():
            raise RuntimeError("injected failure: the second shard's pod was evicted")
        return real(unbilled_months, *args, **kwargs)

    with dg.instance_for_test() as instance:
        monkeypatch.setattr(estimation, "compute_unbilled_consumption", failing_in_the_second_shard)
        failed = run_month(tmp_path / "failed", retailer, monkeypatch, instance)
        assert not failed.success
        failed_steps = {e.step_key for e in failed.all_events if e.event_type_value == "STEP_FAILURE"}
        assert failed_steps == {SHARD_STEP.format(1)}
        lake = Lake(str(tmp_path / "failed" / "lake"))
        assert not lake.exists("unbilled_consumption", PARTITION, "unbilled_consumption")  # no shard committed

        monkeypatch.setattr(estimation, "compute_unbilled_consumption", real)
        again = dg.execute_job(
            dg.reconstructable(reexecution_job.monthly_job),
            instance=instance,
            run_config=IN_PROCESS,
            tags={"dagster/partition": PARTITION},
            reexecution_options=dg.ReexecutionOptions.from_failure(failed.run_id, instance),
        )
        assert again.success
        started = {e.step_key for e in again.all_events if e.event_type_value == "STEP_START"}
        assert {s for s in started if s.startswith("unbilled_consumption.")} == {
            SHARD_STEP.format(1),
            "unbilled_consumption.commit_unbilled_consumption",
        }
        assert len(lake.files("unbilled_consumption", PARTITION, "unbilled_consumption")) == 3
    assert exports(tmp_path / "failed") == exports(tmp_path / "clean")
