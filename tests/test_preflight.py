"""Preflight (issue 24): before a month's run, every part it needs answers, or the failure names it
(the embedded default on disk; AWS parts on the moto server)."""

from __future__ import annotations

import shutil
import sqlite3
import uuid

import boto3
import dagster as dg

from bua_assets.preflight_job import bua_preflight, preflight_findings
from bua_assets.resources import (
    CoreDatabaseResource,
    EksNodegroupResource,
    ExportResource,
    LakeResource,
    MeterDataResource,
    NotifyResource,
    RdsCoreResource,
)
from bua_assets.resources.earl_queue import EarlQueueResource


def local(retailer, tmp_path, **overrides) -> dict:
    folder, url = retailer
    resources = {
        "core_db": CoreDatabaseResource(url=url),
        "rds": RdsCoreResource(),
        "lake": LakeResource(base=str(tmp_path / "lake")),
        "meter_data": MeterDataResource(location=str(folder / "nem12")),
        "export": ExportResource(export_base=str(tmp_path / "exports"), integration_base=str(tmp_path / "integration")),
        "earl_queue": EarlQueueResource(queue_url=""),
        "notify": NotifyResource(),
        "eks": EksNodegroupResource(),
    }
    return resources | overrides


def verdicts(findings) -> dict[str, bool]:
    return {f.name: f.ok for f in findings}


def test_the_embedded_default_passes_and_each_broken_part_is_named(retailer, tmp_path):
    findings = preflight_findings("2026-10", **local(retailer, tmp_path))
    assert all(f.ok for f in findings), [str(f) for f in findings]
    assert [f.name for f in findings] == [
        "core", "meter_data", "lake", "export", "integration", "earl_queue", "notify", "eks",
    ]  # fmt: skip
    assert "contract met" in findings[0].detail
    assert not list((tmp_path / "lake").rglob("*.txt"))  # the probes leave nothing behind

    # A CORE that lost a table, a month with no meter data, a lake that cannot be written.
    broken = tmp_path / "core.db"
    shutil.copy(retailer[1].removeprefix("sqlite:///"), broken)
    with sqlite3.connect(broken) as con:
        con.execute("DROP TABLE PlanRate")
    (tmp_path / "a-file").write_text("not a folder")
    findings = preflight_findings(
        "2019-01",
        **local(
            retailer,
            tmp_path,
            core_db=CoreDatabaseResource(url=f"sqlite:///{broken}"),
            lake=LakeResource(base=str(tmp_path / "a-file" / "lake")),
        ),
    )
    by_name = {f.name: f for f in findings}
    assert verdicts(findings) == {
        "core": False, "meter_data": False, "lake": False, "export": True,
        "integration": True, "earl_queue": True, "notify": True, "eks": True,
    }  # fmt: skip
    assert "PlanRate: missing_table" in by_name["core"].detail
    assert f"no meter-data folder {retailer[0] / 'nem12' / '2019-01'}" in by_name["meter_data"].detail


def test_aws_parts_answer_or_are_named_on_moto(retailer, tmp_path, moto_endpoint):
    region = "ap-southeast-2"
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name=region)
    bucket = f"bua-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_object(Bucket=bucket, Key="nem12/2026-10/a.csv", Body=b"100,NEM12\n")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=region)
    queue = sqs.create_queue(QueueName=f"earl-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    topic = boto3.client("sns", endpoint_url=moto_endpoint, region_name=region).create_topic(Name="bua-pf")["TopicArn"]
    eks = boto3.client("eks", endpoint_url=moto_endpoint, region_name=region)
    cluster = f"bua-{uuid.uuid4().hex[:6]}"
    eks.create_cluster(name=cluster, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    eks.create_nodegroup(
        clusterName=cluster,
        nodegroupName="heavy",
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=["subnet-1"],
        scalingConfig={"minSize": 0, "maxSize": 4, "desiredSize": 0},
    )
    aws = {"endpoint_url": moto_endpoint, "region_name": region}
    good = local(
        retailer,
        tmp_path,
        lake=LakeResource(base=f"s3://{bucket}/lake", **aws),
        meter_data=MeterDataResource(location=f"s3://{bucket}/nem12", **aws),
        export=ExportResource(export_base=f"s3://{bucket}/exports", integration_base=f"s3://{bucket}/int", **aws),
        earl_queue=EarlQueueResource(queue_url=queue, **aws),
        notify=NotifyResource(topic_arn=topic, **aws),
        eks=EksNodegroupResource(cluster_name=cluster, nodegroup_name="heavy", nodes=2, **aws),
    )
    findings = preflight_findings("2026-10", **good)
    assert all(f.ok for f in findings), [str(f) for f in findings]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="lake/_preflight").get("KeyCount") == 0

    bad = good | {
        "lake": LakeResource(base=f"s3://{bucket}-gone/lake", **aws),
        "meter_data": MeterDataResource(location=f"s3://{bucket}/nem12", **aws),
        "earl_queue": EarlQueueResource(queue_url=queue + "-gone", **aws),
        "notify": NotifyResource(topic_arn=topic + "-gone", **aws),
        "eks": EksNodegroupResource(cluster_name=cluster, nodegroup_name="heavy", nodes=8, **aws),
    }
    findings = preflight_findings("2026-11", **bad)
    assert verdicts(findings) == {
        "core": True, "meter_data": False, "lake": False, "export": True,
        "integration": True, "earl_queue": False, "notify": False, "eks": False,
    }  # fmt: skip
    by_name = {f.name: f for f in findings}
    assert f"no meter data under s3://{bucket}/nem12/2026-11/" in by_name["meter_data"].detail
    assert "max 4 nodes (heavy steps want 8)" in by_name["eks"].detail


def test_the_preflight_job_fails_naming_what_failed(retailer, tmp_path):
    result = bua_preflight.execute_in_process(
        run_config={"ops": {"preflight_checks": {"config": {"month": "2019-01"}}}},
        resources=local(retailer, tmp_path),
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "preflight: 1 of 8 checks failed: meter_data: PreflightError: no meter-data folder" in str(
        failure.step_failure_data.error.message
    )
    assert bua_preflight.execute_in_process(
        run_config={"ops": {"preflight_checks": {"config": {"month": "2026-10"}}}}, resources=local(retailer, tmp_path)
    ).success
