"""earl_snapshot_sensor against a real moto SQS/SNS server: publish to the topic, evaluate ticks."""

from __future__ import annotations

import json
import uuid

import boto3
import dagster as dg
import pytest

from bua_assets.ops.earl import SnapshotMessageError, parse_snapshot_message
from bua_assets.resources.earl_queue import EarlQueueResource
from bua_assets.sensors import earl_snapshot_sensor

REGION = "ap-southeast-2"


@pytest.fixture
def earl(moto_endpoint):
    """An SNS topic with an SQS queue subscribed (SNS envelopes, not raw) and a dead-letter queue."""
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name=REGION)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name=REGION)
    name = uuid.uuid4().hex[:8]
    topic = sns.create_topic(Name=f"earl-snapshots-{name}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"bua-earl-{name}", Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    dlq = sqs.create_queue(QueueName=f"bua-earl-dlq-{name}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    resource = EarlQueueResource(
        queue_url=queue, dead_letter_queue_url=dlq, region_name=REGION, endpoint_url=moto_endpoint
    )
    return sns, sqs, topic, queue, dlq, resource


def snapshot(identifier, created="2026-11-01T02:15:00Z", account="123456789012"):
    return json.dumps(
        {
            "snapshot_identifier": identifier,
            "snapshot_arn": f"arn:aws:rds:{REGION}:{account}:snapshot:{identifier}",
            "snapshot_create_time": created,
            "source_account": account,
        }
    )


def tick(resource, cursor=None):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"earl_queue": resource})
        return earl_snapshot_sensor(context)


def depth(sqs, queue):
    attrs = sqs.get_queue_attributes(
        QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_snapshot_starts_its_month_once_and_malformed_messages_go_to_the_dead_letter_queue(earl):
    sns, sqs, topic, queue, dlq, resource = earl
    sns.publish(TopicArn=topic, Message=snapshot("core-2026-11-01"))
    sns.publish(TopicArn=topic, Message="{not json")
    sns.publish(TopicArn=topic, Message=json.dumps({"snapshot_create_time": "2026-11-01T00:00:00Z"}))
    sns.publish(TopicArn=topic, Message=snapshot("core-2019-01-01", created="2019-01-01T00:00:00Z"))

    first = tick(resource)
    (request,) = first.run_requests
    assert request.run_key == "core-2026-11-01" and request.partition_key == "2026-10-01"
    assert request.tags["bua/snapshot"] == "core-2026-11-01"
    assert request.run_config["ops"]["core_snapshot"]["config"]["snapshot_arn"].endswith(":snapshot:core-2026-11-01")
    # Not deleted yet: the run request is only emitted when this tick ends.
    assert depth(sqs, queue) == 1
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert len(reasons) == 3
    assert any("not JSON" in r for r in reasons) and any("no snapshot identifier" in r for r in reasons)
    assert any("outside the partitions" in r for r in reasons)

    second = tick(resource, cursor=first.cursor)
    assert not second.run_requests and depth(sqs, queue) == 0  # emitted last tick, deleted now

    # A redelivered notification for the same snapshot maps to the same run key: Dagster starts no second run.
    sns.publish(TopicArn=topic, Message=snapshot("core-2026-11-01"))
    third = tick(resource, cursor=second.cursor)
    assert [r.run_key for r in third.run_requests] == ["core-2026-11-01"]


def test_work_per_tick_is_bounded(earl, monkeypatch):
    sns, _sqs, topic, _queue, _dlq, resource = earl
    monkeypatch.setattr("bua_assets.sensors.MAX_MESSAGES_PER_TICK", 3)
    for k in range(5):
        sns.publish(TopicArn=topic, Message=snapshot(f"core-2026-11-01-{k}"))
    first = tick(resource)
    assert len(first.run_requests) == 3
    second = tick(resource, cursor=first.cursor)
    assert len(second.run_requests) == 2
    assert {r.run_key for r in first.run_requests + second.run_requests} == {f"core-2026-11-01-{k}" for k in range(5)}


def test_unconfigured_queue_skips_with_the_reason():
    result = tick(EarlQueueResource())
    assert isinstance(result, dg.SkipReason) and "BUA_EARL_QUEUE_URL" in result.skip_message


@pytest.mark.parametrize(
    "body, words",
    [
        (json.dumps({"Type": "Notification", "Message": "nope"}), "SNS Message is not JSON"),
        (snapshot("x", created="yesterday"), "not ISO 8601"),
        (json.dumps([1, 2]), "not a JSON object"),
    ],
)
def test_parser_reasons(body, words):
    with pytest.raises(SnapshotMessageError, match=words):
        parse_snapshot_message(body, first_partition="2023-09-01", last_partition="2026-10-01")


def test_parser_takes_the_identifier_from_an_arn():
    body = json.dumps(
        {
            "Type": "Notification",
            "Message": json.dumps(
                {
                    "SourceArn": "arn:aws:rds:ap-southeast-2:999999999999:snapshot:earl-core-0301",
                    "SnapshotCreateTime": "2026-03-01T01:00:00",
                }
            ),
        }
    )
    event = parse_snapshot_message(body, first_partition="2023-09-01", last_partition="2026-10-01")
    assert (event.identifier, event.source_account, event.partition_key) == (
        "earl-core-0301",
        "999999999999",
        "2026-02-01",
    )


def test_without_a_dead_letter_queue_malformed_messages_stay_and_are_reported(earl):
    sns, sqs, topic, queue, dlq, resource = earl
    no_dlq = EarlQueueResource(queue_url=queue, region_name=REGION, endpoint_url=resource.endpoint_url)
    sns.publish(TopicArn=topic, Message="{not json")
    first = tick(no_dlq)
    assert not first.run_requests
    assert "1 malformed messages left in the queue" in first.skip_reason.skip_message
    assert "not JSON" in first.skip_reason.skip_message
    assert depth(sqs, queue) == 1 and depth(sqs, dlq) == 0  # still there, not dropped

    sns.publish(TopicArn=topic, Message=snapshot("core-2026-11-01"))
    second = tick(no_dlq, cursor=first.cursor)
    assert [r.run_key for r in second.run_requests] == ["core-2026-11-01"]
    third = tick(no_dlq, cursor=second.cursor)
    assert not third.run_requests and depth(sqs, queue) == 1  # the snapshot's message went; the malformed one stays


def test_a_failing_dead_letter_queue_does_not_hold_up_valid_messages(earl):
    sns, sqs, topic, queue, _dlq, resource = earl
    broken = EarlQueueResource(
        queue_url=queue,
        dead_letter_queue_url=f"{resource.endpoint_url}/123456789012/no-such-queue",
        region_name=REGION,
        endpoint_url=resource.endpoint_url,
    )
    sns.publish(TopicArn=topic, Message=json.dumps({"snapshot_identifier": 42, "snapshot_create_time": "2026-11-01"}))
    sns.publish(TopicArn=topic, Message=snapshot("core-2026-11-01"))
    first = tick(broken)
    assert [r.run_key for r in first.run_requests] == ["core-2026-11-01"]
    assert depth(sqs, queue) == 2  # the run's message (deleted next tick) and the malformed one
    second = tick(broken, cursor=first.cursor)
    assert not second.run_requests and depth(sqs, queue) == 1  # the malformed one waits for a later tick


def test_rds_events_that_are_not_a_finished_snapshot_are_acknowledged(earl):
    sns, sqs, topic, queue, dlq, resource = earl

    def rds_event(code, text, source_id="core-2026-10-31"):
        return json.dumps(
            {
                "Event Source": "db-snapshot",
                "Event Time": "2026-10-31 13:00:00.000",
                "Source ID": source_id,
                "Source ARN": f"arn:aws:rds:{REGION}:123456789012:snapshot:{source_id}",
                "Event ID": f"http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{code}",
                "Event Message": text,
            }
        )

    sns.publish(TopicArn=topic, Message=rds_event("RDS-EVENT-0090", "Creating automated snapshot"))
    sns.publish(TopicArn=topic, Message=rds_event("RDS-EVENT-0041", "Deleted user snapshot"))
    first = tick(resource)
    assert not first.run_requests and "2 RDS events that are not a finished snapshot" in first.skip_reason.skip_message
    assert depth(sqs, queue) == 0 and depth(sqs, dlq) == 0  # acknowledged, not dead letters

    sns.publish(
        TopicArn=topic,
        Message=rds_event("RDS-EVENT-0091", "Automated snapshot created", source_id="rds:core-2026-10-31-13-00"),
    )
    (request,) = tick(resource, cursor=first.cursor).run_requests
    # 13:00Z on 31 October is midnight on 1 November in Sydney: October's snapshot.
    assert (request.run_key, request.partition_key) == ("rds:core-2026-10-31-13-00", "2026-10-01")


def test_an_invalid_time_zone_fails_the_tick_and_leaves_the_queue_alone(earl):
    sns, sqs, topic, queue, dlq, resource = earl
    sns.publish(TopicArn=topic, Message=snapshot("core-2026-11-01"))
    bad = EarlQueueResource(
        queue_url=queue,
        dead_letter_queue_url=dlq,
        region_name=REGION,
        endpoint_url=resource.endpoint_url,
        time_zone="Australia/Sydnee",
    )
    with pytest.raises(Exception, match="BUA_TIME_ZONE='Australia/Sydnee'"):
        tick(bad)
    assert depth(sqs, queue) == 1 and depth(sqs, dlq) == 0


def test_bad_snapshot_identifiers_go_to_the_dead_letter_queue_with_the_reason(earl):
    sns, sqs, topic, _queue, dlq, resource = earl
    for identifier in ("c" * 300, "core..2026", "arn:aws:rds"):
        sns.publish(TopicArn=topic, Message=snapshot(identifier))
    sns.publish(TopicArn=topic, Message=snapshot("core-2026-11-01"))
    first = tick(resource)
    assert [r.run_key for r in first.run_requests] == ["core-2026-11-01"]  # only the valid one starts a run
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])["Messages"]
    reasons = sorted(m["MessageAttributes"]["reason"]["StringValue"] for m in dead)
    assert len(reasons) == 3
    assert any("(300 characters) is longer than 255 characters" in r for r in reasons)
    assert any("'core..2026' has characters other than letters, digits and hyphens" in r for r in reasons)
    assert any("snapshot ARN 'arn:aws:rds' is not" in r for r in reasons)


def subscription_confirmation(topic: str, token: str) -> str:
    """What SNS puts in a queue subscribed to a topic, before it delivers anything."""
    return json.dumps(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": str(uuid.uuid4()),
            "Token": token,
            "TopicArn": topic,
            "Message": f"You have chosen to subscribe to the topic {topic}.",
            "SubscribeURL": f"https://sns.{REGION}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}",
            "Timestamp": "2026-11-01T00:00:00.000Z",
        }
    )


def test_a_subscription_confirmation_is_confirmed_with_its_token_and_acknowledged(earl, monkeypatch):
    _sns, sqs, topic, queue, dlq, resource = earl
    resource = EarlQueueResource(
        queue_url=queue,
        dead_letter_queue_url=dlq,
        region_name=REGION,
        endpoint_url=resource.endpoint_url,
        sns_endpoint_url=resource.endpoint_url,
    )
    confirmed: list[dict] = []
    real_sns_client = EarlQueueResource.sns_client

    def recording_sns_client(self, topic_arn):
        client = real_sns_client(self, topic_arn)  # a real client on the moto server
        client.meta.events.register(
            "provide-client-params.sns.ConfirmSubscription", lambda params, **_: confirmed.append(dict(params))
        )
        return client

    monkeypatch.setattr(EarlQueueResource, "sns_client", recording_sns_client)
    sqs.send_message(QueueUrl=queue, MessageBody=subscription_confirmation(topic, "token-5f3e9a"))
    first = tick(resource)
    assert not first.run_requests and "1 SNS subscriptions confirmed" in first.skip_reason.skip_message
    assert confirmed == [{"TopicArn": topic, "Token": "token-5f3e9a"}]
    assert depth(sqs, queue) == 0 and depth(sqs, dlq) == 0  # acknowledged, not a dead letter

    # SNS refuses (here: a topic that does not exist): the confirmation stays for a later tick.
    gone = topic.rsplit(":", 1)[0] + ":no-such-topic"
    sqs.send_message(QueueUrl=queue, MessageBody=subscription_confirmation(gone, "token-0a1b2c"))
    second = tick(resource, cursor=first.cursor)
    assert "1 SNS subscriptions not confirmed, left in the queue" in second.skip_reason.skip_message
    assert depth(sqs, queue) == 1 and depth(sqs, dlq) == 0
