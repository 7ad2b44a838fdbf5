"""Re-rating a billed quantity onto the time classes of another plan (DESIGN §5.6).

A billed period re-priced under a new plan keeps its billed quantities, but the new plan may rate
them by other time classes than the bill shows:

- billed by time of use (PEAK, SHOULDER, OFF_PEAK), the new plan flat: the classes are summed
  into the flat class (usage ANYTIME, feed-in SOLAR);
- billed as one flat figure, the new plan by time of use: the figure is split by the interval data
  of those days (the supply point's registers of the charge's stream, summed per half hour, put
  through the new plan's windows); where a day has no interval data (a basic meter), by the load
  profile's half-hour shape for that day, and the split is flagged estimated.

Nothing else is touched: a quantity the new plan rates as billed is priced as billed, and one that
can be neither summed nor split is left for the engine to report (``missing_tariff``). A demand
charge the new plan has and the bill has no quantity for is measured from the same half hours
(``measured_demand``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.billing.charges import DEMAND_CHARGES, DEMAND_STREAMS, SUPPLY_CHARGE, demand_rates, unpriced_rates
from bua_assets.billing.supplementary import EXCEPTION_COLUMNS, period_exceptions
from bua_assets.estimation.basic import expand_days
from bua_assets.estimation.consumption import STREAM_TIME_CLASS, TOU_CLASSES, TimeOfUse
from bua_assets.estimation.intervals import HALF_HOURS, channel_keys, day_type, group_sum, half_hourly
from bua_assets.estimation.profiles import MacroProfiles

# The charges whose quantity follows one stream and can be re-rated: charge -> (stream, flat class).
RERATABLE = {"USAGE_RETAIL": "PRIMARY", "FEED_IN": "SOLAR"}
FLAT_CLASS = {c: STREAM_TIME_CLASS.get(s, "ANYTIME") for c, s in RERATABLE.items()}

# (requests: utility_id, first, last — the days wanted per supply point; stream) -> (days: utility_id, date and optionally
# profiled, a register of the day without data so shaped by the load profile; (n, 48) kWh summed
# over the supply point's registers of the stream; (n,) whether a day's shape is estimated: a
# profile, or not all actual data). Days with nothing to go by are absent.
HalfHours = Callable[[pd.DataFrame, str], tuple[pd.DataFrame, np.ndarray, np.ndarray]]


def rated_classes(rates: pd.DataFrame) -> dict[tuple[int, str], set[str]]:
    """(plan, charge) -> the time classes the plan rates it by (rates the engine prices)."""
    ok = unpriced_rates(rates)[0][["plan_id", "charge_type", "time_class"]].drop_duplicates()
    out: dict[tuple[int, str], set[str]] = {}
    for p, c, tc in ok.itertuples(index=False):
        out.setdefault((int(p), str(c)), set()).add(str(tc))
    return out


def rerate(
    lines: pd.DataFrame, rates: pd.DataFrame, tou: TimeOfUse | None = None, half_hours: HalfHours | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``lines`` with quantities re-rated onto the classes their plan rates, exceptions flagging
    estimated splits). ``lines``: one row per billed quantity to re-price (account_id, utility_id,
    plan_id, charge_type, time_class, quantity, period_start, period_end and whatever else, which
    a collapsed or split row keeps)."""
    rated = rated_classes(rates)
    key = list(zip(lines["plan_id"].astype(int), lines["charge_type"].astype(str)))
    classes = [rated.get(k, set()) for k in key]
    tc = lines["time_class"].astype(str).to_numpy()
    flat = lines["charge_type"].map(FLAT_CLASS).to_numpy()
    unrated = np.array([t not in c for t, c in zip(tc, classes)], dtype=bool) & pd.notna(flat)
    by_tou = np.array([bool(c & set(TOU_CLASSES)) for c in classes], dtype=bool)
    has_flat = np.array([f in c for f, c in zip(flat, classes)], dtype=bool)
    collapse = unrated & np.isin(tc, TOU_CLASSES) & has_flat
    windows = [] if tou is None else list(tou.masks)
    split = unrated & (tc == flat) & by_tou & lines["plan_id"].isin(windows).to_numpy()
    out = lines.copy()
    out.loc[collapse, "time_class"] = flat[collapse]
    exceptions = pd.DataFrame(columns=EXCEPTION_COLUMNS)
    if split.any() and tou is not None and half_hours is not None:
        parts, exceptions = _split(out[split], tou, half_hours)
        # a class the plan's windows hold but it does not rate is dropped when nothing falls in it
        rated_here = [
            t in rated.get((int(p), str(c)), set())
            for p, c, t in parts[["plan_id", "charge_type", "time_class"]].itertuples(index=False)
        ]
        parts = parts[np.array(rated_here, dtype=bool) | (parts["quantity"].to_numpy(dtype=float) != 0)]
        out = pd.concat([out[~split], parts], ignore_index=True)
    if collapse.any():  # the summed classes become one row
        keys = [c for c in out.columns if c != "quantity"]
        out = out.groupby(keys, dropna=False, sort=False, as_index=False)["quantity"].sum()
    return out.reset_index(drop=True), exceptions


def _split(rows: pd.DataFrame, tou: TimeOfUse, half_hours: HalfHours) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each row split onto its plan's time-of-use classes by the half hours of its days; a row
    with no half hours at all is returned as it is."""
    rows = rows.reset_index(drop=True).assign(_r=lambda f: np.arange(len(f)))
    start = pd.to_datetime(rows["period_start"])
    end = pd.to_datetime(rows["period_end"])
    class_kwh = np.zeros((len(rows), len(TOU_CLASSES)))
    estimated_days = np.zeros(len(rows), dtype=np.int64)
    days_found = np.zeros(len(rows), dtype=np.int64)
    for charge, stream in RERATABLE.items():
        mine = rows["charge_type"].to_numpy() == charge
        if not mine.any():
            continue
        requests = pd.DataFrame({"utility_id": rows.loc[mine, "utility_id"], "first": start[mine], "last": end[mine]})
        days, values, estimated = half_hours(requests, stream)
        days = days.assign(_d=np.arange(len(days)), date=pd.to_datetime(days["date"]))
        pairs = rows.loc[mine, ["_r", "utility_id", "plan_id"]].merge(days, on="utility_id")
        inside = (pairs["date"] >= start.to_numpy()[pairs["_r"]]) & (pairs["date"] <= end.to_numpy()[pairs["_r"]])
        pairs = pairs[inside.to_numpy()]
        dt = day_type(pairs["date"].to_numpy(dtype="datetime64[D]"))
        for p in pairs["plan_id"].unique():
            at = (pairs["plan_id"] == p).to_numpy()
            m = tou.masks[int(p)][dt[at]]  # (n, classes, 48)
            kwh = np.einsum("ni,nci->nc", values[pairs["_d"].to_numpy()[at]], m)
            np.add.at(class_kwh, pairs["_r"].to_numpy()[at], kwh)
        np.add.at(estimated_days, pairs["_r"].to_numpy(), estimated[pairs["_d"].to_numpy()].astype(np.int64))
        np.add.at(days_found, pairs["_r"].to_numpy(), 1)
    # Days found that measure nothing in the billed stream (a bill's month of export pro-rated onto
    # the one day a plan change cuts off, a day with none): no shape to split by, so the quantity
    # goes by the hours of the plan's windows, flagged estimated; it is tiny, as the data says.
    billed = rows["quantity"].to_numpy(dtype=float)
    unshaped = (class_kwh.sum(axis=1) <= 0) & (days_found > 0) & (billed != 0)
    if unshaped.any():
        class_kwh[unshaped] = _window_hours(rows[unshaped], start[unshaped], end[unshaped], tou)
    total = class_kwh.sum(axis=1)
    ok = (total > 0) | (billed == 0)  # nothing billed splits into zeros
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total[:, None] > 0, class_kwh / total[:, None], 0.0)
    parts = [rows[~ok]]
    for c, name in enumerate(TOU_CLASSES):
        parts.append(rows[ok].assign(time_class=name, quantity=rows.loc[ok, "quantity"].to_numpy() * share[ok, c]))
    out = pd.concat(parts, ignore_index=True).drop(columns="_r")
    shaped = ok & (estimated_days > 0) & ~unshaped
    flagged = rows[shaped | unshaped]
    how = np.where(
        unshaped[shaped | unshaped],
        "by the hours of its windows (the days' half hours measure none of it)",
        "with "
        + estimated_days[shaped | unshaped].astype(str)
        + " day(s) shaped by the load profile or estimated intervals",
    )
    exceptions = period_exceptions(
        flagged,
        "rerated_estimate",
        (
            "billed "
            + flagged["charge_type"].astype(str)
            + "/"
            + flagged["time_class"].astype(str)
            + " "
            + pd.to_datetime(flagged["period_start"]).dt.date.astype(str)
            + " to "
            + pd.to_datetime(flagged["period_end"]).dt.date.astype(str)
            + " split onto plan "
            + flagged["plan_id"].astype(str)
            + "'s time of use "
            + how
            + ": estimated"
        ),
    )
    return out, exceptions


def _window_hours(rows: pd.DataFrame, start: pd.Series, end: pd.Series, tou: TimeOfUse) -> np.ndarray:
    """(rows, TOU_CLASSES): the half hours each class of a row's plan holds over the row's days."""
    row, date = expand_days(start.to_numpy(dtype="datetime64[D]"), end.to_numpy(dtype="datetime64[D]"))
    plans, kinds = rows["plan_id"].to_numpy()[row], day_type(date)
    out = np.zeros((len(rows), len(TOU_CLASSES)))
    for p in np.unique(plans):
        at = plans == p
        np.add.at(out, row[at], tou.masks[int(p)][kinds[at]].sum(axis=2))
    return out


def supply_point_half_hours(
    registers: pd.DataFrame,
    data: pa.Table,
    macro: MacroProfiles,
    requests: pd.DataFrame,
    stream: str,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """A ``HalfHours`` answer from the interval data of those days (``data``: interval_reads rows,
    READ_COLUMNS, of at least the supply points' NMIs) and the load profile: per supply point of
    ``requests`` (utility_id, first, last) and day of its range, the half-hourly kWh of its
    ``stream`` registers summed. A register day without data takes its profile's shape for the
    day, scaled to the supply point's mean day with data (1 kWh when it has none), and the day is
    flagged estimated and profiled, as is one whose data is not all actual (estimated only).
    ``registers``: register_id, utility_id, nmi, suffix, uom, stream_type, profile_key."""
    span = requests.groupby("utility_id").agg(first=("first", "min"), last=("last", "max"))
    regs = registers[registers["utility_id"].isin(span.index) & (registers["stream_type"] == stream)]
    # a meter exchanged keeps the NMI and suffix under a new register id: one channel, counted once
    regs = regs.drop_duplicates(["utility_id", "nmi", "suffix"]).reset_index(drop=True)
    reg_first = pd.to_datetime(regs["utility_id"].map(span["first"])).to_numpy().astype("datetime64[D]")
    reg_last = pd.to_datetime(regs["utility_id"].map(span["last"])).to_numpy().astype("datetime64[D]")
    owner, grid_dates = expand_days(reg_first, reg_last)
    grid = pd.DataFrame({"_reg": owner, "date": grid_dates})
    offset = np.r_[0, np.cumsum((reg_last - reg_first).astype(np.int64) + 1)][:-1] if len(regs) else np.zeros(0)
    values = np.zeros((len(grid), HALF_HOURS))
    found = np.zeros(len(grid), dtype=bool)
    estimated = np.ones(len(grid), dtype=bool)
    if data.num_rows and len(regs):
        units = regs["uom"] if "uom" in regs else pd.Series("KWH", index=regs.index)
        channels = channel_keys(regs["nmi"].astype(str), regs["suffix"].astype(str), units.astype(str))
        reg_of = pd.Series(np.arange(len(regs)), index=channels.to_numpy(zero_copy_only=False))
        reg_of = reg_of[~reg_of.index.duplicated()]
        data_units = data["uom"] if "uom" in data.column_names else pa.array(["kWh"] * data.num_rows)
        key = pd.Series(channel_keys(data["nmi"], data["suffix"], data_units).to_numpy(zero_copy_only=False)).map(
            reg_of
        )
        reg = key.fillna(-1).to_numpy().astype(np.int64)
        known = reg >= 0
        read = data["read_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]")
        day = np.full(len(reg), -1, dtype=np.int64)
        day[known] = (read[known] - reg_first[reg[known]]).astype(np.int64)
        length = (reg_last - reg_first).astype(np.int64) + 1
        ok = known & (day >= 0) & (day < np.where(known, length[np.maximum(reg, 0)], 0))
        rows = np.flatnonzero(ok)
        at = offset[reg[rows]].astype(np.int64) + day[rows]
        at, first_row = np.unique(at, return_index=True)  # a register-day once (actual data first)
        rows = rows[first_row]
        v, actual = half_hourly(data, rows)
        values[at], found[at], estimated[at] = v, True, ~actual.all(axis=1)
    missing = np.flatnonzero(~found)
    if len(missing):
        keys = macro.key_index(regs["profile_key"].to_numpy()[grid["_reg"].to_numpy()[missing]])
        usable = (keys >= 0) & (keys < macro.intraday.shape[0])  # segments have a half-hour shape
        shape = np.zeros((len(missing), HALF_HOURS))
        pos = macro.window.seasonal_index(grid["date"].to_numpy()[missing][usable])
        shape[usable] = macro.intraday[keys[usable], pos]
        util = regs["utility_id"].to_numpy()[grid["_reg"].to_numpy()]
        measured = pd.Series(values[found].sum(axis=1)).groupby(util[found]).mean()
        scale = pd.Series(util[missing]).map(measured).fillna(1.0).to_numpy()
        values[missing] = shape * scale[:, None]
    util = regs["utility_id"].to_numpy()[grid["_reg"].to_numpy()] if len(regs) else np.zeros(0, dtype=np.int64)
    out = pd.DataFrame({"utility_id": util, "date": grid["date"].to_numpy()})
    codes = out.groupby(["utility_id", "date"], sort=True).ngroup().to_numpy()
    days = out.drop_duplicates().sort_values(["utility_id", "date"]).reset_index(drop=True)
    summed = group_sum(codes, values, len(days)) if len(days) else np.zeros((0, HALF_HOURS))
    flag = np.zeros(len(days), dtype=bool)
    np.logical_or.at(flag, codes, estimated)
    seen = np.zeros(len(days), dtype=bool)
    np.logical_or.at(seen, codes, found | (values.sum(axis=1) > 0))
    profiled = np.zeros(len(days), dtype=bool)  # a register of the day has no data: its shape is the profile's
    np.logical_or.at(profiled, codes, ~found)
    keep = seen  # a day with neither data nor a profile shape has nothing to go by: absent
    days = days.assign(profiled=profiled)
    return days[keep].reset_index(drop=True), summed[keep], flag[keep]


def measured_demand(
    lines: pd.DataFrame,
    rates: pd.DataFrame,
    replaced: pd.DataFrame,
    tou: TimeOfUse | None,
    half_hours: HalfHours | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(DEMAND rows to re-price, exceptions) for the billed periods whose new plan prices demand in
    a window the bill has no demand quantity for because a plan without that demand billed it (a
    REPLACED version of ``replaced``: utility_id, plan_id, start_date, end_date, overlaps it): the maximum
    kW of the supply point's import streams (PRIMARY + CONTROL summed per half hour) in the window
    over the row's days, from ``half_hours``; flagged ``rerated_estimate`` when a day of it is
    estimated, ``missing_tariff`` (the period is then left as billed) when nothing measures it.

    ``lines``: the rows to re-price (one DAILY_RETAIL row per billed period x version overlap is the
    template of its demand rows)."""
    columns = list(lines.columns)
    empty = (lines.iloc[:0], pd.DataFrame(columns=EXCEPTION_COLUMNS))
    item = ["plan_id", "charge_type", "time_class"]
    priced = demand_rates(rates)[[*item, "effective_from", "effective_to"]].drop_duplicates()
    if priced.empty or lines.empty:
        return empty
    span = ["utility_id", "billed_start", "billed_end", "plan_id", "period_start", "period_end"]
    supply = lines[lines["charge_type"] == SUPPLY_CHARGE]
    wanted = supply.drop(columns=["charge_type", "time_class"]).assign(_row=lambda f: np.arange(len(f)))
    wanted = wanted.merge(priced, on="plan_id")
    wanted = wanted[_overlaps(wanted, "effective_from", "effective_to")]  # a rate in force on the days
    wanted = wanted.drop_duplicates(["_row", "charge_type", "time_class"]).drop(
        columns=["_row", "effective_from", "effective_to"]
    )
    billed = lines.loc[lines["charge_type"].isin(DEMAND_CHARGES), [*span, "charge_type", "time_class"]]
    wanted = wanted.merge(billed.assign(_billed=True), on=[*span, "charge_type", "time_class"], how="left")
    wanted = wanted[wanted["_billed"].isna()].drop(columns="_billed").reset_index(drop=True)
    # Only where a replaced plan without that demand rate covered the days: a plan that has always
    # carried it and billed without it is the bill's own business, not a correction's.
    old = replaced[["utility_id", "plan_id", "start_date", "end_date"]].set_axis(
        ["utility_id", "old_plan", "old_start", "old_end"], axis=1
    )
    pairs = wanted[["utility_id", "charge_type", "time_class", "period_start", "period_end"]]
    pairs = pairs.assign(_w=np.arange(len(wanted))).merge(old, on="utility_id")
    pairs = pairs[_overlaps(pairs, "old_start", "old_end")]
    rated = priced.rename(columns={"plan_id": "old_plan"})
    pairs = pairs.merge(rated, on=["old_plan", "charge_type", "time_class"], how="left")
    has = pairs["effective_from"].notna().to_numpy() & _overlaps(pairs, "effective_from", "effective_to")
    covered_by_rated = pd.Series(has).groupby(pairs["_w"].to_numpy()).any()
    without = covered_by_rated.index[~covered_by_rated.to_numpy()].to_numpy()
    wanted = wanted.iloc[np.sort(without)].reset_index(drop=True)
    if wanted.empty:
        return empty
    wanted = wanted.assign(_r=np.arange(len(wanted)), uom="KW")
    start, end = pd.to_datetime(wanted["period_start"]), pd.to_datetime(wanted["period_end"])
    peak = np.full(len(wanted), -np.inf)
    estimated = np.zeros(len(wanted), dtype=bool)
    measured = np.zeros(len(wanted), dtype=bool)
    windows = {} if tou is None else tou.demand
    if half_hours is not None:
        site: pd.DataFrame | None = None
        for stream in DEMAND_STREAMS:
            requests = pd.DataFrame({"utility_id": wanted["utility_id"], "first": start, "last": end})
            days, values, est = half_hours(requests, stream)
            profiled = days["profiled"] if "profiled" in days else False
            part = days.drop(columns="profiled", errors="ignore").assign(
                date=pd.to_datetime(days["date"]), _est=est, _prof=profiled
            )
            part = pd.concat([part, pd.DataFrame(values, columns=range(HALF_HOURS))], axis=1)
            site = part if site is None else pd.concat([site, part], ignore_index=True)
        assert site is not None
        how: dict[object, str] = {i: "sum" for i in range(HALF_HOURS)} | {"_est": "any", "_prof": "any"}
        site = site.groupby(["utility_id", "date"], as_index=False).agg(how)
        kwh = site[list(range(HALF_HOURS))].to_numpy(dtype=float)
        pairs = wanted[["_r", "utility_id", "plan_id", "time_class"]].merge(
            site[["utility_id", "date", "_est", "_prof"]].assign(_d=np.arange(len(site))), on="utility_id"
        )
        inside = (pairs["date"].to_numpy() >= start.to_numpy()[pairs["_r"]]) & (
            pairs["date"].to_numpy() <= end.to_numpy()[pairs["_r"]]
        )
        # demand is measured, never profiled: a day some import register has no data for is left out
        pairs = pairs[inside & ~pairs["_prof"].to_numpy(dtype=bool)]
        measured[pairs["_r"].unique()] = True
        dt = day_type(pairs["date"].to_numpy(dtype="datetime64[D]"))
        for (p, cls_), at in pairs.groupby(["plan_id", "time_class"]).indices.items():
            mask = next((m for c, m in windows.get(int(p), []) if c == cls_), None)
            if mask is None:
                continue  # a window the plan's time-of-use table cannot place: unmeasured
            m = mask[dt[at]]
            day_max = np.where(m, kwh[pairs["_d"].to_numpy()[at]] * 2.0, -np.inf).max(axis=1)
            rows = pairs["_r"].to_numpy()[at]
            np.maximum.at(peak, rows, day_max)
            np.logical_or.at(estimated, rows, pairs["_est"].to_numpy(dtype=bool)[at] & np.isfinite(day_max))
    # days measured, none in the window (a weekday peak over a weekend): no demand in it, 0 kW
    peak = np.where(measured & ~np.isfinite(peak) & _placed(wanted, windows), 0.0, peak)
    ok = np.isfinite(peak)
    out = wanted[ok].assign(quantity=np.round(peak[ok], 3))[columns]

    def reasons(frame: pd.DataFrame, code: str, text: str) -> pd.DataFrame:
        item = (
            "plan "
            + frame["plan_id"].astype(str)
            + " "
            + frame["charge_type"].astype(str)
            + "/"
            + frame["time_class"].astype(str)
            + " from "
            + pd.to_datetime(frame["period_start"]).dt.date.astype(str)
            + " to "
            + pd.to_datetime(frame["period_end"]).dt.date.astype(str)
        )
        return period_exceptions(frame, code, item + text, start="billed_start")

    exceptions = pd.concat(
        [
            reasons(
                wanted[~ok],
                "missing_tariff",
                ": no half hours in the window to measure maximum demand: billed period not recalculated",
            ),
            reasons(
                wanted[ok & estimated],
                "rerated_estimate",
                ": maximum demand measured with estimated or profiled days: estimated",
            ),
        ],
        ignore_index=True,
    )
    return out, exceptions


def _overlaps(frame: pd.DataFrame, start: str, end: str) -> np.ndarray:
    """Whether [start, end] (an open end: no end) overlaps each row's [period_start, period_end]."""
    to = pd.to_datetime(frame[end]).astype("datetime64[ns]").fillna(pd.Timestamp.max.normalize())
    return (
        (pd.to_datetime(frame[start]) <= pd.to_datetime(frame["period_end"]))
        & (to >= pd.to_datetime(frame["period_start"]))
    ).to_numpy(dtype=bool)


def _placed(wanted: pd.DataFrame, windows: dict[int, list[tuple[str, np.ndarray]]]) -> np.ndarray:
    """Whether each row's demand window is one its plan's time-of-use table can place."""
    return np.array(
        [any(c == tc for c, _ in windows.get(int(p), [])) for p, tc in zip(wanted["plan_id"], wanted["time_class"])],
        dtype=bool,
    )
