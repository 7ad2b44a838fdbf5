"""What a run's own records say, typed: its planned assets, materialisations, check evaluations and
step failures (the instance's event log), and core_snapshot's run config. The run-status sensors,
`errors` and the snapshot watch read runs through these rather than each unpacking Dagster's
event union."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg


def planned_assets(instance: dg.DagsterInstance, run_id: str) -> set[dg.AssetKey]:
    """The assets the run planned to materialise (a run's asset selection is empty for ad-hoc runs)."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED, limit=1000
    ).records
    keys = (r.event_log_entry.get_dagster_event().asset_key for r in records)
    return {k for k in keys if k is not None}


def materializations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetMaterialization]:
    """The run's materialisations, in the order recorded."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION).records
    return [m for r in records if (m := r.event_log_entry.asset_materialization) is not None]


def check_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """Every asset check the run evaluated, in the order evaluated."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    return [e for r in records if (e := r.event_log_entry.asset_check_evaluation) is not None]


def step_failures(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step key, first line of the error) of each failed step (the error's own message, else the
    event's)."""
    out = []
    for r in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records:
        event = r.event_log_entry.get_dagster_event()
        error = event.step_failure_data.error
        lines = (error.message if error else event.message or "").strip().splitlines()
        out.append((event.step_key or "", lines[0] if lines else ""))
    return out


def metadata_values(materialization: dg.AssetMaterialization) -> dict[str, Any]:
    """A materialisation's metadata as plain values (a table's rows, a path's text, JSON as data)."""
    return {k: v.value for k, v in materialization.metadata.items()}


def core_snapshot_config(run: dg.DagsterRun) -> Mapping[str, Any]:
    """core_snapshot's run config in this run (empty when the run did not configure it)."""
    config: object = run.run_config
    for key in ("ops", "core_snapshot", "config"):
        config = config.get(key) if isinstance(config, Mapping) else None
    return config if isinstance(config, Mapping) else {}
