"""The missing month-end snapshot alert (issue 24): when no run of the last ended month was started
by a CORE snapshot by the deadline, operations hear it once on SNS (moto server)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import boto3
import dagster as dg

from bua_assets.ops.snapshot_watch import overdue_month
from bua_assets.resources.earl_queue import EarlQueueResource
from bua_assets.resources.operations import NotifyResource
from bua_assets.snapshot_watch_sensor import month_end_snapshot_watch

SYDNEY = ZoneInfo("Australia/Sydney")


def test_the_month_is_overdue_only_past_local_month_end_plus_the_deadline():
    assert overdue_month(datetime(2026, 11, 1, 11, 59, tzinfo=SYDNEY), 12) is None
    late = overdue_month(datetime(2026, 11, 1, 12, 0, tzinfo=SYDNEY), 12)
    assert late is not None and late.partition_key == "2026-10-01"
    assert late.deadline == datetime(2026, 11, 1, 12, 0, tzinfo=SYDNEY)
    subject, body = late.message(datetime(2026, 11, 1, 15, 30, tzinfo=SYDNEY))
    assert subject == "BUA 2026-10: no month-end CORE snapshot 3.5 h after the deadline"
    assert "bua-assets period --from 2026-10-01 --to 2026-10-01" in body
    # February's month end, and a month later the next month is the one watched.
    assert overdue_month(datetime(2027, 3, 2, 0, 0, tzinfo=SYDNEY), 12).partition_key == "2027-02-01"


def said(result) -> str:
    """What a tick says: a SkipReason's message, or a SensorResult's skip reason."""
    reason = result.skip_reason if isinstance(result, dg.SensorResult) else result
    assert isinstance(reason, dg.SkipReason), f"the tick did not skip: {result!r}"
    return reason.skip_message or ""


def _topic(moto_endpoint):
    sns = boto3.client("sns", endpoint_url=moto_endpoint, region_name="ap-southeast-2")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="ap-southeast-2")
    topic = sns.create_topic(Name=f"bua-alerts-{uuid.uuid4().hex[:8]}")["TopicArn"]
    queue = sqs.create_queue(QueueName=f"bua-alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)

    def received() -> list[dict]:
        out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for m in out:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        return [json.loads(m["Body"]) for m in out]

    return topic, received


def test_no_snapshot_by_the_deadline_alerts_once_and_a_snapshot_run_silences_it(moto_endpoint):
    topic, received = _topic(moto_endpoint)
    resources = {
        # a deadline of 0 hours: the last ended month is always past it
        "notify": NotifyResource(topic_arn=topic, endpoint_url=moto_endpoint, snapshot_deadline_hours=0),
        "earl_queue": EarlQueueResource(queue_url="", time_zone="Australia/Sydney"),
    }
    month = overdue_month(datetime.now(SYDNEY), 0)
    assert month is not None
    with dg.instance_for_test() as instance:
        result = month_end_snapshot_watch(dg.build_sensor_context(instance=instance, resources=resources))
        (alert,) = received()
        assert alert["Subject"].startswith(f"BUA {month.partition_key[:7]}: no month-end CORE snapshot")
        assert "earl_snapshot_sensor" in alert["Message"]
        # The next tick remembers it: one alert per month, not one every 15 minutes.
        again = month_end_snapshot_watch(
            dg.build_sensor_context(instance=instance, resources=resources, cursor=result.cursor)
        )
        assert "already alerted" in said(again) and received() == []
        # A run that is not from a snapshot (a rehearsal by hand without one) does not count ...
        instance.add_run(
            dg.DagsterRun(
                job_name="monthly_bua", run_id=str(uuid.uuid4()), tags={"dagster/partition": month.partition_key}
            )
        )
        fresh = month_end_snapshot_watch(dg.build_sensor_context(instance=instance, resources=resources))
        assert len(received()) == 1 and said(fresh).startswith("BUA ")
        # ... the EARL sensor's run does.
        instance.add_run(
            dg.DagsterRun(
                job_name="monthly_bua",
                run_id=str(uuid.uuid4()),
                tags={"dagster/partition": month.partition_key, "bua/snapshot": "bua-core-monthend"},
            )
        )
        quiet = month_end_snapshot_watch(dg.build_sensor_context(instance=instance, resources=resources))
        assert "started by snapshot (bua-core-monthend)" in said(quiet) and received() == []
