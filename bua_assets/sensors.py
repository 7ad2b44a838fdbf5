"""The EARL snapshot sensor: a new CORE snapshot starts its accrual month."""

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dagster as dg
from botocore.exceptions import BotoCoreError, ClientError

from bua_assets.jobs import monthly_bua_job
from bua_assets.ops.earl import (
    NotAFinishedSnapshot,
    SnapshotMessageError,
    SubscriptionConfirmation,
    last_complete_month,
    parse_snapshot_message,
    time_zone_named,
)
from bua_assets.partitions import FIRST_MONTH, monthly_partitions
from bua_assets.resources.earl_queue import EarlQueueResource

MAX_MESSAGES_PER_TICK = 50  # bounded work per tick; the rest waits for the next one


@dg.sensor(
    job=monthly_bua_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Starts each month's run when CORE's month-end snapshot arrives. It starts OFF: set "
    "BUA_EARL_QUEUE_URL (the SQS queue subscribed to the EARL snapshot SNS topic; without it every "
    "tick skips, saying so) and BUA_EARL_DEAD_LETTER_QUEUE_URL, then turn it on here. "
    "It polls the queue (short polling) every minute. Each finished "
    "snapshot starts its accrual month (the month before the snapshot's local date, BUA_TIME_ZONE), "
    "keyed by the snapshot identifier so a redelivered message never starts a second run. A message "
    "is deleted on the tick after the one that emitted its run request; RDS events that are not a "
    "finished snapshot are deleted with the reason logged; an SNS SubscriptionConfirmation is "
    "confirmed (ConfirmSubscription with its token) and deleted; malformed ones (bad JSON, an "
    "identifier or ARN breaking RDS's rules, ...) are deleted only once the dead-letter queue has "
    "them, with the reason, otherwise they stay and are reported every tick.",
)
def earl_snapshot_sensor(context: dg.SensorEvaluationContext, earl_queue: EarlQueueResource):
    if not earl_queue.queue_url:
        return dg.SkipReason("no EARL queue configured (BUA_EARL_QUEUE_URL)")
    zone = time_zone_named(earl_queue.time_zone)  # a bad setting fails the tick, naming BUA_TIME_ZONE
    tick = EarlTick(context, earl_queue, earl_queue.client())
    previous = json.loads(context.cursor) if context.cursor else {"pending": []}
    tick.delete_emitted(previous["pending"])
    last = last_complete_month(datetime.now(zone).date())
    # Dagster's monthly partitions may roll over later than the retailer's midnight; a month it does
    # not list yet cannot be requested, so such a snapshot waits in the queue for a later tick.
    dagster_last = monthly_partitions.get_last_partition_key() or FIRST_MONTH
    for message in tick.receive():
        try:
            event = parse_snapshot_message(
                message["Body"], first_partition=FIRST_MONTH, last_partition=last, time_zone=zone
            )
        except SubscriptionConfirmation as confirmation:
            tick.confirm(message, confirmation)
        except NotAFinishedSnapshot as exc:
            tick.ignored.append(message["MessageId"])
            context.log.info(f"EARL message {message['MessageId']} acknowledged, nothing to start: {exc}")
            tick.delete(message)
        except SnapshotMessageError as exc:
            tick.dead_letter(message, exc)
        else:
            if event.partition_key > dagster_last:
                tick.waiting.append(message["MessageId"])
                context.log.info(
                    f"EARL snapshot {event.identifier} starts {event.partition_key}, not yet a "
                    f"partition (last {dagster_last}): left in the queue for a later tick"
                )
            else:
                tick.run_requests.append(run_request(event))
                tick.pending.append(message["ReceiptHandle"])
    cursor = json.dumps({"pending": tick.pending})
    if not tick.run_requests:
        return dg.SensorResult(skip_reason=tick.skip_reason(), cursor=cursor)
    return dg.SensorResult(run_requests=tick.run_requests, cursor=cursor)


def run_request(event) -> dg.RunRequest:
    """The month's run for a finished snapshot, keyed by the snapshot: a redelivery starts nothing new."""
    return dg.RunRequest(
        run_key=event.identifier,
        partition_key=event.partition_key,
        run_config={
            "ops": {
                "core_snapshot": {
                    "config": {
                        "snapshot_identifier": event.identifier,
                        "snapshot_arn": event.arn,
                        "source_account": event.source_account,
                    }
                }
            }
        },
        tags={
            "bua/snapshot": event.identifier,
            "bua/snapshot_created": event.created.isoformat(),
            "bua/source_account": event.source_account,
            "bua/trigger": "earl_snapshot_sensor",
        },
    )


@dataclass
class EarlTick:
    """One tick's messages and what became of each (the skip reason counts them)."""

    context: dg.SensorEvaluationContext
    earl_queue: EarlQueueResource
    sqs: Any
    run_requests: list[dg.RunRequest] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)  # receipt handles of messages whose run was requested
    dead: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    confirmed: list[str] = field(default_factory=list)
    unconfirmed: list[str] = field(default_factory=list)

    def seen(self) -> int:
        return sum(
            len(x)
            for x in (self.pending, self.dead, self.held, self.ignored, self.waiting, self.confirmed, self.unconfirmed)
        )

    def delete(self, message: dict) -> None:
        self.sqs.delete_message(QueueUrl=self.earl_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def delete_emitted(self, handles: list[str]) -> None:
        """The previous tick's run requests have been emitted (the cursor is only stored after that):
        its messages can go now. A handle that expired meanwhile means SQS redelivers the message,
        which maps to the same run key, so no second run starts."""
        for handle in handles:
            try:
                self.sqs.delete_message(QueueUrl=self.earl_queue.queue_url, ReceiptHandle=handle)
            except ClientError as exc:
                self.context.log.warning(
                    f"could not delete an emitted EARL message (it will be redelivered and skipped): {exc}"
                )

    def receive(self) -> Iterator[dict]:
        """Messages until the queue is empty or MAX_MESSAGES_PER_TICK have been dealt with."""
        while self.seen() < MAX_MESSAGES_PER_TICK:
            batch = self.sqs.receive_message(
                QueueUrl=self.earl_queue.queue_url,
                WaitTimeSeconds=0,
                MaxNumberOfMessages=min(10, MAX_MESSAGES_PER_TICK - self.seen()),
            )
            messages = batch.get("Messages", [])
            if not messages:
                return
            yield from messages

    def confirm(self, message: dict, confirmation: SubscriptionConfirmation) -> None:
        """SNS asks before it delivers: confirm with the token, then acknowledge. A failed
        confirmation stays in the queue (the token is valid three days) and is retried."""
        message_id = message["MessageId"]
        try:
            self.earl_queue.sns_client(confirmation.topic_arn).confirm_subscription(
                TopicArn=confirmation.topic_arn, Token=confirmation.token
            )
        except (ClientError, BotoCoreError) as exc:
            self.unconfirmed.append(f"{message_id}: {confirmation}: {exc}")
            self.context.log.error(
                f"EARL message {message_id}: {confirmation} could not be confirmed, it stays in the queue: {exc}"
            )
            return
        self.confirmed.append(message_id)
        self.context.log.info(f"EARL message {message_id}: {confirmation} confirmed and acknowledged")
        self.delete(message)

    def dead_letter(self, message: dict, problem: SnapshotMessageError) -> None:
        """A malformed message is deleted only once the dead-letter queue holds it, with the reason."""
        message_id = message["MessageId"]
        if not self.earl_queue.dead_letter_queue_url:
            self.held.append(f"{message_id}: {problem}")
            self.context.log.error(
                f"EARL message {message_id} is malformed and stays in the queue "
                f"(no dead-letter queue, BUA_EARL_DEAD_LETTER_QUEUE_URL): {problem}"
            )
            return
        try:
            self.sqs.send_message(
                QueueUrl=self.earl_queue.dead_letter_queue_url,
                MessageBody=message["Body"],
                MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": str(problem)},
                    "source_message_id": {"DataType": "String", "StringValue": message_id},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            # The rest of this receive still goes ahead; this one is retried on a later tick.
            self.held.append(f"{message_id}: {problem}")
            self.context.log.error(
                f"EARL message {message_id} is malformed ({problem}) and stays in the queue: "
                f"the dead-letter queue refused it: {exc}"
            )
            return
        self.dead.append(message_id)
        self.context.log.warning(f"EARL message {message_id} moved to the dead-letter queue: {problem}")
        self.delete(message)

    def skip_reason(self) -> str:
        reason = (
            f"no new snapshots ({len(self.dead)} malformed messages moved to the dead-letter queue, "
            f"{len(self.ignored)} RDS events that are not a finished snapshot acknowledged, "
            f"{len(self.waiting)} waiting for their partition, {len(self.confirmed)} SNS subscriptions confirmed)"
        )
        if self.held:
            reason += f"; {len(self.held)} malformed messages left in the queue: " + "; ".join(self.held)
        if self.unconfirmed:
            reason += f"; {len(self.unconfirmed)} SNS subscriptions not confirmed, left in the queue: " + "; ".join(
                self.unconfirmed
            )
        return reason
