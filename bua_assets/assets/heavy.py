"""The heavy steps' Kubernetes resources (interval_reads, interval_statistics, each account shard
of unbilled_consumption, invoice_line_items): the steps whose time and memory grow with the month's
data (README, Sizing).

Under the k8s executor each step is its own pod, and these op tags (dagster-k8s/config) become the
heavy pods' requests and limits. The CPU limit is what the step's DuckDB sizes its threads by
(bua_assets.compute reads the pod's cgroup); the memory limit leaves DuckDB 40% and the rest to
Arrow and numpy.
"""

HEAVY = {
    "dagster-k8s/config": {
        "container_config": {
            "resources": {"requests": {"cpu": "2", "memory": "6Gi"}, "limits": {"cpu": "2", "memory": "10Gi"}}
        }
    }
}
