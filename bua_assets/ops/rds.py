"""The month's CORE database on RDS: restore the shared EARL snapshot, hand over its endpoint, and
tear it down after the retention once the month's export has succeeded (the legacy bua-destroy).

boto3 clients are passed in (any endpoint: AWS, a VPC endpoint, a moto server). Idempotent: a
re-run for the same month finds the instance (or the copied snapshot) and reuses it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bua_assets.months import AccrualMonth

IDENTIFIER = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")


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
    steps: list[str] = field(default_factory=list)


def instance_identifier(partition: str) -> str:
    return f"bua-core-{AccrualMonth.from_key(partition).compact}"


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


def restore(rds, secrets, snapshot: str, partition: str, settings: RestoreSettings) -> Restored:
    """Restore ``snapshot`` (identifier or ARN, possibly shared from another account) into the
    month's instance, or reuse it; set the master password from Secrets Manager."""
    ident = _validate(instance_identifier(partition), "instance")
    steps: list[str] = []
    existing = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])["DBInstances"]
    reused = bool(existing)
    if not reused:
        source = snapshot
        if settings.kms_key_id:
            copy = _validate(f"{ident}-copy", "snapshot")
            found = rds.describe_db_snapshots(Filters=[{"Name": "db-snapshot-id", "Values": [copy]}])["DBSnapshots"]
            if not found:
                rds.copy_db_snapshot(
                    SourceDBSnapshotIdentifier=snapshot,
                    TargetDBSnapshotIdentifier=copy,
                    KmsKeyId=settings.kms_key_id,
                    CopyTags=True,
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
            "Tags": [
                {"Key": "bua:month", "Value": AccrualMonth.from_key(partition).label},
                {"Key": "bua:snapshot", "Value": snapshot},
            ],
        }
        if settings.subnet_group:
            kwargs["DBSubnetGroupName"] = settings.subnet_group
        if settings.parameter_group:
            kwargs["DBParameterGroupName"] = settings.parameter_group
        if settings.security_group_ids:
            kwargs["VpcSecurityGroupIds"] = list(settings.security_group_ids)
        rds.restore_db_instance_from_db_snapshot(**kwargs)
        steps.append(f"restored {source} as {ident} ({settings.instance_class})")
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
    return Restored(ident, endpoint["Address"], int(endpoint["Port"]), reused, steps)


def teardown(rds, partition: str, *, export_succeeded: bool, retention: timedelta, now: datetime | None = None) -> str:
    """Delete the month's instance once its export succeeded and the retention has passed.
    Returns what was done (or why not), for the run's log and metadata."""
    ident = instance_identifier(partition)
    found = rds.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": [ident]}])["DBInstances"]
    if not found:
        return f"{ident}: no instance (already torn down)"
    if not export_succeeded:
        return f"{ident}: kept, the month's export has not succeeded"
    created = found[0].get("InstanceCreateTime") or datetime.now(UTC)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    if now - created < retention:
        return f"{ident}: kept until {created + retention:%Y-%m-%d %H:%M} (retention {retention})"
    rds.delete_db_instance(DBInstanceIdentifier=ident, SkipFinalSnapshot=True, DeleteAutomatedBackups=True)
    return f"{ident}: deleted"


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
