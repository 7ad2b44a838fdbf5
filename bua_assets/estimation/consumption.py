"""Unbilled consumption (DESIGN §5.2, §5.4): quantities per account x supply point x register x
calendar month x time class, with the share that is actual.

Pure: the asset hands in the unbilled days, the registers, interval data for those days (actual
and our estimates), scalars and the macro profiles; everything is vectorised per month.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.billing.charges import DEMAND_STREAMS, demand_rates
from bua_assets.estimation.basic import expand_days, heating_values, spread_reads
from bua_assets.estimation.demand import ALL_DAY, DemandMeter
from bua_assets.estimation.intervals import channel_keys, day_type, half_hourly, tou_masks
from bua_assets.estimation.profiles import MacroProfiles, day_array
from bua_assets.estimation.scalars import register_range_weight, register_weights

TOU_CLASSES = ["PEAK", "SHOULDER", "OFF_PEAK"]
_EMPTY_DATA = pa.table(
    {
        "interval_length": pa.array([], pa.int16()),
        "values": pa.array([], pa.list_(pa.float64())),
        "interval_quality": pa.array([], pa.list_(pa.string())),
        "quality_method": pa.array([], pa.string()),
    }
)
STREAM_TIME_CLASS = {"CONTROL": "CONTROLLED_LOAD", "SOLAR": "SOLAR"}

RESULT_COLUMNS = [
    "account_id",
    "utility_id",
    "register_id",
    "suffix",
    "year_mnth",
    "plan_id",
    "time_class",
    "quantity",
    "uom",
    "actual_quantity",
    "estimated_quantity",
    "estimated_share",
    "days",
    "first_day",
    "last_day",
    "read_kind",
    "stream_type",
    "fuel",
    "quantity_m3",
]


def window_days(unbilled_months: pd.DataFrame) -> pd.DataFrame:
    """Every unbilled day: account_id, utility_id, year_mnth, date (one row per day)."""
    owner, dates = expand_days(
        unbilled_months["first_day"].to_numpy(dtype="datetime64[D]"),
        unbilled_months["last_day"].to_numpy(dtype="datetime64[D]"),
    )
    days = pd.DataFrame(
        {
            "account_id": unbilled_months["account_id"].to_numpy()[owner],
            "utility_id": unbilled_months["utility_id"].to_numpy()[owner],
            "year_mnth": unbilled_months["year_mnth"].to_numpy()[owner],
            "date": dates,
        }
    )
    return days


def register_days(unbilled_months: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """Every unbilled day of every register of the supply point: account_id, utility_id,
    year_mnth, register_id, date. ``registers``: register_id, utility_id (and attributes); with
    ``active_from`` and ``active_to`` (meter_registers: the register's meter's and its own dates,
    inclusive, NaT/None open), a register has only its days between them."""
    return registers_on_days(unbilled_months, registers)[0]


def registers_on_days(unbilled_months: pd.DataFrame, registers: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(register_days, uncovered): uncovered are the unbilled days (account_id, utility_id,
    year_mnth, date) of supply points with registers on which none of them is installed (a meter
    removed, or installed after the day): consumption nobody measured, to be named."""
    days = window_days(unbilled_months)
    if "active_from" not in registers:
        return days.merge(registers, on="utility_id"), days.iloc[:0]
    # the bounds once per register (few), then taken per register-day
    start, end = day_array(registers["active_from"]), day_array(registers["active_to"])
    attrs = registers.drop(columns=["active_from", "active_to"]).assign(_register=np.arange(len(registers)))
    out = days.assign(_day=np.arange(len(days))).merge(attrs, on="utility_id")
    day, r = out["date"].to_numpy(dtype="datetime64[D]"), out.pop("_register").to_numpy()
    on = (np.isnat(start[r]) | (start[r] <= day)) & (np.isnat(end[r]) | (day <= end[r]))
    covered = np.zeros(len(days), dtype=bool)
    covered[out.pop("_day").to_numpy()[on]] = True
    has_registers = days["utility_id"].isin(registers["utility_id"]).to_numpy()
    return out[on].reset_index(drop=True), days[has_registers & ~covered].reset_index(drop=True)


def covering_versions(days: pd.DataFrame, account_plans: pd.DataFrame) -> pd.DataFrame:
    """Every APPROVED charge version covering each (account, utility, date) row; ``_row`` is the
    row's position in ``days``."""
    ap = account_plans[account_plans["status"] == "APPROVED"]
    d = days[["account_id", "utility_id", "date"]].assign(_row=np.arange(len(days)))
    m = d.merge(
        ap[["id", "account_id", "utility_id", "plan_id", "start_date", "end_date", "created_at"]],
        on=["account_id", "utility_id"],
    )
    day = m["date"].to_numpy(dtype="datetime64[D]")
    start = pd.to_datetime(m["start_date"]).to_numpy().astype("datetime64[D]")
    end = pd.to_datetime(m["end_date"]).to_numpy().astype("datetime64[D]")
    return m[(start <= day) & (np.isnat(end) | (day <= end))]


def plan_of_day(days: pd.DataFrame, account_plans: pd.DataFrame) -> np.ndarray:
    """The plan of each (account, utility, date): the latest-created APPROVED version covering the
    day (overlapping versions are reported by the pricing step); -1 when none does."""
    m = covering_versions(days, account_plans).sort_values(["_row", "created_at"]).drop_duplicates("_row", keep="last")
    plan = np.full(len(days), -1, dtype=np.int64)
    plan[m["_row"].to_numpy()] = m["plan_id"].to_numpy()
    return plan


@dataclass
class TimeOfUse:
    """Per plan: the time-of-use windows its rates need, as masks, and which streams split by them.

    ``masks``: plan -> (2 day types, TOU_CLASSES, 48) for every plan whose windows are needed and
    usable; ``invalid``: plan -> why its windows cannot be used; ``usage``: the plans whose general
    usage splits (a time-of-use pricing model); ``feed_in``: the plans whose feed-in splits (a
    FEED_IN rate by time-of-use class); ``demand``: plan -> [(time class, (2, 48) mask)], the
    windows of its demand rates (ANYTIME: every half hour)."""

    masks: dict[int, np.ndarray]
    invalid: dict[int, str]
    usage: frozenset[int] = frozenset()
    feed_in: frozenset[int] = frozenset()
    demand: dict[int, list[tuple[str, np.ndarray]]] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, plans: pd.DataFrame, windows: pd.DataFrame, rates: pd.DataFrame | None = None) -> TimeOfUse:
        usage = set(plans.loc[plans["pricing_model"].astype(str).str.startswith("TIME_OF_USE"), "id"].astype(int))
        feed_in: set[int] = set()
        demand_classes: dict[int, list[str]] = {}
        if rates is not None and len(rates):
            by_tou = rates["time_class"].isin(TOU_CLASSES)
            feed_in = set(rates.loc[(rates["charge_type"] == "FEED_IN") & by_tou, "plan_id"].astype(int))
            d = demand_rates(rates)[["plan_id", "time_class"]].drop_duplicates()
            for p, cls_ in d.sort_values(["plan_id", "time_class"]).itertuples(index=False):
                demand_classes.setdefault(int(p), []).append(str(cls_))
        need = usage | feed_in | {p for p, c in demand_classes.items() if set(c) & set(TOU_CLASSES)}
        masks, invalid = {}, {}
        by_plan = {int(p): g for p, g in windows.groupby("plan_id")}
        for p in sorted(need):
            g = by_plan.get(p)
            m = (
                None
                if g is None
                else tou_masks(list(zip(g["time_class"], g["days"], g["start_time"], g["end_time"])), TOU_CLASSES)
            )
            if m is None:
                invalid[p] = (
                    "no time-of-use windows"
                    if g is None
                    else "time-of-use windows do not cover each half hour exactly once"
                )
            else:
                masks[p] = m
        demand: dict[int, list[tuple[str, np.ndarray]]] = {}
        for p, classes in demand_classes.items():
            for c in classes:
                if c == "ANYTIME":
                    demand.setdefault(p, []).append((c, ALL_DAY))
                elif c in TOU_CLASSES and p in masks:
                    demand.setdefault(p, []).append((c, masks[p][:, TOU_CLASSES.index(c)].astype(bool)))
        return cls(masks, invalid, frozenset(usage), frozenset(feed_in), demand)


def interval_quantities(
    days: pd.DataFrame, data: pa.Table, plan: np.ndarray, tou: TimeOfUse, keep_position: bool = False
) -> pd.DataFrame:
    """Split each interval register-day into time classes. ``data`` rows align with ``days`` (the
    day's interval data, actual or estimated); PRIMARY registers on a time-of-use plan split by the
    plan's windows, and SOLAR registers on a plan with time-of-use feed-in; otherwise CONTROL is
    CONTROLLED_LOAD, SOLAR is SOLAR (export), the rest ANYTIME."""
    values, actual = half_hourly(data)
    return _split(days, values, actual, plan, tou, keep_position)


def _split(
    days: pd.DataFrame,
    values: np.ndarray,
    actual: np.ndarray,
    plan: np.ndarray,
    tou: TimeOfUse,
    keep_position: bool = False,
) -> pd.DataFrame:
    dt = day_type(days["date"].to_numpy(dtype="datetime64[D]"))
    stream = np.asarray(days["stream_type"].to_numpy(dtype=object))
    primary, solar = stream == "PRIMARY", stream == "SOLAR"
    rows_out, classes_out, q_out, a_out = [], [], [], []
    total, total_actual = values.sum(axis=1), np.where(actual, values, 0).sum(axis=1)
    split = np.zeros(len(days), dtype=bool)
    # only the plans of this batch that split a stream (one frame is built at the end, not per class)
    for p in np.intersect1d(np.unique(plan), np.fromiter(tou.masks, dtype=np.int64, count=len(tou.masks))):
        splits = (primary if p in tou.usage else False) | (solar if p in tou.feed_in else False)
        rows = np.flatnonzero((plan == p) & splits)
        if not len(rows):
            continue
        split[rows] = True
        m = tou.masks[int(p)][dt[rows]]  # (n, classes, 48)
        q = np.einsum("ni,nci->nc", values[rows], m)
        a = np.einsum("ni,nci->nc", np.where(actual[rows], values[rows], 0), m)
        for c, name in enumerate(TOU_CLASSES):
            rows_out.append(rows)
            classes_out.append(np.full(len(rows), name, dtype=object))
            q_out.append(q[:, c])
            a_out.append(a[:, c])
    rest = np.flatnonzero(~split)
    rows_out.append(rest)
    classes_out.append(pd.Series(stream[rest]).map(STREAM_TIME_CLASS).fillna("ANYTIME").to_numpy(dtype=object))
    q_out.append(total[rest])
    a_out.append(total_actual[rest])
    at = np.concatenate(rows_out)
    out = days.iloc[at][["account_id", "utility_id", "register_id", "year_mnth", "date"]].reset_index(drop=True)
    out["_position"] = at
    out["time_class"] = np.concatenate(classes_out)
    out["quantity"] = np.concatenate(q_out)
    out["actual_quantity"] = np.concatenate(a_out)
    return out if keep_position else out.drop(columns="_position")


def streamed_interval_quantities(
    days: pd.DataFrame,
    plan: np.ndarray,
    tou: TimeOfUse,
    batches: Iterable[pa.RecordBatch | pa.Table],
    demand: DemandMeter | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """interval_quantities for every register-day of ``days`` (one calendar month: nmi, suffix,
    date, stream_type, ...) from interval data streamed in ``batches`` (actual data first, then our
    estimates: the first row found for a register-day is used). One pass over the month's data,
    whatever the number of registers; memory holds a batch and the quantities. The half hours of
    the register-days ``demand`` measures go to it as they pass. Returns the rows (in ``days``
    order) and which register-days had data."""
    # NMI, suffix and unit: meter data in another unit than the register's is not its energy
    units = days["uom"] if "uom" in days else pd.Series("KWH", index=days.index)
    channels = channel_keys(days["nmi"].astype(str), days["suffix"].astype(str), units.astype(str))
    keys, uniques = pd.factorize(channels.to_numpy(zero_copy_only=False))
    dates = days["date"].to_numpy(dtype="datetime64[D]")
    first = dates.min() if len(dates) else np.datetime64("1970-01-01")
    span = int((dates.max() - first).astype(int)) + 1 if len(dates) else 1
    slot = np.full(max(len(uniques), 1) * span, -1, dtype=np.int64)
    rows = np.arange(len(days))
    slot[(keys * span + (dates - first).astype(np.int64))[::-1]] = rows[::-1]  # the first row of a key wins
    value_set = pa.array(np.asarray(uniques, dtype=object), pa.string())
    found = np.zeros(len(days), dtype=bool)
    parts = []
    for batch in batches:
        batch_units = batch["uom"] if "uom" in batch.schema.names else pa.array(["kWh"] * batch.num_rows)
        code = pc.fill_null(
            pc.index_in(channel_keys(batch["nmi"], batch["suffix"], batch_units), value_set=value_set), -1
        ).to_numpy(zero_copy_only=False)
        day = (batch["read_date"].to_numpy(zero_copy_only=False).astype("datetime64[D]") - first).astype(np.int64)
        ok = (code >= 0) & (day >= 0) & (day < span)
        at = np.full(len(code), -1, dtype=np.int64)
        at[ok] = slot[code[ok] * span + day[ok]]
        take = np.flatnonzero(at >= 0)
        take = take[~found[at[take]]]
        take = take[np.unique(at[take], return_index=True)[1]]  # a register-day twice in one batch: once
        if not len(take):
            continue
        at = at[take]
        found[at] = True
        values, actual = half_hourly(batch, take)
        if demand is not None:
            demand.add(at, values, actual)
        part = _split(days.iloc[at], values, actual, plan[at], tou, keep_position=True)
        parts.append(part.assign(_row=at[part.pop("_position").to_numpy()]))
    if not parts:
        return interval_quantities(days.iloc[:0], _EMPTY_DATA, plan[:0], tou), found
    out = pd.concat(parts, ignore_index=True).sort_values("_row", kind="stable")
    return out.drop(columns="_row").reset_index(drop=True), found


def basic_quantities(
    days: pd.DataFrame,
    intervals: pd.DataFrame,
    scalars: pd.Series,
    macro: MacroProfiles,
    key_index: pd.Series,
    base_share: pd.Series | None = None,
) -> pd.DataFrame:
    """Accumulation register-days: read intervals spread by each register's weights (its macro
    profile with its own base share, scalars.weather_response), estimates after."""
    base_share = base_share if base_share is not None else pd.Series(dtype=float)
    keys = key_index.reindex(days["register_id"].to_numpy()).to_numpy(dtype=np.int64)
    share = base_share.reindex(days["register_id"].to_numpy()).fillna(0.0).to_numpy(dtype=float)
    w = register_weights(macro, keys, share, days["date"].to_numpy(dtype="datetime64[D]"))
    estimate = scalars.reindex(days["register_id"].to_numpy()).to_numpy(dtype=float) * w
    frame = days.rename(columns={"register_id": "meter_register_id"})
    key_of = key_index

    def interval_weight(reg, after, through):
        return register_range_weight(
            macro,
            key_of.reindex(reg).to_numpy(dtype=np.int64),
            base_share.reindex(reg).fillna(0.0).to_numpy(dtype=float),
            after.astype("datetime64[D]"),
            through.astype("datetime64[D]"),
        )

    spread = spread_reads(frame[["meter_register_id", "date"]], intervals, estimate, w, interval_weight)
    out = days[["account_id", "utility_id", "register_id", "year_mnth", "date", "stream_type"]].copy()
    out["time_class"] = out.pop("stream_type").map(STREAM_TIME_CLASS).fillna("ANYTIME")
    out["quantity"] = spread["quantity"].to_numpy()
    out["actual_quantity"] = np.where(spread["actual"].to_numpy(), out["quantity"], 0.0)
    return out


def gas_energy(rows: pd.DataFrame, registers: pd.DataFrame, heating: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Gas register-days from m3 to MJ: m3 x heating value (network, month) x pressure correction.
    Returns (rows with quantity_m3 and MJ quantities, exceptions for substituted or missing values)."""
    reg = registers.set_index("register_id")
    gas = rows["register_id"].map(reg["fuel"]).to_numpy() == "GAS"
    rows = rows.copy()
    rows["quantity_m3"] = np.where(gas, rows["quantity"], np.nan)
    if not gas.any():
        return rows, pd.DataFrame(columns=["account_id", "utility_id", "register_id", "year_mnth", "code", "reason"])
    g = rows[gas]
    network = g["register_id"].map(reg["network_id"]).to_numpy()
    hv, substituted = heating_values(heating, network, g["date"].to_numpy(dtype="datetime64[D]"))
    pcf = g["register_id"].map(reg["pressure_correction_factor"]).to_numpy(dtype=float)
    factor = hv * pcf
    for col in ("quantity", "actual_quantity"):
        rows.loc[gas, col] = g[col].to_numpy() * factor
    keys = ["account_id", "utility_id", "register_id", "year_mnth"]
    flagged = g.assign(_sub=substituted, _none=np.isnan(hv), _net=network)
    exc = []
    for code, col, text in (
        (
            "heating_value_substituted",
            "_sub",
            "no heating value for network {net} in the month: the nearest month's value was used",
        ),
        ("no_heating_value", "_none", "network {net} has no heating value at all: MJ cannot be computed, not accrued"),
    ):
        hit = flagged[flagged[col] & (~flagged["_none"] if col == "_sub" else True)]
        if len(hit):
            e = hit.groupby(keys)["_net"].first().reset_index()
            e["code"] = code
            e["reason"] = [text.format(net=n) for n in e["_net"]]
            exc.append(e.drop(columns="_net"))
    exceptions = pd.concat(exc, ignore_index=True) if exc else pd.DataFrame(columns=[*keys, "code", "reason"])
    return rows, exceptions


SUMMARY_KEYS = ["account_id", "utility_id", "register_id", "year_mnth", "plan_id", "time_class"]
EXCEPTION_COLUMNS = ["account_id", "utility_id", "register_id", "year_mnth", "code", "reason"]


def quantify_month(
    days: pd.DataFrame,
    interval_batches: Iterable[pa.RecordBatch | pa.Table],
    account_plans: pd.DataFrame,
    tou: TimeOfUse,
    read_intervals: pd.DataFrame,
    scalars: pd.Series,
    macro: MacroProfiles,
    key_index: pd.Series,
    registers: pd.DataFrame,
    heating: pd.DataFrame,
    base_share: pd.Series | None = None,
) -> tuple[pd.DataFrame, list[pd.DataFrame], pd.DataFrame, pd.DataFrame]:
    """One calendar month of unbilled register-days (register_days of the month: account_id,
    utility_id, year_mnth, date, register_id, nmi, suffix, read_kind, stream_type) to the output
    grain (summarise), with the exceptions of whatever could not be quantified, the maximum
    demand of the plans that price it (demand.DemandMeter) and the register-day totals
    (register_day_totals: what the accrual true-up compares with the bills issued since).
    Interval register-days take their data from ``interval_batches`` (the month's meter data, then
    our estimates) in one pass; basic ones are spread or estimated from reads. Memory holds one month."""
    rows, exceptions = [], []
    inter = days[days["read_kind"] == "INTERVAL"].reset_index(drop=True)
    plan = plan_of_day(inter, account_plans)
    meter = DemandMeter(inter, plan, tou.demand, DEMAND_STREAMS)
    quantities, found = streamed_interval_quantities(inter, plan, tou, interval_batches, meter)
    lost = inter[~found]
    exceptions.append(
        pd.DataFrame(
            {
                "account_id": lost["account_id"],
                "utility_id": lost["utility_id"],
                "register_id": lost["register_id"],
                "year_mnth": lost["year_mnth"],
                "code": "no_interval_data",
                "reason": "no meter data and no estimate for " + lost["date"].astype(str),
            }
        )
    )
    rows.append(quantities)
    basic = days[days["read_kind"] == "BASIC"].reset_index(drop=True)
    if len(basic):
        rows.append(basic_quantities(basic, read_intervals, scalars, macro, key_index, base_share))
    result = pd.concat(rows, ignore_index=True)
    unknown = result["quantity"].isna()
    lost = result[unknown].groupby(["account_id", "utility_id", "register_id", "year_mnth"]).size().reset_index()
    exceptions.append(
        lost.drop(columns=0).assign(
            code="no_scalar", reason="no read or micro scalar to estimate the days after the last read"
        )
    )
    result, gas_exceptions = gas_energy(result[~unknown], registers, heating)
    exceptions.append(gas_exceptions)
    result["date"] = pd.to_datetime(result["date"])
    result["plan_id"] = plan_of_day(result, account_plans)
    result = result[result["quantity"].notna()]
    return summarise(result, registers), exceptions, meter.maxima(), register_day_totals(result)


DAY_COLUMNS = ["account_id", "utility_id", "register_id", "date", "quantity", "actual_quantity"]


def register_day_totals(rows: pd.DataFrame) -> pd.DataFrame:
    """Register-day-class rows summed over time classes and plans: DAY_COLUMNS, quantities in the
    billed unit (gas in MJ)."""
    keys = ["account_id", "utility_id", "register_id", "date"]
    out = rows.groupby(keys, sort=True)[["quantity", "actual_quantity"]].sum().reset_index()
    out["date"] = out["date"].to_numpy(dtype="datetime64[D]")
    return out[DAY_COLUMNS]


def summarise(rows: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """Register-day-class rows (with the day's plan, -1 for none) to the output grain: per plan
    too, so pricing never has to guess which plan a month's usage belongs to."""
    agg = (
        rows.groupby(SUMMARY_KEYS, sort=True)
        .agg(
            quantity=("quantity", "sum"),
            actual_quantity=("actual_quantity", "sum"),
            days=("date", "nunique"),
            first_day=("date", "min"),
            last_day=("date", "max"),
            quantity_m3=("quantity_m3", "sum"),
        )
        .reset_index()
    )
    agg["first_day"] = agg["first_day"].dt.date
    agg["last_day"] = agg["last_day"].dt.date
    reg = registers.set_index("register_id")
    gas = agg["register_id"].map(reg["fuel"]).to_numpy() == "GAS"
    agg["suffix"] = agg["register_id"].map(reg["suffix"])
    agg["uom"] = np.where(gas, "MJ", "KWH")
    agg["read_kind"] = agg["register_id"].map(reg["read_kind"])
    agg["stream_type"] = agg["register_id"].map(reg["stream_type"])
    agg["fuel"] = agg["register_id"].map(reg["fuel"])
    agg["quantity_m3"] = np.where(gas, np.round(agg["quantity_m3"], 4), np.nan)
    agg["quantity"] = np.round(agg["quantity"], 4)
    agg["actual_quantity"] = np.round(agg["actual_quantity"], 4)
    agg["estimated_quantity"] = np.round(agg["quantity"] - agg["actual_quantity"], 4)
    with np.errstate(invalid="ignore", divide="ignore"):
        agg["estimated_share"] = np.round(
            np.where(agg["quantity"] != 0, agg["estimated_quantity"] / agg["quantity"], 0.0), 4
        )
    return agg[RESULT_COLUMNS]
