"""The run notification's text and the run log's rows (bua_assets/ops/runs.py), exactly."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pandas as pd

from bua_assets.ops.runs import CheckOutcome, RunFacts, append_run, message, run_record, totals_against_previous

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
        checks=[
            CheckOutcome("core_tables", "schema_drift", True, "ERROR"),
            CheckOutcome("segment_profiles", "profile_validation", False, "WARN", "2 segments filled"),
        ],
        export_location="s3://int/ADH/OUTBOUND/BUA/BUA_manifest_202610.json",
        note="the real one",
        job="monthly_bua",
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
    assert subject == "BUA 2026-10: done"
    assert body == (
        "Month: 2026-10\n"
        "Snapshot: bua-core-2026-11-01\n"
        "Run: abc-123 (https://dagster.example.com/runs/abc-123)\n"
        "Duration: 4m 05s\n"
        "Note: the real one\n"
        "\n"
        "Accrued net: 1,334.49 (last month 1,250.00, change 84.49)\n"
        "state fuel         net          last month   change\n"
        "NSW   ELECTRICITY      1,234.50     1,200.00        34.50\n"
        "QLD   ELECTRICITY          0.00        50.00       -50.00\n"
        "VIC   GAS                 99.99         0.00        99.99\n"
        "\n"
        "Export: s3://int/ADH/OUTBOUND/BUA/BUA_manifest_202610.json\n"
        "\n"
        "Checks:\n"
        "  core_tables.schema_drift: passed\n"
        "  segment_profiles.profile_validation: FAILED (WARN) - 2 segments filled\n"
    )


def test_failure_message_names_the_failed_step_and_check():
    failed = facts(
        status="FAILURE",
        totals=None,
        export_location="",
        note="",
        failed_steps=["core_tables"],
        failure_messages={"core_tables": "dagster._core.errors.DagsterAssetCheckFailedError: 1 blocking check failed"},
        checks=[CheckOutcome("core_tables", "schema_drift", False, "ERROR", "Meter.serial: missing_column")],
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
        "Checks:",
        "  core_tables.schema_drift: FAILED (ERROR) - Meter.serial: missing_column",
    ]


def test_run_log_is_appended_once_per_run():
    first = run_record(facts())
    assert first["net_amount"] == 1334.49 and first["previous_net_amount"] == 1250.0
    assert json.loads(first["step_seconds"]) == {"core_tables": 12.5, "bua_export": 1.25}
    assert (first["checks_passed"], first["checks_failed"], first["duration_seconds"]) == (1, 1, 245.0)
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
