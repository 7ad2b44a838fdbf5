"""The month's CORE database on RDS: restore the EARL snapshot, hand over its endpoint, retire the
month's other restores once an export is promoted, and delete what outlived its retention.

Instances and KMS copies are keyed by the snapshot, not only the month
(``bua-core-YYYYMM-<sha256(snapshot)[:8]>``): a rehearsal snapshot's instance is never reused for
the month-end snapshot. A re-run on the same snapshot finds its instance (or copy) and reuses it.
Everything made here is tagged ``bua:managed=true``, ``bua:month``, ``bua:snapshot`` and
``bua:core-release`` (the snapshot's ``core:release`` tag), which retirement and housekeeping go by.

boto3 clients are passed in (any endpoint: AWS, a VPC endpoint, a moto server).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bua_assets.months import AccrualMonth

IDENTIFIER = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")
MANAGED, MONTH, SNAPSHOT, RELEASE = "bua:managed", "bua:month", "bua:snapshot", "bua:core-release"
SOURCE_RELEASE = "core:release"  # the tag CORE's release is read from on the EARL snapshot
UNKNOWN_RELEASE = "unknown"
PREFIX = "bua-core-"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreSettings:
    instance_class: str = "db.r6g.large"
    subnet_group: str = ""
    parameter_group: str = ""
    security_group_ids: tuple[str, ...] = ()
    kms_key_id: str = ""  # copy (re-encrypting under our key) before restoring, when set
    master_secret_id: str = ""  # Secrets Manager: {"username", "password"} for the master user
    poll_seconds: float = 15.0
    max_wait_seconds: float = 3600.0


@dataclass
class Restored:
    instance_identifier: str
    host: str
    port: int
    reused: bool
    snapshot: str = ""
    core_release: str = UNKNOWN_RELEASE
    steps: list[str] = field(default_factory=list)


def snapshot_name(snapshot: str) -> str:
    """An ARN and its bare identifier name the same snapshot (the sensor may give either)."""
    return snapshot.rsplit(":", 1)[-1] if snapshot.startswith("arn:") else snapshot


def instance_identifier(partition: str, snapshot: str) -> str:
    digest = hashlib.sha256(snapshot_name(snapshot).encode()).hexdigest()[:8]
    return f"{PREFIX}{AccrualMonth.from_key(partition).compact}-{digest}"


def copy_identifier(partition: str, snapshot: str) -> str:
    return f"{instance_identifier(partition, snapshot)}-copy"


def _validate(name: str, what: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a valid RDS identifier")
    return name


def _wait(describe, ready, settings: RestoreSettings, what: str):
    deadline = time.monotonic() + settings.max_wait_seconds
    while True:
        item = describe()
        if ready(item):
            return item
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not available after {settings.max_wait_seconds:.0f} s")
        time.sleep(settings.poll_seconds)


def _tags(rds, item: dict, arn_key: str) -> dict[str, str]:
    tags = item.get("TagList")
    if tags is None:  # not every describe call carries them
        tags = rds.list_tags_for_resource(ResourceName=item[arn_key])["TagList"]
    return {t["Key"]: t["Value"] for t in tags}


def core_release(rds, snapshot: str) -> str:
    """CORE's release from the snapshot's ``core:release`` tag; ``unknown`` (with a warning) when the
    tag is absent or cannot be read (tags of a snapshot shared from another account are not shared)."""
    try:
        found = rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot, IncludeShared=True)["DBSnapshots"]
        release = _tags(rds, found[0], "DBSnapshotArn").get(SOURCE_RELEASE, "").strip() if found else ""
    except Exception as exc:  # noqa: BLE001 - any API refusal leaves the release unknown, said below
        log.warning("CORE release of snapshot %s: its tags could not be read (%s)", snapshot, exc)
        return UNKNOWN_RELEASE
    if not release:
        log.warning("snapshot %s has no %s tag: CORE release recorded as %s", snapshot, SOURCE_RELEASE, UNKNOWN_RELEASE)
        return UNKNOWN_RELEASE
    return release


def _managed_tags(partition: str, snapshot: str, release: str) -> list[dict[str, str]]:
    values = {MANAGED: "true", MONTH: AccrualMonth.from_key(partition).label, SNAPSHOT: snapshot, RELEASE: release}
    return [{"Key": k, "Value": v} for k, v in values.items()]


def restore(rds, secrets, snapshot: str, partition: str, settings: RestoreSettings) -> Restored:
    """Restore ``snapshot`` (identifier or ARN, possibly shared from another account) into its own
    instance for the month, or reuse the instance restored from that same snapshot; set the master
    password from Secrets Manager."""
    ident = _validate(instance_identifier(partition, snapshot), "instance")
    steps: list[str] = []
    existing = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])["DBInstances"]
    reused = bool(existing)
    if reused:
        tags = _tags(rds, existing[0], "DBInstanceArn")
        if snapshot_name(tags.get(SNAPSHOT, "")) != snapshot_name(snapshot):
            raise RuntimeError(
                f"instance {ident} was restored from {tags.get(SNAPSHOT) or 'an untagged snapshot'}, not {snapshot}: "
                "refusing to reuse it (delete it, or check the snapshot identifier)"
            )
        release = tags.get(RELEASE, UNKNOWN_RELEASE)
    else:
        release = core_release(rds, snapshot)
        tags_to_set = _managed_tags(partition, snapshot, release)
        source = snapshot
        if settings.kms_key_id:
            copy = _validate(copy_identifier(partition, snapshot), "snapshot")
            found = rds.describe_db_snapshots(Filters=[{"Name": "db-snapshot-id", "Values": [copy]}])["DBSnapshots"]
            if not found:
                rds.copy_db_snapshot(
                    SourceDBSnapshotIdentifier=snapshot,
                    TargetDBSnapshotIdentifier=copy,
                    KmsKeyId=settings.kms_key_id,
                    Tags=tags_to_set,
                )
                steps.append(f"copied {snapshot} to {copy} under {settings.kms_key_id}")
            _wait(
                lambda: rds.describe_db_snapshots(DBSnapshotIdentifier=copy)["DBSnapshots"][0],
                lambda s: s["Status"] == "available",
                settings,
                f"snapshot {copy}",
            )
            source = copy
        kwargs = {
            "DBInstanceIdentifier": ident,
            "DBSnapshotIdentifier": source,
            "DBInstanceClass": settings.instance_class,
            "PubliclyAccessible": False,
            "Tags": tags_to_set,
        }
        if settings.subnet_group:
            kwargs["DBSubnetGroupName"] = settings.subnet_group
        if settings.parameter_group:
            kwargs["DBParameterGroupName"] = settings.parameter_group
        if settings.security_group_ids:
            kwargs["VpcSecurityGroupIds"] = list(settings.security_group_ids)
        rds.restore_db_instance_from_db_snapshot(**kwargs)
        steps.append(f"restored {source} as {ident} ({settings.instance_class}), CORE release {release}")
    instance = _wait(
        lambda: rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0],
        lambda i: i["DBInstanceStatus"] == "available",
        settings,
        f"instance {ident}",
    )
    if settings.master_secret_id and not reused:
        password = json.loads(secrets.get_secret_value(SecretId=settings.master_secret_id)["SecretString"])["password"]
        rds.modify_db_instance(DBInstanceIdentifier=ident, MasterUserPassword=password, ApplyImmediately=True)
        steps.append(f"master password set from {settings.master_secret_id}")  # the name, never the value
    endpoint = instance["Endpoint"]
    return Restored(ident, endpoint["Address"], int(endpoint["Port"]), reused, snapshot, release, steps)


@dataclass(frozen=True)
class Managed:
    """An instance or snapshot copy this module made (tagged bua:managed=true)."""

    kind: str  # "instance" or "copy"
    identifier: str
    month: str  # bua:month, YYYY-MM
    snapshot: str  # bua:snapshot
    created: datetime

    def __str__(self) -> str:
        return f"{self.kind} {self.identifier} ({self.month}, snapshot {self.snapshot}, created {self.created:%Y-%m-%d %H:%M})"


def _aware(t: datetime | None) -> datetime:
    t = t or datetime.now(UTC)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


# (kind, paginator, its arguments, list key, identifier key, ARN key, creation time key)
_LISTINGS: tuple[tuple[str, str, dict[str, str], str, str, str, str], ...] = (
    (
        "instance",
        "describe_db_instances",
        {},
        "DBInstances",
        "DBInstanceIdentifier",
        "DBInstanceArn",
        "InstanceCreateTime",
    ),
    (
        "copy",
        "describe_db_snapshots",
        {"SnapshotType": "manual"},
        "DBSnapshots",
        "DBSnapshotIdentifier",
        "DBSnapshotArn",
        "SnapshotCreateTime",
    ),
)


def managed(rds, month_label: str | None = None) -> list[Managed]:
    """Every bua-managed instance and copy (of one month, YYYY-MM, when given), instances first."""
    out = []
    for kind, paginator, arguments, listed, identifier, arn, created in _LISTINGS:
        for page in rds.get_paginator(paginator).paginate(**arguments):
            for item in page[listed]:
                if not item[identifier].startswith(PREFIX):
                    continue
                tags = _tags(rds, item, arn)
                if tags.get(MANAGED) == "true":
                    out.append(
                        Managed(
                            kind,
                            item[identifier],
                            tags.get(MONTH, ""),
                            tags.get(SNAPSHOT, ""),
                            _aware(item.get(created)),
                        )
                    )
    return [m for m in out if month_label is None or m.month == month_label]


def _delete(rds, item: Managed) -> str:
    """Delete one managed resource; a refusal is reported, not raised (the promotion already happened)."""
    try:
        if item.kind == "instance":
            rds.delete_db_instance(
                DBInstanceIdentifier=item.identifier, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )
        else:
            rds.delete_db_snapshot(DBSnapshotIdentifier=item.identifier)
    except Exception as exc:  # noqa: BLE001 - named in the outcome, which the caller logs as a warning
        return f"could not delete {item}: {exc}"
    return f"deleted {item}"


def retire_superseded(rds, partition: str, keep_snapshot: str) -> list[str]:
    """Delete the month's bua-managed instances and copies of every snapshot but ``keep_snapshot``
    (the one whose export was just promoted). Returns what was deleted or could not be."""
    label = AccrualMonth.from_key(partition).label
    try:
        found = managed(rds, label)
    except Exception as exc:  # noqa: BLE001 - the promotion stands; the caller warns and housekeeping retries
        return [f"could not list {label}'s managed RDS instances and copies: {exc}"]
    return [_delete(rds, m) for m in found if snapshot_name(m.snapshot) != snapshot_name(keep_snapshot)]


def teardown(rds, partition: str, *, export_succeeded: bool, retention: timedelta, now: datetime | None = None) -> str:
    """Delete the month's bua-managed instances once its export succeeded and the retention has
    passed (the legacy bua-destroy). Returns what was done (or why not), for the run's log."""
    label = AccrualMonth.from_key(partition).label
    instances = [m for m in managed(rds, label) if m.kind == "instance"]
    if not instances:
        return f"{label}: no instance (already torn down)"
    if not export_succeeded:
        return f"{label}: kept {', '.join(m.identifier for m in instances)}, the month's export has not succeeded"
    now = now or datetime.now(UTC)
    outcomes = []
    for m in instances:
        if now - m.created < retention:
            outcomes.append(
                f"{m.identifier}: kept until {m.created + retention:%Y-%m-%d %H:%M} (retention {retention})"
            )
        else:
            done = _delete(rds, m)
            outcomes.append(f"{m.identifier}: deleted" if done.startswith("deleted") else done)
    return "; ".join(outcomes)


def housekeeping(
    rds, retention: timedelta, keep: dict[str, str], *, now: datetime | None = None, dry_run: bool = False
) -> list[str]:
    """Delete bua-managed instances and copies older than ``retention``, except those of the snapshot
    whose export is each month's promoted one (``keep``: month YYYY-MM -> snapshot). With ``dry_run``
    nothing is deleted; the lines say what would be."""
    now = now or datetime.now(UTC)
    done = []
    for m in managed(rds):
        official = keep.get(m.month)
        if now - m.created < retention or (official and snapshot_name(official) == snapshot_name(m.snapshot)):
            continue
        done.append(f"would delete {m}" if dry_run else _delete(rds, m))
    return done


def set_service_passwords(connect, secrets, secret_ids) -> list[str]:
    """Give the restored database's service users the passwords held in Secrets Manager (a
    snapshot carries the source account's). ``connect()`` opens a DB-API connection as master."""
    steps: list[str] = []
    if not secret_ids:
        return steps
    conn = connect()
    try:
        with conn.cursor() as cur:
            for secret_id in secret_ids:
                creds = json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])
                cur.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (creds["username"], creds["password"]))
                steps.append(f"service user {creds['username']} password set from {secret_id}")
        conn.commit()
    finally:
        conn.close()
    return steps
