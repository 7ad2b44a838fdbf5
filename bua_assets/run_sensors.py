"""Run-status sensors: when a month's run finishes or fails, record it in the lake's run log and
send the operators a summary on SNS (texts and records: bua_assets/ops/runs.py)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import dagster as dg

from bua_assets.assets.metadata import table_metadata
from bua_assets.assets.teams import team
from bua_assets.billing.glance import read_month_at_a_glance
from bua_assets.billing.rehearsal import parse_created
from bua_assets.datasets import ACCRUAL_SUMMARY
from bua_assets.jobs import month_errors_job
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth
from bua_assets.ops.runs import (
    RUN_LOG_ASSET,
    RUN_LOG_DATASET,
    CheckOutcome,
    RunFacts,
    append_run,
    check_counts,
    counts_text,
    exceptions_by_code,
    message,
    run_link,
    run_record,
    totals_against_previous,
)
from bua_assets.partitions import monthly_partitions
from bua_assets.resources import LakeResource, NotifyResource
from bua_assets.run_records import (
    check_evaluations,
    materializations,
    metadata_values,
    planned_assets,
    step_failures,
)

# A run is a month's run when it computes the accrual (not a history backfill or one asset alone).
MONTH_ASSETS = {dg.AssetKey(k) for k in ("invoice_line_items", "accrual_summary", "bua_export")}
NOTE_TAG = "bua/note"  # the operator's note: launch with --tags '{"bua/note": "..."}'

bua_run_log = dg.AssetSpec(
    RUN_LOG_ASSET,
    partitions_def=monthly_partitions,
    **team("operations"),
    kinds={"parquet"},
    description="Every run of the month (kept by the run-status sensors, never materialised by a job): snapshot, "
    "code version, start, end, duration per asset, totals, checks, the operator's note (run tag "
    f"{NOTE_TAG}). The lake dataset `bua_run_log/<month>/runs.parquet`; each sensor tick records it "
    "here as a materialisation with the month's runs as a table.",
)


@cache
def code_version() -> str:
    """The package version and the git commit when known (BUA_GIT_SHA in an image, else the checkout's)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("bua-assets")
    except PackageNotFoundError:
        v = "unknown"
    sha = os.getenv("BUA_GIT_SHA", "")
    if not sha:
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"],
                cwd=Path(__file__).resolve().parent,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            sha = ""
    return f"{v}+{sha}" if sha else v


def is_month_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """A partitioned run that planned the accrual (the assets it planned, as the run's own events say:
    a run's asset selection is empty for ad-hoc materialisations)."""
    if not run.tags.get("dagster/partition"):
        return False
    return bool(planned_assets(instance, run.run_id) & MONTH_ASSETS)


def _asset_of(step_key: str) -> str:
    """The asset a step belongs to: an asset's own step is named like it; a graph-backed asset's
    steps are ``<asset>.<op>`` (unbilled_consumption's plan, shards ``[shard_00000]`` and commit)."""
    return step_key.split(".", 1)[0]


def _asset_seconds(steps) -> dict[str, float]:
    """Seconds per asset of the run: from its first step's start to its last step's end (a sharded
    asset's shards may run side by side)."""
    spans: dict[str, tuple[float, float]] = {}
    for s in steps:
        if s.start_time and s.end_time:
            asset = _asset_of(s.step_key)
            start, end = spans.get(asset, (s.start_time, s.end_time))
            spans[asset] = (min(start, s.start_time), max(end, s.end_time))
    return {asset: end - start for asset, (start, end) in spans.items()}


def gather_facts(instance: dg.DagsterInstance, run: dg.DagsterRun, lake: Lake) -> RunFacts:
    """Everything the summary and the run record say, from the instance's records and the lake."""
    key = run.tags["dagster/partition"]
    record = instance.get_run_record_by_id(run.run_id)
    started = _utc(record.start_time if record else None)
    ended = _utc(record.end_time if record else None)
    steps = instance.get_run_step_stats(run.run_id)
    step_seconds = _asset_seconds(steps)
    failed = list(dict.fromkeys(_asset_of(s.step_key) for s in steps if s.status and s.status.value == "FAILURE"))
    failure_messages: dict[str, str] = {}
    for step_key, first_line in step_failures(instance, run.run_id):
        failure_messages.setdefault(_asset_of(step_key), first_line[:300])
    checks = run_check_outcomes(instance, run.run_id)
    export: dict = {}
    exceptions = None
    restored_release: str | None = None
    for m in materializations(instance, run.run_id):
        values = metadata_values(m)
        if m.asset_key == dg.AssetKey("bua_export"):
            export = values
        elif m.asset_key == dg.AssetKey("core_snapshot") and "core_release" in values:
            restored_release = values["core_release"]
        elif m.asset_key == dg.AssetKey("errors") and "by_source_and_code" in values:
            exceptions = exceptions_by_code(values["by_source_and_code"])
    glance = read_month_at_a_glance(lake, key)
    totals = None
    if glance is not None:
        current = ACCRUAL_SUMMARY.read(lake, key).to_pandas()
        previous_key = AccrualMonth.from_key(key).previous.key
        previous = (
            ACCRUAL_SUMMARY.read(lake, previous_key).to_pandas() if ACCRUAL_SUMMARY.exists(lake, previous_key) else None
        )
        totals = totals_against_previous(current, previous)
    return RunFacts(
        run_id=run.run_id,
        month=key,
        status="SUCCESS" if run.status == dg.DagsterRunStatus.SUCCESS else "FAILURE",
        snapshot=run.tags.get("bua/snapshot", "(none: the configured CORE database)"),
        snapshot_created=_snapshot_created(run),
        # the run's own restore says it first; a run that reused an earlier one's CORE, its export
        core_release=restored_release or export.get("core_release"),
        started=started,
        ended=ended,
        code_version=code_version(),
        step_seconds=step_seconds,
        failed_steps=failed,
        failure_messages=failure_messages,
        totals=totals,
        glance=glance,
        checks=checks,
        export_location=str(export.get("path", "")),
        note=run.tags.get(NOTE_TAG, ""),
        job=run.job_name,
        exceptions=exceptions,
        promotion=str(export.get("promotion", "")),
        promoted=export.get("promoted"),
        degraded=list(export.get("degraded") or []),
        accepted_degraded=export.get("accepted_degraded"),
    )


def run_check_outcomes(instance: dg.DagsterInstance, run_id: str) -> list[CheckOutcome]:
    """Every asset check the run evaluated (its own event log), in the order evaluated."""
    return [
        CheckOutcome(e.asset_key.to_user_string(), e.check_name, bool(e.passed), e.severity.value, e.description or "")
        for e in check_evaluations(instance, run_id)
    ]


def run_tags(facts: RunFacts) -> dict[str, str]:
    """The run's summary as tags on the run (the Runs list and the run's page show them)."""
    tags = {"bua/checks": counts_text(check_counts(facts.checks))}
    if facts.promoted is not None:
        if facts.degraded:
            tags["bua/export"] = "promoted: degraded, accepted" if facts.promoted else "held back: degraded"
        else:
            tags["bua/export"] = "promoted" if facts.promoted else "kept apart"
    return tags


def _utc(timestamp: float | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, UTC) if timestamp else None


def _snapshot_created(run: dg.DagsterRun) -> datetime | None:
    """The EARL event's snapshot time (run tag); a tag that is not a time is left out, not a crash."""
    try:
        return parse_created(run.tags.get("bua/snapshot_created"))
    except ValueError:
        return None


def record_and_notify(
    instance: dg.DagsterInstance, run: dg.DagsterRun, lake: Lake, notify: NotifyResource, log
) -> RunFacts | None:
    """Append the run to the month's run log (the lake), show it in the UI, then publish the summary."""
    if not is_month_run(instance, run):
        return None
    facts = gather_facts(instance, run, lake)
    existing = (
        lake.read(RUN_LOG_ASSET, facts.month, RUN_LOG_DATASET)
        if lake.exists(RUN_LOG_ASSET, facts.month, RUN_LOG_DATASET)
        else None
    )
    runs = append_run(existing, run_record(facts))
    with lake.partition_writer(RUN_LOG_ASSET, facts.month) as writer:
        writer.write(RUN_LOG_DATASET, runs)
    shown = runs.select(
        [
            "run_id",
            "status",
            "snapshot",
            "code_version",
            "started",
            "duration_seconds",
            "net_amount",
            "checks_warned",
            "checks_failed",
            "promoted",
            "note",
        ]
    ).to_pandas()
    shown["started"] = shown["started"].astype(str)
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=RUN_LOG_ASSET,
            partition=facts.month,
            description=f"run {run.run_id} ({facts.status}) recorded",
            metadata={
                "rows": runs.num_rows,
                "path": lake.uri(RUN_LOG_ASSET, facts.month, RUN_LOG_DATASET),
                "latest_run": dg.MetadataValue.url(run_link(notify.ui_base_url, run.run_id)),
                "runs": table_metadata(
                    shown,
                    {
                        "duration_seconds": "float",
                        "net_amount": "float",
                        "checks_warned": "int",
                        "checks_failed": "int",
                    },
                ),
            },
        )
    )
    instance.add_run_tags(run.run_id, run_tags(facts))
    subject, body = message(facts, notify.ui_base_url)
    if notify.topic_arn:
        notify.client().publish(
            TopicArn=notify.topic_arn,
            Subject=subject,
            Message=body,
            MessageAttributes={
                "month": {"DataType": "String", "StringValue": AccrualMonth.from_key(facts.month).label},
                "status": {"DataType": "String", "StringValue": facts.status},
            },
        )
        log.info(f"notified {notify.topic_arn}: {subject}")
    else:
        log.info(f"no notification topic (BUA_NOTIFY_TOPIC_ARN): {subject}")
    return facts


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="bua_month_succeeded",
    minimum_interval_seconds=30,
    # On from the start: a month's run is recorded in the run log without an operator remembering
    # to switch it on; with no topic configured it notifies nobody.
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A month's run finished: recorded in bua_run_log and summarised on SNS "
    "(BUA_NOTIFY_TOPIC_ARN): totals by state x fuel against last month, checks, export.",
)
def bua_month_succeeded(context: dg.RunStatusSensorContext, lake: LakeResource, notify: NotifyResource):
    record_and_notify(context.instance, context.dagster_run, lake.lake(), notify, context.log)


@dg.run_failure_sensor(
    name="bua_month_failed",
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    request_job=month_errors_job,
    description="A month's run failed: recorded in bua_run_log, an SNS message naming the "
    "failed step and check (BUA_NOTIFY_TOPIC_ARN), and a bua_month_errors run for the month, so "
    "`errors` lists the failure's finding.",
)
def bua_month_failed(context: dg.RunFailureSensorContext, lake: LakeResource, notify: NotifyResource):
    facts = record_and_notify(context.instance, context.dagster_run, lake.lake(), notify, context.log)
    if facts is None:
        return None
    # one errors run per failed run (its run key), however often the sensor sees it
    return dg.RunRequest(run_key=f"errors-after-{context.dagster_run.run_id}", partition_key=facts.month)
