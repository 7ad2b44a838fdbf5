"""The CSV export as bua_export writes it (the snapshot's folder, then promotion to the integration
prefix): manifest last, the month's earlier files replaced, and an S3 target (moto server) that
fails halfway never shows a partial export; a rerun completes it."""

from __future__ import annotations

import hashlib
import json

import pytest

from bua_assets.billing.export import INTEGRATION_PREFIX, ExportFile, Target
from bua_assets.billing.rehearsal import NO_SNAPSHOT, SnapshotRun, export_snapshot, promote, snapshot_folder
from bua_assets.months import AccrualMonth

MONTH = AccrualMonth.from_key("2026-10")
RUN = SnapshotRun(NO_SNAPSHOT, None, False)


def files(version: str) -> list[ExportFile]:
    return [
        ExportFile(f"BUA_{name}_202610.csv", f"a,b\n{version},{name}\n".encode(), 1)
        for name in ("InvoiceLineItemMonthly", "AccountSummary", "AccrualSummary")
    ]


def export_month(files: list[ExportFile], export: Target, integration: Target) -> list[str]:
    """What bua_export does for an official run: the snapshot's export, then its promotion."""
    export_snapshot(files, MONTH, RUN, export)
    return promote(export, integration, MONTH, RUN.snapshot)


def manifest_ok(target: Target, folder: str) -> bool:
    body = json.loads(target.get(f"{folder}/BUA_manifest_202610.json"))
    return all(hashlib.sha256(target.get(f"{folder}/{f['name']}")).hexdigest() == f["sha256"] for f in body["files"])


def test_local_export_replaces_the_months_earlier_files_and_writes_the_manifest_last(tmp_path):
    export, integration = Target(str(tmp_path / "exports")), Target(str(tmp_path / "integration"))
    integration.put(f"{INTEGRATION_PREFIX}/BUA_AccountSummary_202609.csv", b"september")  # another month: kept
    integration.put(f"{INTEGRATION_PREFIX}/BUA_Stale_202610.csv", b"from an earlier run")  # same month: removed
    delivered = export_month(files("v1"), export, integration)
    assert delivered[-1].endswith(f"{INTEGRATION_PREFIX}/BUA_manifest_202610.json")
    names = [n.rsplit("/", 1)[-1] for n in integration.list(INTEGRATION_PREFIX)]
    assert names == [
        "BUA_AccountSummary_202609.csv",
        "BUA_AccountSummary_202610.csv",
        "BUA_AccrualSummary_202610.csv",
        "BUA_InvoiceLineItemMonthly_202610.csv",
        "BUA_manifest_202610.json",
    ]
    assert manifest_ok(integration, INTEGRATION_PREFIX) and manifest_ok(export, snapshot_folder(MONTH, NO_SNAPSHOT))
    export_month(files("v2"), export, integration)
    assert integration.get(f"{INTEGRATION_PREFIX}/BUA_AccountSummary_202610.csv").startswith(b"a,b\nv2")


class FailingTarget(Target):
    """An S3 target whose connection drops after ``ok`` writes."""

    def __init__(self, *args, ok: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.ok = ok

    def put(self, name, data):
        if self.ok == 0:
            raise ConnectionError("connection reset while writing " + name)
        self.ok -= 1
        super().put(name, data)


def test_s3_export_failing_halfway_shows_no_partial_export_and_a_rerun_completes_it(s3_bucket, tmp_path):
    endpoint, bucket, s3 = s3_bucket
    export = Target(f"s3://{bucket}/exports", endpoint)
    good = Target(f"s3://{bucket}/integration", endpoint)
    export_month(files("v1"), export, good)  # last month's complete run
    assert manifest_ok(good, INTEGRATION_PREFIX)
    failing = FailingTarget(f"s3://{bucket}/integration", endpoint, ok=1)
    with pytest.raises(ConnectionError):
        export_month(files("v2"), export, failing)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="integration/")["Contents"]]
    # The month's manifest was withdrawn before anything changed: no reader takes this as complete.
    assert f"integration/{INTEGRATION_PREFIX}/BUA_manifest_202610.json" not in keys
    assert len([k for k in keys if k.endswith("_202610.csv")]) == 1  # one new file got through
    export_month(files("v2"), export, good)
    assert manifest_ok(good, INTEGRATION_PREFIX)
    body = json.loads(good.get(f"{INTEGRATION_PREFIX}/BUA_manifest_202610.json"))
    assert [f["rows"] for f in body["files"]] == [1, 1, 1]
    assert good.get(f"{INTEGRATION_PREFIX}/BUA_AccrualSummary_202610.csv").startswith(b"a,b\nv2")
