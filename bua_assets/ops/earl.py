"""EARL snapshot notifications: an SNS envelope around JSON naming the CORE snapshot.

Pure parsing, no AWS or Dagster: a message becomes a SnapshotEvent with the accrual month it
starts (the month before the snapshot's local date), a NotAFinishedSnapshot (an RDS event about a
snapshot that is not a finished one: nothing to start), or a SnapshotMessageError saying what is wrong.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bua_assets.months import first_of_month_before

IDENTIFIER_KEYS = ("snapshot_identifier", "DBSnapshotIdentifier", "SnapshotIdentifier", "Source ID")
ARN_KEYS = ("snapshot_arn", "DBSnapshotArn", "SnapshotArn", "SourceArn", "Source ARN")
CREATED_KEYS = ("snapshot_create_time", "SnapshotCreateTime", "Event Time", "created")
ACCOUNT_KEYS = ("source_account", "SourceAccount", "account")

DEFAULT_TIME_ZONE = "Australia/Sydney"
TIME_ZONE_SETTING = "BUA_TIME_ZONE"

# RDS event notifications (SNS messages from an RDS event subscription) carry "Event Source",
# "Event ID" (a documentation URL ending in #RDS-EVENT-nnnn), "Event Message", "Source ID" and
# "Event Time" (UTC, no offset). Only these mean the snapshot exists and can be restored.
FINISHED_SNAPSHOT_EVENTS = {"RDS-EVENT-0042": "manual snapshot created", "RDS-EVENT-0091": "automated snapshot created"}
_RDS_EVENT_ID = re.compile(r"RDS-EVENT-\d+")


class SnapshotMessageError(ValueError):
    """A message that cannot start a month, with the reason."""


class NotAFinishedSnapshot(Exception):
    """A well-formed RDS event that is not a finished snapshot (creation started, deleted, failed, ...)."""


class TimeZoneSettingError(ValueError):
    """The retailer's time zone setting names no known zone: a configuration error, not a bad message."""


@dataclass(frozen=True)
class SnapshotEvent:
    identifier: str
    arn: str
    created: datetime  # as the message gave it; naive means UTC
    source_account: str
    partition_key: str  # the accrual month: the first of the month before the snapshot's local date


def time_zone_named(name: str | ZoneInfo) -> ZoneInfo:
    if isinstance(name, ZoneInfo):
        return name
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise TimeZoneSettingError(
            f"{TIME_ZONE_SETTING}={name!r} is not a known IANA time zone (e.g. {DEFAULT_TIME_ZONE}, Australia/Perth)"
        ) from None


def _first(d: dict, keys) -> str | None:
    for k in keys:
        v = d.get(k)
        if v in (None, ""):
            continue
        # str() of a number or list would make a plausible-looking but wrong identifier or run key.
        if not isinstance(v, str):
            raise SnapshotMessageError(f"{k} is not a string: {v!r}")
        return v
    return None


def _rds_event(inner: dict) -> None:
    """Raise NotAFinishedSnapshot for an RDS event that is not a finished snapshot; return for one that is."""
    event_id = inner.get("Event ID")
    if not isinstance(event_id, str):
        raise SnapshotMessageError(f"RDS event without a string Event ID: {event_id!r}")
    codes = _RDS_EVENT_ID.findall(event_id)
    if not codes:
        raise SnapshotMessageError(f"RDS Event ID {event_id!r} names no RDS-EVENT code")
    code, source = codes[-1], inner.get("Event Source")
    if code in FINISHED_SNAPSHOT_EVENTS and source in (None, "db-snapshot"):
        return
    raise NotAFinishedSnapshot(
        f"RDS event {code} ({inner.get('Event Message') or 'no message'}) from "
        f"{source or 'an unnamed source'} {inner.get('Source ID') or ''}".rstrip()
        + " is not a finished snapshot"
    )


def parse_snapshot_message(
    body: str, *, first_partition: str, last_partition: str, time_zone: str | ZoneInfo = DEFAULT_TIME_ZONE
) -> SnapshotEvent:
    """``body``: an SQS message body (SNS envelope, or the raw JSON when raw delivery is on).

    ``time_zone``: the retailer's; month-end snapshots are taken at local midnight (13:00 or 14:00
    UTC on the last day in Sydney), so the month comes from the local date, not the UTC one.
    """
    zone = time_zone_named(time_zone)  # before the body: a bad setting must not read as a bad message
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
    if "Event ID" in inner or "Event Source" in inner:
        _rds_event(inner)
    arn = _first(inner, ARN_KEYS) or ""
    identifier = _first(inner, IDENTIFIER_KEYS) or (arn.rsplit(":", 1)[-1] if arn.startswith("arn:") else None)
    if not identifier:
        raise SnapshotMessageError(
            f"no snapshot identifier or ARN (expected one of {', '.join(IDENTIFIER_KEYS + ARN_KEYS)})"
        )
    created_text = _first(inner, CREATED_KEYS)
    if not created_text:
        raise SnapshotMessageError(f"snapshot {identifier}: no creation time")
    try:
        created = datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotMessageError(f"snapshot {identifier}: creation time {created_text!r} is not ISO 8601") from None
    account = _first(inner, ACCOUNT_KEYS) or (arn.split(":")[4] if arn.count(":") >= 5 else "")
    # No offset means UTC: RDS reports snapshot and event times in UTC.
    local = (created if created.tzinfo else created.replace(tzinfo=UTC)).astimezone(zone)
    partition = first_of_month_before(local.date(), 1).isoformat()
    if not (first_partition <= partition <= last_partition):
        raise SnapshotMessageError(
            f"snapshot {identifier} of {local.date()} ({zone.key}) maps to accrual month "
            f"{partition}, outside the partitions {first_partition} to {last_partition}"
        )
    return SnapshotEvent(identifier, arn, created, account, partition)


def last_complete_month(today: date) -> str:
    """``today``: the local date in the retailer's time zone."""
    return first_of_month_before(today, 1).isoformat()
