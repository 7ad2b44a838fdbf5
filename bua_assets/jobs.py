"""Jobs: the monthly run (every asset for one accrual month)."""

import dagster as dg

from bua_assets.resources.rds import RdsCoreResource

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
