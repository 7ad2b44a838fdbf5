"""One month, one official snapshot (issue 24): a rehearsal then the month-end snapshot of the same
month, each restored into its own RDS instance (moto), exported, the month-end one promoted; the
rehearsal's instance retired on promotion; the manifest, the run log and the notification name
the month-end snapshot and its CORE release."""

from __future__ import annotations

import json
import shutil
import uuid

import boto3
import dagster as dg
import pytest
from support import CONFIG, PARTITION, mysql_url_or_skip

from bua_assets.billing.rehearsal import promoted_manifest
from bua_assets.core.database import CoreDatabase
from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth
from bua_assets.ops.rds import instance_identifier, managed, retire_superseded
from bua_assets.ops.runs import message, run_record
from bua_assets.resources import ExportResource, LakeResource, RdsCoreResource
from bua_assets.run_sensors import gather_facts
from bua_synth.generator import generate

REGION = "ap-southeast-2"
MONTH = AccrualMonth.from_key(PARTITION)
# 00:00 AEDT on 1 November is 13:00 UTC on 31 October: October's month-end snapshot; the 29th's is a rehearsal.
TAKEN = {"rehearsal": "2026-10-28T13:00:00+00:00", "monthend": "2026-10-31T13:00:00+00:00"}


@pytest.fixture
def restorable(moto_endpoint, tmp_path):
    """Two snapshots of a CORE source on moto RDS (each with its core:release tag); the data path
    on the local MariaDB, which stands in for every restored instance."""
    mysql_url = mysql_url_or_skip()
    generate(CONFIG, tmp_path / "retailer", mysql_url)
    rds = boto3.client("rds", endpoint_url=moto_endpoint, region_name=REGION)
    secrets = boto3.client("secretsmanager", endpoint_url=moto_endpoint, region_name=REGION)
    source = f"earl-core-{uuid.uuid4().hex[:6]}"
    rds.create_db_instance(
        DBInstanceIdentifier=source,
        DBInstanceClass="db.t3.micro",
        Engine="mysql",
        MasterUsername="admin",
        MasterUserPassword="earl-password",
        AllocatedStorage=20,
    )
    snapshots = {}
    for name, release in (("rehearsal", "R26.10.1"), ("monthend", "R26.10.2")):
        snapshots[name] = f"{source}-{name}"
        rds.create_db_snapshot(
            DBInstanceIdentifier=source,
            DBSnapshotIdentifier=snapshots[name],
            Tags=[{"Key": "core:release", "Value": release}],
        )
    reader = f"bua/core/reader-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=reader, SecretString=json.dumps({"username": "root", "password": ""}))
    resource = RdsCoreResource(
        mode="restore",
        reader_secret_id=reader,
        database=mysql_url.rsplit("/", 1)[1],
        endpoint_url=moto_endpoint,
        data_host_override="127.0.0.1:3306",
    )
    retire_superseded(rds, PARTITION, keep_snapshot="(none)")  # the shared moto server: the month starts clean
    try:
        yield rds, resource, snapshots
    finally:
        retire_superseded(rds, PARTITION, keep_snapshot="(none)")
        rds.delete_db_instance(DBInstanceIdentifier=source, SkipFinalSnapshot=True)
        CoreDatabase(mysql_url).drop_database()


def test_rehearsal_then_month_end_fresh_instance_promoted_export_retires_the_rehearsal(
    restorable, operations_month, tmp_path, monkeypatch, capsys
):
    rds, resource, snapshots = restorable
    lake_base = tmp_path / "lake"
    shutil.copytree(operations_month["lake"].base, lake_base)  # the month computed once; this test writes its own
    resources = operations_month["resources"] | {
        "rds": resource,
        "lake": LakeResource(base=str(lake_base)),
        "export": ExportResource(export_base=str(tmp_path / "exports"), integration_base=str(tmp_path / "integration")),
    }

    with dg.instance_for_test() as instance:

        def run(which: str):
            """core_snapshot, then bua_export (the month computed between them is the copied lake's)."""
            snapshot = snapshots[which]
            results = [
                dg.materialize(
                    ALL_ASSETS,
                    selection=[asset],
                    partition_key=PARTITION,
                    instance=instance,
                    resources=resources,
                    tags={"bua/snapshot": snapshot, "bua/snapshot_created": TAKEN[which]},
                    run_config=config,
                )
                for asset, config in (
                    ("core_snapshot", {"ops": {"core_snapshot": {"config": {"snapshot_identifier": snapshot}}}}),
                    ("bua_export", {}),  # the snapshot from the run's tag, as the EARL sensor sets it
                )
            ]
            assert all(r.success for r in results)
            core = results[0].asset_materializations_for_node("core_snapshot")[0].metadata
            export = results[1].asset_materializations_for_node("bua_export")[0].metadata
            return results[1], core, export

        _, core, export = run("rehearsal")
        assert core["rds_instance"].value == instance_identifier(PARTITION, snapshots["rehearsal"])
        assert export["promoted"].value is False and export["retired_rds"].value == []

        result, core, export = run("monthend")
        month_end = snapshots["monthend"]
        # a fresh instance, not the rehearsal's reused
        assert core["rds_instance"].value == instance_identifier(PARTITION, month_end)
        assert core["rds_reused"].value is False and core["core_release"].value == "R26.10.2"
        assert export["promoted"].value is True and export["core_release"].value == "R26.10.2"
        # promotion retired the rehearsal's instance; the official one stays
        assert [r.split(" ")[:3] for r in export["retired_rds"].value] == [
            ["deleted", "instance", instance_identifier(PARTITION, snapshots["rehearsal"])]
        ]
        assert [(m.kind, m.snapshot) for m in managed(rds, MONTH.label)] == [("instance", month_end)]

        _, integration = resources["export"].targets()
        official = promoted_manifest(integration, MONTH)
        assert official["snapshot"] == month_end and official["core_release"] == "R26.10.2"

        facts = gather_facts(instance, instance.get_run_by_id(result.run_id), Lake(str(lake_base)))
        assert facts.snapshot == month_end and facts.core_release == "R26.10.2"
        assert run_record(facts)["core_release"] == "R26.10.2"
        assert f"Snapshot: {month_end} (CORE release R26.10.2)" in message(facts, "http://dagster")[1]

    # bua-assets promote retires the same way: the rehearsal restored again (an investigation), then
    # the month-end export named official by hand
    resource.restore(snapshots["rehearsal"], PARTITION)
    for name, value in {
        "BUA_RDS_MODE": "restore",
        "BUA_RDS_ENDPOINT_URL": resource.endpoint_url,
        "BUA_EXPORT_BASE": str(tmp_path / "exports"),
        "BUA_INTEGRATION_BASE": str(tmp_path / "integration"),
    }.items():
        monkeypatch.setenv(name, value)
    from bua_assets.cli import main

    capsys.readouterr()
    assert main(["promote", "--month", MONTH.label, "--snapshot", month_end]) == 0
    said = json.loads(capsys.readouterr().out)
    assert [r.split(" ")[:3] for r in said["retired_rds"]] == [
        ["deleted", "instance", instance_identifier(PARTITION, snapshots["rehearsal"])]
    ]
    assert [(m.kind, m.snapshot) for m in managed(rds, MONTH.label)] == [("instance", month_end)]
    assert main(["promote", "--month", MONTH.label, "--list"]) == 0
    listed = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if line.startswith("*")}
    assert "CORE release R26.10.2" in listed[month_end]
