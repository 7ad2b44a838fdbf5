"""Supplementary lines on the real tables (DESIGN §5.6): charge versions flagged for
supplementary processing, compared with what issued invoices billed, through run_supplementary.

The supply points of flagged versions are taken whole: every non-DRAFT version on them, of any
billing account, and every issued daily-supply transaction billed for them. Each billed period is
recalculated at the rate its APPROVED versions' plans had then; what differs is reversed and
re-billed. The daily supply charge is the charge item compare-and-cancel recalculates; usage
lines would need the billed quantities re-rated and are left to the billing system.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.billing.supplementary import ChargeVersion, Transaction, run_supplementary

CHARGE = "DAILY_RETAIL"


def flagged_line_items(line_items: pa.Table, account_plans: pd.DataFrame) -> pd.DataFrame:
    """The daily-supply line items of supply points with a version flagged for supplementary
    processing (filtered in Arrow: the rest of InvoiceLineItem never becomes a DataFrame)."""
    flagged = account_plans.loc[account_plans["include_in_supplementary"] == 1, "utility_id"].unique()
    keep = pc.and_(pc.is_in(line_items["utility_id"], value_set=pa.array(flagged).cast(line_items["utility_id"].type)),
                   pc.equal(line_items["plan_item_type_name"], CHARGE))
    return line_items.filter(pc.fill_null(keep, False)).to_pandas()


def supplementary_lines(account_plans: pd.DataFrame, rates: pd.DataFrame, invoices: pd.DataFrame,
                        line_items: pd.DataFrame, horizon_start) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(SUPPLEMENTARY lines: account_id, utility_id, period_start, period_end, quantity, rate,
    net_amount, is_credit; exceptions: periods not recalculated, with the reason).

    Billed periods starting before ``horizon_start`` (the lookback horizon) are not reopened."""
    flagged = account_plans.loc[account_plans["include_in_supplementary"] == 1, "utility_id"].unique()
    versions = account_plans[account_plans["utility_id"].isin(flagged) & (account_plans["status"] != "DRAFT")]
    issued = invoices[invoices["status"] == "ISSUED"].set_index("id")["is_credit"]
    billed = line_items[line_items["utility_id"].isin(flagged) & (line_items["plan_item_type_name"] == CHARGE)
                        & line_items["invoice_id"].isin(issued.index)]
    daily = rates[(rates["charge_type"] == CHARGE) & (rates["block_order"] == 1)].copy()
    daily["effective_from"] = pd.to_datetime(daily["effective_from"]).dt.date
    daily["effective_to"] = pd.to_datetime(daily["effective_to"]).dt.date
    rate_rows = list(daily.itertuples())
    out, exceptions = [], []
    old = billed[pd.to_datetime(billed["period_start"]) < pd.Timestamp(horizon_start)]
    for r in old.drop_duplicates(["utility_id", "period_start"]).itertuples():
        exceptions.append((r.account_id, r.utility_id, r.period_start, "beyond_horizon",
                           f"billed period from {r.period_start} starts before the lookback horizon ({horizon_start}): "
                           "not recalculated"))
    billed = billed.drop(old.index)
    for (utility, start, end), period in billed.groupby(["utility_id", "period_start", "period_end"]):
        previous = [Transaction(r.account_id, utility, CHARGE, r.time_class_name, int(round(float(r.quantity))),
                                float(r.quantity), float(r.rate), abs(float(r.net_amount)), bool(issued[r.invoice_id]))
                    for r in period.itertuples()]
        charge_versions = []
        for v in versions[versions["utility_id"] == utility].itertuples():
            rate = next((float(r.unit_price) for r in rate_rows if r.plan_id == v.plan_id
                         and r.effective_from <= start and (pd.isna(r.effective_to) or start <= r.effective_to)), None)
            if rate is None:
                if v.status == "APPROVED":
                    exceptions.append((v.account_id, utility, start, "missing_tariff",
                                       f"plan {v.plan_id} has no {CHARGE} rate on {start}: period not recalculated"))
                    charge_versions = None
                    break
                rate = 0.0  # a REPLACED version is never calculated
            charge_versions.append(ChargeVersion(v.id, v.account_id, utility, v.start_date, v.end_date, v.status,
                                                 CHARGE, rate))
        if charge_versions is None:
            continue
        for t in run_supplementary(charge_versions, previous, start, end):
            out.append((t.billing_account, t.supply_point, start, end, t.quantity, t.rate,
                        -t.amount if t.is_credit else t.amount, t.is_credit))
    lines = pd.DataFrame(out, columns=["account_id", "utility_id", "period_start", "period_end", "quantity", "rate",
                                       "net_amount", "is_credit"])
    return lines, pd.DataFrame(exceptions, columns=["account_id", "utility_id", "period_start", "code", "reason"])
