"""RDS restore and teardown against moto's RDS and Secrets Manager APIs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from bua_assets.ops.rds import (
    RestoreSettings,
    copy_identifier,
    housekeeping,
    instance_identifier,
    managed,
    restore,
    retire_superseded,
    teardown,
)

REGION = "ap-southeast-2"
FAST = dict(poll_seconds=0.01, max_wait_seconds=5)


@pytest.fixture
def aws(moto_endpoint):
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
    snapshot = f"{source}-snap"
    rds.create_db_snapshot(
        DBInstanceIdentifier=source, DBSnapshotIdentifier=snapshot, Tags=[{"Key": "core:release", "Value": "R26.10.3"}]
    )
    secret = f"bua/core/master-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=secret, SecretString=json.dumps({"username": "admin", "password": "from-secrets"}))
    partition = f"20{uuid.uuid4().int % 90 + 10}-10-01"  # one month per test: instances are per month
    yield rds, secrets, snapshot, secret, partition
    retire_superseded(rds, partition, keep_snapshot="(none)")  # every instance and copy the test made for its month
    try:
        rds.delete_db_instance(DBInstanceIdentifier=source, SkipFinalSnapshot=True)
    except rds.exceptions.ClientError:
        pass


def tags_of(rds, ident: str) -> dict[str, str]:
    arn = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["DBInstanceArn"]
    return {t["Key"]: t["Value"] for t in rds.list_tags_for_resource(ResourceName=arn)["TagList"]}


def second_snapshot(rds, snapshot: str, name: str, release: str | None) -> str:
    """Another snapshot of the fixture's source instance (the month-end one after a rehearsal)."""
    source = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot)["DBSnapshots"][0]["DBInstanceIdentifier"]
    other = f"{source}-{name}"
    tags = [{"Key": "core:release", "Value": release}] if release else []
    rds.create_db_snapshot(DBInstanceIdentifier=source, DBSnapshotIdentifier=other, Tags=tags)
    return other


def kms_key(rds) -> str:
    kms = boto3.client("kms", endpoint_url=rds.meta.endpoint_url, region_name=REGION)
    return kms.create_key(Description="bua")["KeyMetadata"]["Arn"]


def test_restore_copies_under_our_key_restores_and_a_rerun_reuses_it(aws):
    rds, secrets, snapshot, secret, partition = aws
    kms = boto3.client("kms", endpoint_url=rds.meta.endpoint_url, region_name=REGION)
    key = kms.create_key(Description="bua")["KeyMetadata"]["Arn"]
    settings = RestoreSettings(instance_class="db.r6g.large", kms_key_id=key, master_secret_id=secret, **FAST)
    first = restore(rds, secrets, snapshot, partition, settings)
    assert not first.reused and first.instance_identifier == instance_identifier(partition, snapshot)
    assert first.core_release == "R26.10.3"
    assert tags_of(rds, first.instance_identifier) == {
        "bua:managed": "true",
        "bua:month": partition[:7],
        "bua:snapshot": snapshot,
        "bua:core-release": "R26.10.3",
    }
    assert first.host and first.port
    assert any("copied" in s for s in first.steps) and any(secret in s for s in first.steps)
    assert not any("from-secrets" in s for s in first.steps)  # the secret's name, never its value
    described = rds.describe_db_instances(DBInstanceIdentifier=first.instance_identifier)["DBInstances"][0]
    assert described["DBInstanceClass"] == "db.r6g.large" and not described.get("PubliclyAccessible", False)
    again = restore(rds, secrets, snapshot, partition, settings)
    assert again.reused and (again.host, again.port) == (first.host, first.port) and again.steps == []
    assert again.core_release == "R26.10.3"  # from the instance's tag when reused


def test_rehearsal_then_month_end_restores_a_fresh_instance_and_copy_per_snapshot(aws):
    rds, secrets, rehearsal, _secret, partition = aws
    month_end = second_snapshot(rds, rehearsal, "monthend", "R26.11.0")
    settings = RestoreSettings(kms_key_id=kms_key(rds), **FAST)
    first = restore(rds, secrets, rehearsal, partition, settings)
    second = restore(rds, secrets, month_end, partition, settings)
    assert not second.reused and second.instance_identifier != first.instance_identifier
    assert second.instance_identifier == instance_identifier(partition, month_end)
    assert tags_of(rds, second.instance_identifier)["bua:snapshot"] == month_end
    assert second.core_release == "R26.11.0" and first.core_release == "R26.10.3"
    copies = {m.identifier: m.snapshot for m in managed(rds, partition[:7]) if m.kind == "copy"}
    assert copies == {
        copy_identifier(partition, rehearsal): rehearsal,
        copy_identifier(partition, month_end): month_end,
    }
    # an ARN names the same snapshot as its identifier: the same instance, reused
    arn = rds.describe_db_snapshots(DBSnapshotIdentifier=month_end)["DBSnapshots"][0]["DBSnapshotArn"]
    assert instance_identifier(partition, arn) == second.instance_identifier


def test_retire_superseded_deletes_the_months_other_snapshots_instances_and_copies(aws):
    rds, secrets, rehearsal, _secret, partition = aws
    month_end = second_snapshot(rds, rehearsal, "monthend", "R26.11.0")
    settings = RestoreSettings(kms_key_id=kms_key(rds), **FAST)
    restore(rds, secrets, rehearsal, partition, settings)
    kept = restore(rds, secrets, month_end, partition, settings)
    other_month = f"{int(partition[:4]) - 1}-10-01"
    elsewhere = restore(rds, secrets, rehearsal, other_month, settings)  # another month: not this month's business
    try:
        retired = retire_superseded(rds, partition, month_end)
        assert sorted(r.split(" ")[:3] for r in retired) == [
            ["deleted", "copy", copy_identifier(partition, rehearsal)],
            ["deleted", "instance", instance_identifier(partition, rehearsal)],
        ]
        left = {(m.kind, m.identifier) for m in managed(rds, partition[:7])}
        assert left == {("instance", kept.instance_identifier), ("copy", copy_identifier(partition, month_end))}
        assert any(m.identifier == elsewhere.instance_identifier for m in managed(rds, other_month[:7]))
        assert retire_superseded(rds, partition, month_end) == []  # nothing more to retire
    finally:
        retire_superseded(rds, other_month, keep_snapshot="(none)")


def test_housekeeping_deletes_past_retention_except_the_promoted_snapshot_and_dry_run_deletes_nothing(aws):
    rds, secrets, rehearsal, _secret, partition = aws
    month_end = second_snapshot(rds, rehearsal, "monthend", None)
    settings = RestoreSettings(kms_key_id=kms_key(rds), **FAST)
    restore(rds, secrets, rehearsal, partition, settings)
    restore(rds, secrets, month_end, partition, settings)
    month = partition[:7]
    mine = {m.identifier for m in managed(rds, month)}
    keep = {month: month_end}

    def ours(lines):
        return sorted(line.split(" ")[:4] for line in lines if any(i in line for i in mine))

    assert ours(housekeeping(rds, timedelta(days=7), keep)) == []  # all younger than the retention
    later = datetime.now(UTC) + timedelta(days=8)
    would = ours(housekeeping(rds, timedelta(days=7), keep, now=later, dry_run=True))
    assert would == [
        ["would", "delete", "copy", copy_identifier(partition, rehearsal)],
        ["would", "delete", "instance", instance_identifier(partition, rehearsal)],
    ]
    assert {m.identifier for m in managed(rds, month)} == mine  # the dry run deleted nothing
    done = ours(housekeeping(rds, timedelta(days=7), keep, now=later))
    assert [d[:3] for d in done] == [
        ["deleted", "copy", copy_identifier(partition, rehearsal)],
        ["deleted", "instance", instance_identifier(partition, rehearsal)],
    ]
    assert {m.identifier for m in managed(rds, month)} == {
        instance_identifier(partition, month_end),
        copy_identifier(partition, month_end),
    }


def test_a_snapshot_without_the_release_tag_is_recorded_unknown_with_a_warning(aws, caplog):
    rds, secrets, snapshot, _secret, partition = aws
    untagged = second_snapshot(rds, snapshot, "untagged", None)
    with caplog.at_level("WARNING", logger="bua_assets.ops.rds"):
        restored = restore(rds, secrets, untagged, partition, RestoreSettings(**FAST))
    assert restored.core_release == "unknown"
    assert tags_of(rds, restored.instance_identifier)["bua:core-release"] == "unknown"
    assert any("no core:release tag" in r.getMessage() and untagged in r.getMessage() for r in caplog.records)


def test_teardown_only_after_a_successful_export_and_the_retention(aws):
    rds, secrets, snapshot, _secret, partition = aws
    restore(rds, secrets, snapshot, partition, RestoreSettings(**FAST))
    assert "not succeeded" in teardown(rds, partition, export_succeeded=False, retention=timedelta(0))
    assert "kept until" in teardown(rds, partition, export_succeeded=True, retention=timedelta(days=3))
    later = datetime.now(UTC) + timedelta(days=4)
    assert teardown(rds, partition, export_succeeded=True, retention=timedelta(days=3), now=later).endswith("deleted")
    assert "already torn down" in teardown(rds, partition, export_succeeded=True, retention=timedelta(0), now=later)


def test_identifiers_from_configuration_are_validated(aws):
    rds, secrets, snapshot, _secret, _ = aws
    # the instance identifier is made from the month, so a partition that is not one is refused first
    with pytest.raises(ValueError, match="not a month: 'bad;drop-01'"):
        restore(rds, secrets, snapshot, "bad;drop-01", RestoreSettings(**FAST))


def test_core_snapshot_restores_the_month_and_core_tables_reads_it_then_teardown_after_export(aws, tmp_path):
    import dagster as dg
    from support import CONFIG, PARTITION, mysql_url_or_skip

    from bua_assets.assets.core import core_snapshot, core_tables
    from bua_assets.core.database import CoreDatabase
    from bua_assets.jobs import bua_teardown
    from bua_assets.resources import AnonymiseResource, CoreDatabaseResource, LakeResource, RdsCoreResource
    from bua_synth.generator import generate

    rds, secrets, snapshot, _secret, _ = aws
    mysql_url = mysql_url_or_skip()
    generate(CONFIG, tmp_path / "retailer", mysql_url)  # the data path: the local MariaDB stands in for RDS
    reader = f"bua/core/reader-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=reader, SecretString=json.dumps({"username": "root", "password": ""}))
    # The master is root on the local MariaDB; a service user the snapshot carried with another password.
    master = f"bua/core/local-master-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=master, SecretString=json.dumps({"username": "root", "password": ""}))
    service_user, new_password = f"svc_{uuid.uuid4().hex[:6]}", f"Rotated-{uuid.uuid4().hex[:10]}"
    service = f"bua/core/service-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=service, SecretString=json.dumps({"username": service_user, "password": new_password}))
    import pymysql

    root = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with root.cursor() as cur:
        cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (service_user, "from-the-source-account"))
    resource = RdsCoreResource(
        mode="restore",
        master_secret_id=master,
        reader_secret_id=reader,
        service_secret_ids=[service],
        database=mysql_url.rsplit("/", 1)[1],
        endpoint_url=rds.meta.endpoint_url,
        data_host_override="127.0.0.1:3306",
    )
    resources = {
        "core_db": CoreDatabaseResource(url="sqlite:///unused.db"),
        "rds": resource,
        "anonymise": AnonymiseResource(),
        "lake": LakeResource(base=str(tmp_path / "lake")),
    }
    run_config = {"ops": {"core_snapshot": {"config": {"snapshot_identifier": snapshot}}}}
    try:
        with dg.instance_for_test() as instance:
            first = dg.materialize(
                [core_snapshot, core_tables],
                partition_key=PARTITION,
                instance=instance,
                resources=resources,
                run_config=run_config,
            )
            meta = first.asset_materializations_for_node("core_snapshot")[0].metadata
            assert first.success and meta["rds_instance"].value == instance_identifier(PARTITION, snapshot)
            assert meta["core_release"].value == "R26.10.3"
            assert meta["rds_reused"].value is False and meta["accounts"].value > 100
            pymysql.connect(host="127.0.0.1", user=service_user, password=new_password).close()  # rotated
            again = dg.materialize(
                [core_snapshot, core_tables],
                partition_key=PARTITION,
                instance=instance,
                resources=resources,
                run_config=run_config,
            )
            assert again.asset_materializations_for_node("core_snapshot")[0].metadata["rds_reused"].value is True

            def teardown_outcome(retention_days):
                result = bua_teardown.execute_in_process(
                    instance=instance,
                    resources={"rds": resource},
                    run_config={
                        "ops": {
                            "teardown_core_instance": {"config": {"month": PARTITION, "retention_days": retention_days}}
                        }
                    },
                )
                return result.output_for_node("teardown_core_instance")

            assert "export has not succeeded" in teardown_outcome(0)
            instance.report_runless_asset_event(dg.AssetMaterialization("bua_export", partition=PARTITION))
            assert "kept until" in teardown_outcome(30)
            assert teardown_outcome(0).endswith("deleted")
    finally:
        with root.cursor() as cur:
            cur.execute("DROP USER IF EXISTS %s@'%%'", (service_user,))
        root.close()
        CoreDatabase(mysql_url).drop_database()


def test_housekeeping_job_and_command_keep_the_official_snapshot_and_honour_retention_and_dry_run(
    aws, tmp_path, monkeypatch, capsys
):

    from bua_assets.billing.export import ExportFile, Target
    from bua_assets.billing.rehearsal import SnapshotRun, export_snapshot, promote
    from bua_assets.cli import main
    from bua_assets.jobs import bua_housekeeping
    from bua_assets.months import AccrualMonth
    from bua_assets.resources import ExportResource, RdsCoreResource

    rds, secrets, rehearsal, _secret, partition = aws
    month_end = second_snapshot(rds, rehearsal, "monthend", "R26.10.3")
    settings = RestoreSettings(kms_key_id=kms_key(rds), **FAST)
    restore(rds, secrets, rehearsal, partition, settings)
    restore(rds, secrets, month_end, partition, settings)
    # the month's official export is the month-end snapshot's (its promotion log says so)
    month = AccrualMonth.from_key(partition)
    export, integration = Target(str(tmp_path / "exports")), Target(str(tmp_path / "integration"))
    files = [ExportFile(f"BUA_AccrualSummary_{month.compact}.csv", b"a\n1\n", 1)]
    export_snapshot(files, month, SnapshotRun(month_end, None, False), export)
    promote(export, integration, month, month_end)
    bases = {"export_base": export.base, "integration_base": integration.base}
    mine = {m.identifier for m in managed(rds, month.label)}
    superseded = [
        ["copy", copy_identifier(partition, rehearsal)],
        ["instance", instance_identifier(partition, rehearsal)],
    ]

    def job(retention_days: float, dry_run: bool) -> list[list[str]]:
        result = bua_housekeeping.execute_in_process(
            resources={
                "rds": RdsCoreResource(
                    mode="restore", endpoint_url=rds.meta.endpoint_url, retention_days=retention_days
                ),
                "export": ExportResource(**bases),
            },
            run_config={"ops": {"delete_expired_rds": {"config": {"dry_run": dry_run}}}},
        )
        lines = result.output_for_node("delete_expired_rds")
        return sorted(line.split(" ")[:4] for line in lines if any(i in line for i in mine))

    assert job(7, dry_run=False) == []  # younger than the retention: kept
    assert job(0, dry_run=True) == [["would", "delete", *s] for s in superseded]
    assert {m.identifier for m in managed(rds, month.label)} == mine  # the dry run deleted nothing

    for name, value in {
        "BUA_RDS_MODE": "restore",
        "BUA_RDS_ENDPOINT_URL": rds.meta.endpoint_url,
        "BUA_RDS_RETENTION_DAYS": "0",
        "BUA_EXPORT_BASE": export.base,
        "BUA_INTEGRATION_BASE": integration.base,
    }.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["housekeeping", "--dry-run"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert sorted(line.split(" ")[2:4] for line in printed if any(i in line for i in mine)) == superseded
    assert main(["housekeeping"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert sorted(line.split(" ")[:3] for line in printed if any(i in line for i in mine)) == [
        ["deleted", *s] for s in superseded
    ]
    # the official snapshot's instance and copy outlive the retention
    assert {m.identifier for m in managed(rds, month.label)} == {
        instance_identifier(partition, month_end),
        copy_identifier(partition, month_end),
    }


def test_retirement_reports_an_api_refusal_instead_of_failing_the_promotion():
    class Refusing:
        def get_paginator(self, name):
            raise RuntimeError("AccessDenied: rds:DescribeDBInstances")

    assert retire_superseded(Refusing(), "2026-10-01", "bua-core-2026-11-01") == [
        "could not list 2026-10's managed RDS instances and copies: AccessDenied: rds:DescribeDBInstances"
    ]
