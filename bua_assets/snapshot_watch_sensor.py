"""The missing month-end snapshot alert (DESIGN §5.9): a sensor that tells operations, once per
month, when no run of the last ended month was started by a CORE snapshot by the deadline."""

import json
from datetime import datetime

import dagster as dg

from bua_assets.ops.earl import time_zone_named
from bua_assets.ops.snapshot_watch import overdue_month
from bua_assets.resources.earl_queue import EarlQueueResource
from bua_assets.resources.operations import NotifyResource
from bua_assets.run_records import core_snapshot_config


def snapshot_runs(instance: dg.DagsterInstance, partition_key: str) -> list[dg.DagsterRun]:
    """Runs of the month started from a CORE snapshot: by the EARL sensor (tag bua/snapshot) or
    by hand with core_snapshot's snapshot_identifier."""
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": partition_key}))

    def from_snapshot(run: dg.DagsterRun) -> bool:
        configured = core_snapshot_config(run)
        return bool(run.tags.get("bua/snapshot") or configured.get("snapshot_identifier"))

    return [r for r in runs if from_snapshot(r)]


@dg.sensor(
    minimum_interval_seconds=900,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Alerts operations (BUA_NOTIFY_TOPIC_ARN) once per month when no run of the last ended "
    "month has been started by a CORE snapshot BUA_SNAPSHOT_DEADLINE_HOURS (default 12) after local "
    "month end (BUA_TIME_ZONE). Turn it on with the EARL sensor in production.",
)
def month_end_snapshot_watch(
    context: dg.SensorEvaluationContext, earl_queue: EarlQueueResource, notify: NotifyResource
):
    now = datetime.now(time_zone_named(earl_queue.time_zone))
    overdue = overdue_month(now, notify.snapshot_deadline_hours)
    alerted = json.loads(context.cursor) if context.cursor else []
    if overdue is None:
        return dg.SkipReason(
            f"the last ended month's snapshot is not due yet (deadline {notify.snapshot_deadline_hours} h)"
        )
    runs = snapshot_runs(context.instance, overdue.partition_key)
    if runs:
        return dg.SkipReason(
            f"{overdue.partition_key}: started by snapshot ({runs[0].tags.get('bua/snapshot', 'config')})"
        )
    if overdue.partition_key in alerted:
        return dg.SkipReason(f"{overdue.partition_key}: no snapshot yet; operations already alerted")
    subject, body = overdue.message(now)
    if notify.topic_arn:
        notify.client().publish(TopicArn=notify.topic_arn, Subject=subject[:100], Message=body)
        context.log.warning(f"alerted {notify.topic_arn}: {subject}")
    else:
        context.log.error(f"{subject} (no BUA_NOTIFY_TOPIC_ARN: not sent)\n{body}")
    # Only the last few months are kept: the cursor stays small for years.
    return dg.SensorResult(skip_reason=subject, cursor=json.dumps(([*alerted, overdue.partition_key])[-12:]))
