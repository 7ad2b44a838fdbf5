from __future__ import annotations

import os
from pathlib import Path

# The tests' months (generated worlds from 2024 on) are partitions whatever a developer's
# .bua_home holds: the first partition is fixed here, before bua_assets.partitions is imported
# (tests of the data-derived default pass their own environment to first_month()).
os.environ.setdefault("BUA_FIRST_MONTH", "2023-09-01")

import pytest
from support import CONFIG

from bua_synth.generator import generate

REPO = Path(__file__).resolve().parents[1]
# AEMO's example NEM12 files, vendored with their licence (tests/data/nem12-samples/README.md).
SAMPLES = Path(__file__).resolve().parent / "data" / "nem12-samples"


@pytest.fixture(scope="session")
def nem12_samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"AEMO NEM12 samples not found at {SAMPLES}")
    return SAMPLES


@pytest.fixture(scope="session")
def retailer(tmp_path_factory) -> tuple[Path, str]:
    """The small generated retailer (folder, embedded CORE URL), built once per test session."""
    out = tmp_path_factory.mktemp("retailer")
    url = f"sqlite:///{out / 'core.db'}"
    generate(CONFIG, out, url)
    return out, url


@pytest.fixture(scope="session")
def moto_endpoint():
    """A moto server in server mode on loopback: real HTTP, the AWS APIs the project uses."""
    from moto.server import ThreadedMotoServer
    from support import free_port

    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "ap-southeast-2",
            "AWS_REGION": "ap-southeast-2",
        }
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint):
    """A fresh bucket on the moto server; returns (endpoint, bucket, boto3 client)."""
    import uuid

    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="ap-southeast-2")
    name = f"bua-test-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"})
    return moto_endpoint, name, s3


# --- operations (issue 16) -----------------------------------------------------------------------
REHEARSAL_TAGS = {
    "bua/snapshot": "bua-core-2026-10-29",
    "bua/snapshot_created": "2026-10-28T13:00:00+00:00",
    "bua/note": "rehearsal before month end",
}


@pytest.fixture(scope="session")
def operations_month(retailer, tmp_path_factory):
    """The small retailer's month materialised once, as a rehearsal on a snapshot taken before month
    end, in a Dagster instance kept for the session (the run-status sensor tests read its records)."""
    import dagster as dg
    from support import PARTITION

    from bua_assets.definitions import ALL_ASSETS
    from bua_assets.lake import Lake
    from bua_assets.resources import LakeResource, local_resources
    from bua_assets.runner import backfill_interval_history

    folder, url = retailer
    home = tmp_path_factory.mktemp("operations")
    resources = local_resources(url, str(folder / "nem12"), home) | {"lake": LakeResource(base=str(home / "lake"))}
    with dg.instance_for_test() as instance:
        backfill_interval_history(PARTITION, instance, resources)
        result = dg.materialize(
            ALL_ASSETS,
            partition_key=PARTITION,
            resources=resources,
            instance=instance,
            tags=REHEARSAL_TAGS,
            raise_on_error=False,
        )
        assert result.success
        yield {
            "home": home,
            "lake": Lake(str(home / "lake")),
            "instance": instance,
            "resources": resources,
            "run_id": result.run_id,
        }
