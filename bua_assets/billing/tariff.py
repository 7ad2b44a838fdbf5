"""The tariff engine (DESIGN §5.5), vectorised over every line of every account at once.

A line is a quantity of one charge (DAILY_RETAIL days, USAGE_RETAIL kWh/MJ per time class,
CONTROLLED_LOAD, FEED_IN) for an account on a plan over a period. Pricing:
1. split the period at the plan's tariff changes (effective dates, e.g. 1 July), pro-rating the
   quantity by days;
2. join the rates (PlanRate: plan, charge type, time class, effective period, block order,
   block_daily_volume, unit_price); a line without a rate is an exception, not a zero;
3. step blocks: block k takes what is left above the earlier blocks, up to its daily volume x
   the days of the part (thresholds pro-rated by days);
4. amount = quantity x rate, to the cent, ex-GST; FEED_IN is a credit (negative);
5. discounts (PlanDiscount): percentOfBill applies to every charge but FEED_IN, percentOfUse to
   USAGE_RETAIL and CONTROLLED_LOAD; discount_net is the full value; discount_net_propensity is
   discount_net x the account's pay-on-time propensity for CONDITIONAL discounts and the full
   value for GUARANTEED ones;
6. GST = 10% of the net amount, alongside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bua_assets.billing.charges import CREDIT_CHARGES, PERCENT_OF_BILL_CHARGES, SUPPLY_CHARGE, USAGE_DISCOUNT_CHARGES
from bua_assets.billing.money import gst, round_cents

LINE_COLUMNS = [
    "line_id",
    "account_id",
    "plan_id",
    "period_start",
    "period_end",
    "charge_type",
    "time_class",
    "quantity",
    "uom",
    "pay_on_time_propensity",
]

PRICED_COLUMNS = [  # price()'s lines: one row per line part x block
    "line_id",
    "account_id",
    "plan_id",
    "charge_type",
    "time_class",
    "part_start",
    "part_end",
    "days",
    "block_order",
    "quantity",
    "uom",
    "rate",
    "net_amount",
    "discount_net",
    "discount_net_propensity",
    "discount_state",
    "gst",
]


@dataclass
class Priced:
    lines: pd.DataFrame  # one row per line part x block: line_id, part_start, part_end, days, block_order, quantity, rate, net_amount, discount_*, gst
    exceptions: pd.DataFrame  # line_id, account_id, code, reason


def price(lines: pd.DataFrame, rates: pd.DataFrame, discounts: pd.DataFrame) -> Priced:
    """Price ``lines`` (LINE_COLUMNS; period dates inclusive) with PlanRate and PlanDiscount rows."""
    lines = lines[LINE_COLUMNS].copy()
    lines["period_start"] = pd.to_datetime(lines["period_start"])
    lines["period_end"] = pd.to_datetime(lines["period_end"])
    lines["total_days"] = (lines["period_end"] - lines["period_start"]).dt.days + 1
    r = rates.copy()
    r["effective_from"] = pd.to_datetime(r["effective_from"])
    r["effective_to"] = pd.to_datetime(r["effective_to"]).fillna(pd.Timestamp.max.normalize())
    r["unit_price"] = r["unit_price"].astype(float)
    r["block_daily_volume"] = pd.to_numeric(r["block_daily_volume"], errors="coerce")
    r = r.drop(columns=[c for c in ("uom", "id") if c in r.columns])

    # 1. Tariff periods of each line's plan and charge, overlapping the line: the parts.
    periods = r[["plan_id", "charge_type", "time_class", "effective_from", "effective_to"]].drop_duplicates()
    parts = lines.merge(periods, on=["plan_id", "charge_type", "time_class"], how="left")
    parts["part_start"] = parts[["period_start", "effective_from"]].max(axis=1)
    parts["part_end"] = parts[["period_end", "effective_to"]].min(axis=1)
    has_rate = parts["effective_from"].notna() & (parts["part_start"] <= parts["part_end"])
    priced_ids = set(parts.loc[has_rate, "line_id"])
    missing = lines[~lines["line_id"].isin(priced_ids)]
    exceptions = pd.DataFrame(
        {
            "line_id": missing["line_id"],
            "account_id": missing["account_id"],
            "code": "missing_tariff",
            "reason": (
                "plan "
                + missing["plan_id"].astype(str)
                + " has no "
                + missing["charge_type"]
                + "/"
                + missing["time_class"]
                + " rate for "
                + missing["period_start"].dt.date.astype(str)
                + " to "
                + missing["period_end"].dt.date.astype(str)
            ),
        }
    )
    parts = parts[has_rate].copy()
    parts["days"] = (parts["part_end"] - parts["part_start"]).dt.days + 1
    # A line whose period is only partly covered by rates is priced for the covered days only.
    coverage = parts.groupby("line_id").agg(
        days=("days", "sum"), total=("total_days", "first"), account_id=("account_id", "first")
    )
    short = coverage[coverage["days"] < coverage["total"]].reset_index()
    exceptions = pd.concat(
        [
            exceptions,
            pd.DataFrame(
                {
                    "line_id": short["line_id"],
                    "account_id": short["account_id"],
                    "code": "partial_tariff",
                    "reason": "rates cover "
                    + short["days"].astype(str)
                    + " of the period's "
                    + short["total"].astype(str)
                    + " days: the rest is not priced",
                }
            ),
        ],
        ignore_index=True,
    )
    daily = parts["charge_type"] == SUPPLY_CHARGE
    parts["part_quantity"] = np.where(daily, parts["days"], parts["quantity"] * parts["days"] / parts["total_days"])

    # 2-3. Rates and step blocks.
    b = parts.merge(r, on=["plan_id", "charge_type", "time_class", "effective_from", "effective_to"])
    b = b.sort_values(["line_id", "part_start", "block_order"], kind="stable")
    cap = (b["block_daily_volume"] * b["days"]).to_numpy(dtype=float)  # NaN: no ceiling (the last block)
    finite = np.nan_to_num(cap, nan=0.0)
    part_key = [b["line_id"].to_numpy(), b["part_start"].to_numpy()]
    below = pd.Series(finite, index=b.index).groupby(part_key).cumsum().to_numpy() - finite  # earlier blocks
    cap = np.where(np.isnan(cap), np.inf, cap)
    q = b["part_quantity"].to_numpy(dtype=float)
    block_q = np.where(q >= 0, np.clip(q - below, 0, cap), np.where(b["block_order"] == 1, q, 0.0))
    keep = (block_q != 0) | (b["block_order"].to_numpy() == 1)
    b = b.assign(block_quantity=np.round(block_q, 3))[keep]

    # 4. Amounts.
    sign = np.where(b["charge_type"].isin(CREDIT_CHARGES), -1.0, 1.0)
    net = round_cents(b["block_quantity"].to_numpy() * b["unit_price"].to_numpy() * sign)

    # 5. Discounts effective at the part's start.
    d = discounts.copy()
    d["effective_from"] = pd.to_datetime(d["effective_from"])
    d["effective_to"] = pd.to_datetime(d["effective_to"]).fillna(pd.Timestamp.max.normalize())
    out = b.assign(net_amount=net, _row=np.arange(len(b)))
    m = out[["_row", "plan_id", "part_start", "charge_type"]].merge(
        d[["plan_id", "discount_type", "method", "rate", "effective_from", "effective_to"]], on="plan_id"
    )
    m = m[(m["effective_from"] <= m["part_start"]) & (m["part_start"] <= m["effective_to"])]
    applies = np.where(
        m["method"] == "percentOfBill",
        m["charge_type"].isin(PERCENT_OF_BILL_CHARGES),
        m["charge_type"].isin(USAGE_DISCOUNT_CHARGES),
    )
    m = m[applies]
    discount = np.zeros(len(out))
    propensity_share = np.zeros(len(out))
    conditional = np.zeros(len(out), dtype=bool)
    value = round_cents(net[m["_row"].to_numpy()] * m["rate"].astype(float).to_numpy())
    np.add.at(discount, m["_row"].to_numpy(), value)
    cond = (m["discount_type"] == "CONDITIONAL").to_numpy()
    prop = out["pay_on_time_propensity"].astype(float).to_numpy()[m["_row"].to_numpy()]
    np.add.at(propensity_share, m["_row"].to_numpy(), np.where(cond, value * prop, value))
    np.logical_or.at(conditional, m["_row"].to_numpy(), cond)
    out["discount_net"] = discount
    out["discount_net_propensity"] = round_cents(propensity_share)
    out["discount_state"] = np.where(discount == 0, "NONE", np.where(conditional, "CONDITIONAL", "GUARANTEED"))
    out["gst"] = gst(out["net_amount"].to_numpy())
    # the line's own quantity gives way to the priced block's
    out = out.drop(columns="quantity").rename(columns={"unit_price": "rate", "block_quantity": "quantity"})
    out = out[PRICED_COLUMNS].reset_index(drop=True)
    return Priced(out, exceptions.reset_index(drop=True))
