"""parse_snapshot_message, pure: the accrual month from the local date, RDS events, malformed identifiers."""

from __future__ import annotations

import json

import pytest

from bua_assets.ops.earl import (
    NotAFinishedSnapshot,
    SnapshotMessageError,
    TimeZoneSettingError,
    parse_snapshot_message,
)

RANGE = {"first_partition": "2023-09-01", "last_partition": "2026-10-01"}
ACCOUNT = "123456789012"


def snapshot(created, identifier="core-month-end", **extra):
    return json.dumps({"snapshot_identifier": identifier, "snapshot_create_time": created, **extra})


def sns(message: str) -> str:
    return json.dumps(
        {
            "Type": "Notification",
            "TopicArn": "arn:aws:sns:ap-southeast-2:1:rds-events",
            "Subject": "RDS Notification Message",
            "Message": message,
        }
    )


def rds_event(code, text, source_id="core-2023-11-30", time="2023-11-30 13:00:00.000", source="db-snapshot"):
    """An RDS event subscription's notification, as SNS delivers it."""
    return sns(
        json.dumps(
            {
                "Event Source": source,
                "Event Time": time,
                "Identifier Link": f"https://console.aws.amazon.com/rds/home?region=ap-southeast-2#snapshot:id={source_id}",
                "Source ID": source_id,
                "Source ARN": f"arn:aws:rds:ap-southeast-2:{ACCOUNT}:snapshot:{source_id}",
                "Event ID": f"http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{code}",
                "Event Message": text,
            }
        )
    )


@pytest.mark.parametrize(
    "created, month",
    [
        ("2023-11-30T13:00:00Z", "2023-11-01"),  # 00:00 AEDT on 1 December: November's snapshot
        ("2023-11-30T14:00:00Z", "2023-11-01"),  # 01:00 AEDT
        ("2023-11-30T12:59:59Z", "2023-10-01"),  # still 30 November locally
        ("2023-11-30T13:00:00", "2023-11-01"),  # no offset: UTC, as RDS gives it
        ("2023-12-01T00:00:00+11:00", "2023-11-01"),  # an explicit offset is honoured
        ("2024-06-30T14:00:00Z", "2024-06-01"),  # 00:00 AEST on 1 July (no daylight saving in winter)
        ("2024-06-30T13:59:00Z", "2024-05-01"),  # 23:59 AEST on 30 June
    ],
)
def test_month_comes_from_the_sydney_date(created, month):
    assert parse_snapshot_message(snapshot(created), **RANGE).partition_key == month


def test_another_time_zone():
    # Perth is UTC+8 all year: 13:00Z is 21:00 on the 30th, 16:00Z is midnight.
    assert (
        parse_snapshot_message(snapshot("2023-11-30T13:00:00Z"), **RANGE, time_zone="Australia/Perth").partition_key
        == "2023-10-01"
    )
    assert (
        parse_snapshot_message(snapshot("2023-11-30T16:00:00Z"), **RANGE, time_zone="Australia/Perth").partition_key
        == "2023-11-01"
    )


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd"])
def test_an_invalid_time_zone_names_the_setting(zone):
    with pytest.raises(TimeZoneSettingError, match="BUA_TIME_ZONE"):
        parse_snapshot_message(snapshot("2023-11-30T13:00:00Z"), **RANGE, time_zone=zone)
    assert not issubclass(TimeZoneSettingError, SnapshotMessageError)  # not a reason to dead-letter messages


@pytest.mark.parametrize(
    "fields",
    [
        {"snapshot_identifier": 20231130},
        {"snapshot_identifier": ["core-a", "core-b"]},
        {"snapshot_identifier": {"id": "core-a"}},
        {"snapshot_identifier": None, "snapshot_arn": 42},
        {"source_account": 123456789012},
        {"snapshot_create_time": 1701349200},
    ],
)
def test_non_string_fields_are_malformed(fields):
    body = json.dumps({"snapshot_identifier": "core-a", "snapshot_create_time": "2023-11-30T13:00:00Z", **fields})
    with pytest.raises(SnapshotMessageError, match="is not a string"):
        parse_snapshot_message(body, **RANGE)


@pytest.mark.parametrize(
    "code, text",
    [
        ("RDS-EVENT-0040", "Creating manual DB snapshot"),
        ("RDS-EVENT-0090", "Creating automated snapshot"),
        ("RDS-EVENT-0041", "Deleted user snapshot"),
        ("RDS-EVENT-0043", "Snapshot failed"),
    ],
)
def test_rds_events_that_are_not_a_finished_snapshot_start_nothing(code, text):
    with pytest.raises(NotAFinishedSnapshot, match=f"{code} \\({text}\\).*not a finished snapshot"):
        parse_snapshot_message(rds_event(code, text), **RANGE)


def test_a_finished_backup_of_an_instance_is_not_a_snapshot_event():
    with pytest.raises(NotAFinishedSnapshot, match="db-instance"):
        parse_snapshot_message(
            rds_event("RDS-EVENT-0002", "Finished DB Instance backup", source="db-instance"), **RANGE
        )


@pytest.mark.parametrize(
    "code, text, source_id",
    [
        ("RDS-EVENT-0042", "Manual snapshot created", "core-2023-11-30"),
        ("RDS-EVENT-0091", "Automated snapshot created", "rds:core-2023-11-30-13-00"),
    ],
)
def test_rds_snapshot_created_events_start_the_month(code, text, source_id):
    event = parse_snapshot_message(rds_event(code, text, source_id=source_id), **RANGE)
    assert (event.identifier, event.source_account, event.partition_key) == (source_id, ACCOUNT, "2023-11-01")
    assert event.arn.endswith(f":snapshot:{source_id}")


@pytest.mark.parametrize("event_id", [None, 91, "http://docs.example/USER_Events.html"])
def test_rds_events_without_a_usable_event_id_are_malformed(event_id):
    message = json.loads(json.loads(rds_event("RDS-EVENT-0042", "Manual snapshot created"))["Message"])
    message["Event ID"] = event_id
    with pytest.raises(SnapshotMessageError, match="Event ID"):
        parse_snapshot_message(sns(json.dumps(message)), **RANGE)
