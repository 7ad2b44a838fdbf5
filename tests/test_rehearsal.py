"""Rehearsal runs kept apart: two snapshots of the same month never overwrite each other's export,
and promotion puts exactly the chosen one in the integration prefix (local folders and moto S3)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bua_assets.billing.degraded import Acceptance, MonthQuality
from bua_assets.billing.export import INTEGRATION_PREFIX, ExportFile, Target
from bua_assets.billing.rehearsal import (
    NO_SNAPSHOT,
    DegradedExport,
    SnapshotRun,
    degraded_reasons,
    export_snapshot,
    exported_snapshots,
    folder_name,
    promote,
    promoted_manifest,
    promotions,
    should_promote,
)
from bua_assets.months import AccrualMonth

SYDNEY = ZoneInfo("Australia/Sydney")
MONTH = AccrualMonth.from_key("2026-10")
RUN_DATE = date(2026, 11, 1)
# 00:00 AEDT on 1 November is 13:00 UTC on 31 October: the real month-end snapshot for October.
MONTH_END = SnapshotRun("bua-core-2026-11-01", datetime(2026, 10, 31, 13, 0, tzinfo=UTC), rehearsal=False)
LATER = SnapshotRun("bua-core-2026-11-01-rerun", datetime(2026, 10, 31, 20, 0, tzinfo=UTC), rehearsal=False)
REHEARSAL = SnapshotRun("bua-core-2026-10-29", datetime(2026, 10, 28, 13, 0, tzinfo=UTC), rehearsal=False)


def manifest_promoted(integration: Target) -> dict:
    """The month's promoted manifest (there must be one)."""
    manifest = promoted_manifest(integration, MONTH)
    assert manifest is not None, f"no promoted manifest for {MONTH}"
    return manifest


def files(version: str) -> list[ExportFile]:
    return [
        ExportFile(f"BUA_{name}_202610.csv", f"a,b\n{version},{name}\n".encode(), 1)
        for name in ("InvoiceLineItemMonthly", "AccountSummary", "AccrualSummary", "Errors")
    ]


def test_only_the_latest_month_end_snapshot_is_promoted_automatically():
    assert should_promote(REHEARSAL, "auto", RUN_DATE, SYDNEY, None) == (
        False,
        "kept apart: snapshot taken 2026-10-29T00:00:00+11:00, not on the run date 2026-11-01 (a rehearsal)",
    )
    assert should_promote(MONTH_END, "auto", RUN_DATE, SYDNEY, None) == (
        True,
        "promoted: the latest month-end snapshot",
    )
    tagged = SnapshotRun(MONTH_END.snapshot, MONTH_END.created, rehearsal=True)
    assert should_promote(tagged, "auto", RUN_DATE, SYDNEY, None)[0] is False
    later_promoted = {"snapshot": LATER.snapshot, "snapshot_created": LATER.created.isoformat()}
    promoted, reason = should_promote(MONTH_END, "auto", RUN_DATE, SYDNEY, later_promoted)
    assert not promoted and LATER.snapshot in reason  # an older snapshot re-run does not displace a newer one
    assert should_promote(
        LATER,
        "auto",
        RUN_DATE,
        SYDNEY,
        {"snapshot": MONTH_END.snapshot, "snapshot_created": MONTH_END.created.isoformat()},
    )[0]
    assert should_promote(REHEARSAL, "always", RUN_DATE, SYDNEY, None)[0]
    assert not should_promote(MONTH_END, "never", RUN_DATE, SYDNEY, None)[0]
    assert should_promote(SnapshotRun(NO_SNAPSHOT, None, False), "auto", RUN_DATE, SYDNEY, None)[0]
    with pytest.raises(ValueError, match="promote must be one of"):
        should_promote(MONTH_END, "sometimes", RUN_DATE, SYDNEY, None)
    assert folder_name("arn:aws:rds:ap-southeast-2:123456789012:snapshot:bua-core-1") == "bua-core-1"


def _two_snapshots_then_promote(export: Target, integration: Target):
    export_snapshot(files("rehearsal"), MONTH, REHEARSAL, export)
    export_snapshot(files("month-end"), MONTH, MONTH_END, export)
    base = "export/csv/2026-11-01"
    # neither overwrote the other
    assert (
        export.get(f"{base}/{REHEARSAL.snapshot}/BUA_AccountSummary_202610.csv") == b"a,b\nrehearsal,AccountSummary\n"
    )
    assert (
        export.get(f"{base}/{MONTH_END.snapshot}/BUA_AccountSummary_202610.csv") == b"a,b\nmonth-end,AccountSummary\n"
    )
    listed = exported_snapshots(export, MONTH)
    assert [m["snapshot"] for m in listed] == [REHEARSAL.snapshot, MONTH_END.snapshot]
    assert all(len(m["files"]) == 4 for m in listed)
    # a rerun of the rehearsal replaces only its own folder
    export_snapshot(files("rehearsal-2"), MONTH, REHEARSAL, export)
    assert (
        export.get(f"{base}/{MONTH_END.snapshot}/BUA_AccountSummary_202610.csv") == b"a,b\nmonth-end,AccountSummary\n"
    )

    promote(export, integration, MONTH, MONTH_END.snapshot)
    assert integration.get(f"{INTEGRATION_PREFIX}/BUA_Errors_202610.csv") == b"a,b\nmonth-end,Errors\n"
    assert manifest_promoted(integration)["snapshot"] == MONTH_END.snapshot
    # the operator names the rehearsal instead: exactly its files, its manifest
    promote(export, integration, MONTH, REHEARSAL.snapshot)
    names = [n.rsplit("/", 1)[-1] for n in integration.list(INTEGRATION_PREFIX)]
    assert names == [
        "BUA_AccountSummary_202610.csv",
        "BUA_AccrualSummary_202610.csv",
        "BUA_Errors_202610.csv",
        "BUA_InvoiceLineItemMonthly_202610.csv",
        "BUA_manifest_202610.json",
    ]
    assert (
        integration.get(f"{INTEGRATION_PREFIX}/BUA_AccrualSummary_202610.csv") == b"a,b\nrehearsal-2,AccrualSummary\n"
    )
    manifest = json.loads(integration.get(f"{INTEGRATION_PREFIX}/BUA_manifest_202610.json"))
    assert manifest["snapshot"] == REHEARSAL.snapshot and manifest["snapshot_created"] == "2026-10-28T13:00:00+00:00"
    with pytest.raises(LookupError, match="exported snapshots: bua-core-2026-10-29, bua-core-2026-11-01"):
        promote(export, integration, MONTH, "bua-core-nope")
    # an export changed after its manifest was written is refused, and the integration copy is untouched
    export.put(f"{base}/{MONTH_END.snapshot}/BUA_Errors_202610.csv", b"tampered")
    with pytest.raises(ValueError, match="does not match its manifest"):
        promote(export, integration, MONTH, MONTH_END.snapshot)
    assert manifest_promoted(integration)["snapshot"] == REHEARSAL.snapshot


def test_snapshots_kept_apart_and_promotion_on_local_folders(tmp_path):
    _two_snapshots_then_promote(Target(str(tmp_path / "exports")), Target(str(tmp_path / "integration")))


def test_snapshots_kept_apart_and_promotion_on_s3(s3_bucket):
    endpoint, bucket, _ = s3_bucket
    _two_snapshots_then_promote(
        Target(f"s3://{bucket}/exports", endpoint), Target(f"s3://{bucket}/integration", endpoint)
    )


DEGRADED = MonthQuality(
    "2026-10", ("MDPB: no usable deliveries this month (837 register-days in 2 files last month)",), 0.121, 0.1
)


def _a_degraded_export_needs_an_acceptance(export: Target, integration: Target):
    export_snapshot(files("clean"), MONTH, MONTH_END, export, MonthQuality("2026-10", (), 0.04, 0.1))
    promote(export, integration, MONTH, MONTH_END.snapshot, by="run r1")
    export_snapshot(files("degraded"), MONTH, LATER, export, DEGRADED)
    listed = {m["snapshot"]: degraded_reasons(m) for m in exported_snapshots(export, MONTH)}
    assert listed == {MONTH_END.snapshot: [], LATER.snapshot: list(DEGRADED.reasons)}
    with pytest.raises(DegradedExport, match=r"is degraded: MDPB: no usable deliveries .*--accept-degraded REASON"):
        promote(export, integration, MONTH, LATER.snapshot)
    assert manifest_promoted(integration)["snapshot"] == MONTH_END.snapshot  # the official one untouched
    accepted = Acceptance(
        "MDPB redelivers on the 5th; finance informed", "jsmith", "bua-assets promote", "2026-11-01T03:00:00+00:00"
    )
    promote(export, integration, MONTH, LATER.snapshot, accepted)
    manifest = manifest_promoted(integration)
    assert manifest["snapshot"] == LATER.snapshot and manifest["quality"]["reasons"] == list(DEGRADED.reasons)
    assert manifest["accepted_degraded"] == {
        "reason": "MDPB redelivers on the 5th; finance informed",
        "by": "jsmith",
        "via": "bua-assets promote",
        "at": "2026-11-01T03:00:00+00:00",
    }
    # An acceptance on a month that is not degraded is not needed, and not recorded.
    promote(export, integration, MONTH, MONTH_END.snapshot, accepted, by="jsmith")
    assert "accepted_degraded" not in manifest_promoted(integration)
    # Every promotion is in the month's log, the override with who, when and why.
    log = promotions(export, MONTH)
    assert [(e["snapshot"], e["previous"], e["by"]) for e in log] == [
        (MONTH_END.snapshot, None, "run r1"),
        (LATER.snapshot, MONTH_END.snapshot, "jsmith"),
        (MONTH_END.snapshot, LATER.snapshot, "jsmith"),
    ]
    assert log[1]["degraded"] == list(DEGRADED.reasons) and log[1]["accepted_degraded"] == accepted.record()
    assert log[0]["accepted_degraded"] is None and log[2]["accepted_degraded"] is None


def test_a_degraded_export_is_promoted_only_with_an_acceptance_on_local_folders(tmp_path):
    _a_degraded_export_needs_an_acceptance(Target(str(tmp_path / "exports")), Target(str(tmp_path / "integration")))


def test_a_degraded_export_is_promoted_only_with_an_acceptance_on_s3(s3_bucket):
    endpoint, bucket, _ = s3_bucket
    _a_degraded_export_needs_an_acceptance(
        Target(f"s3://{bucket}/exports", endpoint), Target(f"s3://{bucket}/integration", endpoint)
    )


def test_promote_picks_the_latest_real_month_end_export():
    from zoneinfo import ZoneInfo

    from bua_assets.billing.rehearsal import export_listing, latest_month_end_export

    october, sydney = AccrualMonth.from_key("2026-10-01"), ZoneInfo("Australia/Sydney")

    def exported(snapshot, created, rehearsal=False):
        return {"snapshot": snapshot, "snapshot_created": created, "rehearsal": rehearsal, "files": [{"rows": 2}]} | {
            "folder": f"export/csv/2026-11-01/{snapshot}"
        }

    exports = [
        exported("rehearsal-2026-10-29", "2026-10-28T13:00:00Z"),  # 29 Oct local: not month end
        exported("monthend-2026-11-01", "2026-10-31T13:00:00Z"),  # midnight 1 Nov, Sydney (AEDT)
        exported("monthend-retake", "2026-11-01T02:00:00Z"),  # later on 1 Nov local: the latest
        exported("marked-rehearsal", "2026-11-01T03:00:00Z", rehearsal=True),  # the operator said rehearsal
        exported("unknown-time", None),
    ]
    assert latest_month_end_export(exports, october, sydney)["snapshot"] == "monthend-retake"
    assert latest_month_end_export(exports[:1] + exports[3:], october, sydney) is None
    lines = export_listing(exports, official="monthend-2026-11-01")
    assert [line[0] for line in lines] == [" ", "*", " ", " ", " "] and "taken unknown" in lines[-1]
