"""The EARL snapshot sensor: a new CORE snapshot starts its accrual month."""

import json
from datetime import datetime

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
def earl_snapshot_sensor(context: dg.SensorEvaluationContext, earl_queue: EarlQueueResource):  # noqa: C901 - per message: parse, reject to the DLQ, confirm, or request; to be split into named steps (issue 27 item 4)
    if not earl_queue.queue_url:
        return dg.SkipReason("no EARL queue configured (BUA_EARL_QUEUE_URL)")
    zone = time_zone_named(earl_queue.time_zone)  # a bad setting fails the tick, naming BUA_TIME_ZONE
    sqs = earl_queue.client()
    previous = json.loads(context.cursor) if context.cursor else {"pending": []}
    # The previous tick's run requests have been emitted (the cursor is only stored after that):
    # its messages can go now. A handle that expired meanwhile means SQS redelivers the message,
    # which maps to the same run key, so no second run starts.
    for handle in previous["pending"]:
        try:
            sqs.delete_message(QueueUrl=earl_queue.queue_url, ReceiptHandle=handle)
        except ClientError as exc:
            context.log.warning(f"could not delete an emitted EARL message (it will be redelivered and skipped): {exc}")
    run_requests, pending, dead, held, ignored, waiting = [], [], [], [], [], []
    confirmed: list[str] = []
    unconfirmed: list[str] = []
    last = last_complete_month(datetime.now(zone).date())
    # Dagster's monthly partitions may roll over later than the retailer's midnight; a month it does
    # not list yet cannot be requested, so such a snapshot waits in the queue for a later tick.
    dagster_last = monthly_partitions.get_last_partition_key() or FIRST_MONTH

    def seen():
        return len(pending) + len(dead) + len(held) + len(ignored) + len(waiting) + len(confirmed) + len(unconfirmed)

    while seen() < MAX_MESSAGES_PER_TICK:
        batch = sqs.receive_message(
            QueueUrl=earl_queue.queue_url,
            WaitTimeSeconds=0,
            MaxNumberOfMessages=min(10, MAX_MESSAGES_PER_TICK - seen()),
        )
        messages = batch.get("Messages", [])
        if not messages:
            break
        for message in messages:
            message_id = message["MessageId"]
            try:
                event = parse_snapshot_message(
                    message["Body"], first_partition=FIRST_MONTH, last_partition=last, time_zone=zone
                )
            except SubscriptionConfirmation as confirmation:
                # SNS asks before it delivers: confirm with the token, then acknowledge. A failed
                # confirmation stays in the queue (the token is valid three days) and is retried.
                try:
                    earl_queue.sns_client(confirmation.topic_arn).confirm_subscription(
                        TopicArn=confirmation.topic_arn, Token=confirmation.token
                    )
                except (ClientError, BotoCoreError) as confirm_exc:
                    unconfirmed.append(f"{message_id}: {confirmation}: {confirm_exc}")
                    context.log.error(
                        f"EARL message {message_id}: {confirmation} could not be confirmed, it stays "
                        f"in the queue: {confirm_exc}"
                    )
                    continue
                confirmed.append(message_id)
                context.log.info(f"EARL message {message_id}: {confirmation} confirmed and acknowledged")
                sqs.delete_message(QueueUrl=earl_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            except NotAFinishedSnapshot as exc:
                ignored.append(message_id)
                context.log.info(f"EARL message {message_id} acknowledged, nothing to start: {exc}")
                sqs.delete_message(QueueUrl=earl_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            except SnapshotMessageError as exc:
                # Deleted only once the dead-letter queue holds it: a malformed message is never dropped.
                if not earl_queue.dead_letter_queue_url:
                    held.append(f"{message_id}: {exc}")
                    context.log.error(
                        f"EARL message {message_id} is malformed and stays in the queue "
                        f"(no dead-letter queue, BUA_EARL_DEAD_LETTER_QUEUE_URL): {exc}"
                    )
                    continue
                try:
                    sqs.send_message(
                        QueueUrl=earl_queue.dead_letter_queue_url,
                        MessageBody=message["Body"],
                        MessageAttributes={
                            "reason": {"DataType": "String", "StringValue": str(exc)},
                            "source_message_id": {"DataType": "String", "StringValue": message_id},
                        },
                    )
                except (ClientError, BotoCoreError) as send_exc:
                    # The rest of this receive still goes ahead; this one is retried on a later tick.
                    held.append(f"{message_id}: {exc}")
                    context.log.error(
                        f"EARL message {message_id} is malformed ({exc}) and stays in the queue: "
                        f"the dead-letter queue refused it: {send_exc}"
                    )
                    continue
                dead.append(message_id)
                context.log.warning(f"EARL message {message_id} moved to the dead-letter queue: {exc}")
                sqs.delete_message(QueueUrl=earl_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            if event.partition_key > dagster_last:
                waiting.append(message_id)
                context.log.info(
                    f"EARL snapshot {event.identifier} starts {event.partition_key}, not yet a "
                    f"partition (last {dagster_last}): left in the queue for a later tick"
                )
                continue
            run_requests.append(
                dg.RunRequest(
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
            )
            pending.append(message["ReceiptHandle"])
    cursor = json.dumps({"pending": pending})
    if not run_requests:
        reason = (
            f"no new snapshots ({len(dead)} malformed messages moved to the dead-letter queue, "
            f"{len(ignored)} RDS events that are not a finished snapshot acknowledged, "
            f"{len(waiting)} waiting for their partition, {len(confirmed)} SNS subscriptions confirmed)"
        )
        if held:
            reason += f"; {len(held)} malformed messages left in the queue: " + "; ".join(held)
        if unconfirmed:
            reason += f"; {len(unconfirmed)} SNS subscriptions not confirmed, left in the queue: " + "; ".join(
                unconfirmed
            )
        return dg.SensorResult(skip_reason=reason, cursor=cursor)
    return dg.SensorResult(run_requests=run_requests, cursor=cursor)
