"""The accrual invoice (DESIGN §5.5): unbilled consumption and days → lines the tariff engine prices.

Pure pandas: one usage line per account x supply point x month x plan x charge x time class,
one supply (DAILY_RETAIL) line per account x supply point x month x plan, and one line per
optional item the plan rates (metering and fees per day; green power per day or per kWh of its
streams), and one demand line per demand rate window with the month's maximum kW measured from
interval data. Whatever the plan holds that the engine cannot price (or measure) is an
``unpriced_charge`` per account, with its exposure where it can be estimated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bua_assets.billing.charges import (
    BILL_DAYS,
    CHARGE_OF_STREAM,
    CHARGE_TYPES,
    CONSUMPTION_CHARGES,
    DAILY,
    DEMAND_CHARGES,
    OPTIONAL_CHARGES,
    PERIOD_DAYS,
    SUPPLY_CHARGE,
    UNIT,
    UNIT_UOMS,
    basis_of,
    demand_rates,
    unpriced_discounts,
    unpriced_rates,
)
from bua_assets.billing.tariff import with_terms
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


def customer_terms(accounts: pd.DataFrame, segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per account id: pay_on_time_propensity, bill_days (its bill frequency's average length) and
    gst_registered (CORE's flag; where CORE leaves it empty, registered unless the account's
    journal segment is RESIDENTIAL: residential customers are not, by default)."""
    a = accounts.set_index("id")
    terms = pd.DataFrame(index=a.index)
    terms["pay_on_time_propensity"] = a["pay_on_time_propensity"].astype(float)
    freq = a["bill_frequency"] if "bill_frequency" in a else pd.Series("MONTHLY", index=a.index)
    terms["bill_days"] = freq.astype(str).str.upper().map(BILL_DAYS).astype(float)
    flag = pd.to_numeric(a["gst_registered"], errors="coerce") if "gst_registered" in a else pd.Series(np.nan, a.index)
    residential = pd.Series(False, index=a.index)
    if segments is not None and "journal_segment_id" in a:
        names = a["journal_segment_id"].map(segments.set_index("id")["name"])
        residential = names.astype(str).str.upper().eq("RESIDENTIAL")
    terms["gst_registered"] = flag.fillna((~residential).astype(float)).astype(float)
    return terms


def accrual_lines(
    consumption: pd.DataFrame,
    supply: pd.DataFrame,
    terms: pd.DataFrame | pd.Series,
    rates: pd.DataFrame | None = None,
    demand: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lines for tariff.price with line attributes, exceptions for days without a charge version).

    ``consumption``: unbilled_consumption rows; ``supply``: supply_days(); ``terms``:
    customer_terms() (or only the pay-on-time propensity), indexed by account id; ``rates``:
    PlanRate, for the optional items each plan carries (none when omitted); ``demand``: the
    maximum demand per GROUP x window (unbilled_consumption's max_demand) its demand rates price."""
    usage = _per_line(consumption.assign(charge_type=consumption["stream_type"].map(CHARGE_OF_STREAM)))
    daily = supply.rename(columns={"first_day": "period_start", "last_day": "period_end", "days": "quantity"}).assign(
        charge_type=SUPPLY_CHARGE, time_class="ANYTIME", uom="DAY", estimated_quantity=0.0
    )
    parts = [daily[usage.columns], usage]
    if rates is not None and len(rates):
        parts += optional_lines(consumption, daily, rates, usage.columns)
        if demand is not None and len(demand):
            parts.append(demand_lines(demand, daily, rates)[usage.columns])
    lines = pd.concat(parts, ignore_index=True)
    lines["ili_state"] = np.where(lines["estimated_quantity"].abs() > 1e-9, "ESTIMATED", "ACTUAL")
    lines["quantity"] = lines["quantity"].astype(float)
    lines = with_terms(lines, terms)
    lines = lines.sort_values([*GROUP, "charge_type", "time_class"], kind="stable").reset_index(drop=True)
    lines.insert(0, "line_id", np.arange(len(lines)))
    lines["bill_key"] = lines.groupby(GROUP, sort=False).ngroup()  # one accrual bill per month x plan
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


def optional_lines(
    consumption: pd.DataFrame, daily: pd.DataFrame, rates: pd.DataFrame, columns: pd.Index
) -> list[pd.DataFrame]:
    """Lines of the optional items (metering, fees, green power) of each plan that rates them: per
    day of supply, or per unit of the item's streams. The engine prices them over the days their
    rates are in force."""
    ok = unpriced_rates(rates)[0]
    ok = ok[ok["charge_type"].isin(OPTIONAL_CHARGES)].assign(basis=lambda r: basis_of(r["uom"]))
    items = ok[["plan_id", "charge_type", "time_class", "basis"]].drop_duplicates()
    per_day = items[items["basis"] == DAILY].drop(columns="basis")
    out = [
        daily.drop(columns=["charge_type", "time_class"]).merge(per_day, on="plan_id")[columns],
    ]
    per_unit = items[items["basis"] == UNIT].drop(columns="basis")
    streams = pd.DataFrame(
        [(name, s) for name in per_unit["charge_type"].unique() for s in CHARGE_TYPES[name].streams],
        columns=["charge_type", "stream_type"],
    )
    used = consumption.drop(columns=["time_class", "charge_type"], errors="ignore").merge(
        per_unit.merge(streams, on="charge_type"), on=["plan_id", "stream_type"]
    )
    out.append(_per_line(used)[columns])
    return out


def demand_lines(demand: pd.DataFrame, daily: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """One line per GROUP x demand rate window measured: the month's maximum kW over the supply
    line's days (the engine prices kW x rate x days); ESTIMATED when the maximum is."""
    d = demand.merge(
        demand_rates(rates)[["plan_id", "charge_type", "time_class"]].drop_duplicates(), on=["plan_id", "time_class"]
    )
    periods = daily[[*GROUP, "period_start", "period_end"]]
    d = d.merge(periods, on=GROUP)
    return d.assign(
        uom="KW",
        quantity=d["quantity"].astype(float),
        estimated_quantity=np.where(d["estimated"].astype(bool), d["quantity"].astype(float), 0.0),
    )


def unmeasured_demand(lines: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """The blocking ``unpriced_charge`` exceptions of demand rates in force on unbilled days with
    no demand line: nothing measured the maximum demand (a basic meter has no half hours; a window
    the plan's time-of-use table cannot place)."""
    columns = ["line_id", "account_id", "code", "reason"]
    items = demand_rates(rates)
    if items.empty:
        return pd.DataFrame(columns=columns)
    supply = lines.loc[lines["charge_type"] == SUPPLY_CHARGE, [*GROUP, "period_start", "period_end"]]
    rate_rows = items[["plan_id", "charge_type", "time_class", "unit_price", "uom", "effective_from", "effective_to"]]
    hit = supply.merge(rate_rows, on="plan_id")
    # each rate row in force on the unbilled days (a 1 July version closed, the next open-ended)
    to = pd.to_datetime(hit["effective_to"]).astype("datetime64[ns]").fillna(pd.Timestamp.max.normalize())
    in_force = (pd.to_datetime(hit["effective_from"]) <= pd.to_datetime(hit["period_end"])) & (
        pd.to_datetime(hit["period_start"]) <= to
    )
    hit = hit[in_force.to_numpy()].sort_values("effective_from", kind="stable")  # the latest price last
    measured = lines.loc[lines["charge_type"].isin(DEMAND_CHARGES), [*GROUP, "charge_type", "time_class"]]
    hit = hit.merge(measured.assign(_measured=True), on=[*GROUP, "charge_type", "time_class"], how="left")
    hit = hit[hit["_measured"].isna()].drop_duplicates([*GROUP, "charge_type", "time_class"])
    per = hit.groupby(["account_id", "plan_id", "charge_type", "time_class"], sort=True).agg(
        months=("year_mnth", "nunique"), price=("unit_price", "last"), uom=("uom", "last")
    )
    per = per.reset_index()
    return pd.DataFrame(
        {
            "line_id": pd.array([pd.NA] * len(per), dtype="Int64"),
            "account_id": per["account_id"].to_numpy(),
            "code": "unpriced_charge",
            "reason": (
                "plan "
                + per["plan_id"].astype(str)
                + " "
                + per["charge_type"]
                + "/"
                + per["time_class"]
                + " at "
                + per["price"].astype(str)
                + " per "
                + per["uom"].astype(str)
                + " per day: no maximum demand measured on "
                + per["months"].astype(str)
                + " unbilled month(s) (no interval data in the window: a basic meter, or time-of-use "
                "windows missing); exposure cannot be estimated (not in the accrual)"
            ).to_numpy(),
        },
        columns=columns,
    )


def _per_line(consumption: pd.DataFrame) -> pd.DataFrame:
    """Consumption rows (with their charge_type) summed to one line per GROUP x charge x time
    class x unit, over the days they cover."""
    # dates as datetime64 so min/max stay vectorised (date objects fall back to Python per group)
    dated = consumption.assign(
        first_day=pd.to_datetime(consumption["first_day"]), last_day=pd.to_datetime(consumption["last_day"])
    )
    out = (
        dated.groupby([*GROUP, "charge_type", "time_class", "uom"])
        .agg(
            quantity=("quantity", "sum"),
            estimated_quantity=("estimated_quantity", "sum"),
            period_start=("first_day", "min"),
            period_end=("last_day", "max"),
        )
        .reset_index()
    )
    out["period_start"] = out["period_start"].dt.date
    out["period_end"] = out["period_end"].dt.date
    return out


def unpriced_charges(lines: pd.DataFrame, rates: pd.DataFrame, discounts: pd.DataFrame) -> pd.DataFrame:
    """The blocking ``unpriced_charge`` exceptions (line_id, account_id, code, reason): per account
    and plan item the engine cannot price (a rate or a discount) in force on the account's
    unbilled days, naming the plan, the item, why, and the exposure where it can be estimated (a
    per-period price x the days; a per-unit price x the account's usage on those days)."""
    bad_rates = unpriced_rates(rates)[1]
    bad_discounts = unpriced_discounts(discounts)[1]
    items = pd.concat(
        [
            pd.DataFrame(
                {
                    "plan_id": bad_rates["plan_id"],
                    "item": bad_rates["charge_type"].astype(str)
                    + "/"
                    + bad_rates["time_class"].astype(str)
                    + " at "
                    + bad_rates["unit_price"].astype(str)
                    + " per "
                    + bad_rates["uom"].astype(str),
                    "unit_price": pd.to_numeric(bad_rates["unit_price"], errors="coerce"),
                    "uom": bad_rates["uom"].astype(str).str.upper(),
                    "effective_from": bad_rates["effective_from"],
                    "effective_to": bad_rates["effective_to"],
                    "why": bad_rates["why"],
                }
            ),
            pd.DataFrame(
                {
                    "plan_id": bad_discounts["plan_id"],
                    "item": "discount "
                    + bad_discounts["discount_type"].astype(str)
                    + " "
                    + bad_discounts["method"].astype(str),
                    "unit_price": np.nan,
                    "uom": "",
                    "effective_from": bad_discounts["effective_from"],
                    "effective_to": bad_discounts["effective_to"],
                    "why": bad_discounts["why"],
                }
            ),
        ],
        ignore_index=True,
    )
    columns = ["line_id", "account_id", "code", "reason"]
    if items.empty:
        return pd.DataFrame(columns=columns)
    items["effective_from"] = pd.to_datetime(items["effective_from"])
    items["effective_to"] = pd.to_datetime(items["effective_to"]).fillna(pd.Timestamp.max.normalize())
    supply = lines.loc[lines["charge_type"] == SUPPLY_CHARGE, [*GROUP, "period_start", "period_end", "quantity"]]
    hit = supply.merge(items, on="plan_id")
    start = np.maximum(pd.to_datetime(hit["period_start"]), hit["effective_from"])
    end = np.minimum(pd.to_datetime(hit["period_end"]), hit["effective_to"])
    hit = hit.assign(days=(end - start).dt.days + 1)
    hit = hit[hit["days"] > 0]
    used = lines[lines["charge_type"].isin(CONSUMPTION_CHARGES)].groupby(GROUP)["quantity"].sum()
    share = hit["days"] / hit["quantity"].clip(lower=1)
    usage = hit.set_index(GROUP).index.map(used).to_numpy(dtype=float)
    period_days = hit["uom"].map(PERIOD_DAYS).to_numpy(dtype=float)
    exposure = np.where(
        ~np.isnan(period_days),
        hit["unit_price"] / period_days * hit["days"],
        np.where(hit["uom"].isin(UNIT_UOMS), hit["unit_price"] * np.nan_to_num(usage) * share, np.nan),
    )
    hit = hit.assign(exposure=exposure)
    per = hit.groupby(["account_id", "plan_id", "item", "why"], sort=True, dropna=False).agg(
        days=("days", "sum"), exposure=("exposure", lambda x: x.sum(min_count=len(x)))
    )
    per = per.reset_index()
    worth = np.where(
        per["exposure"].notna(),
        "exposure about $" + per["exposure"].round(2).map("{:,.2f}".format),
        "exposure cannot be estimated",
    )
    return pd.DataFrame(
        {
            "line_id": pd.array([pd.NA] * len(per), dtype="Int64"),
            "account_id": per["account_id"].to_numpy(),
            "code": "unpriced_charge",
            "reason": (
                "plan "
                + per["plan_id"].astype(str)
                + " "
                + per["item"]
                + ": "
                + per["why"]
                + "; "
                + per["days"].astype(str)
                + " unbilled days, "
                + worth
                + " (not in the accrual)"
            ).to_numpy(),
        },
        columns=columns,
    )


def overlapping_versions(unbilled_months: pd.DataFrame, account_plans: pd.DataFrame) -> pd.DataFrame:
    """Account x supply point x month where two APPROVED charge versions cover the same day: the
    latest created is priced, and the overlap is reported (account_id, utility_id, year_mnth,
    code, reason)."""
    days = window_days(unbilled_months)
    cover = covering_versions(days, account_plans)
    # the version ids are joined only for the (rare) days covered twice: not a Python call per day
    versions = cover.groupby("_row")["id"].transform("size")
    twice = cover[(versions > 1).to_numpy()].sort_values(["_row", "id"])
    ids = twice.groupby("_row")["id"].agg(lambda v: ",".join(map(str, v)))
    hit = days.iloc[ids.index].assign(ids=ids.to_numpy())
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
