"""Unbilled consumption (DESIGN §5.4): the unbilled register-days quantified a calendar month at a
time (the output grain includes the month, so memory holds one month), actual interval data with
our estimates, plans' time-of-use windows, basic registers' scalar x profile, gas in MJ; what
cannot be quantified becomes an exception with its reason, once per account, supply point,
register, month and code."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.estimation.consumption import (
    DAY_COLUMNS,
    EXCEPTION_COLUMNS,
    SUMMARY_KEYS,
    TimeOfUse,
    quantify_month,
    registers_on_days,
    summarise,
)
from bua_assets.estimation.demand import empty_demand
from bua_assets.estimation.intervals import READ_COLUMNS
from bua_assets.estimation.micro_scalars import base_share
from bua_assets.estimation.profiles import MacroProfiles

REGISTER_ATTRIBUTES = [
    "register_id",
    "utility_id",
    "nmi",
    "suffix",
    "uom",
    "read_kind",
    "stream_type",
    "active_from",
    "active_to",
]
NO_REGISTERS_REASON = "the supply point has no meter register in CORE"
# How each accrued register-day was quantified (the accrual true-up reports its bias per method):
# meter data or a basic register's read interval spread by its profile; an interval day not all
# actual (our estimate, or a provider's substitute); after a basic register's last read, by the
# micro scalar's method (micro_scalars.method).
ESTIMATION_METHODS = ("actual_reads", "interval_gap", "basic_profile", "class_average", "move_in_prior")
METHOD_OF_SCALAR = {
    "own_history": "basic_profile",
    "segment_average": "class_average",
    "premise_prior": "move_in_prior",
}


def no_register_exceptions(unbilled_months: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """An exception for every unbilled month of a supply point with no meter register."""
    no_registers = unbilled_months[~unbilled_months["utility_id"].isin(registers["utility_id"])]
    return no_registers[["account_id", "utility_id", "year_mnth"]].assign(
        register_id=None, code="no_meter_registers", reason=NO_REGISTERS_REASON
    )


def no_installed_register_exceptions(uncovered: pd.DataFrame) -> pd.DataFrame:
    """An exception per account x supply point x month with unbilled days on which none of the
    supply point's registers is installed (``uncovered`` of consumption.registers_on_days), naming
    how many days and the first and last."""
    keys = ["account_id", "utility_id", "year_mnth"]
    if not len(uncovered):
        return pd.DataFrame(columns=EXCEPTION_COLUMNS)
    g = uncovered.groupby(keys)["date"].agg(["size", "min", "max"]).reset_index()
    first = pd.to_datetime(g["min"]).dt.strftime("%Y-%m-%d")
    last = pd.to_datetime(g["max"]).dt.strftime("%Y-%m-%d")
    return g[keys].assign(
        register_id=None,
        code="no_register_installed",
        reason=(
            "no meter register of the supply point is installed on "
            + g["size"].astype(str)
            + " unbilled day(s), "
            + first
            + " to "
            + last
            + " (CORE Meter and MeterRegisterDetail dates): their consumption is not accrued"
        ),
    )


def with_methods(days: pd.DataFrame, registers: pd.DataFrame, scalar_methods: pd.Series) -> pd.DataFrame:
    """Register-day totals (consumption.DAY_COLUMNS) with the register's read_kind and stream_type
    and the day's ``method`` (one of ESTIMATION_METHODS); ``scalar_methods``: micro_scalars'
    method by register_id (a basic register without one is counted as the class average)."""
    reg = registers.drop_duplicates("register_id").set_index("register_id")
    out = days[DAY_COLUMNS].copy()
    out["read_kind"] = out["register_id"].map(reg["read_kind"])
    out["stream_type"] = out["register_id"].map(reg["stream_type"])
    actual = np.isclose(out["actual_quantity"].to_numpy(float), out["quantity"].to_numpy(float), rtol=1e-9, atol=1e-9)
    after_read = (
        out["register_id"].map(scalar_methods).map(METHOD_OF_SCALAR).fillna("class_average").to_numpy(dtype=object)
    )
    interval = (out["read_kind"] == "INTERVAL").to_numpy()
    out["method"] = np.where(actual, "actual_reads", np.where(interval, "interval_gap", after_read))
    return out


def one_per_code(exceptions: list[pd.DataFrame]) -> pd.DataFrame:
    """The exceptions once per account, supply point, register, month and code (the first reason)."""
    exc = (
        pd.concat([e for e in exceptions if len(e)], ignore_index=True)
        if any(len(e) for e in exceptions)
        else pd.DataFrame(columns=EXCEPTION_COLUMNS)
    )
    return (
        exc.groupby(["account_id", "utility_id", "register_id", "year_mnth", "code"], dropna=False)["reason"]
        .first()
        .reset_index()
    )


def unbilled_consumption(
    unbilled_months: pd.DataFrame,
    registers: pd.DataFrame,
    account_plans: pd.DataFrame,
    plans: pd.DataFrame,
    plan_time_of_use: pd.DataFrame,
    plan_rates: pd.DataFrame,
    heating_values: pd.DataFrame,
    macro: MacroProfiles,
    scalar_table: pd.DataFrame,
    read_intervals: pd.DataFrame,
    estimated: pa.Table,
    actual_batches: Callable[[str], Iterable[pa.RecordBatch]],
    report: Callable[[int, int, str], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(consumption by SUMMARY_KEYS, exceptions, maximum demand: demand.DEMAND_COLUMNS per plan
    with a demand rate). ``plan_rates``: PlanRate (which plans split feed-in by time of use and
    which price demand in which windows); ``scalar_table``: micro scalars by register_id
    (scalar, base_share); ``estimated``: our estimated interval days (estimated_reads);
    ``actual_batches(month_key)``: the actual interval data of a month ("YYYY-MM-01"), READ_COLUMNS;
    ``report(done, months, note)`` after each month. The fourth frame is every quantified
    register-day (with_methods)."""
    scalars, shares = scalar_table["scalar"], base_share(scalar_table)
    key_index = pd.Series(macro.key_index(registers["profile_key"]), index=registers["register_id"].to_numpy())
    tou = TimeOfUse.from_tables(plans, plan_time_of_use, plan_rates)
    attrs = registers[[c for c in REGISTER_ATTRIBUTES if c in registers]]
    parts, exceptions, demand, daily = [], [], [], []
    by_month = unbilled_months.groupby("year_mnth", sort=True)
    for done, (year_mnth, month) in enumerate(by_month, start=1):
        days, uncovered = registers_on_days(month, attrs)
        exceptions.append(no_installed_register_exceptions(uncovered))
        actual = actual_batches(pd.Timestamp(year_mnth).strftime("%Y-%m-%d"))
        summary, month_exceptions, month_demand, month_days = quantify_month(
            days,
            itertools.chain(
                actual, estimated.select([c for c in READ_COLUMNS if c in estimated.column_names]).to_batches()
            ),
            account_plans,
            tou,
            read_intervals,
            scalars,
            macro,
            key_index,
            registers,
            heating_values,
            shares,
        )
        parts.append(summary)
        demand.append(month_demand)
        daily.append(month_days)
        exceptions += month_exceptions
        if report is not None:
            report(done, by_month.ngroups, f"{pd.Timestamp(year_mnth):%Y-%m}: {len(days):,} register-days")
    out = (
        pd.concat(parts, ignore_index=True).sort_values(SUMMARY_KEYS, kind="stable").reset_index(drop=True)
        if parts
        else summarise(
            pd.DataFrame(columns=[*SUMMARY_KEYS, "quantity", "actual_quantity", "quantity_m3"]).assign(
                date=pd.Series(dtype="datetime64[ns]")
            ),
            registers,
        )
    )
    exceptions.append(no_register_exceptions(unbilled_months, registers))
    # Months without demand rows left out: an empty frame's types (int64) would otherwise decide the
    # result's (int32 ids), so the types would depend on which accounts are computed together.
    demand = [d for d in demand if len(d)]
    max_demand = pd.concat(demand, ignore_index=True) if demand else empty_demand()
    days = (
        pd.concat(daily, ignore_index=True)
        if daily
        else pd.DataFrame({c: pd.Series(dtype="int64") for c in DAY_COLUMNS}).assign(
            date=pd.Series(dtype="datetime64[s]"),
            quantity=pd.Series(dtype=float),
            actual_quantity=pd.Series(dtype=float),
        )
    )
    methods = scalar_table["method"] if "method" in scalar_table else pd.Series(dtype=object)
    return out, one_per_code(exceptions), max_demand, with_methods(days, registers, methods)
