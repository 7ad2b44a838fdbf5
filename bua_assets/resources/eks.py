from collections.abc import Iterator
from contextlib import contextmanager

from bua_assets.resources.aws import AwsResource


class EksNodegroupResource(AwsResource):
    """Scales an EKS node group up for a heavy step and back to zero afterwards, even when the
    step fails (the legacy ScaleUp / ScaleDown). No cluster configured: a no-op (local runs)."""

    cluster_name: str = ""
    nodegroup_name: str = ""
    nodes: int = 2  # desired size while a heavy step runs

    def _set(self, eks, desired: int) -> None:
        eks.update_nodegroup_config(
            clusterName=self.cluster_name,
            nodegroupName=self.nodegroup_name,
            scalingConfig={"minSize": 0, "maxSize": max(self.nodes, 1), "desiredSize": desired},
        )

    @contextmanager
    def scaled_up(self, log=None) -> Iterator[None]:
        if not self.cluster_name:
            yield
            return
        eks = self.boto3_client("eks")
        self._set(eks, self.nodes)
        if log:
            log.info(f"node group {self.cluster_name}/{self.nodegroup_name} scaled to {self.nodes}")
        try:
            yield
        finally:
            self._set(eks, 0)
            if log:
                log.info(f"node group {self.cluster_name}/{self.nodegroup_name} scaled to 0")
