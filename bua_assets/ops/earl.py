"""EARL snapshot notifications: an SNS envelope around JSON naming the CORE snapshot.

Pure parsing, no AWS or Dagster: a message becomes a SnapshotEvent with the accrual month it
starts (the month before the snapshot's local date), a NotAFinishedSnapshot (an RDS event about a
snapshot that is not a finished one: nothing to start), a SubscriptionConfirmation (SNS asking the
queue to confirm its subscription), or a SnapshotMessageError saying what is wrong. Identifiers and
ARNs are checked against RDS's rules here, up front: a bad one never reaches a run.
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


@dataclass(frozen=True)
class SubscriptionConfirmation(Exception):
    """SNS asks to confirm the queue's subscription to ``topic_arn``: confirm with ``token``, then
    acknowledge the message (it is not a snapshot, and not malformed)."""

    topic_arn: str
    token: str

    def __str__(self) -> str:
        return f"SNS subscription confirmation for {self.topic_arn}"


# RDS identifier rules (DB snapshots and cluster snapshots): 1-255 letters, digits and hyphens,
# starting with a letter, no two hyphens in a row, not ending with one. An automated snapshot is
# named "rds:" + such an identifier by RDS itself.
MAX_IDENTIFIER_LENGTH = 255
_IDENTIFIER = re.compile(r"^(rds:)?[A-Za-z](?:-?[A-Za-z0-9])*$")
_SNAPSHOT_ARN = re.compile(
    r"^arn:aws(?:-[a-z]+)*:rds:[a-z]{2}(?:-[a-z]+)+-\d+:(?P<account>\d{12}):(?:snapshot|cluster-snapshot):(?P<id>.+)$"
)
_SNS_TOPIC_ARN = re.compile(r"^arn:aws(?:-[a-z]+)*:sns:[a-z]{2}(?:-[a-z]+)+-\d+:\d{12}:[A-Za-z0-9_.-]{1,256}$")
_SHOWN = 40  # characters of a rejected value shown in the reason (a 100,000-character one is not echoed)


def _shown(value: str) -> str:
    return repr(value) if len(value) <= _SHOWN else f"{value[:_SHOWN]!r}... ({len(value)} characters)"


def checked_identifier(identifier: str) -> str:
    """``identifier`` when it is a valid RDS snapshot identifier, else SnapshotMessageError saying why."""
    name = identifier.removeprefix("rds:")
    problem = None
    if not name:
        problem = "is empty"
    elif len(name) > MAX_IDENTIFIER_LENGTH:
        problem = f"is longer than {MAX_IDENTIFIER_LENGTH} characters"
    elif not name[0].isascii() or not name[0].isalpha():
        problem = "does not start with a letter"
    elif "--" in name:
        problem = "has two hyphens in a row"
    elif name.endswith("-"):
        problem = "ends with a hyphen"
    elif not _IDENTIFIER.match(identifier):
        problem = "has characters other than letters, digits and hyphens"
    if problem:
        raise SnapshotMessageError(f"snapshot identifier {_shown(identifier)} {problem} (RDS identifier rules)")
    return identifier


def identifier_from_arn(arn: str) -> tuple[str, str]:
    """(identifier, account) of a well-formed RDS snapshot or cluster-snapshot ARN, else SnapshotMessageError."""
    match = _SNAPSHOT_ARN.match(arn) if len(arn) < 2048 else None
    if not match:
        raise SnapshotMessageError(
            f"snapshot ARN {_shown(arn)} is not arn:aws:rds:<region>:<12-digit account>:snapshot:<id> "
            f"(or :cluster-snapshot:<id>)"
        )
    return checked_identifier(match["id"]), match["account"]


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


def parse_snapshot_message(  # noqa: C901 - one guard per field of the message, each with its own reason for the dead-letter queue
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
    if isinstance(outer, dict) and outer.get("Type") == "SubscriptionConfirmation":
        topic, token = outer.get("TopicArn"), outer.get("Token")
        if not isinstance(topic, str) or not _SNS_TOPIC_ARN.match(topic):
            raise SnapshotMessageError(f"SNS SubscriptionConfirmation without a valid TopicArn: {_shown(str(topic))}")
        if not isinstance(token, str) or not token.strip():
            raise SnapshotMessageError(f"SNS SubscriptionConfirmation for {topic} without a Token")
        raise SubscriptionConfirmation(topic, token)
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
    identifier = _first(inner, IDENTIFIER_KEYS) or ""
    if identifier.startswith("arn:"):  # an ARN where the identifier belongs: its id, when well formed
        arn = arn or identifier
        identifier, _ = identifier_from_arn(identifier)
    arn_identifier, arn_account = identifier_from_arn(arn) if arn else ("", "")
    if identifier and arn_identifier and identifier != arn_identifier:
        raise SnapshotMessageError(
            f"snapshot identifier {_shown(identifier)} and the ARN's {_shown(arn_identifier)} differ"
        )
    identifier = identifier or arn_identifier
    if not identifier:
        raise SnapshotMessageError(
            f"no snapshot identifier or ARN (expected one of {', '.join(IDENTIFIER_KEYS + ARN_KEYS)})"
        )
    checked_identifier(identifier)  # before it becomes a run key, a tag and an RDS API argument
    created_text = _first(inner, CREATED_KEYS)
    if not created_text:
        raise SnapshotMessageError(f"snapshot {identifier}: no creation time")
    try:
        created = datetime.fromisoformat(created_text.replace("Z", "+00:00"))
    except ValueError:
        raise SnapshotMessageError(f"snapshot {identifier}: creation time {created_text!r} is not ISO 8601") from None
    account = _first(inner, ACCOUNT_KEYS) or arn_account
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
