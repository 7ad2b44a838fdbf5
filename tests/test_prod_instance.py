"""The production instance profile (deploy/dagster.prod.yaml) on the local PostgreSQL: storage,
coordinator and retries as configured, the K8s run launcher swapped for the default one."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import dagster as dg
import pytest
import yaml
from support import PARTITION

from bua_assets.assets.core import core_snapshot, core_tables
from bua_assets.resources import local_resources

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def postgres_db(monkeypatch):
    psycopg2 = pytest.importorskip("psycopg2")
    name = f"bua_dagster_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
    except psycopg2.OperationalError as exc:
        if os.getenv("BUA_REQUIRE_POSTGRES"):
            pytest.fail(f"BUA_REQUIRE_POSTGRES is set but PostgreSQL is unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432 ({exc}); set BUA_REQUIRE_POSTGRES=1 to make this fail")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    for key, value in {
        "DAGSTER_PG_HOST": "127.0.0.1",
        "DAGSTER_PG_PORT": "5432",
        "DAGSTER_PG_DB": name,
        "DAGSTER_PG_USER": "postgres",
        "DAGSTER_PG_PASSWORD": "not-needed-under-trust",
    }.items():
        monkeypatch.setenv(key, value)
    yield name
    admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def test_production_profile_materialises_a_partition_on_postgres(postgres_db, retailer, tmp_path):
    config = yaml.safe_load((REPO / "deploy" / "dagster.prod.yaml").read_text())
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    del config["run_launcher"]  # no cluster here: the default launcher runs in process
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        limits = instance.run_coordinator.get_run_queue_config().tag_concurrency_limits
        assert limits == [{"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
        folder, url = retailer
        result = dg.materialize(
            [core_snapshot, core_tables],
            instance=instance,
            partition_key=PARTITION,
            resources=local_resources(url, str(folder / "nem12"), tmp_path),
        )
        assert result.success
        (run,) = instance.get_runs()
        assert run.tags["dagster/partition"] == PARTITION
        assert instance.get_latest_materialization_event(dg.AssetKey("core_tables")) is not None
