"""RDS restore and teardown against moto's RDS and Secrets Manager APIs."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from bua_assets.ops.rds import RestoreSettings, instance_identifier, restore, teardown

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
    rds.create_db_snapshot(DBInstanceIdentifier=source, DBSnapshotIdentifier=snapshot)
    secret = f"bua/core/master-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=secret, SecretString=json.dumps({"username": "admin", "password": "from-secrets"}))
    partition = f"20{uuid.uuid4().int % 90 + 10}-10-01"  # one month per test: instances are per month
    yield rds, secrets, snapshot, secret, partition
    for ident in (instance_identifier(partition), source):
        try:
            rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True)
        except rds.exceptions.ClientError:
            pass


def test_restore_copies_under_our_key_restores_and_a_rerun_reuses_it(aws):
    rds, secrets, snapshot, secret, partition = aws
    kms = boto3.client("kms", endpoint_url=rds.meta.endpoint_url, region_name=REGION)
    key = kms.create_key(Description="bua")["KeyMetadata"]["Arn"]
    settings = RestoreSettings(instance_class="db.r6g.large", kms_key_id=key, master_secret_id=secret, **FAST)
    first = restore(rds, secrets, snapshot, partition, settings)
    assert not first.reused and first.instance_identifier == instance_identifier(partition)
    assert first.host and first.port
    assert any("copied" in s for s in first.steps) and any(secret in s for s in first.steps)
    assert not any("from-secrets" in s for s in first.steps)  # the secret's name, never its value
    described = rds.describe_db_instances(DBInstanceIdentifier=first.instance_identifier)["DBInstances"][0]
    assert described["DBInstanceClass"] == "db.r6g.large" and not described.get("PubliclyAccessible", False)
    again = restore(rds, secrets, snapshot, partition, settings)
    assert again.reused and (again.host, again.port) == (first.host, first.port) and again.steps == []


def test_teardown_only_after_a_successful_export_and_the_retention(aws):
    rds, secrets, snapshot, secret, partition = aws
    restore(rds, secrets, snapshot, partition, RestoreSettings(**FAST))
    assert "not succeeded" in teardown(rds, partition, export_succeeded=False, retention=timedelta(0))
    assert "kept until" in teardown(rds, partition, export_succeeded=True, retention=timedelta(days=3))
    later = datetime.now(UTC) + timedelta(days=4)
    assert teardown(rds, partition, export_succeeded=True, retention=timedelta(days=3), now=later).endswith("deleted")
    assert "already torn down" in teardown(rds, partition, export_succeeded=True, retention=timedelta(0), now=later)


def test_identifiers_from_configuration_are_validated(aws):
    rds, secrets, snapshot, secret, _ = aws
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
    from bua_assets.synth.generator import generate

    rds, secrets, snapshot, secret, _ = aws
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
            assert first.success and meta["rds_instance"].value == instance_identifier(PARTITION)
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
