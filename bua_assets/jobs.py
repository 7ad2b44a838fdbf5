"""Jobs: the monthly run (every asset for one accrual month)."""

import dagster as dg

monthly_bua_job = dg.define_asset_job(
    "monthly_bua", selection=dg.AssetSelection.all(), description="Every BUA asset for one accrual month.",
    # An automatic retry (run_retries in dagster.yaml) re-executes from the failed step, not the month.
    tags={"dagster/retry_strategy": "FROM_FAILURE"})
