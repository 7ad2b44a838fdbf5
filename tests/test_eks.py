"""Heavy-step capacity against moto's EKS and DynamoDB: by default nothing is scaled (the cluster
autoscaler's job); in counted mode leases keep the node group up until the last step ends."""

from __future__ import annotations

import threading
import uuid

import boto3
import pytest

from bua_assets.ops.capacity import CountedCapacity, LeaseSettings, NodeGroup
from bua_assets.resources.eks import EksNodegroupResource

REGION = "ap-southeast-2"


def desired(eks, cluster, nodegroup) -> int:
    return eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]["scalingConfig"][
        "desiredSize"
    ]


@pytest.fixture
def nodegroup(moto_endpoint):
    """(eks client, cluster, lease table) with node group ``heavy`` at 0 nodes and an empty lease table."""
    eks = boto3.client("eks", endpoint_url=moto_endpoint, region_name=REGION)
    cluster = f"bua-{uuid.uuid4().hex[:6]}"
    eks.create_cluster(name=cluster, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    eks.create_nodegroup(
        clusterName=cluster,
        nodegroupName="heavy",
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=["subnet-1"],
        scalingConfig={"minSize": 0, "maxSize": 4, "desiredSize": 0},
    )
    table = f"bua-leases-{uuid.uuid4().hex[:6]}"
    boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION).create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "nodegroup", "KeyType": "HASH"}, {"AttributeName": "lease", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "nodegroup", "AttributeType": "S"},
            {"AttributeName": "lease", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return eks, cluster, table


def counted(moto_endpoint, cluster, table, **fields) -> EksNodegroupResource:
    return EksNodegroupResource(
        cluster_name=cluster,
        nodegroup_name="heavy",
        nodes=3,
        lease_table=table,
        endpoint_url=moto_endpoint,
        dynamodb_endpoint_url=moto_endpoint,
        region_name=REGION,
        **fields,
    )


def test_two_concurrent_heavy_steps_keep_capacity_until_both_end(moto_endpoint, nodegroup):
    eks, cluster, table = nodegroup
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, int] = {}
    errors: list[BaseException] = []

    def first_step():
        try:
            with counted(moto_endpoint, cluster, table).scaled_up(holder="interval_statistics:2026-09-01"):
                first_in.set()
                assert second_in.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)
        finally:
            first_out.set()

    def second_step():
        try:
            assert first_in.wait(30)
            with counted(moto_endpoint, cluster, table).scaled_up(holder="interval_statistics:2026-10-01"):
                second_in.set()
                assert first_out.wait(30)
                seen["after first ended"] = desired(eks, cluster, "heavy")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
            second_in.set()

    threads = [threading.Thread(target=first_step), threading.Thread(target=second_step)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert seen == {"after first ended": 3}  # the first step's end left the second its nodes
    assert desired(eks, cluster, "heavy") == 0  # the last one out scaled to zero


def test_counted_mode_releases_on_failure(moto_endpoint, nodegroup):
    eks, cluster, table = nodegroup
    scaler = counted(moto_endpoint, cluster, table)
    with pytest.raises(RuntimeError, match="step failed"):
        with scaler.scaled_up():
            assert desired(eks, cluster, "heavy") == 3
            raise RuntimeError("step failed")
    assert desired(eks, cluster, "heavy") == 0
    assert scaler.capacity().live_leases() == []


def test_an_expired_lease_of_a_crashed_step_does_not_hold_capacity(moto_endpoint, nodegroup):
    eks, cluster, table = nodegroup
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    group = NodeGroup(cluster, "heavy", 3)
    now = [1_000_000.0]
    capacity = CountedCapacity(dynamodb, eks, group, LeaseSettings(table=table, lease_seconds=60), clock=lambda: now[0])
    crashed = capacity.acquire("crashed-step")  # never released, never renewed
    live = capacity.acquire("live-step")
    assert desired(eks, cluster, "heavy") == 3
    now[0] += 30
    capacity.renew(live)
    now[0] += 45  # the crashed step's lease is 75 s old: expired; the live one was renewed 45 s ago
    assert capacity.live_leases() == [live]
    assert capacity.release(live) is True  # no unexpired lease left: scaled to zero
    assert desired(eks, cluster, "heavy") == 0
    assert crashed not in capacity.live_leases()


def test_a_live_lease_holds_capacity_when_another_is_released(moto_endpoint, nodegroup):
    eks, cluster, table = nodegroup
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    capacity = CountedCapacity(dynamodb, eks, NodeGroup(cluster, "heavy", 3), LeaseSettings(table=table))
    first, second = capacity.acquire("a"), capacity.acquire("b")
    assert capacity.release(first) is False and desired(eks, cluster, "heavy") == 3
    assert capacity.release(second) is True and desired(eks, cluster, "heavy") == 0


def test_by_default_capacity_is_left_to_the_autoscaler(moto_endpoint, nodegroup, monkeypatch):
    eks, cluster, _ = nodegroup
    scaler = EksNodegroupResource(cluster_name=cluster, nodegroup_name="heavy", nodes=3, endpoint_url=moto_endpoint)

    def no_aws(*args, **kwargs):
        raise AssertionError("the default mode scales nothing, so it creates no AWS client")

    monkeypatch.setattr(boto3.session.Session, "client", no_aws)
    ran = []
    with scaler.scaled_up():
        ran.append(True)
    monkeypatch.undo()
    assert ran == [True] and desired(eks, cluster, "heavy") == 0


def test_without_a_cluster_it_does_nothing(monkeypatch):
    def no_aws(*args, **kwargs):
        raise AssertionError("no AWS client may be created without a cluster")

    monkeypatch.setattr(boto3, "client", no_aws)
    monkeypatch.setattr(boto3.session.Session, "client", no_aws)
    messages, ran = [], []

    class Log:
        def info(self, message):
            messages.append(message)

    with EksNodegroupResource(lease_table="bua-leases").scaled_up(Log()):
        ran.append(True)
    assert ran == [True] and messages == []  # the step ran, and nothing was scaled or said


def test_a_lease_whose_scale_up_failed_is_not_left_behind(moto_endpoint, nodegroup):
    eks, cluster, table = nodegroup
    dynamodb = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name=REGION)
    missing = CountedCapacity(dynamodb, eks, NodeGroup(cluster, "no-such-group", 3), LeaseSettings(table=table))
    with pytest.raises(eks.exceptions.ResourceNotFoundException):
        missing.acquire("step")
    assert missing.live_leases() == []


def test_a_failed_release_is_reported_and_does_not_fail_the_finished_step(moto_endpoint, nodegroup, monkeypatch):
    _eks, cluster, table = nodegroup
    scaler = counted(moto_endpoint, cluster, table)
    errors: list[str] = []

    class Log:
        def info(self, message):
            pass

        def error(self, message):
            errors.append(message)

    def release_refused(self, lease):
        raise RuntimeError("DynamoDB unreachable")

    monkeypatch.setattr(CountedCapacity, "release", release_refused)
    with scaler.scaled_up(Log(), holder="unbilled_consumption:2026-10-01"):
        pass  # the step's work is done
    assert len(errors) == 1 and "the lease could not be released (DynamoDB unreachable)" in errors[0]
    assert "expires after 1800 s" in errors[0]
