"""The preflight job (issue 24): the month's run checks what it will need before it starts, in
seconds (bua_assets/ops/preflight.py has the probes). `bua-assets preflight` runs the same."""

import dagster as dg

from bua_assets.billing.export import Target
from bua_assets.ops.preflight import Finding, check, core_contract, meter_data_present, writable
from bua_assets.resources import (
    CoreDatabaseResource,
    EksNodegroupResource,
    ExportResource,
    LakeResource,
    MeterDataResource,
    NotifyResource,
    RdsCoreResource,
)
from bua_assets.resources.earl_queue import EarlQueueResource


def _rds(rds: RdsCoreResource) -> str:
    """The RDS API answers and the secrets and key the restore uses exist (described, never read)."""
    rds.boto3_client("rds").describe_db_instances(MaxRecords=20)
    secrets = [s for s in (rds.master_secret_id, rds.reader_secret_id, *rds.service_secret_ids) if s]
    for secret in secrets:
        rds.secretsmanager_client().describe_secret(SecretId=secret)
    if rds.kms_key_id:
        rds.boto3_client("kms").describe_key(KeyId=rds.kms_key_id)
    return f"RDS API answers; {len(secrets)} secrets{' and the KMS key' if rds.kms_key_id else ''} found"


def _queues(earl: EarlQueueResource) -> str:
    sqs = earl.client()
    for url in (earl.queue_url, earl.dead_letter_queue_url):
        if url:
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return f"EARL queue{' and dead-letter queue' if earl.dead_letter_queue_url else ''} answer"


def _topic(notify: NotifyResource) -> str:
    notify.client().get_topic_attributes(TopicArn=notify.topic_arn)
    return f"{notify.topic_arn} answers"


def _capacity(eks: EksNodegroupResource) -> str:
    group = eks.boto3_client("eks").describe_nodegroup(clusterName=eks.cluster_name, nodegroupName=eks.nodegroup_name)
    nodegroup = group["nodegroup"]
    status, most = nodegroup.get("status"), nodegroup.get("scalingConfig", {}).get("maxSize", 0)
    if status != "ACTIVE" or most < eks.nodes:
        raise RuntimeError(
            f"node group {eks.nodegroup_name} is {status}, max {most} nodes (heavy steps want {eks.nodes})"
        )
    return f"node group {eks.nodegroup_name} ACTIVE, up to {most} nodes"


def preflight_findings(
    month: str,
    *,
    core_db: CoreDatabaseResource,
    rds: RdsCoreResource,
    lake: LakeResource,
    meter_data: MeterDataResource,
    export: ExportResource,
    earl_queue: EarlQueueResource,
    notify: NotifyResource,
    eks: EksNodegroupResource,
) -> list[Finding]:
    """Every probe for ``month`` (YYYY-MM), in the order the run needs them."""
    export_target, integration_target = export.targets()
    not_set = "not configured: nothing to check"
    return [
        check("rds", lambda: _rds(rds)) if rds.enabled else check("core", lambda: core_contract(core_db.database())),
        check("meter_data", lambda: meter_data_present(meter_data.location, month, meter_data.s3_client)),
        check("lake", lambda: writable(Target(lake.base, lake.endpoint_url, setting="BUA_LAKE"))),
        check("export", lambda: writable(export_target)),
        check("integration", lambda: writable(integration_target)),
        check("earl_queue", lambda: _queues(earl_queue) if earl_queue.queue_url else not_set),
        check("notify", lambda: _topic(notify) if notify.topic_arn else not_set),
        check("eks", lambda: _capacity(eks) if eks.cluster_name else not_set),
    ]


class PreflightConfig(dg.Config):
    month: str  # YYYY-MM, the accrual month about to run


@dg.op(
    description="Checks CORE (or the RDS API, secrets and key), the month's meter data, the lake, export and "
    "integration targets, the EARL queue, the notification topic and the EKS node group; fails naming each "
    "that does not answer."
)
def preflight_checks(
    context: dg.OpExecutionContext,
    config: PreflightConfig,
    core_db: CoreDatabaseResource,
    rds: RdsCoreResource,
    lake: LakeResource,
    meter_data: MeterDataResource,
    export: ExportResource,
    earl_queue: EarlQueueResource,
    notify: NotifyResource,
    eks: EksNodegroupResource,
) -> None:
    findings = preflight_findings(
        config.month,
        core_db=core_db,
        rds=rds,
        lake=lake,
        meter_data=meter_data,
        export=export,
        earl_queue=earl_queue,
        notify=notify,
        eks=eks,
    )
    for f in findings:
        (context.log.info if f.ok else context.log.error)(str(f))
    failed = [f for f in findings if not f.ok]
    if failed:
        raise dg.Failure(
            f"preflight: {len(failed)} of {len(findings)} checks failed: "
            + "; ".join(f"{f.name}: {f.detail}" for f in failed),
            metadata={f.name: f.detail for f in findings},
        )


@dg.job(description="Preflight before a month's run: every part the run needs answers (bua-assets preflight).")
def bua_preflight():
    preflight_checks()
