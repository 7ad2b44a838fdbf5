"""What the UI shows, without a browser: the first partition, the chart's colours, owners and
descriptions, and runs from the asset graph behaving as monthly_bua's."""

from __future__ import annotations

import io

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import yaml

from bua_assets.billing.chart import accrual_chart, month_colours
from bua_assets.definitions import defs
from bua_assets.partitions import DEFAULT_FIRST_MONTH, first_month


def test_first_partition_from_the_setting_or_the_embedded_data(tmp_path):
    assert first_month({"BUA_FIRST_MONTH": "2025-03"}) == "2025-03-01"
    assert first_month({"BUA_FIRST_MONTH": "2025-03-01"}) == "2025-03-01"
    with pytest.raises(ValueError, match="BUA_FIRST_MONTH must be YYYY-MM"):
        first_month({"BUA_FIRST_MONTH": "March 2025"})
    # The embedded default: the first month folder of its NEM12 data (not a stray folder).
    nem12 = tmp_path / "retailer" / "nem12"
    for name in ("2025-11", "2026-01", "2025-13", "notes"):
        (nem12 / name).mkdir(parents=True)
    assert first_month({"BUA_HOME": str(tmp_path)}) == "2025-11-01"
    # Data elsewhere (production) or no data yet: the production default.
    assert first_month({"BUA_HOME": str(tmp_path), "BUA_METER_DATA": "s3://bucket/nem12"}) == DEFAULT_FIRST_MONTH
    assert first_month({"BUA_HOME": str(tmp_path / "empty")}) == DEFAULT_FIRST_MONTH


def test_24_months_get_24_distinct_colours_in_the_chart():
    colours = month_colours(30)
    assert len(set(colours)) == 30
    rgb = np.array([[int(c[i : i + 2], 16) for i in (1, 3, 5)] for c in colours[:24]], dtype=float)
    distance = np.sqrt(((rgb[:, None, :] - rgb[None, :, :]) ** 2).sum(axis=2)) + np.eye(24) * 999
    assert distance.min() > 55  # no two of the horizon's months look alike
    months = pd.date_range("2024-11-01", periods=24, freq="MS").date
    summary = pd.DataFrame(
        {"state": "NSW", "fuel": "ELECTRICITY", "year_mnth": months, "net_amount_less_discount": 100.0}
    )
    import matplotlib.image as mpimg

    pixels = mpimg.imread(io.BytesIO(accrual_chart(summary, None, "2026-10-01")), format="png")[..., :3] * 255
    present = {tuple(int(round(v)) for v in p) for p in pixels.reshape(-1, 3)[::7]}
    assert {tuple(int(c) for c in row) for row in rgb} <= present  # every month's bar is drawn in its own colour


def test_runs_from_the_asset_graph_execute_as_monthly_bua():
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import get_reexecution_strategy

    monthly, graph = defs.resolve_job_def("monthly_bua"), defs.resolve_job_def("__ASSET_JOB")
    assert monthly.executor_def is graph.executor_def is dg.in_process_executor  # one process for the month
    with dg.instance_for_test() as instance:
        strategies = {
            name: get_reexecution_strategy(instance.create_run_for_job(job, tags=dict(job.tags)), instance)
            or "FROM_FAILURE (Dagster's default)"
            for name, job in (("monthly_bua", monthly), ("graph", graph))
        }
    assert str(strategies["monthly_bua"]) == "ReexecutionStrategy.FROM_FAILURE"
    assert strategies["graph"] == "FROM_FAILURE (Dagster's default)"  # the same re-execution from the failed step


def test_every_asset_says_who_owns_it_and_where_it_sits():
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and node.description and node.tags.get("bua/stage"), key
    assert "team:finance-operations" in graph.get(dg.AssetKey("accrual_summary")).owners
    assert "2026-10-01 is the October accrual" in graph.get(dg.AssetKey("accrual_summary")).description
    sensor = defs.resolve_sensor_def("earl_snapshot_sensor")
    assert sensor.default_status == dg.DefaultSensorStatus.STOPPED
    assert "BUA_EARL_QUEUE_URL" in sensor.description and "starts OFF" in sensor.description
    for name in ("bua_month_succeeded", "bua_month_failed"):  # the run log fills without a README step
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING


def launchpad_defaults(job: dg.JobDefinition) -> dict:
    """The YAML the Launchpad opens with (the webserver's rootDefaultYaml), read as the UI reads it."""
    from dagster._core.snap.snap_to_yaml import default_values_yaml_from_type_snap

    snap = job.get_job_snapshot()
    schema = snap.config_schema_snapshot
    root_key = snap.mode_def_snaps[0].root_config_key
    assert root_key is not None
    root = schema.get_config_snap(root_key)
    return yaml.safe_load(default_values_yaml_from_type_snap(schema, root)) or {}


def test_the_launchpad_opens_valid_for_every_job():
    """Every default the Launchpad scaffolds validates as YAML reads it (a bare off, on, yes or no
    is a boolean): only entries with no default (a teardown's month) are left for the operator."""
    jobs = defs.get_repository_def().get_all_jobs()
    assert {"__ASSET_JOB", "monthly_bua"} <= {j.name for j in jobs}
    for job in jobs:
        config = launchpad_defaults(job)
        try:
            dg.validate_run_config(job, config)
        except dg.DagsterInvalidConfigError as exc:
            problems = [e.message for e in exc.errors]
            assert all(p.startswith("Missing required config entry") for p in problems), (job.name, problems)
    assets = next(j for j in jobs if j.name == "__ASSET_JOB")
    assert launchpad_defaults(assets)["resources"]["rds"]["config"]["mode"] == "core_url"


def test_housekeeping_runs_daily_once_turned_on():
    schedule = defs.resolve_schedule_def("bua_housekeeping_daily")
    assert schedule.job_name == "bua_housekeeping" and schedule.cron_schedule == "30 5 * * *"
    assert schedule.execution_timezone == "Australia/Sydney"  # BUA_TIME_ZONE's default
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # it deletes AWS resources: opt in


def test_descriptions_keep_their_placeholders_when_rendered():
    """The UI renders descriptions as Markdown, where a bare <snapshot> is an HTML tag and vanishes
    ("bua_run_log//runs.parquet"); placeholders live inside `code` spans."""
    import re

    graph = defs.resolve_asset_graph()
    texts = {k.to_user_string(): graph.get(k).description or "" for k in graph.get_all_asset_keys()}
    texts |= {j.name: j.description or "" for j in defs.get_repository_def().get_all_jobs()}
    texts |= {s.name: s.description or "" for s in defs.get_repository_def().sensor_defs}
    bare = {name: re.findall(r"<[A-Za-z_ ]+>", re.sub(r"`[^`]*`", "", text)) for name, text in texts.items()}
    assert {name: found for name, found in bare.items() if found} == {}
    assert "`<export base>/export/csv/<run_date>/<snapshot>/`" in texts["bua_export"]


def test_the_lake_is_vacuumed_weekly_keeping_the_audit_period():
    schedule = defs.resolve_schedule_def("bua_lake_vacuum_weekly")
    assert schedule.job_name == "bua_lake_vacuum" and schedule.cron_schedule == "0 4 * * 0"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
