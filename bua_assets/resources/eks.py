from collections.abc import Iterator
from contextlib import contextmanager

from bua_assets.ops.capacity import CountedCapacity, LeaseSettings, NodeGroup
from bua_assets.resources.aws import AwsResource


class EksNodegroupResource(AwsResource):
    """Capacity for the heavy steps. Default (no ``lease_table``): the cluster autoscaler adds
    nodes from the step pods' requests and removes them when idle; we never scale, so a step can
    never pull nodes from under another. Opt-in counted mode (``lease_table`` set, with a cluster
    and node group): each step holds a DynamoDB lease, scales the group up if needed and, on
    release, to zero only when no unexpired lease remains (bua_assets/ops/capacity.py)."""

    cluster_name: str = ""
    nodegroup_name: str = ""
    nodes: int = 2  # desired size while a heavy step runs (counted mode; preflight checks maxSize)
    lease_table: str = ""  # DynamoDB table of the leases; empty: the autoscaler's default
    dynamodb_endpoint_url: str = ""  # DynamoDB endpoint (VPC endpoint, moto in tests); empty: AWS default
    lease_seconds: float = 1800.0  # a crashed step's lease stops counting after this

    @property
    def counted(self) -> bool:
        return bool(self.cluster_name and self.lease_table)

    def capacity(self) -> CountedCapacity:
        return CountedCapacity(
            self.boto3_client("dynamodb", self.dynamodb_endpoint_url or None),
            self.boto3_client("eks"),
            NodeGroup(self.cluster_name, self.nodegroup_name, self.nodes),
            LeaseSettings(table=self.lease_table, lease_seconds=self.lease_seconds),
        )

    @contextmanager
    def scaled_up(self, log=None, holder: str = "step") -> Iterator[None]:
        if not self.counted:
            yield  # the autoscaler provides the nodes from the pod's requests
            return
        group = f"{self.cluster_name}/{self.nodegroup_name}"

        def release_failed(exc: Exception) -> None:
            if log:
                log.error(
                    f"node group {group}: the lease could not be released ({exc}); it expires after "
                    f"{self.lease_seconds:.0f} s and the next release scales the group down"
                )

        with self.capacity().held(holder, on_release_error=release_failed) as lease:
            if log:
                log.info(f"node group {group}: lease {lease} taken, at least {self.nodes} nodes")
            yield
        if log:
            log.info(f"node group {group}: lease {lease} released")
