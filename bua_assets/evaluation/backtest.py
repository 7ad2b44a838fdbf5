"""Backtest of unbilled consumption against the generator's ground truth, with two baselines
real billing systems use: (a) the last bill's average daily usage x unbilled days; (b) the same
days a year earlier, at the daily rate they were billed at (ADU where last year was not billed).

Compared per account x supply point x register x calendar month of the unbilled window, in each
register's unit (kWh; gas in MJ); portfolio and state x fuel figures combine fuels in kWh
(1 kWh = 3.6 MJ) over imported energy (solar export is reported as its own row).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bua_assets.billing.accrual import CHARGE_OF_STREAM
from bua_assets.estimation.basic import expand_days, heating_values
from bua_assets.estimation.consumption import register_days

KEYS = ["account_id", "utility_id", "register_id", "year_mnth"]


def truth_by_row(truth_dir: Path, months: pd.DataFrame, registers: pd.DataFrame, heating: pd.DataFrame) -> pd.DataFrame:
    """True quantity per KEYS over the unbilled days (gas converted to MJ like ours)."""
    days = register_days(months, registers[["register_id", "utility_id"]])
    out = []
    for month, part in days.groupby(days["date"].astype("datetime64[s]").dt.strftime("%Y-%m")):
        t = pq.read_table(Path(truth_dir) / f"{month}.parquet", columns=["meter_register_id", "read_date", "values"])
        daily = pd.DataFrame({"register_id": t["meter_register_id"].to_numpy(),
                              "date": t["read_date"].to_numpy().astype("datetime64[D]"),
                              "truth": pc.list_flatten(t["values"]).to_numpy().reshape(t.num_rows, -1).sum(axis=1)})
        part = part.assign(date=part["date"].to_numpy(dtype="datetime64[D]"))
        out.append(part.merge(daily, on=["register_id", "date"], how="left"))
    d = pd.concat(out, ignore_index=True)
    d["truth"] = d["truth"].astype(np.float64).fillna(0.0)
    reg = registers.set_index("register_id")
    gas = (d["register_id"].map(reg["fuel"]) == "GAS").to_numpy()
    if gas.any():
        hv, _ = heating_values(heating, d.loc[gas, "register_id"].map(reg["network_id"]).to_numpy(),
                               d.loc[gas, "date"].to_numpy(dtype="datetime64[D]"))
        d.loc[gas, "truth"] *= hv * d.loc[gas, "register_id"].map(reg["pressure_correction_factor"]).to_numpy(dtype=float)
    return d.groupby(KEYS)["truth"].sum().reset_index()


def billed_daily_rates(invoices: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """Usage per supply point x charge type x day as billed: every issued, unreversed debit line
    spread evenly over its period. Columns: utility_id, charge, date, per_day, invoice_id, period_end."""
    credits = invoices[(invoices["is_credit"] == 1) & (invoices["status"] == "ISSUED")]
    good = invoices[(invoices["status"] == "ISSUED") & (invoices["is_credit"] == 0)
                    & ~invoices["id"].isin(credits["reverses_invoice_id"])]
    li = lines[lines["invoice_id"].isin(good["id"]) & lines["plan_item_type_name"].isin(set(CHARGE_OF_STREAM.values()))]
    li = li.groupby(["invoice_id", "utility_id", "plan_item_type_name", "period_start", "period_end"])["quantity"] \
        .sum().reset_index()
    li["quantity"] = li["quantity"].astype(float)
    start = pd.to_datetime(li["period_start"]).to_numpy().astype("datetime64[D]")
    end = pd.to_datetime(li["period_end"]).to_numpy().astype("datetime64[D]")
    owner, dates = expand_days(start, end)
    n = (end - start).astype(np.int64) + 1
    return pd.DataFrame({"utility_id": li["utility_id"].to_numpy()[owner],
                         "charge": li["plan_item_type_name"].to_numpy()[owner], "date": dates,
                         "per_day": (li["quantity"].to_numpy() / n)[owner], "invoice_id": li["invoice_id"].to_numpy()[owner]})


def baselines(months: pd.DataFrame, registers: pd.DataFrame, invoices: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """KEYS + adu + last_year quantities."""
    rates = billed_daily_rates(invoices, lines)
    reg = registers.set_index("register_id")
    days = register_days(months, registers[["register_id", "utility_id"]])
    days["charge"] = days["register_id"].map(reg["stream_type"]).map(CHARGE_OF_STREAM)
    days["date"] = days["date"].to_numpy(dtype="datetime64[D]")
    # (a) ADU of the supply point's last bill with usage for the charge, for the account's own bills.
    inv_account = invoices.set_index("id")["account_id"]
    r = rates.assign(account_id=rates["invoice_id"].map(inv_account))
    last_inv = r.groupby(["account_id", "utility_id", "charge"])["invoice_id"].max().rename("last").reset_index()
    last = r.merge(last_inv, on=["account_id", "utility_id", "charge"])
    adu = last[last["invoice_id"] == last["last"]].groupby(["account_id", "utility_id", "charge"])["per_day"].mean() \
        .rename("adu").reset_index()
    days = days.merge(adu, on=["account_id", "utility_id", "charge"], how="left")
    # No bill yet: the average ADU of the same state, fuel and stream (what a billing system defaults to).
    days["group"] = (days["register_id"].map(reg["jurisdiction"]) + "|" + days["register_id"].map(reg["fuel"]) + "|"
                     + days["register_id"].map(reg["stream_type"]))
    default = days.dropna(subset=["adu"]).drop_duplicates(["account_id", "register_id"]).groupby("group")["adu"].mean()
    days["adu"] = days["adu"].fillna(days["group"].map(default)).fillna(0.0)
    # (b) the same day last year as billed then (any tenant of the supply point), else ADU.
    ly = days["date"].astype("datetime64[s]") - pd.DateOffset(years=1)
    days["ly_date"] = ly.to_numpy().astype("datetime64[D]")
    rate = rates.groupby(["utility_id", "charge", "date"])["per_day"].sum().rename("last_year").reset_index()
    days = days.merge(rate.rename(columns={"date": "ly_date"}), on=["utility_id", "charge", "ly_date"], how="left")
    days["last_year"] = days["last_year"].fillna(days["adu"])
    return days.groupby(KEYS)[["adu", "last_year"]].sum().reset_index()


def compare(ours: pd.DataFrame, truth: pd.DataFrame, base: pd.DataFrame, registers: pd.DataFrame,
            summary: pd.DataFrame) -> dict:
    """The accuracy table: signed error % per portfolio, state x fuel and meter type, and the
    median absolute per-register error for interval registers with >= 28 days of history."""
    q = ours.groupby(KEYS)["quantity"].sum().rename("ours").reset_index()
    d = truth.merge(base, on=KEYS, how="outer").merge(q, on=KEYS, how="outer").fillna(
        {"ours": 0.0, "truth": 0.0, "adu": 0.0, "last_year": 0.0})
    reg = registers.set_index("register_id")
    d["state"] = d["register_id"].map(reg["jurisdiction"])
    d["fuel"] = d["register_id"].map(reg["fuel"])
    d["stream"] = d["register_id"].map(reg["stream_type"])
    d["meter_type"] = np.where(d["stream"] == "SOLAR", "SOLAR EXPORT",
                               d["register_id"].map(reg["meter_installation_type"]) + " " + d["fuel"])
    kwh = np.where(d["fuel"] == "GAS", 1 / 3.6, 1.0)
    methods = ["ours", "adu", "last_year"]
    for m in methods + ["truth"]:
        d[m + "_kwh"] = d[m] * kwh

    def err(frame):
        t = frame["truth_kwh"].sum()
        return {m: (round(float((frame[m + "_kwh"].sum() - t) / t * 100), 3) if t else None) for m in methods}

    imports = d[d["stream"] != "SOLAR"]
    cells = [{"state": s, "fuel": f, **err(g), "truth_kwh": round(float(g["truth_kwh"].sum()), 1)}
             for (s, f), g in imports.groupby(["state", "fuel"])]
    meter_types = [{"meter_type": k, **err(g), "truth_kwh": round(float(g["truth_kwh"].sum()), 1)}
                   for k, g in d.groupby("meter_type")]
    per_reg = d.groupby("register_id")[["ours", "truth"]].sum()
    per_reg = per_reg[per_reg["truth"] > 0]
    hist = summary.set_index("register_id")["days_with_data"] if len(summary) else pd.Series(dtype=float)
    interval_regs = registers.loc[(registers["read_kind"] == "INTERVAL"), "register_id"]
    eligible = per_reg.index.isin(interval_regs) & (hist.reindex(per_reg.index).fillna(0) >= 28).to_numpy()
    all_errors = (per_reg["ours"] - per_reg["truth"]) / per_reg["truth"] * 100
    register_errors = all_errors[eligible]
    # Accumulation registers are almost entirely estimated: their spread is the method's own.
    basic_regs = registers.loc[(registers["read_kind"] == "BASIC"), "register_id"]
    basic_errors = all_errors[per_reg.index.isin(basic_regs)]
    return {"portfolio_error_pct": err(imports), "cells": cells, "meter_types": meter_types,
            "median_register_error_pct": round(float(register_errors.abs().median()), 3) if len(register_errors) else None,
            "median_register_signed_error_pct": round(float(register_errors.median()), 3) if len(register_errors) else None,
            "registers_compared": int(eligible.sum()),
            "median_basic_register_error_pct": round(float(basic_errors.abs().median()), 3) if len(basic_errors) else None,
            "portfolio_truth_kwh": round(float(imports["truth_kwh"].sum()), 1)}


def dollar_accuracy(consumption: pd.DataFrame, truth: pd.DataFrame, supply: pd.DataFrame, propensity: pd.Series,
                    rates: pd.DataFrame, discounts: pd.DataFrame, attributes: pd.DataFrame,
                    corrected_accounts=()) -> dict:
    """The accrual priced from our estimates vs the ground truth priced by the same engine.

    The truth is taken per register and month; where our estimate splits a register's month
    into time classes, the truth is split in the same proportions (the class mix of a month is
    mostly actual interval data, so this tests the quantity, which is what is estimated).
    Supply days are the same on both sides. Signed errors in % of the true accrual (net ex-GST).
    ``corrected_accounts`` (those with a charge version flagged for supplementary processing: their
    plan was replaced after billing, so they are priced at a plan other than the one billed) are
    also reported apart under ``corrected_accounts``.
    """
    from bua_assets.billing.accrual import accrual_lines
    from bua_assets.billing.tariff import price

    ours_total = consumption.groupby(KEYS)["quantity"].transform("sum")
    t = consumption.merge(truth, on=KEYS, how="left")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(ours_total.to_numpy() != 0, t["truth"].fillna(0).to_numpy() / ours_total.to_numpy(), 1.0)
    true_consumption = consumption.assign(quantity=consumption["quantity"].to_numpy() * ratio)

    def accrual(frame):
        lines, _ = accrual_lines(frame, supply, propensity)
        priced = price(lines[lines["plan_id"] >= 0], rates, discounts).lines
        return priced.groupby("account_id")["net_amount"].sum()

    d = pd.DataFrame({"ours": accrual(consumption), "truth": accrual(true_consumption)}).fillna(0.0)
    d = d.join(attributes.set_index("account_id")[["state", "fuel"]])

    def err(frame):
        return round(float((frame["ours"].sum() - frame["truth"].sum()) / frame["truth"].sum() * 100), 3)

    corrected = d[d.index.isin(list(corrected_accounts))]
    return {"portfolio_dollar_error_pct": err(d), "truth_dollars": round(float(d["truth"].sum()), 2),
            "corrected_accounts": {"accounts": len(corrected), "truth_dollars": round(float(corrected["truth"].sum()), 2),
                                   "dollar_error_pct": err(corrected) if corrected["truth"].sum() else None},
            "cells": [{"state": s, "fuel": f, "dollar_error_pct": err(g), "truth_dollars": round(float(g["truth"].sum()), 2)}
                      for (s, f), g in d.groupby(["state", "fuel"])]}
