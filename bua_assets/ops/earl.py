"""EARL snapshot notifications: an SNS envelope around JSON naming the CORE snapshot.

Pure parsing, no AWS or Dagster: a message becomes a SnapshotEvent with the accrual month it
starts (the month before the snapshot's date), or a SnapshotMessageError saying what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime

from bua_assets.months import first_of_month_before

IDENTIFIER_KEYS = ("snapshot_identifier", "DBSnapshotIdentifier", "SnapshotIdentifier", "Source ID")
ARN_KEYS = ("snapshot_arn", "DBSnapshotArn", "SnapshotArn", "SourceArn")
CREATED_KEYS = ("snapshot_create_time", "SnapshotCreateTime", "Event Time", "created")
ACCOUNT_KEYS = ("source_account", "SourceAccount", "account")


class SnapshotMessageError(ValueError):
    """A message that cannot start a month, with the reason."""


@dataclass(frozen=True)
class SnapshotEvent:
    identifier: str
    arn: str
    created: datetime
    source_account: str
    partition_key: str  # the accrual month: the first of the month before the snapshot's date


def _first(d: dict, keys) -> str | None:
    return next((str(d[k]) for k in keys if d.get(k) not in (None, "")), None)


def parse_snapshot_message(body: str, *, first_partition: str, last_partition: str) -> SnapshotEvent:
    """``body``: an SQS message body (SNS envelope, or the raw JSON when raw delivery is on)."""
    try:
        outer = json.loads(body)
    except (TypeError, json.JSONDecodeError) as exc:
        raise SnapshotMessageError(f"message body is not JSON: {exc}") from None
    inner = outer
    if isinstance(outer, dict) and outer.get("Type") == "Notification":
        try:
            inner = json.loads(outer.get("Message", ""))
        except (TypeError, json.JSONDecodeError) as exc:
            raise SnapshotMessageError(f"SNS Message is not JSON: {exc}") from None
    if not isinstance(inner, dict):
        raise SnapshotMessageError("message is not a JSON object")
    arn = _first(inner, ARN_KEYS) or ""
    identifier = _first(inner, IDENTIFIER_KEYS) or (arn.rsplit(":", 1)[-1] if arn.startswith("arn:") else None)
    if not identifier:
        raise SnapshotMessageError(f"no snapshot identifier or ARN (expected one of {', '.join(IDENTIFIER_KEYS + ARN_KEYS)})")
    created_text = _first(inner, CREATED_KEYS)
    if not created_text:
        raise SnapshotMessageError(f"snapshot {identifier}: no creation time")
    try:
        created = datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotMessageError(f"snapshot {identifier}: creation time {created_text!r} is not ISO 8601") from None
    account = _first(inner, ACCOUNT_KEYS) or (arn.split(":")[4] if arn.count(":") >= 5 else "")
    partition = first_of_month_before(created.date(), 1).isoformat()
    if not (first_partition <= partition <= last_partition):
        raise SnapshotMessageError(f"snapshot {identifier} of {created.date()} maps to accrual month {partition}, "
                                   f"outside the partitions {first_partition} to {last_partition}")
    return SnapshotEvent(identifier, arn, created, account, partition)


def last_complete_month(today: date) -> str:
    return first_of_month_before(today, 1).isoformat()
