"""Jobs: the monthly run (every asset for one accrual month)."""

import dagster as dg

monthly_bua_job = dg.define_asset_job("monthly_bua", selection=dg.AssetSelection.all(),
                                      description="Every BUA asset for one accrual month.")
