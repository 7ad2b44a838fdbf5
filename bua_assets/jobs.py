"""Jobs: the monthly run (every asset for one accrual month)."""

import dagster as dg

from bua_assets.resources.export import ExportResource
from bua_assets.resources.lake import LakeResource
from bua_assets.resources.rds import RdsCoreResource
from bua_assets.settings import time_zone_name

monthly_bua_job = dg.define_asset_job(
    "monthly_bua",
    selection=dg.AssetSelection.all(),
    description="Every BUA asset for one accrual month. The partition key is the accrual month: 2026-10-01 is the "
    "October accrual, run on 1 November from October's month-end CORE snapshot. Started by "
    "earl_snapshot_sensor, or by hand (Materialize all in the asset graph runs the same assets, in the "
    "same executor and with the same retries).",
    # An automatic retry (run_retries in dagster.yaml) re-executes from the failed step, not the month.
    tags={"dagster/retry_strategy": "FROM_FAILURE"},
)


# After a month's run fails, bua_month_failed runs this for the month: the exceptions table then lists
# the failed check's finding with whatever the month's steps quarantined before it, without an
# operator launching `errors` by hand (where the UI would warn that its upstream is missing: it
# reads only what is there, so it never needs the assets the failure stopped).
month_errors_job = dg.define_asset_job(
    "bua_month_errors",
    selection=dg.AssetSelection.assets("errors"),
    description="The month's exceptions table (`errors`) alone: run by bua_month_failed after a month's run "
    "fails, so the failure's finding is listed with what the month quarantined before it.",
)


class TeardownConfig(dg.Config):
    month: str  # the accrual month's partition key, e.g. 2026-10-01
    retention_days: float = 3.0  # keep the instance this long after it was created, for investigations


@dg.op(
    description="Deletes the month's CORE RDS instance once the month's export succeeded and the retention "
    "has passed (the legacy bua-destroy); otherwise says why it is kept."
)
def teardown_core_instance(context: dg.OpExecutionContext, config: TeardownConfig, rds: RdsCoreResource) -> str:
    exported = context.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("bua_export"), asset_partitions=[config.month]), limit=1
    ).records
    outcome = rds.teardown(config.month, export_succeeded=bool(exported), retention_days=config.retention_days)
    context.log.info(outcome)
    context.add_output_metadata({"outcome": outcome})
    return outcome


@dg.job(description="Tear down a month's CORE RDS instance (after its export and the retention).")
def bua_teardown():
    teardown_core_instance()


class HousekeepingConfig(dg.Config):
    dry_run: bool = False  # say what would be deleted, delete nothing


def housekeeping(rds: RdsCoreResource, export: ExportResource, *, dry_run: bool) -> list[str]:
    """What bua_housekeeping and `bua-assets housekeeping` do: the bua-managed RDS instances and KMS
    copies older than BUA_RDS_RETENTION_DAYS deleted, but those of each month's latest promoted export."""
    from bua_assets.billing.rehearsal import official_snapshot
    from bua_assets.months import AccrualMonth

    if not rds.enabled:
        return []
    export_target, integration_target = export.targets()
    return rds.housekeeping(
        lambda month: official_snapshot(export_target, integration_target, AccrualMonth.from_key(month)),
        dry_run=dry_run,
    )


@dg.op(
    description="Deletes the bua-managed CORE RDS instances and KMS snapshot copies older than "
    "BUA_RDS_RETENTION_DAYS (default 7), except those of each month's latest promoted export; dry_run "
    "says what it would delete."
)
def delete_expired_rds(
    context: dg.OpExecutionContext, config: HousekeepingConfig, rds: RdsCoreResource, export: ExportResource
) -> list[str]:
    if not rds.enabled:
        context.log.info("BUA_RDS_MODE is not restore: no RDS instances or copies to look after")
    done = housekeeping(rds, export, dry_run=config.dry_run)
    for line in done:
        (context.log.warning if line.startswith("could not") else context.log.info)(line)
    if rds.enabled and not done:
        context.log.info(f"nothing past the retention ({rds.retention_days:g} days)")
    context.add_output_metadata({"outcome": dg.MetadataValue.json(done), "dry_run": config.dry_run})
    return done


@dg.job(description="RDS housekeeping: expired bua-managed CORE instances and snapshot copies deleted.")
def bua_housekeeping():
    delete_expired_rds()


# Daily, in the retailer's time zone, before the working day: copies and instances past their
# retention go without an operator remembering. Off until turned on (it deletes AWS resources).
housekeeping_schedule = dg.ScheduleDefinition(
    name="bua_housekeeping_daily",
    job=bua_housekeeping,
    cron_schedule="30 5 * * *",
    execution_timezone=time_zone_name(),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="bua_housekeeping every day at 05:30 local (BUA_TIME_ZONE): bua-managed RDS instances and "
    "KMS snapshot copies older than BUA_RDS_RETENTION_DAYS deleted, each month's official snapshot's kept. "
    "Starts OFF: turn it on where BUA_RDS_MODE=restore.",
)


@dg.op(
    description="Deletes lake files and log entries older than the audit period (BUA_LAKE_RETENTION_DAYS): "
    "files of replaced months, files of commits that never landed, superseded chart/NEM12 folders. "
    "Every version of the period stays readable."
)
def vacuum_lake(context: dg.OpExecutionContext, lake: LakeResource) -> dict:
    deleted = lake.lake().vacuum()
    context.log.info(
        f"vacuumed {sum(deleted.values())} files from {len(deleted)} tables (kept {lake.retention_days} days)"
    )
    context.add_output_metadata({"deleted_files": sum(deleted.values()), "tables": dg.MetadataValue.json(deleted)})
    return deleted


@dg.job(description="Vacuum the lake: keep the audit period's versions, delete what only older ones needed.")
def bua_lake_vacuum():
    vacuum_lake()


# Weekly, early Sunday local time: versions older than the audit period (BUA_LAKE_RETENTION_DAYS) go,
# so the lake does not grow by a month's copy on every re-run. On by default: it never touches a
# version inside the period.
lake_vacuum_schedule = dg.ScheduleDefinition(
    name="bua_lake_vacuum_weekly",
    job=bua_lake_vacuum,
    cron_schedule="0 4 * * 0",
    execution_timezone=time_zone_name(),
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="bua_lake_vacuum every Sunday at 04:00 local (BUA_TIME_ZONE): files only versions older than "
    "BUA_LAKE_RETENTION_DAYS need are deleted; every version inside the audit period stays readable.",
)
