"""parse_snapshot_message, pure: the accrual month from the local date, RDS events, malformed identifiers."""

from __future__ import annotations

import json

import pytest

from bua_assets.ops.earl import (
    NotAFinishedSnapshot,
    SnapshotMessageError,
    SubscriptionConfirmation,
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


@pytest.mark.parametrize(
    "identifier, reason",
    [
        ("c" * 300, "'cccccccccccccccccccccccccccccccccccccccc'... (300 characters) is longer than 255 characters"),
        ("c" * 100_000, "(100000 characters) is longer than 255 characters"),
        ("core..2023", "has characters other than letters, digits and hyphens"),
        ("../core", "does not start with a letter"),
        ("2023-core", "does not start with a letter"),
        ("core--2023", "has two hyphens in a row"),
        ("core-2023-", "ends with a hyphen"),
        ("core 2023", "has characters other than letters, digits and hyphens"),
        ("arn:aws:rds", "snapshot ARN 'arn:aws:rds' is not arn:aws:rds:<region>:<12-digit account>:snapshot:<id>"),
    ],
)
def test_bad_snapshot_identifiers_are_rejected_up_front_with_the_reason(identifier, reason):
    with pytest.raises(SnapshotMessageError) as raised:
        parse_snapshot_message(snapshot("2023-11-30T13:00:00Z", identifier=identifier), **RANGE)
    assert reason in str(raised.value) and len(str(raised.value)) < 300  # a long value is not echoed


def test_the_longest_valid_identifier_is_accepted():
    longest = "c" + "-c" * 127  # 255 characters
    assert parse_snapshot_message(snapshot("2023-11-30T13:00:00Z", identifier=longest), **RANGE).identifier == longest


@pytest.mark.parametrize("kind", ["snapshot", "cluster-snapshot"])
def test_a_well_formed_arn_in_the_identifier_field_is_read_as_its_id(kind):
    arn = f"arn:aws:rds:ap-southeast-2:{ACCOUNT}:{kind}:core-2023-11-30"
    event = parse_snapshot_message(snapshot("2023-11-30T13:00:00Z", identifier=arn), **RANGE)
    assert (event.identifier, event.arn, event.source_account) == ("core-2023-11-30", arn, ACCOUNT)


@pytest.mark.parametrize(
    "arn, reason",
    [
        (
            f"arn:aws:rds:ap-southeast-2:{ACCOUNT}:db:core-2023-11-30",
            "is not arn:aws:rds",
        ),  # an instance, not a snapshot
        ("arn:aws:rds:ap-southeast-2:999:snapshot:core-2023-11-30", "is not arn:aws:rds"),  # not a 12-digit account
        (f"arn:aws:s3:ap-southeast-2:{ACCOUNT}:snapshot:core-2023-11-30", "is not arn:aws:rds"),
        (f"arn:aws:rds:ap-southeast-2:{ACCOUNT}:snapshot:core--x", "has two hyphens in a row"),
        (f"arn:aws:rds:ap-southeast-2:{ACCOUNT}:snapshot:other-snapshot", "and the ARN's 'other-snapshot' differ"),
    ],
)
def test_a_malformed_or_contradicting_arn_is_rejected(arn, reason):
    body = snapshot("2023-11-30T13:00:00Z", identifier="core-2023-11-30", snapshot_arn=arn)
    with pytest.raises(SnapshotMessageError, match=reason):
        parse_snapshot_message(body, **RANGE)


def test_an_sns_subscription_confirmation_is_a_confirmation_not_a_bad_message():
    topic = f"arn:aws:sns:ap-southeast-2:{ACCOUNT}:earl-snapshots"
    body = json.dumps(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
            "Token": "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a7",
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": "https://sns.ap-southeast-2.amazonaws.com/?Action=ConfirmSubscription",
        }
    )
    with pytest.raises(SubscriptionConfirmation) as raised:
        parse_snapshot_message(body, **RANGE)
    assert (raised.value.topic_arn, raised.value.token[:8]) == (topic, "2336412f")
    without_token = json.dumps({**json.loads(body), "Token": ""})
    with pytest.raises(SnapshotMessageError, match="without a Token"):
        parse_snapshot_message(without_token, **RANGE)
    with pytest.raises(SnapshotMessageError, match="without a valid TopicArn"):
        parse_snapshot_message(json.dumps({**json.loads(body), "TopicArn": "arn:aws:sqs:x"}), **RANGE)
