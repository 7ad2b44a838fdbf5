"""Estimation assets (DESIGN §5.1–5.4): the unbilled window so far."""


import dagster as dg
import pyarrow.compute as pc

from bua_assets.assets.core import core_tables
from bua_assets.estimation.window import DEFAULT_HORIZON_MONTHS, unbilled_window as compute_unbilled_window
from bua_assets.partitions import month_end, monthly_partitions, run_date
from bua_assets.resources import LakeResource


class UnbilledWindowConfig(dg.Config):
    horizon_months: int = DEFAULT_HORIZON_MONTHS  # older unbilled days become exceptions


@dg.asset(partitions_def=monthly_partitions, deps=[core_tables], kinds={"parquet", "duckdb"}, group_name="estimation",
          description="Unbilled days per account x supply point x calendar month (billed coverage net of "
                      "credits, tenancy, lookback horizon) with NOT_DUE / OVERDUE; older days are exceptions.")
def unbilled_window(context: dg.AssetExecutionContext, config: UnbilledWindowConfig,
                    lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    read = lambda table, cols: store.read("core_tables", key, table, columns=cols)  # noqa: E731
    window = compute_unbilled_window(
        read("AccountUtility", ["id", "account_id", "utility_id", "start_date", "end_date"]),
        read("Account", ["id", "open_date", "close_date", "next_bill_date"]),
        read("Invoice", ["id", "status", "is_credit", "issue_date"]),
        read("InvoiceLineItem", ["invoice_id", "account_id", "utility_id", "period_start", "period_end"]),
        month_end=month_end(key), run_date=run_date(key), horizon_months=config.horizon_months)
    with store.partition_writer("unbilled_window", key) as writer:
        writer.write("unbilled_months", window.months)
        writer.write("exceptions", window.exceptions)
    months = window.months
    status = {r["bill_status"]: r["account_id_count_distinct"] for r in
              months.group_by("bill_status").aggregate([("account_id", "count_distinct")]).to_pylist()}
    return dg.MaterializeResult(metadata={
        "rows": months.num_rows, "path": store.uri("unbilled_window", key, "unbilled_months"),
        "accounts": len(pc.unique(months["account_id"])), "unbilled_days": int(pc.sum(months["unbilled_days"]).as_py() or 0),
        "accounts_not_due": status.get("NOT_DUE", 0), "accounts_overdue": status.get("OVERDUE", 0),
        "exceptions": window.exceptions.num_rows, "horizon_months": config.horizon_months,
    })
