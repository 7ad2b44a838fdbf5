"""Every AWS resource connects one way (resources/aws.py, dagster-aws's boto3 configuration): the
region from the resource or boto3's own chain (never a region written in code), the endpoint and
dagster-aws's retries, against a moto server over HTTP."""

from __future__ import annotations

import uuid

from bua_assets.resources import (
    AnalystCatalogResource,
    EksNodegroupResource,
    ExportResource,
    LakeResource,
    MeterDataResource,
    NotifyResource,
    RdsCoreResource,
)
from bua_assets.resources.aws import AwsResource
from bua_assets.resources.earl_queue import EarlQueueResource


def test_every_aws_resource_shares_the_dagster_aws_connection_fields():
    for resource in (
        AnalystCatalogResource,
        EksNodegroupResource,
        ExportResource,
        LakeResource,
        MeterDataResource,
        NotifyResource,
        RdsCoreResource,
        EarlQueueResource,
    ):
        assert issubclass(resource, AwsResource), resource
        assert {"region_name", "endpoint_url", "max_attempts", "profile_name"} <= set(resource.model_fields)
        assert resource.model_fields["region_name"].default is None, resource  # no region written in code


def test_the_region_comes_from_the_resource_or_the_environment_and_retries_from_dagster_aws(moto_endpoint, monkeypatch):
    monkeypatch.setenv("AWS_REGION", "ap-southeast-4")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-southeast-4")
    from_env = NotifyResource(endpoint_url=moto_endpoint).client()
    assert from_env.meta.region_name == "ap-southeast-4"
    # dagster-aws's retry config: max_attempts retries (5 by default) after the first attempt
    assert from_env.meta.config.retries == {"mode": "standard", "total_max_attempts": 6}
    named = NotifyResource(endpoint_url=moto_endpoint, region_name="eu-west-1", max_attempts=2).client()
    assert named.meta.region_name == "eu-west-1" and named.meta.config.retries["total_max_attempts"] == 3
    topic = named.create_topic(Name=f"bua-{uuid.uuid4().hex[:6]}")["TopicArn"]
    assert ":eu-west-1:" in topic  # the request really went to the endpoint in that region


def test_s3_and_secrets_manager_clients_come_from_dagster_aws_constructors(moto_endpoint, tmp_path):
    export = ExportResource(
        export_base="s3://bua-exports/x",
        integration_base=str(tmp_path),
        endpoint_url=moto_endpoint,
        region_name="ap-southeast-2",
    )
    s3 = export.s3_client()
    s3.create_bucket(Bucket="bua-exports", CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
    on_s3, local = export.targets()
    on_s3.put("export/csv/a.csv", b"a,b\n")
    assert on_s3.get("export/csv/a.csv") == b"a,b\n" and local.list("export/csv") == []
    secrets = RdsCoreResource(endpoint_url=moto_endpoint, region_name="ap-southeast-2").secretsmanager_client()
    name = f"bua/reader-{uuid.uuid4().hex[:6]}"
    secrets.create_secret(Name=name, SecretString='{"username": "bua"}')
    assert secrets.get_secret_value(SecretId=name)["SecretString"] == '{"username": "bua"}'


def test_the_definitions_take_region_endpoints_and_service_secrets_from_the_environment(monkeypatch):
    from bua_assets.definitions import build_resources

    monkeypatch.setenv("AWS_REGION", "ap-southeast-4")
    monkeypatch.setenv("BUA_SQS_ENDPOINT_URL", "http://sqs.local:4566")
    monkeypatch.setenv("BUA_RDS_SERVICE_SECRETS", "bua/reporting, bua/etl,")
    resources = {name: r.process_config_and_initialize() for name, r in build_resources().items()}
    aws = {name: r for name, r in resources.items() if isinstance(r, AwsResource)}
    assert set(aws) == {"lake", "meter_data", "earl_queue", "rds", "eks", "catalog", "notify", "export"}
    assert {r.region_name for r in aws.values()} == {"ap-southeast-4"}
    assert resources["earl_queue"].endpoint_url == "http://sqs.local:4566" and resources["lake"].endpoint_url is None
    assert resources["rds"].service_secret_ids == ["bua/reporting", "bua/etl"]
