"""The EARL snapshot sensor: a new CORE snapshot starts its accrual month."""

import json
from datetime import datetime, timezone

import dagster as dg

from bua_assets.jobs import monthly_bua_job
from bua_assets.ops.earl import SnapshotMessageError, last_complete_month, parse_snapshot_message
from bua_assets.partitions import FIRST_MONTH
from bua_assets.resources.earl_queue import EarlQueueResource

MAX_MESSAGES_PER_TICK = 50  # bounded work per tick; the rest waits for the next one


@dg.sensor(job=monthly_bua_job, minimum_interval_seconds=60,
           description="Polls the SQS queue subscribed to the EARL snapshot SNS topic (short polling). Each snapshot "
                       "starts its accrual month (the month before the snapshot date), keyed by the snapshot "
                       "identifier so a redelivered message never starts a second run. A message is deleted on the "
                       "tick after the one that emitted its run request; malformed ones go to the dead-letter queue "
                       "with the reason.")
def earl_snapshot_sensor(context: dg.SensorEvaluationContext, earl_queue: EarlQueueResource):
    if not earl_queue.queue_url:
        return dg.SkipReason("no EARL queue configured (BUA_EARL_QUEUE_URL)")
    sqs = earl_queue.client()
    previous = json.loads(context.cursor) if context.cursor else {"pending": []}
    # The previous tick's run requests have been emitted (the cursor is only stored after that):
    # its messages can go now. A handle that expired meanwhile means SQS redelivers the message,
    # which maps to the same run key, so no second run starts.
    for handle in previous["pending"]:
        try:
            sqs.delete_message(QueueUrl=earl_queue.queue_url, ReceiptHandle=handle)
        except sqs.exceptions.ClientError as exc:
            context.log.warning(f"could not delete an emitted EARL message (it will be redelivered and skipped): {exc}")
    run_requests, pending, dead = [], [], []
    last = last_complete_month(datetime.now(timezone.utc).date())
    while len(pending) + len(dead) < MAX_MESSAGES_PER_TICK:
        batch = sqs.receive_message(QueueUrl=earl_queue.queue_url, WaitTimeSeconds=0,
                                    MaxNumberOfMessages=min(10, MAX_MESSAGES_PER_TICK - len(pending) - len(dead)))
        messages = batch.get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                event = parse_snapshot_message(message["Body"], first_partition=FIRST_MONTH, last_partition=last)
            except SnapshotMessageError as exc:
                dead.append(str(exc))
                context.log.warning(f"EARL message {message['MessageId']} moved to the dead-letter queue: {exc}")
                if earl_queue.dead_letter_queue_url:
                    sqs.send_message(QueueUrl=earl_queue.dead_letter_queue_url, MessageBody=message["Body"],
                                     MessageAttributes={"reason": {"DataType": "String", "StringValue": str(exc)},
                                                        "source_message_id": {"DataType": "String",
                                                                              "StringValue": message["MessageId"]}})
                sqs.delete_message(QueueUrl=earl_queue.queue_url, ReceiptHandle=message["ReceiptHandle"])
                continue
            run_requests.append(dg.RunRequest(
                run_key=event.identifier, partition_key=event.partition_key,
                run_config={"ops": {"core_snapshot": {"config": {
                    "snapshot_identifier": event.identifier, "snapshot_arn": event.arn,
                    "source_account": event.source_account}}}},
                tags={"bua/snapshot": event.identifier, "bua/snapshot_created": event.created.isoformat(),
                      "bua/source_account": event.source_account, "bua/trigger": "earl_snapshot_sensor"}))
            pending.append(message["ReceiptHandle"])
    cursor = json.dumps({"pending": pending})
    if not run_requests:
        return dg.SensorResult(skip_reason=f"no new snapshots ({len(dead)} malformed messages set aside)", cursor=cursor)
    return dg.SensorResult(run_requests=run_requests, cursor=cursor)
