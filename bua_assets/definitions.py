"""The BUA code location. Resources come from the environment (EnvVar), with embedded defaults
under BUA_HOME (default ./.bua_home) so the project runs with zero infrastructure."""

from __future__ import annotations

import os

import dagster as dg

from bua_assets.assets.billing import (
    accrual_summary,
    bua_account_summary,
    bua_export,
    errors,
    invoice_line_item_monthly,
    invoice_line_items,
)
from bua_assets.assets.core import core_snapshot, core_tables, meter_registers
from bua_assets.assets.estimation import basic_reads, nem12_estimates, unbilled_consumption, unbilled_window
from bua_assets.assets.meter_data import interval_reads
from bua_assets.assets.profiles import (
    interval_statistics,
    macro_profiles,
    micro_scalars,
    segment_profiles,
    utility_profiles,
)
from bua_assets.assets.true_up import accrual_true_up
from bua_assets.billing.degraded import DEFAULT_MAX_ESTIMATED_SHARE
from bua_assets.executors import build_executor
from bua_assets.jobs import (
    bua_housekeeping,
    bua_lake_vacuum,
    bua_teardown,
    housekeeping_schedule,
    lake_vacuum_schedule,
    month_errors_job,
    monthly_bua_job,
)
from bua_assets.lake import DEFAULT_RETENTION_DAYS
from bua_assets.nem12.ingest import DEFAULT_PEAK_FLOOR_KW, DEFAULT_PEAK_RATIO
from bua_assets.nem12.reader import DEFAULT_MAX_DEMAND_KW
from bua_assets.ops.earl import DEFAULT_TIME_ZONE
from bua_assets.ops.snapshot_watch import DEFAULT_DEADLINE_HOURS
from bua_assets.preflight_job import bua_preflight
from bua_assets.resources import (
    AnalystCatalogResource,
    AnonymiseResource,
    CoreDatabaseResource,
    EksNodegroupResource,
    ExportResource,
    LakeResource,
    MeterDataResource,
    NotifyResource,
    RdsCoreResource,
)
from bua_assets.resources.earl_queue import EarlQueueResource
from bua_assets.run_sensors import bua_month_failed, bua_month_succeeded, bua_run_log
from bua_assets.sensors import earl_snapshot_sensor
from bua_assets.settings import DEFAULT_PARTICIPANT_ID, defaults
from bua_assets.snapshot_watch_sensor import month_end_snapshot_watch

ALL_ASSETS = [
    core_snapshot,
    core_tables,
    meter_registers,
    interval_reads,
    interval_statistics,
    unbilled_window,
    utility_profiles,
    segment_profiles,
    macro_profiles,
    micro_scalars,
    basic_reads,
    nem12_estimates,
    unbilled_consumption,
    invoice_line_items,
    invoice_line_item_monthly,
    bua_account_summary,
    accrual_summary,
    accrual_true_up,
    errors,
    bua_export,
]

# operations (issue 16): the run log (kept by the run-status sensors) and those sensors
OPERATIONS_ASSETS = [bua_run_log]
OPERATIONS_SENSORS = [bua_month_succeeded, bua_month_failed, month_end_snapshot_watch]


def _env_or(name: str, default):
    return dg.EnvVar(name) if os.getenv(name) else default


def _env_float(name: str, default: float) -> float:
    """A number setting (EnvVar resolves strings only): a value that is not a number is an error
    naming the variable, at load time, not a surprise in a run."""
    text = os.getenv(name)
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None


def _env_list(name: str) -> list[str]:
    """A comma-separated setting as a list (empty entries dropped)."""
    return [v.strip() for v in os.getenv(name, "").split(",") if v.strip()]


def _aws(endpoint_variable: str) -> dict:
    """The AWS connection of one resource (resources/aws.py): the region from AWS_REGION when set
    (else boto3's own chain), the endpoint from ``endpoint_variable`` (a VPC endpoint; moto in tests)."""
    return {"region_name": _env_or("AWS_REGION", None), "endpoint_url": _env_or(endpoint_variable, None)}


def build_resources() -> dict:
    d = defaults()
    return {
        "core_db": CoreDatabaseResource(url=_env_or("BUA_CORE_URL", d.core_url)),
        "lake": LakeResource(
            base=_env_or("BUA_LAKE", d.lake),
            retention_days=int(_env_float("BUA_LAKE_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)),
            **_aws("BUA_S3_ENDPOINT_URL"),
        ),
        "meter_data": MeterDataResource(
            location=_env_or("BUA_METER_DATA", d.meter_data),
            **_aws("BUA_S3_ENDPOINT_URL"),
            max_demand_kw=_env_float("BUA_MAX_DEMAND_KW", DEFAULT_MAX_DEMAND_KW),
            peak_ratio=_env_float("BUA_PEAK_RATIO", DEFAULT_PEAK_RATIO),
            peak_floor_kw=_env_float("BUA_PEAK_FLOOR_KW", DEFAULT_PEAK_FLOOR_KW),
            min_delivery_share=_env_float("BUA_MIN_DELIVERY_SHARE", 0.5),
            participant_id=_env_or("BUA_PARTICIPANT_ID", DEFAULT_PARTICIPANT_ID),
        ),
        "earl_queue": EarlQueueResource(
            queue_url=_env_or("BUA_EARL_QUEUE_URL", ""),
            dead_letter_queue_url=_env_or("BUA_EARL_DEAD_LETTER_QUEUE_URL", ""),
            sns_endpoint_url=_env_or("BUA_SNS_ENDPOINT_URL", ""),
            **_aws("BUA_SQS_ENDPOINT_URL"),
            time_zone=_env_or("BUA_TIME_ZONE", DEFAULT_TIME_ZONE),
        ),
        "rds": RdsCoreResource(
            mode=_env_or("BUA_RDS_MODE", "core_url"),
            instance_class=_env_or("BUA_RDS_CLASS", "db.r6g.large"),
            subnet_group=_env_or("BUA_RDS_SUBNET_GROUP", ""),
            parameter_group=_env_or("BUA_RDS_PARAMETER_GROUP", ""),
            security_group_ids=_env_list("BUA_RDS_SECURITY_GROUPS"),
            kms_key_id=_env_or("BUA_RDS_KMS_KEY", ""),
            master_secret_id=_env_or("BUA_RDS_MASTER_SECRET", ""),
            reader_secret_id=_env_or("BUA_RDS_READER_SECRET", ""),
            service_secret_ids=_env_list("BUA_RDS_SERVICE_SECRETS"),
            database=_env_or("BUA_RDS_DATABASE", "core"),
            retention_days=_env_float("BUA_RDS_RETENTION_DAYS", 7.0),
            **_aws("BUA_RDS_ENDPOINT_URL"),
        ),
        "anonymise": AnonymiseResource(key=_env_or("BUA_ANONYMISE_KEY", "")),
        "eks": EksNodegroupResource(
            cluster_name=_env_or("BUA_EKS_CLUSTER", ""),
            nodegroup_name=_env_or("BUA_EKS_NODEGROUP", ""),
            lease_table=_env_or("BUA_EKS_LEASE_TABLE", ""),
            dynamodb_endpoint_url=_env_or("BUA_DYNAMODB_ENDPOINT_URL", ""),
            **_aws("BUA_EKS_ENDPOINT_URL"),
        ),
        # operations (issue 16): the analysts' Glue catalog and the run notifications
        "catalog": AnalystCatalogResource(database=_env_or("BUA_GLUE_DATABASE", ""), **_aws("BUA_GLUE_ENDPOINT_URL")),
        "notify": NotifyResource(
            topic_arn=_env_or("BUA_NOTIFY_TOPIC_ARN", ""),
            ui_base_url=_env_or("BUA_UI_BASE_URL", "http://localhost:3000"),
            snapshot_deadline_hours=_env_float("BUA_SNAPSHOT_DEADLINE_HOURS", DEFAULT_DEADLINE_HOURS),
            **_aws("BUA_SNS_ENDPOINT_URL"),
        ),
        "export": ExportResource(
            export_base=_env_or("BUA_EXPORT_BASE", d.export_base),
            integration_base=_env_or("BUA_INTEGRATION_BASE", d.integration_base),
            time_zone=_env_or("BUA_TIME_ZONE", DEFAULT_TIME_ZONE),
            max_estimated_share=_env_float("BUA_MAX_ESTIMATED_SHARE", DEFAULT_MAX_ESTIMATED_SHARE),
            **_aws("BUA_S3_ENDPOINT_URL"),
        ),
    }


defs = dg.Definitions(
    assets=ALL_ASSETS + OPERATIONS_ASSETS,
    jobs=[monthly_bua_job, month_errors_job, bua_teardown, bua_housekeeping, bua_preflight, bua_lake_vacuum],
    sensors=[earl_snapshot_sensor, *OPERATIONS_SENSORS],
    schedules=[housekeeping_schedule, lake_vacuum_schedule],
    resources=build_resources(),
    # BUA_EXECUTOR: unset (in_process: the month in one process, locally and in the UI's
    # runs from the asset graph too), multiprocess or k8s (a pod per step; the production
    # profile). See bua_assets/executors.py.
    executor=build_executor(os.getenv("BUA_EXECUTOR")),
)
