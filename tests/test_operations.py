"""Operating the month on a real run: each snapshot's export kept apart and the official one
promoted (bua_export and bua-assets promote), the run-status sensors' run log in the lake and their
SNS summary read back from an SQS queue subscribed to the topic on the moto server."""

from __future__ import annotations

import json
import shutil
import sqlite3

import boto3
import dagster as dg
import pytest
from conftest import REHEARSAL_TAGS
from support import PARTITION

from bua_assets.billing.export import INTEGRATION_PREFIX, Target
from bua_assets.cli import main
from bua_assets.definitions import ALL_ASSETS, defs
from bua_assets.lake import Lake
from bua_assets.ops.runs import RUN_LOG_ASSET, RUN_LOG_DATASET
from bua_assets.resources import LakeResource, NotifyResource, local_resources
from bua_assets.run_records import check_evaluations
from bua_assets.run_sensors import bua_month_failed, bua_month_succeeded

MONTH_END_TAGS = {"bua/snapshot": "bua-core-2026-11-01", "bua/snapshot_created": "2026-10-31T13:00:00Z"}
UI = "https://dagster.example.com"


def test_rehearsal_kept_apart_month_end_promoted_and_operator_can_choose(operations_month, monkeypatch, capsys):
    home, instance = operations_month["home"], operations_month["instance"]
    export, integration = Target(str(home / "exports")), Target(str(home / "integration"))
    folder = "export/csv/2026-11-01"
    rehearsal = f"{folder}/{REHEARSAL_TAGS['bua/snapshot']}"
    # the rehearsal (taken 29 October local) was exported under its snapshot, not promoted
    assert [n.rsplit("/", 1)[-1] for n in export.list(rehearsal)] == [
        "BUA_AccountSummary_202610.csv",
        "BUA_AccrualSummary_202610.csv",
        "BUA_AccrualTrueUp_202610.csv",
        "BUA_Errors_202610.csv",
        "BUA_InvoiceLineItemMonthly_202610.csv",
        "BUA_manifest_202610.json",
    ]
    assert integration.list(INTEGRATION_PREFIX) == []
    rehearsal_summary = export.get(f"{rehearsal}/BUA_AccountSummary_202610.csv")
    # the month-end snapshot's run (its export step again here) is kept apart and promoted
    result = dg.materialize(
        ALL_ASSETS,
        selection=["bua_export"],
        partition_key=PARTITION,
        resources=operations_month["resources"],
        instance=instance,
        tags=MONTH_END_TAGS,
    )
    (mat,) = [e.materialization for e in result.get_asset_materialization_events()]
    assert mat.metadata["promotion"].value == "promoted: the latest month-end snapshot"
    # A clean month is not degraded (no false positive): every provider delivered, little estimated.
    (publishable,) = result.get_asset_check_evaluations()
    assert publishable.passed and publishable.description == "not degraded", publishable.description
    assert mat.metadata["degraded"].value == [] and mat.metadata["accepted_degraded"].value is None
    assert 0 < publishable.metadata["estimated_share"].value < publishable.metadata["max_estimated_share"].value
    month_end = f"{folder}/{MONTH_END_TAGS['bua/snapshot']}"
    assert export.get(f"{rehearsal}/BUA_AccountSummary_202610.csv") == rehearsal_summary  # not overwritten
    promoted = json.loads(integration.get(f"{INTEGRATION_PREFIX}/BUA_manifest_202610.json"))
    assert promoted["snapshot"] == "bua-core-2026-11-01" and promoted["rehearsal"] is False
    assert promoted["quality"]["degraded"] is False and "accepted_degraded" not in promoted
    # Which lake version fed the export: each input table's Delta version, readable as it was.
    lake = operations_month["lake"]
    tables = {t["table"]: t for t in promoted["lake_tables"]}
    assert set(tables) == {
        "invoice_line_item_monthly/invoice_line_item_monthly",
        "bua_account_summary/bua_account_summary",
        "accrual_summary/accrual_summary",
        "errors/errors",
        "accrual_true_up/accrual_true_up",
    }
    errors_at = lake.read("errors", PARTITION, "errors", version=tables["errors/errors"]["version"]).to_pandas()
    assert errors_at.to_csv(index=False).encode() == integration.get(f"{INTEGRATION_PREFIX}/BUA_Errors_202610.csv")
    assert integration.get(f"{INTEGRATION_PREFIX}/BUA_Errors_202610.csv") == export.get(
        f"{month_end}/BUA_Errors_202610.csv"
    )
    # the operator names the official one, then goes back to the latest month-end snapshot
    monkeypatch.setenv("BUA_EXPORT_BASE", str(home / "exports"))
    monkeypatch.setenv("BUA_INTEGRATION_BASE", str(home / "integration"))
    assert main(["promote", "--month", "2026-10", "--snapshot", REHEARSAL_TAGS["bua/snapshot"]]) == 0
    assert json.loads(capsys.readouterr().out)["previous"] == "bua-core-2026-11-01"
    assert (
        json.loads(integration.get(f"{INTEGRATION_PREFIX}/BUA_manifest_202610.json"))["snapshot"]
        == REHEARSAL_TAGS["bua/snapshot"]
    )
    assert main(["promote", "--month", "2026-10", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in listed] == [["*", "bua-core-2026-10-29"], ["bua-core-2026-11-01", "taken"]]
    assert main(["promote", "--month", "2026-10"]) == 0
    assert json.loads(capsys.readouterr().out)["snapshot"] == "bua-core-2026-11-01"
    assert main(["promote", "--month", "2026-10", "--snapshot", "bua-core-nope"]) == 2
    assert "bua-core-nope" in capsys.readouterr().err


@pytest.fixture
def topic_queue(moto_endpoint):
    """An SNS topic with an SQS queue subscribed to it, on the moto server."""
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="ap-southeast-2")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="ap-southeast-2")
    topic = sns.create_topic(Name="bua-notify")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"bua-ops-{id(sns)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def received() -> list[dict]:
        out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in out:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in out]

    return NotifyResource(topic_arn=topic, ui_base_url=UI, endpoint_url=moto_endpoint), received


def _sensor_context(instance, run_id: str, name: str, resources: dict, event_type: dg.DagsterEventType):
    run = instance.get_run_by_id(run_id)
    (record,) = instance.get_records_for_run(run_id, of_type=event_type).records
    return dg.build_run_status_sensor_context(
        sensor_name=name,
        dagster_event=record.event_log_entry.dagster_event,
        dagster_instance=instance,
        dagster_run=run,
        resources=resources,
    )


def test_finished_month_is_recorded_and_summarised_on_sns(operations_month, topic_queue):
    notify, received = topic_queue
    lake, instance, run_id = operations_month["lake"], operations_month["instance"], operations_month["run_id"]
    resources = {"lake": LakeResource(base=lake.base), "notify": notify}
    for _ in range(2):  # the sensor sees the run twice: one row, two identical messages
        bua_month_succeeded(
            _sensor_context(instance, run_id, "bua_month_succeeded", resources, dg.DagsterEventType.RUN_SUCCESS)
        )
    messages = received()
    assert len(messages) == 2 and messages[0]["Message"] == messages[1]["Message"]
    outcomes = check_evaluations(instance, run_id)
    warned = sum(not e.passed and e.severity == dg.AssetCheckSeverity.WARN for e in outcomes)
    assert len(outcomes) == 8 and not any(not e.passed and e.severity == dg.AssetCheckSeverity.ERROR for e in outcomes)
    assert messages[0]["Subject"] == "BUA 2026-10: done" + (
        f" ({warned} {'check' if warned == 1 else 'checks'} warned)" if warned else ""
    )
    body = messages[0]["Message"].splitlines()
    assert body[:3] == ["Month: 2026-10", "Snapshot: bua-core-2026-10-29", f"Run: {run_id} ({UI}/runs/{run_id})"]
    assert "Note: rehearsal before month end" in body
    summary = lake.read("accrual_summary", PARTITION, "accrual_summary").to_pandas()
    cells = summary.groupby(["state", "fuel"])["net_amount_less_discount"].sum().round(2)
    assert len(cells) > 1
    assert "Accrual (ex-GST, less expected discounts) against last month:" in body
    table = body[body.index("Accrual (ex-GST, less expected discounts) against last month:") + 1 :]
    assert table[0].split() == [
        "state",
        "fuel",
        "accrual",
        "2026-10",
        "last",
        "month",
        "2026-09",
        "movement",
        "movement",
        "%",
    ]
    for (state, fuel), accrued in cells.items():  # no September accrual in this lake: unknown
        assert [state, fuel.lower(), f"{accrued:,.2f}", "n/a", "n/a", "n/a"] in [r.split() for r in table]
    assert ["Total", f"{cells.sum():,.2f}", "n/a", "n/a", "n/a"] in [r.split() for r in table]
    export_line = next(line for line in body if line.startswith("Export: "))
    assert export_line.endswith(f"{REHEARSAL_TAGS['bua/snapshot']}/BUA_manifest_202610.json")  # kept apart
    assert "  core_tables.schema_drift: passed" in body and "  accrual_summary.reconciliation: passed" in body
    assert f"Checks: {8 - warned} passed, {warned} warned, 0 failed" in body  # counted from the run's evaluations
    # kept apart by its snapshot's date (29 October), and not degraded
    assert next(line for line in body if line.startswith("Promotion: ")).startswith("Promotion: kept apart: snapshot")
    # the month's exceptions by code (the errors this run materialised), largest first
    errors = lake.read("errors", PARTITION, "errors").to_pandas()
    counts = sorted(errors["code"].value_counts().items(), key=lambda kv: (-kv[1], kv[0]))
    assert body[body.index("Exceptions by code:") + 1 :] == [f"  {code}: {n:,}" for code, n in counts]

    log = lake.read(RUN_LOG_ASSET, PARTITION, RUN_LOG_DATASET)
    assert log["run_id"].to_pylist() == [run_id]
    row = log.to_pylist()[0]
    assert (row["status"], row["snapshot"], row["note"]) == (
        "SUCCESS",
        "bua-core-2026-10-29",
        "rehearsal before month end",
    )
    assert row["net_amount"] == round(float(summary["net_amount"].sum()), 2)  # the run log keeps net ex-GST
    assert set(json.loads(row["step_seconds"])) == {a.key.to_user_string() for a in ALL_ASSETS}
    assert (row["checks_passed"], row["checks_warned"], row["checks_failed"]) == (8 - warned, warned, 0)
    assert row["promoted"] is False and json.loads(row["degraded"]) == []
    assert instance.get_run_by_id(run_id).tags["bua/checks"] == f"{8 - warned} passed, {warned} warned, 0 failed"
    assert instance.get_run_by_id(run_id).tags["bua/export"] == "kept apart"
    assert row["code_version"].startswith("0.1.0")
    assert row["ended"] > row["started"] and row["duration_seconds"] > 0
    # shown in the UI: the run log asset's materialisation with the month's runs as a table
    (event,) = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(RUN_LOG_ASSET), asset_partitions=[PARTITION]), limit=1
    ).records
    shown = event.asset_materialization.metadata["runs"].value
    assert [r.data["run_id"] for r in shown.records] == [run_id]
    # the analysts see it too
    assert lake.exists(RUN_LOG_ASSET, PARTITION, RUN_LOG_DATASET)


def test_failed_month_names_the_step_and_the_check(retailer, tmp_path, operations_month, topic_queue):
    notify, received = topic_queue
    folder, _ = retailer
    drifted = tmp_path / "core.db"
    shutil.copy(folder / "core.db", drifted)
    with sqlite3.connect(drifted) as conn:
        conn.execute('ALTER TABLE "Meter" DROP COLUMN "serial"')
    lake_dir = tmp_path / "lake"
    resources = local_resources(f"sqlite:///{drifted}", str(folder / "nem12"), tmp_path) | {
        "lake": LakeResource(base=str(lake_dir))
    }
    instance = operations_month["instance"]  # no history needed: the run stops at core_tables' check
    result = dg.materialize(
        ALL_ASSETS,
        partition_key=PARTITION,
        resources=resources,
        instance=instance,
        tags={"bua/snapshot": "bua-core-drifted"},
        raise_on_error=False,
    )
    assert not result.success
    request = bua_month_failed(
        _sensor_context(
            instance,
            result.run_id,
            "bua_month_failed",
            {"lake": LakeResource(base=str(lake_dir)), "notify": notify},
            dg.DagsterEventType.RUN_FAILURE,
        ).for_run_failure()
    )
    (message,) = received()
    assert message["Subject"] == "BUA 2026-10: FAILED at core_tables"
    body = message["Message"].splitlines()
    # meter_registers reads the same drifted table (Meter) and stops too: both are named
    assert "Failed step: core_tables, meter_registers" in body
    failed_check = next(line for line in body if line.startswith("Failed check: "))
    assert failed_check.startswith("Failed check: core_tables.schema_drift (ERROR): ")
    assert "Meter.serial: missing_column" in failed_check
    # The run's own failure says the finding and what to do, not only "1 blocking check failed".
    error = next(line for line in body if line.startswith("Error in core_tables: "))
    assert "core_tables.schema_drift failed: Meter.serial: missing_column" in error, error
    assert "restore the column in the snapshot, or mark it optional in the contract" in error, error
    log = Lake(str(lake_dir)).read(RUN_LOG_ASSET, PARTITION, RUN_LOG_DATASET).to_pylist()
    assert [(r["status"], r["failed_steps"], r["net_amount"]) for r in log] == [
        ("FAILURE", "core_tables,meter_registers", None)
    ]
    # ... and it asks for the month's exceptions table, once per failed run: run, it lists the finding
    assert isinstance(request, dg.RunRequest) and request.partition_key == PARTITION
    assert bua_month_failed.job_name == "bua_month_errors" and request.run_key == f"errors-after-{result.run_id}"
    errors_run = defs.resolve_job_def(bua_month_failed.job_name).execute_in_process(
        partition_key=request.partition_key, instance=instance, resources=resources
    )
    assert errors_run.success
    listed = Lake(str(lake_dir)).read("errors", PARTITION, "errors").to_pandas()
    finding = listed[listed["code"] == "check_failed:schema_drift"]
    assert len(finding) == 1 and "Meter.serial: missing_column" in finding["reason"].iloc[0]
