"""Accrual invoicing assets (DESIGN §5.5, §5.8): the priced accrual invoice and its ILI check."""

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.assets.estimation import unbilled_consumption
from bua_assets.billing.accrual import FEATURE_OF_CHARGE, accrual_lines, supply_days
from bua_assets.billing.tariff import price
from bua_assets.partitions import monthly_partitions
from bua_assets.resources import LakeResource

LINE_KEY = ["account_id", "utility_id", "year_mnth", "plan_id", "plan_item_type_name", "time_class_name",
            "period_start", "block_order"]


class IliExceptionsConfig(dg.Config):
    implausible_factor: float = 5.0  # WARN when a month's net exceeds this x the account's largest past bill


@dg.asset(partitions_def=monthly_partitions, deps=[unbilled_consumption], kinds={"parquet", "pandas"},
          group_name="billing",
          check_specs=[dg.AssetCheckSpec("ili_exceptions", asset="invoice_line_items", blocking=True,
                                         description="ERROR: missing tariff or charge version, negative usage, "
                                                     "duplicate lines, windows beyond the horizon; WARN: amounts "
                                                     "implausible against the account's own bills, zero rates")],
          description="The accrual invoice: every account's unbilled supply days and consumption priced at its own "
                      "plan (ex-GST with GST beside, discounts with the pay-on-time propensity).")
def invoice_line_items(context: dg.AssetExecutionContext, config: IliExceptionsConfig, lake: LakeResource):
    store, key = lake.lake(), context.partition_key
    core = {t: store.read("core_tables", key, t).to_pandas() for t in
            ("AccountPlan", "PlanRate", "PlanDiscount", "Account", "Invoice", "InvoiceLineItem")}
    window = store.read("unbilled_window", key, "unbilled_months").to_pandas()
    consumption = store.read("unbilled_consumption", key, "unbilled_consumption").to_pandas()
    propensity = core["Account"].set_index("id")["pay_on_time_propensity"].astype(float)
    lines, exceptions = accrual_lines(consumption, supply_days(window, core["AccountPlan"]), propensity)
    priced = price(lines[lines["plan_id"] >= 0], core["PlanRate"], core["PlanDiscount"])
    attrs = lines.set_index("line_id")[["utility_id", "year_mnth", "ili_state"]]
    out = priced.lines.join(attrs, on="line_id")
    out = out.rename(columns={"charge_type": "plan_item_type_name", "time_class": "time_class_name",
                              "part_start": "period_start", "part_end": "period_end"})
    out["feature_type_name"] = out["plan_item_type_name"].map(FEATURE_OF_CHARGE)
    out["period_start"] = out["period_start"].dt.date
    out["period_end"] = out["period_end"].dt.date
    out = out[["line_id", "account_id", "utility_id", "year_mnth", "plan_id", "ili_state", "discount_state",
               "feature_type_name", "plan_item_type_name", "time_class_name", "period_start", "period_end", "days",
               "block_order", "quantity", "uom", "rate", "net_amount", "discount_net", "discount_net_propensity", "gst"]]
    exceptions = pd.concat([exceptions, priced.exceptions], ignore_index=True)
    with store.partition_writer("invoice_line_items", key) as writer:
        writer.write("invoice_line_items", pa.Table.from_pandas(out, preserve_index=False))
        writer.write("exceptions", pa.Table.from_pandas(exceptions.astype({"line_id": "int64"}), preserve_index=False))
    yield dg.MaterializeResult(metadata={
        "rows": len(out), "path": store.uri("invoice_line_items", key, "invoice_line_items"),
        "accounts": int(out["account_id"].nunique()), "net_amount": round(float(out["net_amount"].sum()), 2),
        "discount_net_propensity": round(float(out["discount_net_propensity"].sum()), 2),
        "gst": round(float(out["gst"].sum()), 2), "exceptions": len(exceptions),
    })
    yield ili_exceptions(out, exceptions, core, config)


def ili_exceptions(lines: pd.DataFrame, exceptions: pd.DataFrame, core: dict, config: IliExceptionsConfig) -> dg.AssetCheckResult:
    usage = lines["plan_item_type_name"].isin(["USAGE_RETAIL", "CONTROLLED_LOAD"])
    errors = {
        "missing_tariff": exceptions[exceptions["code"].isin(["missing_tariff", "partial_tariff", "no_charge_version"])],
        "negative_usage": lines[usage & (lines["quantity"] < 0)],
        "duplicate_lines": lines[lines.duplicated(LINE_KEY, keep=False)],
    }
    expected_rate = lines["plan_item_type_name"].isin(["USAGE_RETAIL", "DAILY_RETAIL"])
    history = core["InvoiceLineItem"].merge(core["Invoice"][["id", "status", "is_credit"]], left_on="invoice_id",
                                            right_on="id", suffixes=("", "_inv"))
    history = history[(history["status"] == "ISSUED") & (history["is_credit_inv"] == 0)]
    largest_bill = history.groupby(["account_id", "invoice_id"])["net_amount"].sum().astype(float) \
        .groupby("account_id").max()
    monthly = lines.groupby(["account_id", "year_mnth"])["net_amount"].sum().reset_index()
    monthly["largest_bill"] = monthly["account_id"].map(largest_bill)
    warnings = {
        "zero_rate": lines[expected_rate & (lines["rate"] == 0)],
        "implausible_amount": monthly[monthly["net_amount"] > config.implausible_factor * monthly["largest_bill"]],
    }
    counts = {k: len(v) for k, v in {**errors, **warnings}.items()}
    failing = {k: v.head(20).astype(str).to_dict("records") for k, v in {**errors, **warnings}.items() if len(v)}
    has_error = any(len(v) for v in errors.values())
    return dg.AssetCheckResult(
        check_name="ili_exceptions", passed=not any(counts.values()),
        severity=dg.AssetCheckSeverity.ERROR if has_error else dg.AssetCheckSeverity.WARN,
        description=", ".join(f"{k}: {n}" for k, n in counts.items() if n) or "no exceptions",
        metadata={"counts": dg.MetadataValue.json(counts), "failing_rows": dg.MetadataValue.json(failing),
                  "lines_checked": len(lines), "net_amount_checked": round(float(np.sum(lines["net_amount"])), 2)})
