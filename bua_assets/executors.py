"""Which executor runs the jobs, chosen by configuration (BUA_EXECUTOR, read once in
bua_assets/definitions.py), never by editing code:

  (unset)       in_process: the local default, for the demo and the UI (a month's steps in one process
                take seconds; a process per step spent minutes starting Python and Dagster)
  in_process    every step in the run worker's process
  multiprocess  every step in its own process on the run worker
  k8s           dagster-k8s's k8s_job_executor: every step in its own Kubernetes Job (pod), with the
                step's ``dagster-k8s/config`` op tags (the heavy steps' CPU and memory requests) applied

The k8s executor inherits the K8sRunLauncher's settings (deploy/dagster.prod.yaml: namespace,
service account, ``env_config_maps``, ``env_secrets``, instance ConfigMap); the image is the code
location's (DAGSTER_CURRENT_IMAGE, as dagster-k8s does) unless the launcher names one. These add
to it, by name only (values never enter the pod spec):

  BUA_K8S_NAMESPACE   namespace of the step Jobs (default: the launcher's job_namespace)
  BUA_K8S_SECRETS     comma-separated Kubernetes Secret names, loaded into every step pod (envFrom secretRef)
  BUA_K8S_CONFIGMAPS  comma-separated ConfigMap names, loaded into every step pod (envFrom configMapRef)
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import dagster as dg

EXECUTORS = ("in_process", "multiprocess", "k8s")
# A Kubernetes object name (DNS subdomain): what a Secret or ConfigMap may be called.
_K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def build_executor(kind: str | None, env: Mapping[str, str] = os.environ) -> dg.ExecutorDefinition:
    """The executor for ``kind`` (a BUA_EXECUTOR value); in_process when empty."""
    kind = (kind or "").strip().lower().replace("-", "_") or "in_process"
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "multiprocess":
        return dg.multiprocess_executor
    if kind == "k8s":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(k8s_executor_config(env), name="k8s")
    raise ValueError(f"BUA_EXECUTOR must be one of {', '.join(EXECUTORS)} (or unset), got {kind!r}")


def k8s_executor_config(env: Mapping[str, str] = os.environ) -> dict:
    """The k8s_job_executor's config from BUA_K8S_NAMESPACE, BUA_K8S_SECRETS and
    BUA_K8S_CONFIGMAPS (names only); what is unset is inherited from the K8sRunLauncher."""
    config: dict = {}
    namespace = env.get("BUA_K8S_NAMESPACE", "").strip()
    if namespace:
        config["job_namespace"] = _names("BUA_K8S_NAMESPACE", namespace)[0]
    for variable, key in (("BUA_K8S_SECRETS", "env_secrets"), ("BUA_K8S_CONFIGMAPS", "env_config_maps")):
        names = _names(variable, env.get(variable, ""))
        if names:
            config[key] = names
    return config


def _names(variable: str, value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    for position, name in enumerate(names, 1):
        if not _K8S_NAME.match(name):
            # The value is not echoed: a secret pasted here by mistake must not reach the logs.
            raise ValueError(
                f"{variable}: item {position} is not a Kubernetes object name (lowercase letters, "
                f"digits, '-' and '.'; it names a Secret or ConfigMap, never holds a value)"
            )
    return names
