"""The production path on Kubernetes, without a cluster: BUA_EXECUTOR=k8s gives monthly_bua
dagster-k8s's k8s_job_executor, and the Job that executor's own step handler builds for a step
(the Kubernetes API mocked) carries the heavy steps' requests and takes secrets by reference only."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import zlib
from pathlib import Path
from unittest import mock

import dagster as dg
import pytest
import yaml
from test_prod_instance import postgres_db  # noqa: F401  (fixture: a fresh database on the local PostgreSQL)

from bua_assets.executors import build_executor, k8s_executor_config

REPO = Path(__file__).resolve().parents[1]
PARTITION = "2026-10-01"
# Secret values placed in the environment: none may appear in a pod spec or the step's arguments.
SECRETS = {
    "BUA_CORE_URL": "mysql+pymysql://bua_reader:Core-Pa55word-7f3a@core.internal:3306/core",
    "DAGSTER_PG_PASSWORD": "Pg-Pa55word-91c2",  # PostgreSQL runs with trust locally, so any value works
    "BUA_ANONYMISE_KEY": "anonymise-key-5d1e0c8b2a",
}
SECRET_FRAGMENTS = ["Core-Pa55word-7f3a", "Pg-Pa55word-91c2", "anonymise-key-5d1e0c8b2a"]
# unbilled_consumption's steps: the planning step's dynamic outputs, one heavy step per shard.
SHARD_PLAN_STEP = "unbilled_consumption.plan_unbilled_shards"
SHARD_STEP = "unbilled_consumption.unbilled_consumption_shard[shard_{:05d}]"
IMAGE = "123456789012.dkr.ecr.ap-southeast-2.amazonaws.com/bua-assets:test"
FAKE_KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "current-context": "fake",
    "clusters": [{"name": "fake", "cluster": {"server": "https://127.0.0.1:9"}}],
    "users": [{"name": "fake", "user": {"token": "not-a-token"}}],
    "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}],
}


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("BUA_EXECUTOR", "BUA_K8S_"))} | env
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=full_env, capture_output=True, text=True, timeout=300
    )


# ---------------------------------------------------------------------------------------------
# The executor is chosen by configuration


def test_executor_choice():
    # Unset: one process per run (the local UI and the demo); production sets k8s.
    assert build_executor(None) is dg.in_process_executor and build_executor("") is dg.in_process_executor
    assert build_executor("in_process") is dg.in_process_executor
    assert build_executor("multiprocess") is dg.multiprocess_executor
    with pytest.raises(ValueError, match="BUA_EXECUTOR must be one of in_process, multiprocess, k8s"):
        build_executor("kubernetes")


def test_k8s_executor_config_takes_names_only():
    env = {
        "BUA_K8S_NAMESPACE": "bua",
        "BUA_K8S_SECRETS": "bua-dagster-secrets, bua-core-reader,",
        "BUA_K8S_CONFIGMAPS": "bua-dagster-env",
    }
    assert k8s_executor_config(env) == {
        "job_namespace": "bua",
        "env_secrets": ["bua-dagster-secrets", "bua-core-reader"],
        "env_config_maps": ["bua-dagster-env"],
    }
    assert k8s_executor_config({}) == {}  # everything inherited from the K8sRunLauncher
    # A value pasted where a name belongs is refused, and not repeated in the message.
    with pytest.raises(ValueError, match="BUA_K8S_SECRETS: item 2 is not a Kubernetes object name") as raised:
        k8s_executor_config({"BUA_K8S_SECRETS": "bua-dagster-secrets,Core-Pa55word-7f3a"})
    assert "Pa55word" not in str(raised.value)


def test_production_definitions_load_with_the_k8s_executor():
    """definitions.py as the code server and run worker load it, with BUA_EXECUTOR=k8s."""
    code = """
import json
from dagster_k8s import k8s_job_executor
from bua_assets.definitions import defs
out = {}
for name in ("monthly_bua", "bua_teardown"):
    executor = defs.resolve_job_def(name).executor_def
    out[name] = [executor.name, executor.executor_creation_fn is k8s_job_executor.executor_creation_fn]
print(json.dumps(out))
"""
    result = _python(code, BUA_EXECUTOR="k8s", BUA_K8S_SECRETS="bua-extra")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "monthly_bua": ["k8s", True],
        "bua_teardown": ["k8s", True],
    }
    default = _python(code)
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout.strip().splitlines()[-1])["monthly_bua"] == ["in_process", False]
    bad = _python(code, BUA_EXECUTOR="kubernetes")
    assert bad.returncode != 0 and "BUA_EXECUTOR must be one of" in bad.stderr


def test_dagster_definitions_validate_with_the_k8s_executor(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUA_K8S_")} | {
        "BUA_EXECUTOR": "k8s",
        "DAGSTER_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [str(Path(sys.executable).with_name("dagster")), "definitions", "validate", "-m", "bua_assets.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All code locations passed validation" in result.stdout + result.stderr


def test_deploy_configmap_selects_the_k8s_executor_and_holds_no_secrets():
    manifest = yaml.safe_load((REPO / "deploy" / "k8s" / "bua-dagster-env.yaml").read_text())
    launcher = yaml.safe_load((REPO / "deploy" / "dagster.prod.yaml").read_text())["run_launcher"]["config"]
    assert manifest["kind"] == "ConfigMap" and manifest["metadata"]["name"] in launcher["env_config_maps"]
    data = manifest["data"]
    assert data["BUA_EXECUTOR"] == "k8s"
    assert build_executor(data["BUA_EXECUTOR"], data).name == "k8s"
    assert not set(data) & set(SECRETS), "secrets belong in the Secret named by env_secrets"


# ---------------------------------------------------------------------------------------------
# The step Jobs the k8s executor's step handler builds (Kubernetes API mocked)


@pytest.fixture
def k8s_instance(postgres_db, tmp_path, monkeypatch):  # noqa: F811  (the imported fixture)
    """The production instance (deploy/dagster.prod.yaml, K8sRunLauncher included) on the local
    PostgreSQL, pointed at a fake kubeconfig instead of the in-cluster one."""
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BUA_K8S_NAMESPACE", "bua")
    monkeypatch.setenv("DAGSTER_CURRENT_IMAGE", IMAGE)  # what the code server's pod is started with
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(FAKE_KUBECONFIG))
    config = yaml.safe_load((REPO / "deploy" / "dagster.prod.yaml").read_text())
    config["run_launcher"]["config"].update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def _step_job(instance, step_key: str, executor_env: dict, shards: int = 1):
    """The V1Job dagster-k8s's K8sStepHandler submits for ``step_key`` of monthly_bua, with the
    executor built exactly as definitions.py builds it for BUA_EXECUTOR=k8s; the run's
    unbilled_consumption planned in ``shards`` shards (its dynamic steps resolved, as the
    orchestrator does once the planning step has yielded its outputs)."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import create_execution_plan
    from dagster._core.execution.context.system import PlanData, PlanOrchestrationContext
    from dagster._core.execution.context_creation_job import create_context_free_log_manager
    from dagster._core.execution.plan.state import KnownExecutionState
    from dagster._core.execution.plan.step import ExecutionStep
    from dagster._core.execution.retries import RetryMode
    from dagster._core.executor.init import InitExecutorContext
    from dagster._core.executor.step_delegating import StepDelegatingExecutor
    from dagster._core.executor.step_delegating.step_handler.base import StepHandlerContext
    from dagster._core.system_config.objects import ResolvedRunConfig
    from dagster._core.test_utils import create_run_for_test
    from dagster._grpc.types import ExecuteStepArgs
    from dagster_k8s.client import DagsterKubernetesClient
    from dagster_k8s.executor import K8sStepHandler

    from bua_assets.definitions import ALL_ASSETS, build_resources
    from bua_assets.jobs import monthly_bua_job

    # The run's origin is the production code location, with the image the code server runs.
    recon_job = ReconstructableRepository.for_module(
        "bua_assets.definitions",
        "defs",
        str(REPO),
        container_image=os.environ["DAGSTER_CURRENT_IMAGE"],
    ).get_reconstructable_job("monthly_bua")
    executor_def = build_executor("k8s", executor_env)
    k8s_job = dg.Definitions(
        assets=ALL_ASSETS, jobs=[monthly_bua_job], resources=build_resources(), executor=executor_def
    ).resolve_job_def("monthly_bua")
    assert k8s_job.executor_def is executor_def
    executor_config = ResolvedRunConfig.build(k8s_job, {}).execution.execution_engine_config
    assert executor_def.executor_creation_fn is not None
    executor = executor_def.executor_creation_fn(
        InitExecutorContext(
            job=recon_job, executor_def=executor_def, executor_config=executor_config, instance=instance
        )
    )
    assert isinstance(executor, StepDelegatingExecutor)
    handler = executor._step_handler
    assert isinstance(handler, K8sStepHandler)
    batch_api = mock.MagicMock()
    handler._api_client = DagsterKubernetesClient.production_client(
        batch_api_override=batch_api, core_api_override=mock.MagicMock()
    )

    run = create_run_for_test(
        instance,
        job_name="monthly_bua",
        job_code_origin=recon_job.get_python_origin(),
        tags={"dagster/partition": PARTITION},
    )
    known_state = KnownExecutionState(
        dynamic_mappings={SHARD_PLAN_STEP: {"result": [f"shard_{i:05d}" for i in range(shards)]}}
    )
    plan = create_execution_plan(recon_job, known_state=known_state)
    plan_context = PlanOrchestrationContext(
        plan_data=PlanData(
            job=recon_job,
            dagster_run=run,
            instance=instance,
            execution_plan=plan,
            raise_on_error=True,
            retry_mode=RetryMode.DISABLED,
        ),
        log_manager=create_context_free_log_manager(instance, run),
        executor=executor,
        output_capture=None,
    )
    args = ExecuteStepArgs(
        job_origin=recon_job.get_python_origin(),
        run_id=run.run_id,
        step_keys_to_execute=[step_key],
        instance_ref=instance.get_ref(),
        known_state=known_state,
    )
    steps = [s for s in plan.steps if isinstance(s, ExecutionStep)]  # the steps a handler can launch
    context = StepHandlerContext(
        instance=instance, plan_context=plan_context, steps=steps, execute_step_args=args, dagster_run=run
    )
    events = list(handler.launch_step(context))
    assert events and events[0].event_type_value == "STEP_WORKER_STARTING"
    (call,) = [c for c in batch_api.method_calls if c[0] == "create_namespaced_job"]
    return call.kwargs["namespace"], call.kwargs["body"]


def _serialized(body) -> str:
    import kubernetes

    return json.dumps(kubernetes.client.ApiClient().sanitize_for_serialization(body))


def _step_args(container) -> str:
    """The step's arguments as dagster-k8s hands them over (compressed, base64 in the env)."""
    (value,) = [e.value for e in container.env if e.name == "DAGSTER_COMPRESSED_EXECUTE_STEP_ARGS"]
    return zlib.decompress(base64.b64decode(value)).decode()


@pytest.mark.parametrize(
    "step_key", ["interval_reads", "interval_statistics", SHARD_STEP.format(0), "invoice_line_items"]
)
def test_heavy_step_pod_requests_resources_and_takes_secrets_by_reference(k8s_instance, step_key):
    namespace, body = _step_job(k8s_instance, step_key, {"BUA_K8S_SECRETS": "bua-core-reader"})
    assert namespace == "bua"  # the launcher's job_namespace (BUA_K8S_NAMESPACE)
    pod = body.spec.template.spec
    (container,) = pod.containers
    assert container.resources.requests == {"cpu": "2", "memory": "6Gi"}
    assert container.resources.limits == {"cpu": "2", "memory": "10Gi"}  # the CPU limit is what DuckDB reads
    assert container.image == IMAGE
    assert pod.service_account_name == "bua-dagster-run"
    assert body.metadata.labels["dagster/op"] == step_key.replace("[", "-").replace("]", "")
    assert container.args[-2:] == ["api", "execute_step"]

    # Secrets by reference: the launcher's Secret and the executor's extra one, as envFrom.
    secret_refs = [source.secret_ref.name for source in container.env_from if source.secret_ref]
    config_map_refs = [source.config_map_ref.name for source in container.env_from if source.config_map_ref]
    assert secret_refs == ["bua-dagster-secrets", "bua-core-reader"]
    assert "bua-dagster-env" in config_map_refs
    for env in container.env:  # literal env holds no secret variable; a secretKeyRef would be fine
        assert env.name not in SECRETS or (env.value is None and env.value_from.secret_key_ref is not None)

    # No secret value anywhere: the Job, the pod spec, nor the step's arguments (which carry the
    # instance reference, its PostgreSQL password still as {"env": "DAGSTER_PG_PASSWORD"}).
    everything = _serialized(body) + _step_args(container)
    assert "DAGSTER_PG_PASSWORD" in _step_args(container)
    for fragment in SECRET_FRAGMENTS:
        assert fragment not in everything, f"a secret value reached the {step_key} step Job"


def test_every_shard_step_is_its_own_pod_sized_as_a_heavy_step(k8s_instance):
    """unbilled_consumption in three shards: three step Jobs, each with the heavy requests and
    limits (the shard op's dagster-k8s/config tags); planning and committing are light steps."""
    jobs = [_step_job(k8s_instance, SHARD_STEP.format(i), {}, shards=3)[1] for i in range(3)]
    assert len({job.metadata.name for job in jobs}) == 3
    for job in jobs:
        (container,) = job.spec.template.spec.containers
        assert container.resources.requests == {"cpu": "2", "memory": "6Gi"}
        assert container.resources.limits == {"cpu": "2", "memory": "10Gi"}
    for step_key in (SHARD_PLAN_STEP, "unbilled_consumption.commit_unbilled_consumption"):
        _, body = _step_job(k8s_instance, step_key, {}, shards=3)
        (container,) = body.spec.template.spec.containers
        assert container.resources is None or not (container.resources.requests or container.resources.limits)


@pytest.mark.parametrize("step_key", ["core_tables", "unbilled_window", "utility_profiles", "bua_export"])
def test_light_step_pod_requests_nothing_extra(k8s_instance, step_key):
    _, body = _step_job(k8s_instance, step_key, {})
    (container,) = body.spec.template.spec.containers
    assert container.resources is None or not (container.resources.requests or container.resources.limits)
    assert [s.secret_ref.name for s in container.env_from if s.secret_ref] == ["bua-dagster-secrets"]
    everything = _serialized(body) + _step_args(container)
    for fragment in SECRET_FRAGMENTS:
        assert fragment not in everything
