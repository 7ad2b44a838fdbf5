"""The tariff engine (DESIGN §5.5), vectorised over every line of every account at once.

A line is a quantity of one charge (``charges.CHARGE_TYPES``: supply and metering days, a fee,
usage kWh/MJ per time class, controlled load, feed-in, green power) for an account on a plan
over a period. Pricing:
1. split the period at the plan's tariff changes (effective dates: 1 July, seasonal tariff
   periods), pro-rating the quantity by days; a periodic charge (per week, month, quarter,
   year) is priced per day at its daily equivalent (``charges.daily_rates``);
2. join the rates (PlanRate: plan, charge type, time class, basis, effective period, block
   order, block_daily_volume, unit_price); a line of a required charge without a rate is an
   exception, not a zero; an optional one (metering, fees, green power) is priced over the days
   its rates are in force;
3. step blocks: block k takes what is left above the earlier blocks, up to its daily volume x
   the days of the part (thresholds pro-rated by days);
4. amount = quantity x rate, to the cent, ex-GST; FEED_IN is a credit (negative); a demand charge
   (kW, the period's maximum demand: not pro-rated, blocks in kW) is kW x rate x the part's days;
5. discounts (PlanDiscount) effective at the part's start: percentOfBill on every charge that
   takes it, percentOfUse on usage and controlled load, percentOverThreshold on the usage dollars
   above the threshold (per bill, pro-rated by the bill's days: ``bill_key`` groups a bill's
   lines), fixedAmount as dollars per bill accrued by day on the supply line. discount_net is the
   full value; discount_net_propensity is discount_net x the account's pay-on-time propensity
   for CONDITIONAL discounts and the full value for GUARANTEED ones;
6. GST = 10% of the net amount, alongside; a feed-in credit carries GST only for a customer
   registered for GST (``gst_registered``).

Rates and discounts the engine cannot apply are left out here; the accrual reports each as a
blocking ``unpriced_charge`` (``accrual.unpriced_charges``), so nothing is dropped unseen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bua_assets.billing.charges import (
    BILL_DAYS,
    CREDIT_CHARGES,
    DAILY,
    DEMAND,
    OPTIONAL_CHARGES,
    PERCENT_OF_BILL_CHARGES,
    SUPPLY_CHARGE,
    UNIT,
    USAGE_DISCOUNT_CHARGES,
    basis_of,
    daily_rates,
    unpriced_discounts,
    unpriced_rates,
)
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
# Optional per-line terms and their defaults when a caller has none: the account's average bill
# length in days (fixedAmount, percentOverThreshold), its GST registration (feed-in GST) and the
# bill a line belongs to (percentOverThreshold's usage; each line its own bill when absent).
LINE_TERMS = {"bill_days": BILL_DAYS["MONTHLY"], "gst_registered": 1}


def with_terms(lines: pd.DataFrame, terms: pd.DataFrame | pd.Series | None) -> pd.DataFrame:
    """``lines`` with each account's pay_on_time_propensity (0 when unknown) and LINE_TERMS (their
    defaults when unknown) from ``terms`` (accrual.customer_terms, or the propensity alone),
    indexed by account id."""
    if terms is None:
        terms = pd.DataFrame(index=pd.Index([], dtype="int64"))
    elif isinstance(terms, pd.Series):
        terms = terms.rename("pay_on_time_propensity").to_frame()
    out = lines.copy()
    for col, default in {"pay_on_time_propensity": 0.0, **LINE_TERMS}.items():
        known = terms[col] if col in terms else pd.Series(dtype=float)
        out[col] = out["account_id"].map(known).astype(float).fillna(default)
    return out


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


RATE_KEY = ["plan_id", "charge_type", "time_class", "basis"]  # what a line's rates are found by


def price(lines: pd.DataFrame, rates: pd.DataFrame, discounts: pd.DataFrame) -> Priced:
    """Price ``lines`` (LINE_COLUMNS, optionally LINE_TERMS and bill_key; period dates inclusive)
    with PlanRate and PlanDiscount rows: the line cut into parts by the tariff periods it spans,
    each part's quantity into the rate's step blocks, amounts, then discounts and GST."""
    lines = _prepared_lines(lines)
    r = _prepared_rates(rates)
    parts, exceptions = _tariff_parts(lines, r)
    blocks, per_kw = _step_blocks(parts, r)
    out = _amounts(blocks, per_kw)
    out = _with_discounts_and_gst(out, discounts)
    # the line's own quantity gives way to the priced block's
    out = out.drop(columns="quantity").rename(columns={"unit_price": "rate", "block_quantity": "quantity"})
    out = out[PRICED_COLUMNS].reset_index(drop=True)
    return Priced(out, exceptions.reset_index(drop=True))


def _prepared_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """The columns pricing reads, terms defaulted, dates as timestamps, the days and the charge's basis."""
    extra = [c for c in (*LINE_TERMS, "bill_key") if c in lines.columns]
    lines = lines[LINE_COLUMNS + extra].copy()
    for col, default in LINE_TERMS.items():
        lines[col] = lines[col].astype(float) if col in lines else default
    if "bill_key" not in lines:
        lines["bill_key"] = lines["line_id"]
    lines["period_start"] = pd.to_datetime(lines["period_start"])
    lines["period_end"] = pd.to_datetime(lines["period_end"])
    lines["total_days"] = (lines["period_end"] - lines["period_start"]).dt.days + 1
    lines["basis"] = pd.Series(basis_of(lines["uom"]), index=lines.index).fillna(UNIT)
    return lines


def _prepared_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """The priceable rates per day, open-ended periods closed at the last timestamp."""
    r = daily_rates(unpriced_rates(rates)[0])
    r["effective_from"] = pd.to_datetime(r["effective_from"])
    r["effective_to"] = pd.to_datetime(r["effective_to"]).fillna(pd.Timestamp.max.normalize())
    r["block_daily_volume"] = pd.to_numeric(r["block_daily_volume"], errors="coerce")
    return r.drop(columns=[c for c in ("uom", "id") if c in r.columns])


def _tariff_parts(lines: pd.DataFrame, r: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each line cut by the tariff periods of its plan and charge that overlap it (the parts, with
    their days and quantity), and the exceptions: a required charge with no rate (missing_tariff)
    or rates for only some of its days (partial_tariff: priced for the covered days only)."""
    periods = r[[*RATE_KEY, "effective_from", "effective_to"]].drop_duplicates()
    parts = lines.merge(periods, on=RATE_KEY, how="left")
    parts["part_start"] = parts[["period_start", "effective_from"]].max(axis=1)
    parts["part_end"] = parts[["period_end", "effective_to"]].min(axis=1)
    has_rate = parts["effective_from"].notna() & (parts["part_start"] <= parts["part_end"])
    priced_ids = set(parts.loc[has_rate, "line_id"])
    required = ~lines["charge_type"].isin(OPTIONAL_CHARGES)
    missing = lines[~lines["line_id"].isin(priced_ids) & required]
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
    coverage = (
        parts[~parts["charge_type"].isin(OPTIONAL_CHARGES)]
        .groupby("line_id")
        .agg(days=("days", "sum"), total=("total_days", "first"), account_id=("account_id", "first"))
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
    # A day charge counts the part's days; a demand (kW, the period's maximum) holds on every part;
    # energy is pro-rated by days.
    daily, demand = parts["basis"] == DAILY, parts["basis"] == DEMAND
    parts["part_quantity"] = np.where(
        daily,
        parts["days"],
        np.where(demand, parts["quantity"], parts["quantity"] * parts["days"] / parts["total_days"]),
    )
    return parts, exceptions


def _step_blocks(parts: pd.DataFrame, r: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Each part's quantity filled into its rate's step blocks in order (a negative quantity, an
    export, stays in the first block); the blocks it reaches, and whether each is per kW."""
    b = parts.merge(r, on=[*RATE_KEY, "effective_from", "effective_to"])
    b = b.sort_values(["line_id", "part_start", "block_order"], kind="stable")
    per_kw = (b["basis"] == DEMAND).to_numpy()
    # NaN: no ceiling (the last block); a demand block's volume is kW, not kW x days
    cap = (b["block_daily_volume"] * np.where(per_kw, 1, b["days"])).to_numpy(dtype=float)
    finite = np.nan_to_num(cap, nan=0.0)
    part_key = [b["line_id"].to_numpy(), b["part_start"].to_numpy()]
    below = pd.Series(finite, index=b.index).groupby(part_key).cumsum().to_numpy() - finite  # earlier blocks
    cap = np.where(np.isnan(cap), np.inf, cap)
    q = b["part_quantity"].to_numpy(dtype=float)
    block_q = np.where(q >= 0, np.clip(q - below, 0, cap), np.where(b["block_order"] == 1, q, 0.0))
    keep = (block_q != 0) | (b["block_order"].to_numpy() == 1)
    return b.assign(block_quantity=np.round(block_q, 3))[keep], per_kw[keep]


def _amounts(b: pd.DataFrame, per_kw: np.ndarray) -> pd.DataFrame:
    """Each block's net amount to the cent: a credit negative, a demand rate per kW per day of the part."""
    credit = b["charge_type"].isin(CREDIT_CHARGES).to_numpy()
    times = np.where(credit, -1.0, 1.0) * np.where(per_kw, b["days"].to_numpy(dtype=float), 1.0)
    net = round_cents(b["block_quantity"].to_numpy() * b["unit_price"].to_numpy() * times)
    return b.assign(net_amount=net, _row=np.arange(len(b))).reset_index(drop=True)


def _with_discounts_and_gst(out: pd.DataFrame, discounts: pd.DataFrame) -> pd.DataFrame:
    """The discounts effective at each part's start, and GST beside the net (none on a feed-in
    credit to a customer not registered for GST)."""
    discount, propensity_share, conditional = _discounts(out, unpriced_discounts(discounts)[0])
    out["discount_net"] = discount
    out["discount_net_propensity"] = round_cents(propensity_share)
    out["discount_state"] = np.where(discount == 0, "NONE", np.where(conditional, "CONDITIONAL", "GUARANTEED"))
    credit = out["charge_type"].isin(CREDIT_CHARGES).to_numpy()
    gst_free = credit & (out["gst_registered"].to_numpy() == 0)
    out["gst"] = np.where(gst_free, 0.0, gst(out["net_amount"].to_numpy()))
    return out


def _discounts(out: pd.DataFrame, discounts: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(discount_net, its propensity-weighted value, whether a CONDITIONAL discount applies) per
    priced row of ``out`` (net_amount, days, total_days, bill_days, bill_key, pay_on_time_propensity)."""
    n = len(out)
    discount, propensity_share, conditional = np.zeros(n), np.zeros(n), np.zeros(n, dtype=bool)
    d = discounts.copy()
    d["amount"] = pd.to_numeric(d["amount"], errors="coerce") if "amount" in d else np.nan
    d["effective_from"] = pd.to_datetime(d["effective_from"])
    d["effective_to"] = pd.to_datetime(d["effective_to"]).fillna(pd.Timestamp.max.normalize())
    m = out[["_row", "plan_id", "part_start", "charge_type"]].merge(
        d[["plan_id", "discount_type", "method", "rate", "amount", "effective_from", "effective_to"]], on="plan_id"
    )
    m = m[(m["effective_from"] <= m["part_start"]) & (m["part_start"] <= m["effective_to"])]
    method = m["method"].to_numpy()
    charge = m["charge_type"]
    applies = np.select(
        [method == "percentOfBill", method == "fixedAmount"],
        [charge.isin(PERCENT_OF_BILL_CHARGES), charge == SUPPLY_CHARGE],
        charge.isin(USAGE_DISCOUNT_CHARGES),
    )
    m = m[applies]
    if m.empty:
        return discount, propensity_share, conditional
    rows = m["_row"].to_numpy()
    method = m["method"].to_numpy()
    net = out["net_amount"].to_numpy()
    rate = m["rate"].astype(float).to_numpy()
    amount = m["amount"].to_numpy(dtype=float)
    bill_days = out["bill_days"].to_numpy(dtype=float)
    # percentOverThreshold: the bill's usage dollars above its threshold (pro-rated by the bill's
    # days), shared over its usage rows by their net.
    usage = out["charge_type"].isin(USAGE_DISCOUNT_CHARGES).to_numpy()
    bill = [out["bill_key"].to_numpy(), out["plan_id"].to_numpy()]
    bill_usage = pd.Series(np.where(usage, net, 0.0)).groupby(bill).transform("sum").to_numpy()
    bill_span = out["total_days"].groupby(bill).transform("max").to_numpy(dtype=float)
    threshold = amount * bill_span[rows] / bill_days[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        above = np.where(bill_usage[rows] > 0, np.maximum(bill_usage[rows] - threshold, 0.0) / bill_usage[rows], 0.0)
    base = np.select(
        [method == "fixedAmount", method == "percentOverThreshold"],
        [amount * out["days"].to_numpy(dtype=float)[rows] / bill_days[rows], net[rows] * rate * above],
        net[rows] * rate,
    )
    value = round_cents(base)
    np.add.at(discount, rows, value)
    cond = (m["discount_type"] == "CONDITIONAL").to_numpy()
    prop = out["pay_on_time_propensity"].astype(float).to_numpy()[rows]
    np.add.at(propensity_share, rows, np.where(cond, value * prop, value))
    np.logical_or.at(conditional, rows, cond)
    return discount, propensity_share, conditional
