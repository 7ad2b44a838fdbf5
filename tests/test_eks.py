"""The node group scaler against moto's EKS API: up for the step, back to zero even when it fails."""

from __future__ import annotations

import uuid

import boto3
import pytest

from bua_assets.resources.eks import EksNodegroupResource


def desired(eks, cluster, nodegroup) -> int:
    return eks.describe_nodegroup(clusterName=cluster, nodegroupName=nodegroup)["nodegroup"]["scalingConfig"][
        "desiredSize"
    ]


def test_scales_up_for_the_step_and_to_zero_after_even_on_failure(moto_endpoint):
    eks = boto3.client("eks", endpoint_url=moto_endpoint, region_name="ap-southeast-2")
    cluster = f"bua-{uuid.uuid4().hex[:6]}"
    eks.create_cluster(name=cluster, roleArn="arn:aws:iam::123456789012:role/eks", resourcesVpcConfig={})
    eks.create_nodegroup(
        clusterName=cluster,
        nodegroupName="heavy",
        nodeRole="arn:aws:iam::123456789012:role/node",
        subnets=["subnet-1"],
        scalingConfig={"minSize": 0, "maxSize": 4, "desiredSize": 0},
    )
    scaler = EksNodegroupResource(cluster_name=cluster, nodegroup_name="heavy", nodes=3, endpoint_url=moto_endpoint)
    with scaler.scaled_up():
        assert desired(eks, cluster, "heavy") == 3
    assert desired(eks, cluster, "heavy") == 0
    with pytest.raises(RuntimeError, match="step failed"):
        with scaler.scaled_up():
            assert desired(eks, cluster, "heavy") == 3
            raise RuntimeError("step failed")
    assert desired(eks, cluster, "heavy") == 0


def test_without_a_cluster_it_does_nothing(monkeypatch):
    import boto3

    def no_aws(*args, **kwargs):
        raise AssertionError("no AWS client may be created without a cluster")

    monkeypatch.setattr(boto3, "client", no_aws)
    messages, ran = [], []

    class Log:
        def info(self, message):
            messages.append(message)

    with EksNodegroupResource().scaled_up(Log()):
        ran.append(True)
    assert ran == [True] and messages == []  # the step ran, and nothing was scaled or said
