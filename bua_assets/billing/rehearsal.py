"""Rehearsal runs kept apart: each run's export under its snapshot, and the official one promoted
to the integration prefix (DESIGN §5.7; on local disk or S3 through billing/export.py's Target).

A month is often run several times: rehearsals on snapshots taken before month end (started by
an operator), then the real one on the month-end snapshot (local midnight on the run date, as the
EARL sensor starts it), and sometimes again on a later snapshot. Each run writes its CSVs and
manifest to ``<export base>/export/csv/<run_date>/<snapshot>/`` and nothing else there, so no run
overwrites another's. The integration prefix holds one export per month, the official one:

- ``auto`` (the default): a run promotes its own export when its snapshot is a real month-end one
  (created on the run date in the retailer's zone, not tagged as a rehearsal) and no snapshot
  created later is already promoted; a run on the configured CORE database (no snapshot: the
  embedded default, a backfill) is promoted as before;
- ``always`` / ``never`` for the run (run config), or ``bua-assets promote --month --snapshot`` to
  name the official export afterwards: it copies that snapshot's files, checked against its
  manifest, into the integration prefix (manifest last, as every export).

A degraded month (``billing/degraded.py``: its manifest's ``quality``) is promoted by neither
without an acceptance (run tag ``bua/accept_degraded`` or ``--accept-degraded REASON``), which the
promoted manifest then carries. Every promotion is appended to the month's promotion log,
``export/csv/<run_date>/BUA_promotions_<YYYYMM>.jsonl`` (when, which snapshot, by whom, and any
degraded month accepted), which a later promotion does not overwrite.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bua_assets.billing.degraded import ACCEPT_TAG, Acceptance, MonthQuality
from bua_assets.billing.export import INTEGRATION_PREFIX, ExportFile, Target, manifest, publish
from bua_assets.months import AccrualMonth

NO_SNAPSHOT = "current"  # the configured CORE database, not a named snapshot
PROMOTE_CHOICES = ("auto", "always", "never")


@dataclass(frozen=True)
class SnapshotRun:
    snapshot: str  # the EARL snapshot identifier, or NO_SNAPSHOT
    created: datetime | None  # when the snapshot was taken (aware), when known
    rehearsal: bool  # the operator said so (run tag bua/rehearsal)
    core_release: str | None = None  # CORE's release (the snapshot's core:release tag); None: none restored

    def is_month_end(self, run_date: date, zone: ZoneInfo) -> bool:
        """Taken on the run date, local time (a month-end snapshot is taken at local midnight on the 1st)."""
        return self.created is not None and self.created.astimezone(zone).date() == run_date


def folder_name(snapshot: str) -> str:
    """A snapshot identifier as one safe path segment (RDS identifiers: letters, digits, hyphens; ARNs have ':')."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", snapshot.rsplit(":", 1)[-1] if snapshot.startswith("arn:") else snapshot)
    if not name.strip("._"):
        raise ValueError(f"snapshot identifier {snapshot!r} gives no usable folder name")
    return name


def run_date_folder(month: AccrualMonth) -> str:
    """Where every snapshot's export of the month sits: ``export/csv/<run_date>``."""
    return f"export/csv/{month.run_date}"


def snapshot_folder(month: AccrualMonth, snapshot: str) -> str:
    return f"{run_date_folder(month)}/{folder_name(snapshot)}"


def manifest_name(folder: str, month: AccrualMonth) -> str:
    return f"{folder}/BUA_manifest_{month.compact}.json"


def parse_created(text: str | None) -> datetime | None:
    if not text:
        return None
    created = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return created if created.tzinfo else created.replace(tzinfo=UTC)  # RDS gives UTC without an offset


def snapshot_manifest(
    files: list[ExportFile],
    month: AccrualMonth,
    run: SnapshotRun,
    quality: MonthQuality | None = None,
    lake_tables: list[dict] | None = None,
) -> bytes:
    """``lake_tables``: the lake tables the files were read from (``<asset>/<dataset>`` under the
    lake) with the Delta version read: which version fed this export, readable for the audit period."""
    body = json.loads(manifest(files, month.label, str(month.run_date)))
    body.update(
        {
            "snapshot": run.snapshot,
            "snapshot_created": run.created.isoformat() if run.created else None,
            "rehearsal": run.rehearsal,
            "core_release": run.core_release,
        }
    )
    if quality is not None:
        body["quality"] = quality.record()  # a degraded month is promoted only with an acceptance
    if lake_tables is not None:
        body["lake_tables"] = lake_tables
    return json.dumps(body, indent=2).encode()


def export_snapshot(
    files: list[ExportFile],
    month: AccrualMonth,
    run: SnapshotRun,
    export: Target,
    quality: MonthQuality | None = None,
    lake_tables: list[dict] | None = None,
) -> list[str]:
    """The run's CSVs and manifest under its snapshot's folder (replacing only an earlier run on the same snapshot)."""
    return publish(
        export,
        snapshot_folder(month, run.snapshot),
        files,
        month.compact,
        snapshot_manifest(files, month, run, quality, lake_tables),
    )


def degraded_reasons(body: dict) -> list[str]:
    """Why a snapshot's export (its manifest) is degraded; empty when it is not (or predates the judgement)."""
    quality = body.get("quality") or {}
    return list(quality.get("reasons") or []) if quality.get("degraded") else []


class DegradedExport(ValueError):
    """A degraded month's export, promoted without an acceptance."""


def promoted_manifest(integration: Target, month: AccrualMonth) -> dict | None:
    name = manifest_name(INTEGRATION_PREFIX, month)
    return json.loads(integration.get(name)) if name in integration.list(INTEGRATION_PREFIX) else None


def should_promote(
    run: SnapshotRun, choice: str, run_date: date, zone: ZoneInfo, promoted: dict | None
) -> tuple[bool, str]:
    """Whether this run's export becomes the official one, and why (for the asset's metadata)."""
    if choice not in PROMOTE_CHOICES:
        raise ValueError(f"promote must be one of {', '.join(PROMOTE_CHOICES)} (got {choice!r})")
    if choice == "always":
        return True, "promoted: the run config said always"
    if choice == "never":
        return False, "kept apart: the run config said never"
    if run.rehearsal:
        return False, "kept apart: a rehearsal (run tag bua/rehearsal)"
    if run.snapshot == NO_SNAPSHOT:
        return True, "promoted: the configured CORE database (no snapshot named)"
    if not run.is_month_end(run_date, zone):
        taken = run.created.astimezone(zone).isoformat() if run.created else "unknown"
        return False, f"kept apart: snapshot taken {taken}, not on the run date {run_date} (a rehearsal)"
    promoted_created = parse_created((promoted or {}).get("snapshot_created"))
    if (
        promoted
        and promoted.get("snapshot") != run.snapshot
        and promoted_created
        and run.created is not None
        and run.created < promoted_created
    ):
        return False, (
            f"kept apart: {promoted['snapshot']} (taken later, {promoted_created.isoformat()}) "
            "is already the official export"
        )
    return True, "promoted: the latest month-end snapshot"


def exported_snapshots(export: Target, month: AccrualMonth) -> list[dict]:
    """The manifests of every snapshot exported for the month (oldest snapshot first)."""
    found = []
    base = run_date_folder(month)
    for folder in _subfolders(export, base):
        for name in export.list(f"{base}/{folder}"):
            if name.rsplit("/", 1)[-1].startswith("BUA_manifest_"):
                found.append(json.loads(export.get(name)) | {"folder": f"{base}/{folder}"})
    return sorted(found, key=lambda m: (m.get("snapshot_created") or "", m.get("snapshot", "")))


def latest_month_end_export(exports: list[dict], month: AccrualMonth, zone: ZoneInfo) -> dict | None:
    """What ``promote`` picks when no snapshot is named: the latest export (``exported_snapshots``
    order) of a real month-end snapshot for ``month``, never a rehearsal. None when there is none."""
    month_end = [
        e
        for e in exports
        if not e.get("rehearsal")
        and SnapshotRun(e["snapshot"], parse_created(e.get("snapshot_created")), False).is_month_end(
            month.run_date, zone
        )
    ]
    return month_end[-1] if month_end else None


def export_listing(exports: list[dict], official: str | None) -> list[str]:
    """``promote --list``: one line per exported snapshot, the official one marked *."""
    lines = []
    for e in exports:
        degraded = degraded_reasons(e)
        lines.append(
            f"{'*' if e['snapshot'] == official else ' '} {e['snapshot']:<40} taken "
            f"{e.get('snapshot_created') or 'unknown':<27} rehearsal={e.get('rehearsal')}  "
            f"CORE release {e.get('core_release') or '-'}  {sum(f['rows'] for f in e['files'])} rows  {e['folder']}"
            + (f"  DEGRADED: {'; '.join(degraded)}" if degraded else "")
        )
    return lines


def _subfolders(target: Target, folder: str) -> list[str]:
    if target._s3:
        prefix = target._key(folder).rstrip("/") + "/"
        pages = target._s3.get_paginator("list_objects_v2").paginate(
            Bucket=target._bucket, Prefix=prefix, Delimiter="/"
        )
        return sorted(p["Prefix"][len(prefix) :].rstrip("/") for page in pages for p in page.get("CommonPrefixes", []))
    from pathlib import Path

    d = Path(target.base) / folder
    return sorted(p.name for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


def promote(
    export: Target,
    integration: Target,
    month: AccrualMonth,
    snapshot: str,
    acceptance: Acceptance | None = None,
    by: str = "",
) -> list[str]:
    """Copy ``snapshot``'s export for the month into the integration prefix (the month's files there
    replaced, manifest last). Each file is checked against the snapshot's manifest first: an export
    that does not match its manifest is never promoted. A degraded export (its manifest's
    ``quality``) is refused (DegradedExport, naming why) unless ``acceptance`` is given; the
    promoted manifest then carries it as ``accepted_degraded``. ``by``: who promotes (the promotion
    log's entry; the acceptance's ``by`` when there is one)."""
    folder = snapshot_folder(month, snapshot)
    name = manifest_name(folder, month)
    if name not in export.list(folder):
        known = [m["snapshot"] for m in exported_snapshots(export, month)]
        raise LookupError(
            f"no export of {month} for snapshot {snapshot!r} under {export.uri(folder)} "
            f"(exported snapshots: {', '.join(known) or 'none'})"
        )
    body = export.get(name)
    parsed = json.loads(body)
    reasons = degraded_reasons(parsed)
    if reasons and acceptance is None:
        raise DegradedExport(
            f"the export of {month} on snapshot {snapshot} is degraded: {'; '.join(reasons)}. It is not promoted "
            f"without an acceptance: `bua-assets promote --month {month} --snapshot {snapshot} "
            f"--accept-degraded REASON` (or the run tag {ACCEPT_TAG}=REASON)"
        )
    files = []
    for entry in parsed["files"]:
        data = export.get(f"{folder}/{entry['name']}")
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError(f"{export.uri(folder)}/{entry['name']} does not match its manifest: not promoted")
        files.append(ExportFile(entry["name"], data, entry["rows"]))
    accepted = acceptance if reasons else None  # a month that is not degraded needs (and records) no acceptance
    if accepted is not None:
        body = json.dumps(parsed | {"accepted_degraded": accepted.record()}, indent=2).encode()
    previous = (promoted_manifest(integration, month) or {}).get("snapshot")
    paths = publish(integration, INTEGRATION_PREFIX, files, month.compact, body)
    log_promotion(
        export,
        month,
        {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "snapshot": snapshot,
            "previous": previous,
            "by": accepted.by if accepted else by,
            "degraded": reasons,
            "accepted_degraded": accepted.record() if accepted else None,
            "manifest": paths[-1],
        },
    )
    return paths


def promotion_log_name(month: AccrualMonth) -> str:
    return f"{run_date_folder(month)}/BUA_promotions_{month.compact}.jsonl"


def log_promotion(export: Target, month: AccrualMonth, entry: dict) -> None:
    """Append one promotion to the month's promotion log (JSON lines beside the snapshots' folders)."""
    name = promotion_log_name(month)
    earlier = export.get(name) if name in export.list(run_date_folder(month)) else b""
    export.put(name, earlier + json.dumps(entry).encode() + b"\n")


def promotions(export: Target, month: AccrualMonth) -> list[dict]:
    """The month's promotions, oldest first."""
    name = promotion_log_name(month)
    if name not in export.list(run_date_folder(month)):
        return []
    return [json.loads(line) for line in export.get(name).decode().splitlines() if line.strip()]


def official_snapshot(export: Target, integration: Target, month: AccrualMonth) -> str | None:
    """The snapshot of the month's latest promotion: its promotion log (kept beside the exports, so
    it outlives a consumer emptying the integration prefix), else the promoted manifest; None when
    the month was never promoted."""
    logged = promotions(export, month)
    if logged:
        return logged[-1]["snapshot"]
    return (promoted_manifest(integration, month) or {}).get("snapshot")
