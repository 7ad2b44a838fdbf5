"""Backtest of unbilled consumption against the generator's ground truth, with two baselines
real billing systems use: (a) the last bill's average daily usage x unbilled days; (b) the same
days a year earlier, at the daily rate they were billed at (ADU where last year was not billed).

Compared per account x supply point x register x calendar month of the unbilled window, in each
register's unit (kWh; gas in MJ); portfolio and state x fuel figures combine fuels in kWh
(1 kWh = 3.6 MJ) over imported energy (solar export is reported as its own row).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bua_assets.billing.charges import CHARGE_OF_STREAM
from bua_assets.billing.history import ISSUED
from bua_assets.estimation.basic import expand_days, heating_values
from bua_assets.estimation.intervals import day_type

KEYS = ["account_id", "utility_id", "register_id", "year_mnth"]
TOU_CLASSES = ["PEAK", "SHOULDER", "OFF_PEAK"]


def truth_window(billing: pd.DataFrame, registers: pd.DataFrame, last_day) -> pd.DataFrame:
    """The register-days not billed at the run date, from the generator's own billing truth
    (``billing``: account_id, utility_id, open_date, close_date, billed_through; written by the
    generator from the invoices it issued), not from the pipeline's unbilled_window: a day the
    pipeline leaves out is then an error, not a day nobody looks at. Columns: KEYS + date."""
    b = billing
    last = np.minimum(
        np.where(
            b["close_date"].isna(),
            np.datetime64(last_day, "D"),
            pd.to_datetime(b["close_date"]).to_numpy().astype("datetime64[D]"),
        ),
        np.datetime64(last_day, "D"),
    )
    billed = pd.to_datetime(b["billed_through"]).to_numpy().astype("datetime64[D]")
    opened = pd.to_datetime(b["open_date"]).to_numpy().astype("datetime64[D]")
    first = np.where(np.isnat(billed), opened, np.maximum(billed + 1, opened))
    owner, dates = expand_days(first, last)
    days = pd.DataFrame(
        {
            "account_id": b["account_id"].to_numpy()[owner],
            "utility_id": b["utility_id"].to_numpy()[owner],
            "date": dates,
        }
    )
    days["year_mnth"] = dates.astype("datetime64[M]").astype("datetime64[ns]")
    days = days.merge(registers[["register_id", "utility_id"]], on="utility_id")
    return days[[*KEYS, "date"]]


def truth_days(truth_dir: Path, days: pd.DataFrame, registers: pd.DataFrame, heating: pd.DataFrame) -> pd.DataFrame:
    """The truth of every register-day of ``days`` (KEYS + date): ``truth`` in the register's
    billed unit (gas m3 converted to MJ like ours) and the PEAK / SHOULDER / OFF_PEAK split of the
    day's own half-hours by the generator's time-of-use windows. A register-day the truth does
    not hold is an error (never counted as zero)."""
    from bua_synth.world import tou_masks

    masks = tou_masks()
    out = []
    days = days.assign(date=days["date"].to_numpy(dtype="datetime64[D]"))
    for month, part in days.groupby(days["date"].to_numpy().astype("datetime64[M]")):
        path = Path(truth_dir) / f"{pd.Timestamp(month):%Y-%m}.parquet"
        if not path.exists():
            raise ValueError(
                f"the truth has no file for {pd.Timestamp(month):%Y-%m}: {len(part)} register-days unchecked"
            )
        t = pq.read_table(
            path,
            columns=["meter_register_id", "read_date", "values"],
            filters=[("meter_register_id", "in", part["register_id"].unique().tolist())],
        )
        values = pc.list_flatten(t["values"]).to_numpy().reshape(t.num_rows, 48).astype(np.float64)
        dates = t["read_date"].to_numpy().astype("datetime64[D]")
        classes = np.einsum("ri,rci->rc", values, masks[day_type(dates)])
        daily = pd.DataFrame(
            {
                "register_id": t["meter_register_id"].to_numpy(),
                "date": dates,
                "truth": values.sum(axis=1),
                **{c: classes[:, k] for k, c in enumerate(TOU_CLASSES)},
            }
        )
        out.append(part.merge(daily, on=["register_id", "date"], how="left"))
    d = pd.concat(out, ignore_index=True)
    missing = d["truth"].isna()
    if missing.any():
        raise ValueError(
            f"{int(missing.sum())} unbilled register-days have no truth row "
            f"(e.g. register {d.loc[missing, 'register_id'].iloc[0]} on {d.loc[missing, 'date'].iloc[0]})"
        )
    reg = registers.set_index("register_id")
    gas = (d["register_id"].map(reg["fuel"]) == "GAS").to_numpy()
    if gas.any():
        hv, _ = heating_values(
            heating,
            d.loc[gas, "register_id"].map(reg["network_id"]).to_numpy(),
            d.loc[gas, "date"].to_numpy(dtype="datetime64[D]"),
        )
        factor = hv * d.loc[gas, "register_id"].map(reg["pressure_correction_factor"]).to_numpy(dtype=float)
        for c in ["truth", *TOU_CLASSES]:
            d.loc[gas, c] *= factor
    return d


def truth_by_row(days: pd.DataFrame) -> pd.DataFrame:
    """truth_days summed to KEYS (with the time-of-use split)."""
    return days.groupby(KEYS)[["truth", *TOU_CLASSES]].sum().reset_index()


def billed_daily_rates(invoices: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Usage per supply point x charge type x day as billed: every issued, unreversed debit line
    spread evenly over its period. Columns: utility_id, charge, date, per_day, invoice_id, period_end."""
    credits = invoices[(invoices["is_credit"] == 1) & (invoices["status"] == ISSUED)]
    good = invoices[
        (invoices["status"] == ISSUED)
        & (invoices["is_credit"] == 0)
        & ~invoices["id"].isin(credits["reverses_invoice_id"])
    ]
    li = lines[lines["invoice_id"].isin(good["id"]) & lines["plan_item_type_name"].isin(set(CHARGE_OF_STREAM.values()))]
    li = (
        li.groupby(["invoice_id", "utility_id", "plan_item_type_name", "period_start", "period_end"])["quantity"]
        .sum()
        .reset_index()
    )
    li["quantity"] = li["quantity"].astype(float)
    start = pd.to_datetime(li["period_start"]).to_numpy().astype("datetime64[D]")
    end = pd.to_datetime(li["period_end"]).to_numpy().astype("datetime64[D]")
    owner, dates = expand_days(start, end)
    n = (end - start).astype(np.int64) + 1
    return pd.DataFrame(
        {
            "utility_id": li["utility_id"].to_numpy()[owner],
            "charge": li["plan_item_type_name"].to_numpy()[owner],
            "date": dates,
            "per_day": (li["quantity"].to_numpy() / n)[owner],
            "invoice_id": li["invoice_id"].to_numpy()[owner],
        }
    )


def baselines(days: pd.DataFrame, registers: pd.DataFrame, invoices: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """KEYS + adu + last_year quantities over ``days`` (truth_window: KEYS + date)."""
    rates = billed_daily_rates(invoices, lines)
    reg = registers.set_index("register_id")
    days = days[[*KEYS, "date"]].copy()
    days["charge"] = days["register_id"].map(reg["stream_type"]).map(CHARGE_OF_STREAM)
    days["date"] = days["date"].to_numpy(dtype="datetime64[D]")
    # (a) ADU of the supply point's last bill with usage for the charge, for the account's own bills.
    inv_account = invoices.set_index("id")["account_id"]
    r = rates.assign(account_id=rates["invoice_id"].map(inv_account))
    last_inv = r.groupby(["account_id", "utility_id", "charge"])["invoice_id"].max().rename("last").reset_index()
    last = r.merge(last_inv, on=["account_id", "utility_id", "charge"])
    adu = (
        last[last["invoice_id"] == last["last"]]
        .groupby(["account_id", "utility_id", "charge"])["per_day"]
        .mean()
        .rename("adu")
        .reset_index()
    )
    days = days.merge(adu, on=["account_id", "utility_id", "charge"], how="left")
    # No bill yet: the average ADU of the same state, fuel and stream (what a billing system defaults to).
    days["group"] = (
        days["register_id"].map(reg["jurisdiction"])
        + "|"
        + days["register_id"].map(reg["fuel"])
        + "|"
        + days["register_id"].map(reg["stream_type"])
    )
    default = days.dropna(subset=["adu"]).drop_duplicates(["account_id", "register_id"]).groupby("group")["adu"].mean()
    days["adu"] = days["adu"].fillna(days["group"].map(default)).fillna(0.0)
    # (b) the same day last year as billed then (any tenant of the supply point), else ADU.
    ly = days["date"].astype("datetime64[s]") - pd.DateOffset(years=1)
    days["ly_date"] = ly.to_numpy().astype("datetime64[D]")
    rate = rates.groupby(["utility_id", "charge", "date"])["per_day"].sum().rename("last_year").reset_index()
    days = days.merge(rate.rename(columns={"date": "ly_date"}), on=["utility_id", "charge", "ly_date"], how="left")
    days["last_year"] = days["last_year"].fillna(days["adu"])
    return days.groupby(KEYS)[["adu", "last_year"]].sum().reset_index()


def estimated_interval_days(estimated_reads: pd.DataFrame, registers: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """The interval register-days we estimated (nem12_estimates' estimated_reads: nmi, suffix,
    read_date, values) with our kWh and the truth: register_id, date, ours, truth. An estimated
    day outside the true unbilled window keeps truth NaN (it should not have been estimated)."""
    reg = registers[["register_id", "nmi", "suffix"]]
    e = estimated_reads.merge(reg, on=["nmi", "suffix"], how="left")
    ours = np.array([float(np.nansum(np.asarray(v, dtype=float))) for v in e["values"]]) if len(e) else np.zeros(0)
    e = pd.DataFrame(
        {
            "register_id": e["register_id"],
            "date": pd.to_datetime(e["read_date"]).to_numpy().astype("datetime64[D]"),
            "ours": ours,
        }
    )
    t = days[["register_id", "date", "truth"]].assign(date=days["date"].to_numpy(dtype="datetime64[D]"))
    return e.merge(t, on=["register_id", "date"], how="left")


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(year_mnth=pd.to_datetime(frame["year_mnth"]).astype("datetime64[ns]"))


def _median_abs(errors: pd.Series) -> float | None:
    return round(float(errors.abs().median()), 3) if len(errors) else None


def compare(
    ours: pd.DataFrame,
    truth: pd.DataFrame,
    base: pd.DataFrame,
    registers: pd.DataFrame,
    summary: pd.DataFrame,
    estimated: pd.DataFrame | None = None,
) -> dict:
    """The accuracy table: signed error % per portfolio, state x fuel and meter type; the median
    absolute per-register error for interval registers with >= 28 days of history and for basic
    registers; and, apart, the error on the interval days we estimated (``estimated`` from
    estimated_interval_days) against the interval days that had meter data."""
    q = _keys(ours).groupby(KEYS)["quantity"].sum().rename("ours").reset_index()
    d = (
        _keys(truth[[*KEYS, "truth"]])
        .merge(_keys(base), on=KEYS, how="outer")
        .merge(q, on=KEYS, how="outer")
        .fillna({"ours": 0.0, "truth": 0.0, "adu": 0.0, "last_year": 0.0})
    )
    reg = registers.set_index("register_id")
    d["state"] = d["register_id"].map(reg["jurisdiction"])
    d["fuel"] = d["register_id"].map(reg["fuel"])
    d["stream"] = d["register_id"].map(reg["stream_type"])
    d["meter_type"] = np.where(
        d["stream"] == "SOLAR", "SOLAR EXPORT", d["register_id"].map(reg["meter_installation_type"]) + " " + d["fuel"]
    )
    kwh = np.where(d["fuel"] == "GAS", 1 / 3.6, 1.0)
    methods = ["ours", "adu", "last_year"]
    for m in [*methods, "truth"]:
        d[m + "_kwh"] = d[m] * kwh

    def err(frame):
        t = frame["truth_kwh"].sum()
        return {m: (round(float((frame[m + "_kwh"].sum() - t) / t * 100), 3) if t else None) for m in methods}

    imports = d[d["stream"] != "SOLAR"]
    cells = [
        {"state": s, "fuel": f, **err(g), "truth_kwh": round(float(g["truth_kwh"].sum()), 1)}
        for (s, f), g in imports.groupby(["state", "fuel"])
    ]
    meter_types = [
        {"meter_type": k, **err(g), "truth_kwh": round(float(g["truth_kwh"].sum()), 1)}
        for k, g in d.groupby("meter_type")
    ]
    per_reg = d.groupby("register_id")[["ours", "truth"]].sum()
    per_reg = per_reg[per_reg["truth"] > 0]
    hist = summary.set_index("register_id")["days_with_data"] if len(summary) else pd.Series(dtype=float)
    interval_regs = registers.loc[(registers["read_kind"] == "INTERVAL"), "register_id"]
    eligible = per_reg.index.isin(interval_regs) & (hist.reindex(per_reg.index).fillna(0) >= 28).to_numpy()
    all_errors = (per_reg["ours"] - per_reg["truth"]) / per_reg["truth"] * 100
    register_errors = all_errors[eligible]
    # Accumulation registers are almost entirely estimated: their spread is the method's own.
    basic_regs = registers.loc[(registers["read_kind"] == "BASIC"), "register_id"]
    basic_import = basic_regs[basic_regs.map(reg["stream_type"]) != "SOLAR"]
    basic_errors = all_errors[per_reg.index.isin(basic_import)]
    gas_basic = all_errors[per_reg.index.isin(basic_import[basic_import.map(reg["fuel"]) == "GAS"])]
    elec_basic = all_errors[per_reg.index.isin(basic_import[basic_import.map(reg["fuel"]) == "ELECTRICITY"])]
    out = {
        "portfolio_error_pct": err(imports),
        "cells": cells,
        "meter_types": meter_types,
        "median_register_error_pct": _median_abs(register_errors),
        "median_register_signed_error_pct": round(float(register_errors.median()), 3) if len(register_errors) else None,
        "registers_compared": int(eligible.sum()),
        "median_basic_register_error_pct": _median_abs(basic_errors),
        "median_basic_gas_register_error_pct": _median_abs(gas_basic),
        "median_basic_electricity_register_error_pct": _median_abs(elec_basic),
        "basic_registers_compared": int(len(basic_errors)),
        "portfolio_truth_kwh": round(float(imports["truth_kwh"].sum()), 1),
    }
    if estimated is not None:
        out.update(_estimated_days(estimated, d, interval_regs, reg))
    return out


def _estimated_days(estimated: pd.DataFrame, d: pd.DataFrame, interval_regs: pd.Series, reg: pd.DataFrame) -> dict:
    """Interval registers: error on the days we estimated, apart from the days with meter data."""
    outside = int(estimated["truth"].isna().sum())
    e = estimated.dropna(subset=["truth"])
    e = e[e["register_id"].map(reg["stream_type"]) != "SOLAR"]
    per_reg = e.groupby("register_id")[["ours", "truth"]].sum()
    per_reg = per_reg[per_reg["truth"] > 0]
    reg_err = (per_reg["ours"] - per_reg["truth"]) / per_reg["truth"] * 100
    day_err = ((e["ours"] - e["truth"]) / e["truth"] * 100)[e["truth"] > 0]
    inter = d[d["register_id"].isin(interval_regs) & (d["stream"] != "SOLAR")]
    est_total = per_reg.sum()
    metered_ours = inter["ours"].sum() - e["ours"].sum()
    metered_truth = inter["truth"].sum() - e["truth"].sum()

    def pct(a, t):
        return round(float((a - t) / t * 100), 3) if t else None

    return {
        "median_estimated_interval_day_error_pct": _median_abs(reg_err),
        "median_estimated_interval_single_day_error_pct": _median_abs(day_err),
        "estimated_interval_error_pct": pct(est_total["ours"], est_total["truth"]) if len(per_reg) else None,
        "estimated_interval_days": int(len(e)),
        "estimated_interval_registers": int(len(per_reg)),
        "estimated_days_outside_truth_window": outside,
        "metered_interval_error_pct": pct(metered_ours, metered_truth),
    }


def dollar_accuracy(
    consumption: pd.DataFrame,
    truth: pd.DataFrame,
    supply: pd.DataFrame,
    propensity: pd.Series | pd.DataFrame,
    rates: pd.DataFrame,
    discounts: pd.DataFrame,
    attributes: pd.DataFrame,
    corrected_accounts=(),
) -> dict:
    """The accrual priced from our estimates vs the ground truth priced by the same engine.

    ``truth`` is truth_by_row: per KEYS the true quantity and its PEAK / SHOULDER / OFF_PEAK
    split from the truth's own half-hours. Each of our rows (KEYS x plan x time class) gets the
    truth of its time class (time-of-use classes from the truth's split, any other class the
    register's whole truth), shared between plans in a month by our days on each. Truth with no
    row of ours cannot be priced (no plan or class) and is reported as ``truth_unpriced``; it is
    already an error in the quantity table. Supply days are the same on both sides. Signed errors
    in % of the true accrual (net ex-GST).
    ``corrected_accounts`` (those with a charge version flagged for supplementary processing: their
    plan was replaced after billing, so they are priced at a plan other than the one billed) are
    also reported apart under ``corrected_accounts``.
    """
    from bua_assets.billing.accrual import accrual_lines
    from bua_assets.billing.tariff import price

    c = _keys(consumption)
    t = _keys(truth)
    tou = c["time_class"].isin(TOU_CLASSES).to_numpy()
    klass = np.where(tou, c["time_class"], "ANYTIME")
    c = c.assign(_class=klass)
    merged = c.merge(t, on=KEYS, how="left")
    class_truth = np.select(
        [merged["_class"] == k for k in TOU_CLASSES], [merged[k] for k in TOU_CLASSES], merged["truth"]
    ).astype(float)
    class_truth = np.nan_to_num(class_truth)
    # Several plans in one register-month: the truth of the class shared by our days on each plan.
    days = c["days"].to_numpy(dtype=float) if "days" in c.columns else np.ones(len(c))
    group_days = c.assign(_d=days).groupby([*KEYS, "_class"])["_d"].transform("sum").to_numpy()
    share = np.where(group_days > 0, days / group_days, 1.0)
    true_consumption = consumption.assign(quantity=class_truth * share)
    unpriced = t.merge(c[KEYS].drop_duplicates(), on=KEYS, how="left", indicator=True)
    unpriced = unpriced[unpriced["_merge"] == "left_only"]

    def accrual(frame):
        lines, _ = accrual_lines(frame, supply, propensity, rates)
        priced = price(lines[lines["plan_id"] >= 0], rates, discounts).lines
        return priced.groupby("account_id")["net_amount"].sum()

    d = pd.DataFrame({"ours": accrual(consumption), "truth": accrual(true_consumption)}).fillna(0.0)
    d = d.join(attributes.set_index("account_id")[["state", "fuel"]])

    def err(frame):
        return round(float((frame["ours"].sum() - frame["truth"].sum()) / frame["truth"].sum() * 100), 3)

    corrected = d[d.index.isin(list(corrected_accounts))]
    return {
        "portfolio_dollar_error_pct": err(d),
        "truth_dollars": round(float(d["truth"].sum()), 2),
        "corrected_accounts": {
            "accounts": len(corrected),
            "truth_dollars": round(float(corrected["truth"].sum()), 2),
            "dollar_error_pct": err(corrected) if corrected["truth"].sum() else None,
        },
        "truth_unpriced_rows": int(len(unpriced)),
        "truth_unpriced_quantity": round(float(unpriced["truth"].sum()), 3),
        "cells": [
            {"state": s, "fuel": f, "dollar_error_pct": err(g), "truth_dollars": round(float(g["truth"].sum()), 2)}
            for (s, f), g in d.groupby(["state", "fuel"])
        ],
    }


def month_dollar_accuracy(read: Callable[[str, str], pd.DataFrame], truth: pd.DataFrame) -> dict:
    """dollar_accuracy for a month already in the lake: ``read(asset, dataset)`` gives the month's
    frames (unbilled consumption and window, the CORE plans, rates, discounts and account
    attributes); ``truth`` is truth_by_row. Accounts flagged for supplementary billing are the
    corrected ones."""
    from bua_assets.billing.accrual import customer_terms, supply_days
    from bua_assets.billing.outputs import account_attributes, site_attributes

    tables = ("AccountPlan", "PlanRate", "PlanDiscount", "Account", "JournalAccountSegment", "ServiceType",
              "AccountUtility", "Utility", "Jurisdiction")  # fmt: skip
    c = {t: read("core_tables", t) for t in tables}
    sites = site_attributes(c["Utility"], c["Jurisdiction"], c["ServiceType"])
    attributes = account_attributes(
        c["Account"], c["JournalAccountSegment"], c["ServiceType"], c["AccountUtility"], sites
    )
    plans = c["AccountPlan"]
    return dollar_accuracy(
        read("unbilled_consumption", "unbilled_consumption"),
        truth,
        supply_days(read("unbilled_window", "unbilled_months"), plans),
        customer_terms(c["Account"], c["JournalAccountSegment"]),
        c["PlanRate"],
        c["PlanDiscount"],
        attributes,
        plans.loc[plans["include_in_supplementary"] == 1, "account_id"],
    )
