"""A degraded month through the Dagster assets (issue 23): the small retailer's October with one
meter data provider's largest file cut before its 900 record (a truncated delivery: the file is
rejected whole). Every asset still materialises and the export is written under its snapshot for
review, but it is not promoted to the integration prefix; the run's summary says so. The command
line refuses to promote it without an acceptance and records the one it is given; a run tagged
bua/accept_degraded promotes it and records that too. (A clean month still promotes: test_operations.)"""

from __future__ import annotations

import getpass
import json
import shutil
from collections import defaultdict

import dagster as dg
from support import PARTITION

from bua_assets.billing.degraded import ACCEPT_TAG
from bua_assets.billing.export import INTEGRATION_PREFIX, Target
from bua_assets.billing.rehearsal import promoted_manifest, promotions
from bua_assets.cli import main
from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth
from bua_assets.nem12.reader import read_nem12
from bua_assets.ops.runs import RUN_LOG_ASSET, RUN_LOG_DATASET
from bua_assets.resources import NotifyResource, local_resources
from bua_assets.run_records import metadata_values
from bua_assets.run_sensors import bua_month_succeeded
from bua_assets.runner import backfill_interval_history

MONTH = AccrualMonth.from_key(PARTITION)
MONTH_END_TAGS = {"bua/snapshot": "bua-core-2026-11-01", "bua/snapshot_created": "2026-10-31T13:00:00Z"}


def export_metadata(result) -> dict:
    (mat,) = [
        e.materialization for e in result.get_asset_materialization_events() if e.asset_key.path == ["bua_export"]
    ]
    return metadata_values(mat)


def test_a_month_with_a_truncated_delivery_is_held_back_until_accepted(retailer, tmp_path, monkeypatch, capsys):
    out, url = retailer
    nem12 = tmp_path / "nem12"
    shutil.copytree(out / "nem12", nem12)
    # The provider delivering the most register-days in October loses its largest file's 900 record.
    days: dict[str, dict] = defaultdict(dict)
    for path in sorted((nem12 / MONTH.label).glob("*.csv")):
        (f,) = read_nem12(path)
        days[f.header.from_participant][path] = f.days.num_rows
    provider = max(days, key=lambda p: sum(days[p].values()))
    cut = max(days[provider], key=days[provider].get)
    lines = cut.read_text().splitlines()
    assert lines[-1] == "900"
    cut.write_text("\n".join(lines[:-1]) + "\n")

    home = tmp_path / "home"
    resources = local_resources(url, str(nem12), home)
    export, integration = Target(str(home / "exports")), Target(str(home / "integration"))
    with dg.instance_for_test() as instance:
        backfill_interval_history(PARTITION, instance, resources)
        result = dg.materialize(
            ALL_ASSETS,
            partition_key=PARTITION,
            resources=resources,
            instance=instance,
            tags=MONTH_END_TAGS,  # a real month-end snapshot: promoted automatically, were it not degraded
            raise_on_error=False,
        )
        assert result.success
        # The month's outputs all materialise, for review.
        assert {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()} == {
            a.key.to_user_string() for a in ALL_ASSETS
        }
        checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
        assert not checks["meter_data_deliveries"].passed
        publishable = checks["publishable"]
        assert not publishable.passed and publishable.severity == dg.AssetCheckSeverity.WARN
        assert publishable.description.startswith(f"held back, degraded: {provider}: ")
        assert "--accept-degraded REASON" in publishable.description
        meta = export_metadata(result)
        assert meta["promoted"] is False and meta["integration_paths"] == []
        assert meta["degraded"][0].startswith(f"{provider}: ") and "last month" in meta["degraded"][0]
        # "mostly quarantined" when the cut file was more than half of its files this month
        assert ("1 of 1 files rejected whole" in meta["degraded"][0]) == (len(days[provider]) == 1)
        assert meta["accepted_degraded"] is None
        assert meta["run_checks"].endswith("0 failed") and "passed" in meta["run_checks"]
        # Exported under its snapshot, with the verdict in its manifest; nothing in the integration prefix.
        assert integration.list(INTEGRATION_PREFIX) == []
        folder = f"export/csv/{MONTH.run_date}/{MONTH_END_TAGS['bua/snapshot']}"
        manifest = json.loads(export.get(f"{folder}/BUA_manifest_{MONTH.compact}.json"))
        assert manifest["quality"]["degraded"] and manifest["quality"]["reasons"] == meta["degraded"]

        # The run's summary: the run log, the run's tags and the notification say it was held back.
        sensor_resources = {"lake": resources["lake"], "notify": NotifyResource(topic_arn="")}
        run = instance.get_run_by_id(result.run_id)
        (record,) = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records
        bua_month_succeeded(
            dg.build_run_status_sensor_context(
                sensor_name="bua_month_succeeded",
                dagster_event=record.event_log_entry.dagster_event,
                dagster_instance=instance,
                dagster_run=run,
                resources=sensor_resources,
            )
        )
        (row,) = Lake(resources["lake"].base).read(RUN_LOG_ASSET, PARTITION, RUN_LOG_DATASET).to_pylist()
        warned = [c for c in checks.values() if not c.passed and c.severity == dg.AssetCheckSeverity.WARN]
        assert (row["checks_warned"], row["checks_failed"]) == (len(warned), 0) and row["checks_warned"] >= 2
        assert row["promoted"] is False and json.loads(row["degraded"]) == meta["degraded"]
        assert json.loads(row["exceptions"])["missing_900"] == 1  # the cut file, by its quarantine code
        tags = instance.get_run_by_id(result.run_id).tags
        assert tags["bua/export"] == "held back: degraded"
        assert tags["bua/checks"] == f"{len(checks) - len(warned)} passed, {len(warned)} warned, 0 failed"

        # The command line refuses the degraded month, naming why, then promotes it on an acceptance.
        monkeypatch.setenv("BUA_EXPORT_BASE", str(home / "exports"))
        monkeypatch.setenv("BUA_INTEGRATION_BASE", str(home / "integration"))
        assert main(["promote", "--month", MONTH.label, "--list"]) == 0
        assert f"DEGRADED: {provider}: " in capsys.readouterr().out
        assert main(["promote", "--month", MONTH.label]) == 3
        err = capsys.readouterr().err
        assert f"is degraded: {provider}: " in err and "--accept-degraded REASON" in err
        assert integration.list(INTEGRATION_PREFIX) == []
        assert main(["promote", "--month", MONTH.label, "--accept-degraded", "  "]) == 2
        reason = f"{provider} redelivers on the 5th; finance accepts the estimate"
        assert main(["promote", "--month", MONTH.label, "--accept-degraded", reason]) == 0
        printed = json.loads(capsys.readouterr().out)
        promoted = promoted_manifest(integration, MONTH)
        assert promoted["snapshot"] == MONTH_END_TAGS["bua/snapshot"]
        accepted = promoted["accepted_degraded"]
        assert printed["accepted_degraded"] == accepted
        assert (accepted["reason"], accepted["by"], accepted["via"]) == (
            reason,
            getpass.getuser(),
            "bua-assets promote --accept-degraded",
        )

        # A run tagged with the acceptance promotes it itself, and says so.
        again = dg.materialize(
            ALL_ASSETS,
            selection=["bua_export"],
            partition_key=PARTITION,
            resources=resources,
            instance=instance,
            tags=MONTH_END_TAGS | {ACCEPT_TAG: "AUSGRID file re-sent after close; accepted by the controller"},
        )
        meta = export_metadata(again)
        assert meta["promoted"] is True and meta["integration_paths"]
        assert "degraded month accepted (run tag bua/accept_degraded" in meta["promotion"]
        assert meta["accepted_degraded"]["reason"] == "AUSGRID file re-sent after close; accepted by the controller"
        assert meta["accepted_degraded"]["by"] == f"run {again.run_id}"
        assert promoted_manifest(integration, MONTH)["accepted_degraded"] == meta["accepted_degraded"]
        (check,) = again.get_asset_check_evaluations()
        assert not check.passed and check.description.startswith("degraded, promoted on an acceptance: ")
    log = promotions(export, MONTH)
    assert [e["accepted_degraded"]["via"] for e in log] == [
        "bua-assets promote --accept-degraded",
        "run tag bua/accept_degraded",
    ]
