"""The production path as files (deploy/): the Dockerfile, the Helm values for the official
dagster/dagster chart, the ConfigMaps and the Secrets (by reference) in deploy/k8s, and the
instance deploy/dagster.prod.yaml. Every ConfigMap and Secret any of them names is defined; every
variable the resources read is provided by one; the chart's instance is the production instance
(run monitoring included); and the Job dagster-k8s builds for a heavy step under these values
carries the step's requests and no secret value. No cluster: the chart's own wiring of these
values (its templates' names and keys) is reproduced here, and dagster-k8s builds the Job."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
VALUES = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
PROD = yaml.safe_load((DEPLOY / "dagster.prod.yaml").read_text())
# What the chart itself defines, from its templates: the instance ConfigMap "<fullname>-instance".
CHART_DAGSTER_HOME = "/opt/dagster/dagster_home"  # the chart's default dagsterHome
# The variables that hold secrets: only ever in a Secret, never in a ConfigMap or a file here.
SECRET_VARIABLES = {"BUA_CORE_URL", "BUA_ANONYMISE_KEY", "DAGSTER_PG_PASSWORD"}
SECRET_VALUES = {
    "BUA_CORE_URL": "mysql+pymysql://bua_reader:Core-Pa55word-7f3a@core.internal:3306/core",
    "BUA_ANONYMISE_KEY": "anonymise-key-5d1e0c8b2a",
    "DAGSTER_PG_PASSWORD": "Pg-Pa55word-91c2",
}
# The heavy ops (unbilled_consumption's is the op each of its account shards runs).
HEAVY_STEPS = ["interval_reads", "interval_statistics", "unbilled_consumption_shard", "invoice_line_items"]


def _manifests() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return docs


def _commented_keys(path: Path) -> set[str]:
    """Keys documented but left unset (``# BUA_X: ...``) in a ConfigMap file: the default applies."""
    return set(re.findall(r"^\s*#\s*([A-Z][A-Z0-9_]+):", path.read_text(), flags=re.M))


def _defined() -> tuple[set[str], set[str]]:
    """(ConfigMap names, Secret names) that deploy/k8s and the chart define."""
    config_maps, secrets = set(), set()
    for doc in _manifests():
        if doc["kind"] == "ConfigMap":
            config_maps.add(doc["metadata"]["name"])
        elif doc["kind"] == "Secret":
            secrets.add(doc["metadata"]["name"])
        elif doc["kind"] == "ExternalSecret":
            secrets.add(doc["spec"].get("target", {}).get("name") or doc["metadata"]["name"])
    config_maps.add(_chart_instance_config_map())
    return config_maps, secrets


def _chart_instance_config_map() -> str:
    return f"{VALUES['fullnameOverride']}-instance"


def _env_config_map() -> dict:
    (doc,) = [d for d in _manifests() if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "bua-dagster-env"]
    return doc


def _secret_keys() -> dict[str, set[str]]:
    """Secret name -> the keys it will hold (an ExternalSecret's secretKeys; a Secret's keys)."""
    keys: dict[str, set[str]] = {}
    for doc in _manifests():
        if doc["kind"] == "ExternalSecret":
            name = doc["spec"].get("target", {}).get("name") or doc["metadata"]["name"]
            keys.setdefault(name, set()).update(item["secretKey"] for item in doc["spec"]["data"])
        elif doc["kind"] == "Secret":
            keys.setdefault(doc["metadata"]["name"], set()).update(
                (doc.get("data") or {}) | (doc.get("stringData") or {})
            )
    return keys


def _names(items) -> list[str]:
    """The chart's envConfigMaps / envSecrets entries ({name: ...}) as names."""
    return [item["name"] for item in items or []]


def _deployment() -> dict:
    (deployment,) = VALUES["dagster-user-deployments"]["deployments"]
    return deployment


def _launcher() -> dict:
    assert VALUES["runLauncher"]["type"] == "K8sRunLauncher"
    return VALUES["runLauncher"]["config"]["k8sRunLauncher"]


def _env_refs(node) -> set[str]:
    """Every {"env": NAME} in an instance config."""
    if isinstance(node, dict):
        found = {node["env"]} if set(node) == {"env"} else set()
        for value in node.values():
            found |= _env_refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_env_refs(v) for v in node)) if node else set()
    return set()


# ---------------------------------------------------------------------------------------------
# The files parse, and name only what is defined


def test_every_manifest_parses_and_lives_in_the_bua_namespace():
    docs = _manifests()
    assert {d["kind"] for d in docs} >= {"ConfigMap", "ExternalSecret", "SecretStore", "ServiceAccount"}
    for doc in docs:
        assert doc["apiVersion"] and doc["metadata"]["name"] and doc["metadata"]["namespace"] == "bua"
    assert _launcher()["jobNamespace"] == "bua" == _env_config_map()["data"]["BUA_K8S_NAMESPACE"]


def test_every_configmap_and_secret_named_is_defined():
    config_maps, secrets = _defined()
    deployment, launcher = _deployment(), _launcher()
    executor_env = _env_config_map()["data"]
    referenced_config_maps = {
        # the Helm values
        *_names(deployment.get("envConfigMaps")),
        *_names(launcher.get("envConfigMaps")),
        *_names(VALUES.get("dagsterDaemon", {}).get("envConfigMaps")),
        *_names(VALUES.get("dagsterWebserver", {}).get("envConfigMaps")),
        # the production instance
        PROD["run_launcher"]["config"]["instance_config_map"],
        *PROD["run_launcher"]["config"]["env_config_maps"],
        # the k8s executor's own additions (bua_assets/executors.py)
        *[n.strip() for n in executor_env.get("BUA_K8S_CONFIGMAPS", "").split(",") if n.strip()],
    }
    referenced_secrets = {
        *_names(deployment.get("envSecrets")),
        *_names(launcher.get("envSecrets")),
        *_names(VALUES.get("dagsterDaemon", {}).get("envSecrets")),
        *_names(VALUES.get("dagsterWebserver", {}).get("envSecrets")),
        VALUES["global"]["postgresqlSecretName"],
        *PROD["run_launcher"]["config"]["env_secrets"],
        *[n.strip() for n in executor_env.get("BUA_K8S_SECRETS", "").split(",") if n.strip()],
    }
    assert referenced_config_maps <= config_maps, sorted(referenced_config_maps - config_maps)
    assert referenced_secrets <= secrets, sorted(referenced_secrets - secrets)
    # The instance ConfigMap dagster.prod.yaml names is the one the chart makes from these values.
    assert PROD["run_launcher"]["config"]["instance_config_map"] == _chart_instance_config_map()
    # The chart reads the database password from its Secret's postgresql-password key.
    assert "postgresql-password" in _secret_keys()[VALUES["global"]["postgresqlSecretName"]]
    # One service account, defined here (the chart creates none): the pods', and the store's.
    accounts = {d["metadata"]["name"] for d in _manifests() if d["kind"] == "ServiceAccount"}
    assert VALUES["serviceAccount"]["create"] is False
    assert VALUES["dagster-user-deployments"]["serviceAccount"]["create"] is False
    assert VALUES["global"]["serviceAccountName"] == PROD["run_launcher"]["config"]["service_account_name"]
    assert VALUES["global"]["serviceAccountName"] in accounts
    # The ExternalSecrets' store is defined, and authenticates as the pods' service account.
    stores = {d["metadata"]["name"]: d for d in _manifests() if d["kind"] == "SecretStore"}
    for doc in _manifests():
        if doc["kind"] == "ExternalSecret":
            assert doc["spec"]["secretStoreRef"]["name"] in stores
    for store in stores.values():
        assert store["spec"]["provider"]["aws"]["service"] == "SecretsManager"
        assert (
            store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
            == (VALUES["global"]["serviceAccountName"])
        )


# Names in the product's code that are not settings a deployment gives, and why.
NOT_DEPLOYMENT_SETTINGS = {
    "BUA_ESTIMATE": "a read type the estimator writes, not a variable",
    "BUA_HOME": "the embedded default's folder; production names every location instead",
    "BUA_GIT_SHA": "baked into the image at build time (deploy/Dockerfile), not configured",
    "AWS_ENDPOINT_URL": "a delta-rs storage option the lake passes (from BUA_S3_ENDPOINT_URL), not read",
    "AWS_ALLOW_HTTP": "a delta-rs storage option the lake passes (an http endpoint), not read",
}


def settings_read() -> set[str]:
    """Every BUA_/AWS_/DAGSTER_ variable the product reads, anywhere in bua_assets."""
    names = set()
    for path in (REPO / "bua_assets").rglob("*.py"):
        names |= set(re.findall(r"[\"']((?:BUA|AWS|DAGSTER)_[A-Z0-9_]+)[\"']", path.read_text()))
    return names - set(NOT_DEPLOYMENT_SETTINGS)


def test_every_setting_the_product_reads_is_in_the_readme_table():
    table = {
        name
        for line in (REPO / "README.md").read_text().splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`((?:BUA|AWS|DAGSTER)_[A-Z0-9_]+)`", line.split("|")[1])
    }
    missing = sorted(settings_read() - table - {"DAGSTER_HOME", "DAGSTER_CURRENT_IMAGE"})
    assert not missing, f"read by bua_assets, not in the README's settings table: {missing}"


def test_every_setting_the_resources_read_is_provided_and_secrets_only_by_secret():
    read = settings_read() - {"DAGSTER_HOME", "DAGSTER_CURRENT_IMAGE"}  # set by the chart and dagster-k8s
    read |= _env_refs(PROD)  # DAGSTER_PG_* in the production instance
    assert {"BUA_LAKE", "BUA_CORE_URL", "BUA_ANONYMISE_KEY", "DAGSTER_PG_PASSWORD"} <= read

    config_map_keys, config_map_documented = set(), set()
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "ConfigMap":
                config_map_keys |= set(doc.get("data") or {})
                config_map_documented |= _commented_keys(path)
    secret_keys = set().union(*_secret_keys().values())
    provided = config_map_keys | config_map_documented | secret_keys
    assert read <= provided, f"read by the code, in no ConfigMap or Secret: {sorted(read - provided)}"

    # Secrets only in a Secret, and everything a Secret holds is one.
    assert SECRET_VARIABLES <= secret_keys
    assert not (config_map_keys | config_map_documented) & SECRET_VARIABLES
    # Storage on S3: a pod's own disk goes with it, and every step is a pod.
    data = _env_config_map()["data"]
    for variable in ("BUA_LAKE", "BUA_METER_DATA", "BUA_EXPORT_BASE", "BUA_INTEGRATION_BASE"):
        assert data[variable].startswith("s3://"), variable
    # The configuration the ConfigMap gives is one the code accepts.
    from bua_assets.executors import build_executor

    assert build_executor(data["BUA_EXECUTOR"], data).name == "k8s"


def _password_values(node, path=()) -> list[tuple]:
    """Every key naming a password (or secret, key, token) whose value is a literal string."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if re.search(r"(?i)password|secret|token|apikey", str(key)) and isinstance(value, str) and value:
                found.append((*path, key))
            found += _password_values(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _password_values(value, (*path, index))
    return found


# Keys whose string value is a name or a Secrets Manager id, not a secret.
NAMES_NOT_SECRETS = {"postgresqlSecretName", "secretKey", "postgres_password_secret"}


def test_no_secret_value_in_any_deploy_file():
    for path in sorted(p for p in DEPLOY.rglob("*") if p.is_file()):
        text = path.read_text()
        for value in SECRET_VALUES.values():
            assert value not in text
        if path.suffix == ".yaml":
            for doc in yaml.safe_load_all(text):
                found = [keys for keys in _password_values(doc) if keys[-1] not in NAMES_NOT_SECRETS]
                assert not found, (path, found)
    for doc in _manifests():
        assert doc["kind"] != "Secret" or not (doc.get("data") or doc.get("stringData")), "a Secret with values"
    assert "postgresqlPassword" not in VALUES.get("postgresql", {})
    assert VALUES["generatePostgresqlPasswordSecret"] is False
    assert not _launcher().get("envVars"), "envVars copies the launching process's values into pod specs"


# ---------------------------------------------------------------------------------------------
# The chart's instance is the production instance


def _chart_instance() -> dict:
    """The parts of dagster.yaml the chart writes into its instance ConfigMap from these values
    (its templates' mapping: runCoordinator, runLauncher, runRetries, telemetry,
    additionalInstanceConfig), in dagster.yaml's own terms."""
    daemon = VALUES["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    launcher = _launcher()
    instance = {
        "run_coordinator": {
            "module": "dagster._core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
            },
        },
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": {
                "instance_config_map": _chart_instance_config_map(),
                "job_namespace": launcher["jobNamespace"],
                "service_account_name": VALUES["global"]["serviceAccountName"],
                "env_config_maps": _names(launcher["envConfigMaps"]),
                "env_secrets": _names(launcher["envSecrets"]),
                "postgres_password_secret": VALUES["global"]["postgresqlSecretName"],
                "dagster_home": CHART_DAGSTER_HOME,
                "load_incluster_config": launcher["loadInclusterConfig"],
                "image_pull_policy": launcher["imagePullPolicy"],
            },
        },
        "run_retries": {"enabled": daemon["runRetries"]["enabled"], "max_retries": daemon["runRetries"]["maxRetries"]},
        "telemetry": {"enabled": VALUES["telemetry"]["enabled"]},
    }
    if daemon["runMonitoring"]["enabled"]:
        instance["run_monitoring"] = {
            "enabled": True,
            "start_timeout_seconds": daemon["runMonitoring"]["startTimeoutSeconds"],
        }
    for key, value in VALUES.get("additionalInstanceConfig", {}).items():
        assert key not in instance, f"{key} would be written twice into the chart's dagster.yaml"
        instance[key] = value
    return instance


def test_the_chart_instance_is_the_production_instance_with_run_monitoring():
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema

    chart = _chart_instance()
    # A lost pod fails its run: monitoring with a start timeout and a maximum runtime, in both.
    for instance in (PROD, chart):
        monitoring = instance["run_monitoring"]
        assert monitoring["enabled"] is True
        assert 300 <= monitoring["start_timeout_seconds"] <= 3600
        assert 3600 <= monitoring["max_runtime_seconds"] <= 24 * 3600
    assert chart["run_monitoring"] == PROD["run_monitoring"]
    assert chart["run_coordinator"] == PROD["run_coordinator"]
    assert chart["telemetry"] == PROD["telemetry"]
    assert chart["run_retries"]["max_retries"] == PROD["run_retries"]["max_retries"]
    # retry_on_asset_or_op_failure: the chart leaves Dagster's default, which is what prod sets.
    assert PROD["run_retries"]["retry_on_asset_or_op_failure"] is True
    prod_launcher, chart_launcher = PROD["run_launcher"]["config"], chart["run_launcher"]["config"]
    for key in ("instance_config_map", "service_account_name", "env_config_maps", "env_secrets"):
        assert chart_launcher[key] == prod_launcher[key], key
    # The chart's PostgreSQL settings are the env ConfigMap's DAGSTER_PG_* (dagster.prod.yaml's).
    pg, data = VALUES["postgresql"], _env_config_map()["data"]
    assert pg["enabled"] is False
    assert (pg["postgresqlHost"], str(pg["service"]["port"]), pg["postgresqlDatabase"], pg["postgresqlUsername"]) == (
        data["DAGSTER_PG_HOST"],
        data["DAGSTER_PG_PORT"],
        data["DAGSTER_PG_DB"],
        data["DAGSTER_PG_USER"],
    )
    assert pg["postgresqlScheme"] == PROD["storage"]["postgres"]["postgres_db"]["scheme"]
    # Both are instances Dagster accepts (unknown keys, wrong types), as its own schema says.
    for instance in (PROD, chart):
        result = validate_config(dagster_instance_config_schema(), instance)
        assert result.success, result.errors


# ---------------------------------------------------------------------------------------------
# The image is the one the chart runs


def _dockerfile() -> list[tuple[str, str]]:
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_builds_the_code_location_the_chart_runs():
    instructions = _dockerfile()
    kinds = [kind for kind, _ in instructions]
    assert "ENTRYPOINT" not in kinds, "the chart and dagster-k8s give the whole command as args"
    for kind, rest in instructions:
        if kind == "FROM":
            assert re.match(r"python:3\.1[1-9]-slim\b", rest), rest
        if kind == "COPY" and "--from" not in rest:
            *sources, _target = rest.split()
            for source in sources:
                assert (REPO / source).exists(), source
    # The package from pyproject.toml (its pinned dependencies), installed from the wheels built.
    runs = " ".join(rest for kind, rest in instructions if kind == "RUN")
    assert "pip wheel" in runs and re.search(r"--wheel-dir /wheels \.(\s|$)", runs)
    assert "--no-index --find-links /wheels bua-assets" in runs
    # Non-root, the same user as the pod security context.
    (user,) = [rest for kind, rest in instructions if kind == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0
    pod_security = _deployment()["podSecurityContext"]
    assert pod_security["runAsNonRoot"] is True and pod_security["runAsUser"] == int(uid)
    # DAGSTER_HOME where the chart mounts the instance ConfigMap.
    env = " ".join(rest for kind, rest in instructions if kind == "ENV")
    assert f"DAGSTER_HOME={CHART_DAGSTER_HOME}" in env
    # The default command is the chart's: dagster api grpc on the deployment's port, with its args.
    (cmd,) = [rest for kind, rest in instructions if kind == "CMD"]
    deployment = _deployment()
    assert (
        json.loads(cmd)
        == ["dagster", "api", "grpc", "-h", "0.0.0.0", "-p", str(deployment["port"])]
        + (deployment["dagsterApiGrpcArgs"])
    )
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "bua_assets.definitions"]
    assert deployment["image"]["tag"] != "latest" and deployment["includeConfigInLaunchedRuns"]["enabled"]
    # The module the code server loads is the project's code location.
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'module_name = "bua_assets.definitions"' in pyproject


# ---------------------------------------------------------------------------------------------
# The heavy step's pod under these values


def _heavy_step_job(step_key: str):
    """The V1Job dagster-k8s builds for ``step_key`` of a run launched from this code location
    under these values: the launcher's config as the chart writes it, the user deployment's
    ConfigMaps and Secrets (includeConfigInLaunchedRuns), the executor's additions (none set in
    the env ConfigMap), and the step's own dagster-k8s/config op tag."""
    from dagster_k8s.job import DagsterK8sJobConfig, construct_dagster_k8s_job, get_user_defined_k8s_config

    from bua_assets.definitions import ALL_ASSETS

    launcher = _chart_instance()["run_launcher"]["config"]
    deployment = _deployment()
    image = f"{deployment['image']['repository']}:{deployment['image']['tag']}"
    job_config = DagsterK8sJobConfig(
        job_image=image,
        dagster_home=launcher["dagster_home"],
        image_pull_policy=launcher["image_pull_policy"],
        service_account_name=launcher["service_account_name"],
        instance_config_map=launcher["instance_config_map"],
        postgres_password_secret=launcher["postgres_password_secret"],
        env_config_maps=list(dict.fromkeys(launcher["env_config_maps"] + _names(deployment["envConfigMaps"]))),
        env_secrets=list(dict.fromkeys(launcher["env_secrets"] + _names(deployment["envSecrets"]))),
    )
    ops = {op.name: op for a in ALL_ASSETS for op in a.node_def.iterate_op_defs()}
    user_defined = get_user_defined_k8s_config(ops[step_key].tags)
    return construct_dagster_k8s_job(
        job_config,
        args=["dagster", "api", "execute_step"],
        job_name=f"dagster-step-{step_key.replace('_', '-')}",
        user_defined_k8s_config=user_defined,
        labels={"dagster/op": step_key},
    )


@pytest.mark.parametrize("step_key", HEAVY_STEPS)
def test_heavy_step_pod_under_these_values_requests_resources_and_holds_no_secret(step_key, monkeypatch):
    import kubernetes

    from bua_assets.assets.heavy import HEAVY

    # The secrets are in the environment that builds the Job: none may reach it.
    for variable, value in SECRET_VALUES.items():
        monkeypatch.setenv(variable, value)
    body = _heavy_step_job(step_key)
    pod = body.spec.template.spec
    (container,) = pod.containers
    wanted = HEAVY["dagster-k8s/config"]["container_config"]["resources"]
    assert container.resources.requests == wanted["requests"]
    assert container.resources.limits == wanted["limits"]
    assert pod.service_account_name == VALUES["global"]["serviceAccountName"]

    serialized = kubernetes.client.ApiClient().sanitize_for_serialization(body)
    text = json.dumps(serialized)
    for value in SECRET_VALUES.values():
        assert value not in text, f"a secret value reached the {step_key} Job"
    # Secrets by reference only: envFrom secretRef, or env valueFrom secretKeyRef; never a value.
    for env in container.env or []:
        assert env.name not in SECRET_VARIABLES or (env.value is None and env.value_from.secret_key_ref), env
    (pg_password,) = [e for e in container.env if e.name == "DAGSTER_PG_PASSWORD"]
    ref = pg_password.value_from.secret_key_ref
    assert ref.key in _secret_keys()[ref.name]
    # Every ConfigMap and Secret the pod names is defined (deploy/k8s, or the chart's instance).
    config_maps, secrets = _defined()
    named_config_maps = {s.config_map_ref.name for s in container.env_from if s.config_map_ref}
    named_config_maps |= {v.config_map.name for v in pod.volumes or [] if v.config_map}
    named_secrets = {s.secret_ref.name for s in container.env_from if s.secret_ref}
    named_secrets |= {e.value_from.secret_key_ref.name for e in container.env if e.value_from}
    named_secrets |= {v.secret.secret_name for v in pod.volumes or [] if v.secret}
    # (dagster-k8s 0.29 no longer mounts instance_config_map into run and step pods: the instance
    # travels in the step's arguments, as an instance reference whose password is {"env": ...}.)
    assert named_config_maps <= config_maps and named_secrets <= secrets
    assert named_secrets >= {"bua-dagster-secrets", VALUES["global"]["postgresqlSecretName"]}
