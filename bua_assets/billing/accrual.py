"""The accrual invoice (DESIGN §5.5): unbilled consumption and days → lines the tariff engine prices.

Pure pandas: one usage line per account x supply point x month x plan x charge x time class,
one supply (DAILY_RETAIL) line per account x supply point x month x plan.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bua_assets.billing.charges import CHARGE_OF_STREAM, SUPPLY_CHARGE
from bua_assets.estimation.consumption import covering_versions, plan_of_day, window_days

GROUP = ["account_id", "utility_id", "year_mnth", "plan_id"]


def supply_days(unbilled_months: pd.DataFrame, account_plans: pd.DataFrame) -> pd.DataFrame:
    """Unbilled days per account x supply point x month x plan (plan -1: no APPROVED version)."""
    days = window_days(unbilled_months)
    days["plan_id"] = plan_of_day(days, account_plans)
    return (
        days.groupby(GROUP)
        .agg(days=("date", "count"), first_day=("date", "min"), last_day=("date", "max"))
        .reset_index()
    )


def accrual_lines(
    consumption: pd.DataFrame, supply: pd.DataFrame, propensity: pd.Series
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lines for tariff.price with line attributes, exceptions for days without a charge version).

    ``consumption``: unbilled_consumption rows; ``supply``: supply_days(); ``propensity``: the
    account's pay-on-time propensity, indexed by account id."""
    c = consumption.assign(charge_type=consumption["stream_type"].map(CHARGE_OF_STREAM))
    usage = (
        c.groupby(GROUP + ["charge_type", "time_class", "uom"])
        .agg(
            quantity=("quantity", "sum"),
            estimated_quantity=("estimated_quantity", "sum"),
            period_start=("first_day", "min"),
            period_end=("last_day", "max"),
        )
        .reset_index()
    )
    usage["ili_state"] = np.where(usage["estimated_quantity"].abs() > 1e-9, "ESTIMATED", "ACTUAL")
    daily = supply.rename(columns={"first_day": "period_start", "last_day": "period_end", "days": "quantity"}).assign(
        charge_type=SUPPLY_CHARGE, time_class="ANYTIME", uom="DAY", estimated_quantity=0.0, ili_state="ACTUAL"
    )
    lines = pd.concat([daily[usage.columns], usage], ignore_index=True)
    lines["quantity"] = lines["quantity"].astype(float)
    lines["pay_on_time_propensity"] = lines["account_id"].map(propensity).astype(float).fillna(0.0)
    lines = lines.sort_values(GROUP + ["charge_type", "time_class"], kind="stable").reset_index(drop=True)
    lines.insert(0, "line_id", np.arange(len(lines)))
    no_plan = lines["plan_id"] < 0
    exceptions = pd.DataFrame(
        {
            "line_id": lines.loc[no_plan, "line_id"],
            "account_id": lines.loc[no_plan, "account_id"],
            "code": "no_charge_version",
            "reason": "no APPROVED charge version covers "
            + lines.loc[no_plan, "period_start"].astype(str)
            + " to "
            + lines.loc[no_plan, "period_end"].astype(str)
            + ": "
            + lines.loc[no_plan, "charge_type"]
            + " not priced",
        }
    )
    return lines, exceptions


def overlapping_versions(unbilled_months: pd.DataFrame, account_plans: pd.DataFrame) -> pd.DataFrame:
    """Account x supply point x month where two APPROVED charge versions cover the same day: the
    latest created is priced, and the overlap is reported (account_id, utility_id, year_mnth,
    code, reason)."""
    days = window_days(unbilled_months)
    cover = covering_versions(days, account_plans)
    n = cover.groupby("_row")["id"].agg(["count", lambda ids: ",".join(map(str, sorted(ids)))])
    n.columns = ["versions", "ids"]
    hit = days.iloc[n.index[n["versions"] > 1]].assign(ids=n.loc[n["versions"] > 1, "ids"].to_numpy())
    out = hit.groupby(["account_id", "utility_id", "year_mnth", "ids"]).agg(days=("date", "count")).reset_index()
    out["code"] = "overlapping_charge_versions"
    out["reason"] = (
        "APPROVED versions "
        + out["ids"].astype(str)
        + " overlap on "
        + out["days"].astype(str)
        + " days: the latest created is priced"
    )
    return out[["account_id", "utility_id", "year_mnth", "code", "reason"]]
