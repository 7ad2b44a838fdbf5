"""The run notification's text and the run log's rows (bua_assets/ops/runs.py), exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from bua_assets.billing.glance import ACCRUAL, month_at_a_glance
from bua_assets.ops.runs import (
    RUN_LOG_SCHEMA,
    CheckOutcome,
    RunFacts,
    append_run,
    check_counts,
    exceptions_by_code,
    message,
    run_record,
    totals_against_previous,
)

START = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)


def facts(**overrides) -> RunFacts:
    current = pd.DataFrame(
        {
            "state": ["NSW", "NSW", "VIC"],
            "fuel": ["ELECTRICITY", "ELECTRICITY", "GAS"],
            "net_amount": [1000.0, 234.5, 99.99],
        }
    )
    previous = pd.DataFrame(
        {"state": ["NSW", "QLD"], "fuel": ["ELECTRICITY", "ELECTRICITY"], "net_amount": [1200.0, 50.0]}
    )
    base = dict(
        run_id="abc-123",
        month="2026-10-01",
        status="SUCCESS",
        snapshot="bua-core-2026-11-01",
        started=START,
        ended=datetime(2026, 11, 1, 2, 4, 5, tzinfo=UTC),
        code_version="0.1.0+deadbeef",
        step_seconds={"core_tables": 12.5, "bua_export": 1.25},
        totals=totals_against_previous(current, previous),
        glance=month_at_a_glance(
            current.rename(columns={"net_amount": ACCRUAL}), previous.rename(columns={"net_amount": ACCRUAL})
        ),
        checks=[
            CheckOutcome("core_tables", "schema_drift", True, "ERROR"),
            CheckOutcome("segment_profiles", "profile_validation", False, "WARN", "2 segments filled"),
        ],
        export_location="s3://int/ADH/OUTBOUND/BUA/BUA_manifest_202610.json",
        note="the real one",
        job="monthly_bua",
        exceptions={"superseded": 17, "no_scalar": 2},
        promotion="promoted: the latest month-end snapshot",
        promoted=True,
    )
    return RunFacts(**(base | overrides))


def test_totals_by_state_and_fuel_against_last_month():
    t = facts().totals
    assert t.to_dict("records") == [
        {"state": "NSW", "fuel": "ELECTRICITY", "net_amount": 1234.5, "previous_net_amount": 1200.0, "change": 34.5},
        {"state": "QLD", "fuel": "ELECTRICITY", "net_amount": 0.0, "previous_net_amount": 50.0, "change": -50.0},
        {"state": "VIC", "fuel": "GAS", "net_amount": 99.99, "previous_net_amount": 0.0, "change": 99.99},
    ]
    assert totals_against_previous(pd.DataFrame({"state": ["SA"], "fuel": ["GAS"], "net_amount": [5.0]}), None)[
        "previous_net_amount"
    ].tolist() == [0.0]


def test_success_message():
    subject, body = message(facts(), "https://dagster.example.com/")
    assert subject == "BUA 2026-10: done (1 check warned)"
    assert body == (
        "Month: 2026-10\n"
        "Snapshot: bua-core-2026-11-01\n"
        "Run: abc-123 (https://dagster.example.com/runs/abc-123)\n"
        "Duration: 4m 05s\n"
        "Note: the real one\n"
        "\n"
        "Accrual (ex-GST, less expected discounts) against last month:\n"
        "state  fuel         accrual 2026-10  last month 2026-09  movement  movement %\n"
        "NSW    electricity         1,234.50            1,200.00     34.50       +2.9%\n"
        "QLD    electricity             0.00               50.00    -50.00     -100.0%\n"
        "VIC    gas                    99.99                0.00     99.99         n/a\n"
        "Total                      1,334.49            1,250.00     84.49       +6.8%\n"
        "\n"
        "Export: s3://int/ADH/OUTBOUND/BUA/BUA_manifest_202610.json\n"
        "Promotion: promoted: the latest month-end snapshot\n"
        "\n"
        "Checks: 1 passed, 1 warned, 0 failed\n"
        "  core_tables.schema_drift: passed\n"
        "  segment_profiles.profile_validation: FAILED (WARN) - 2 segments filled\n"
        "\n"
        "Exceptions by code:\n"
        "  superseded: 17\n"
        "  no_scalar: 2\n"
    )


def test_a_degraded_month_says_so_in_the_subject_and_counts_its_warnings():
    held = "held back, degraded: MDPB: no usable deliveries this month (837 register-days in 2 files last month)"
    checks = [
        CheckOutcome("interval_reads", "meter_data_deliveries", False, "WARN", "MDPB short"),
        CheckOutcome("core_tables", "schema_drift", True, "ERROR"),
        CheckOutcome("bua_export", "publishable", False, "WARN", held),
    ]
    degraded = ["MDPB: no usable deliveries this month (837 register-days in 2 files last month)"]
    subject, body = message(
        facts(checks=checks, promotion=held, promoted=False, degraded=degraded), "http://localhost:3000"
    )
    assert subject == "BUA 2026-10: done, DEGRADED: not published (2 checks warned)"
    assert f"Promotion: {held}" in body.splitlines()
    assert "Checks: 1 passed, 2 warned, 0 failed" in body.splitlines()
    accepted = {"reason": "MDPB redelivers on the 5th", "by": "run r1", "via": "run tag bua/accept_degraded"}
    subject, _ = message(
        facts(checks=checks, promoted=True, degraded=degraded, accepted_degraded=accepted), "http://localhost:3000"
    )
    assert subject == "BUA 2026-10: done, degraded: published on acceptance (2 checks warned)"
    row = run_record(facts(checks=checks, promoted=False, degraded=degraded, promotion=held))
    assert (row["checks_passed"], row["checks_warned"], row["checks_failed"]) == (1, 2, 0)
    assert (row["promoted"], json.loads(row["degraded"]), row["accepted_degraded"]) == (False, degraded, None)
    assert json.loads(run_record(facts(accepted_degraded=accepted))["accepted_degraded"]) == accepted


def test_checks_are_counted_by_outcome_and_exceptions_by_code():
    assert check_counts(
        [
            CheckOutcome("a", "x", True, "ERROR"),
            CheckOutcome("a", "y", False, "WARN"),
            CheckOutcome("b", "z", False, "ERROR"),
            CheckOutcome("b", "w", False, "WARN"),
        ]
    ) == {"passed": 1, "warned": 2, "failed": 1}
    assert exceptions_by_code(
        {
            "interval_reads.quarantine:superseded": 17,
            "unbilled_consumption.exceptions:no_scalar": 2,
            "nem12_estimates.exceptions:no_scalar": 1,
            "asset_checks:check_failed:meter_data_deliveries": 1,
        }
    ) == {"superseded": 17, "no_scalar": 3, "check_failed:meter_data_deliveries": 1}


def test_failure_message_names_the_failed_step_and_check():
    failed = facts(
        status="FAILURE",
        totals=None,
        export_location="",
        note="",
        failed_steps=["core_tables"],
        failure_messages={"core_tables": "dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking check failed"},
        checks=[CheckOutcome("core_tables", "schema_drift", False, "ERROR", "Meter.serial: missing_column")],
        exceptions=None,  # errors was never materialised: no exceptions section
        promotion="",
        promoted=None,
    )
    subject, body = message(failed, "http://localhost:3000")
    assert subject == "BUA 2026-10: FAILED at core_tables"
    assert body.splitlines()[4:] == [
        "",
        "Failed step: core_tables",
        "Failed check: core_tables.schema_drift (ERROR): Meter.serial: missing_column",
        "Error in core_tables: dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking check failed",
        "Re-run: open the run, Re-execute > From failure",
        "",
        "Checks: 0 passed, 0 warned, 1 failed",
        "  core_tables.schema_drift: FAILED (ERROR) - Meter.serial: missing_column",
    ]


def test_run_log_is_appended_once_per_run():
    first = run_record(facts())
    assert first["net_amount"] == 1334.49 and first["previous_net_amount"] == 1250.0
    assert json.loads(first["step_seconds"]) == {"core_tables": 12.5, "bua_export": 1.25}
    assert (first["checks_passed"], first["checks_warned"], first["checks_failed"]) == (1, 1, 0)
    assert first["duration_seconds"] == 245.0 and json.loads(first["exceptions"]) == {"superseded": 17, "no_scalar": 2}
    log = append_run(None, first)
    log = append_run(log, first)  # the sensor saw the same run twice
    assert log["run_id"].to_pylist() == ["abc-123"]
    second = run_record(facts(run_id="def-456", started=datetime(2026, 11, 2, tzinfo=UTC), note="after a fix"))
    log = append_run(log, second)
    earlier = run_record(facts(run_id="aaa-000", started=datetime(2026, 10, 30, tzinfo=UTC), status="FAILURE"))
    log = append_run(log, earlier)
    assert log["run_id"].to_pylist() == ["aaa-000", "abc-123", "def-456"]  # in start order
    assert log["net_amount"].to_pylist() == [None, 1334.49, 1334.49]  # a failed run has no totals
    assert log["note"].to_pylist() == ["the real one", "the real one", "after a fix"]


def test_a_run_log_written_before_the_new_columns_takes_new_runs():
    first = run_record(facts())
    old_columns = [
        c
        for c in RUN_LOG_SCHEMA.names
        if c not in ("checks_warned", "exceptions", "promotion", "promoted", "degraded", "accepted_degraded")
    ]
    older = pa.Table.from_pylist([first], schema=RUN_LOG_SCHEMA).select(old_columns)
    log = append_run(older, run_record(facts(run_id="def-456", started=datetime(2026, 11, 2, tzinfo=UTC))))
    assert log["run_id"].to_pylist() == ["abc-123", "def-456"]
    assert log["promoted"].to_pylist() == [None, True] and log["checks_warned"].to_pylist() == [None, 1]


def test_the_time_from_snapshot_to_export_is_logged_and_said():
    taken = datetime(2026, 10, 31, 14, 5, tzinfo=UTC)  # midnight-ish in Sydney, 1 November
    exported = facts(snapshot_created=taken)
    assert exported.snapshot_to_export_seconds == (datetime(2026, 11, 1, 2, 4, 5, tzinfo=UTC) - taken).total_seconds()
    _, body = message(exported, "http://ui")
    assert "Snapshot to export: 11h 59m 05s" in body
    row = run_record(exported)
    assert row["snapshot_created"] == taken and row["snapshot_to_export_seconds"] == 43145.0
    assert pa.Table.from_pylist([row], schema=RUN_LOG_SCHEMA).num_rows == 1
    # A run that did not export, or has no snapshot (the embedded default), says nothing of it.
    assert facts(snapshot_created=taken, promoted=None).snapshot_to_export_seconds is None
    assert "Snapshot to export" not in message(facts(), "http://ui")[1]


def test_the_core_release_is_logged_and_said_when_a_snapshot_was_restored():
    tagged = facts(core_release="R26.10.2")
    assert "Snapshot: bua-core-2026-11-01 (CORE release R26.10.2)\n" in message(tagged, "http://ui")[1]
    assert run_record(tagged)["core_release"] == "R26.10.2"
    # a snapshot without the core:release tag says so; no restored snapshot (the configured CORE) says nothing
    assert "(CORE release unknown)" in message(facts(core_release="unknown"), "http://ui")[1]
    assert "Snapshot: bua-core-2026-11-01\n" in message(facts(), "http://ui")[1]
    assert run_record(facts())["core_release"] is None
    # a run log written before the column was added gains it, empty
    old = pa.Table.from_pylist([run_record(facts())], schema=RUN_LOG_SCHEMA).drop_columns(["core_release"])
    log = append_run(old, run_record(facts(run_id="def-456", core_release="R26.10.2")))
    assert log["core_release"].to_pylist() == [None, "R26.10.2"]
