"""Micro scalars (DESIGN §5.2, §5.4): how big each register is against its macro profile.

scalar = actual consumption over a recent reference period / sum of the profile's daily weights
over it, in units per average day. The estimate for a day is then scalar x weight(day), which
carries the season and the weekday of the register's segment (or gas network). A register with
no usable history takes its segment's average scalar, and is flagged.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.estimation.basic import expand_days
from bua_assets.estimation.profiles import MacroProfiles

INTERVAL_REFERENCE_DAYS = 28  # the register's most recent fully actual days
INTERVAL_MIN_DAYS = 7
BASIC_REFERENCE_DAYS = 60  # at least this span between two actual reads, when history allows
BASIC_MIN_DAYS = 20


def range_weight(macro: MacroProfiles, key_index: np.ndarray, after: np.ndarray, through: np.ndarray) -> np.ndarray:
    """Sum of daily weights over (after, through] for each row."""
    first = np.asarray(after, dtype="datetime64[D]") + 1
    owner, dates = expand_days(first, np.asarray(through, dtype="datetime64[D]"))
    w = macro.weights(key_index[owner], dates)
    return np.bincount(owner, weights=w, minlength=len(first))


def interval_scalars(
    registers: pd.DataFrame,
    register_days: pa.Table | Iterable[pa.Table],
    macro: MacroProfiles,
    reference_days: int = INTERVAL_REFERENCE_DAYS,
    min_days: int = INTERVAL_MIN_DAYS,
) -> pd.DataFrame:
    """``registers``: register_id, key_index. From each register's last ``reference_days`` fully
    actual days; fewer than ``min_days`` leaves the scalar empty (no history). ``register_days``
    is one table, or tables of months newest first: reading stops once every register has its
    reference days, and only the days that can still count are kept."""
    d = latest_actual_days(
        [register_days] if isinstance(register_days, pa.Table) else register_days,
        reference_days,
        registers["register_id"].to_numpy(),
    )
    key = pd.Series(registers["key_index"].to_numpy(), index=registers["register_id"].to_numpy())
    k = key.reindex(d["register_id"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    d = d[k >= 0].assign(weight=macro.weights(k[k >= 0], d.loc[k >= 0, "read_date"].to_numpy().astype("datetime64[D]")))
    g = d.groupby("register_id").agg(
        reference_start=("read_date", "min"),
        reference_end=("read_date", "max"),
        reference_days=("read_date", "count"),
        reference_quantity=("kwh", "sum"),
        reference_weight=("weight", "sum"),
    )
    g = g[g["reference_days"] >= min_days]
    # Dates as the calendar days the basic registers' reference periods are in (date objects).
    g["reference_start"], g["reference_end"] = g["reference_start"].dt.date, g["reference_end"].dt.date
    out = registers[["register_id"]].merge(g.reset_index(), on="register_id", how="left")
    out["scalar"] = out["reference_quantity"] / out["reference_weight"]
    return out


def latest_actual_days(months: Iterable[pa.Table], reference_days: int, register_ids: np.ndarray) -> pd.DataFrame:
    """Each register's last ``reference_days`` fully actual days (register_id, read_date, kwh),
    from tables whose dates never overlap, newest first (any order within a table)."""
    kept = pd.DataFrame(columns=["register_id", "read_date", "kwh"])
    wanted = pd.Index(np.unique(register_ids))
    for table in months:
        # datetime64 dates: sorting and grouping Python date objects runs per row
        t = table.select(["register_id", "read_date", "kwh", "actual_half_hours"]).to_pandas(date_as_object=False)
        t = t[(t["actual_half_hours"] == 48) & t["register_id"].isin(wanted)].drop(columns="actual_half_hours")
        kept = pd.concat([kept, t], ignore_index=True) if len(kept) else t
        kept = kept.sort_values(["register_id", "read_date"], ascending=[True, False])
        kept = kept[kept.groupby("register_id").cumcount() < reference_days]
        full = kept["register_id"].value_counts()
        wanted = wanted.difference(full.index[full >= reference_days])
        if wanted.empty:
            break  # older months cannot change any register's reference days
    return kept.reset_index(drop=True)


def basic_scalars(
    registers: pd.DataFrame,
    intervals: pd.DataFrame,
    macro: MacroProfiles,
    reference_days: int = BASIC_REFERENCE_DAYS,
    min_days: int = BASIC_MIN_DAYS,
) -> pd.DataFrame:
    """``intervals`` from consumption_between_reads; ``registers``: register_id, key_index,
    tenancy_start (the current tenant's move-in). The reference runs between two actual reads in
    one unbroken chain (no meter exchange between) within the current tenancy (an earlier tenant,
    or a vacancy, says nothing about this customer): it ends at the last actual read and starts at
    the latest actual read at least ``reference_days`` before it (else the earliest available)."""
    moved_in = registers.set_index("register_id")["tenancy_start"]
    iv = intervals.assign(_moved_in=pd.to_datetime(intervals["meter_register_id"].map(moved_in)))
    iv = iv[~(pd.to_datetime(iv["from_date"]) < iv["_moved_in"] - pd.Timedelta(days=1))].drop(columns="_moved_in")
    iv = iv.sort_values(["meter_register_id", "to_date"]).reset_index(drop=True)
    reg = iv["meter_register_id"].to_numpy()
    new_register = np.r_[True, reg[1:] != reg[:-1]]
    broken = np.r_[True, iv["from_date"].to_numpy()[1:] != iv["to_date"].to_numpy()[:-1]]
    iv["chain"] = np.cumsum(new_register | broken)
    ends = (
        iv[iv["to_read_type"] == "ACTUAL"]
        .groupby("meter_register_id")
        .tail(1)[["meter_register_id", "to_date", "chain"]]
    )
    ends = ends.rename(columns={"to_date": "end"})
    c = iv.merge(ends, on=["meter_register_id", "chain"])
    c = c[(c["to_date"] <= c["end"])]
    starts = c[c["from_read_type"] == "ACTUAL"].copy()
    starts["span"] = (pd.to_datetime(starts["end"]) - pd.to_datetime(starts["from_date"])).dt.days
    long_enough = starts[starts["span"] >= reference_days].groupby("meter_register_id")["from_date"].max()
    earliest = starts.groupby("meter_register_id")["from_date"].min()
    start = long_enough.reindex(earliest.index).fillna(earliest).rename("start")
    c = c.merge(start.reset_index(), on="meter_register_id")
    c = c[c["from_date"] >= c["start"]]
    g = (
        c.groupby("meter_register_id")
        .agg(
            reference_start=("start", "first"),
            reference_end=("end", "first"),
            reference_quantity=("consumption", "sum"),
        )
        .reset_index()
    )
    g["reference_days"] = (pd.to_datetime(g["reference_end"]) - pd.to_datetime(g["reference_start"])).dt.days
    g = g[g["reference_days"] >= min_days].rename(columns={"meter_register_id": "register_id"})
    key = pd.Series(registers["key_index"].to_numpy(), index=registers["register_id"].to_numpy())
    k = key.reindex(g["register_id"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    g = g[k >= 0]
    g["reference_weight"] = range_weight(
        macro,
        k[k >= 0],
        g["reference_start"].to_numpy(dtype="datetime64[D]"),
        g["reference_end"].to_numpy(dtype="datetime64[D]"),
    )
    out = registers[["register_id"]].merge(g, on="register_id", how="left")
    out["scalar"] = out["reference_quantity"] / out["reference_weight"]
    return out


# How strongly a register's weather response is pulled toward its segment's, in units of the
# register's own evidence (sum over read intervals of days x (interval's mean weight - mean)^2; a
# year of quarterly gas reads gives ~20-100, electricity ~2-10): a prior worth a few days of clear
# seasonal contrast. Chosen on a tuning world (1k accounts, seed 7: basic-register median error
# flat between 1 and 5), never on the seeds the benchmark reports.
RESPONSE_PRIOR_STRENGTH = 3.0
BASE_SHARE_RANGE = (-1.5, 0.95)
# A read interval's say in the register's line halves with every year between it and the last
# read: habits, appliances and efficiency drift, so last winter says more than the one before.
RESPONSE_HALFLIFE_DAYS = 365.0
# How much of the latest reference period's departure from the register's own line is kept in
# its estimates (1: the recent level alone, as before; 0: the line alone). A reference period
# mixes lasting change (a new household member, an appliance) with what does not last (a trip, a
# cold snap the weights missed, the noise of a few reads): half and half, a credibility weight.
# On development seeds 7 and 11 (2k accounts) 0.25-0.5 beat 1 and 0 on the median basic error.
RECENT_CREDIBILITY = 0.5


def weather_response(
    registers: pd.DataFrame,
    intervals: pd.DataFrame,
    macro: MacroProfiles,
    prior_strength: float = RESPONSE_PRIOR_STRENGTH,
    halflife_days: float | None = RESPONSE_HALFLIFE_DAYS,
) -> pd.DataFrame:
    """Each accumulation register's own response to the macro profile (weather and season), from
    its read history in the current tenancy, shrunk toward the segment's (DESIGN §5.4).

    A register's day is modelled as base + slope x w(d), w the macro profile's daily weight (the
    segment's or gas network's weather and season, averaging 1). Each read interval i (n_i days,
    consumption C_i, weights summing to W_i) gives a point (x_i = W_i / n_i, y_i = C_i / n_i); a
    weighted least-squares slope (weights n_i, halved every ``halflife_days`` between the
    interval's middle and the register's last read; None: no decay) is shrunk toward the
    segment's proportional one (y = s x: no base) by ``prior_strength`` against the register's own
    evidence sum n_i (x_i - xbar)^2 (in days, whatever the decay), so a register read only in one
    season, or for a few months, keeps its segment's shape. Returned as the line
    (response_base, response_slope: units per day and per unit of weight) and as base_share =
    base / (base + slope): 0 is the segment's shape, > 0 flatter (gas for hot water and cooking
    only), < 0 more seasonal (a heating-dominated home). The daily weight of the register is then
    (1 - base_share) x w(d) + base_share (register_weights). Intervals touching an estimated read
    are left out (an estimate is not the meter). ``registers``: register_id, key_index,
    tenancy_start. Columns: register_id, base_share, response_base, response_slope,
    response_evidence, response_intervals.
    """
    moved_in = registers.set_index("register_id")["tenancy_start"]
    iv = intervals[
        (intervals["from_read_type"] == "ACTUAL")
        & (intervals["to_read_type"] == "ACTUAL")
        & (intervals["days"] > 0)
        & (intervals["consumption"] >= 0)
    ]
    iv = iv[
        ~(
            pd.to_datetime(iv["from_date"])
            < pd.to_datetime(iv["meter_register_id"].map(moved_in)) - pd.Timedelta(days=1)
        )
    ]
    key = pd.Series(registers["key_index"].to_numpy(), index=registers["register_id"].to_numpy())
    k = key.reindex(iv["meter_register_id"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    iv = iv[k >= 0]
    k = k[k >= 0]
    n = iv["days"].to_numpy(dtype=float)
    w = range_weight(
        macro, k, iv["from_date"].to_numpy(dtype="datetime64[D]"), iv["to_date"].to_numpy(dtype="datetime64[D]")
    )
    f = pd.DataFrame(
        {
            "register_id": iv["meter_register_id"].to_numpy(),
            "n": n,
            "x": w / n,
            "y": iv["consumption"].to_numpy(dtype=float) / n,
        }
    )
    if halflife_days:
        to = pd.to_datetime(iv["to_date"]).to_numpy()
        last = f.assign(_to=to).groupby("register_id")["_to"].transform("max").to_numpy()
        age = (last - to) / np.timedelta64(1, "D") + n / 2
        f["wt"] = n * 0.5 ** (age / halflife_days)
    else:
        f["wt"] = n
    f["wx"], f["wy"] = f["wt"] * f["x"], f["wt"] * f["y"]
    g = f.groupby("register_id").agg(
        n=("n", "sum"), wt=("wt", "sum"), wx=("wx", "sum"), wy=("wy", "sum"), intervals=("n", "size")
    )
    f = f.join(g[["wt", "wx", "wy"]].rename(columns=lambda c: "t_" + c), on="register_id")
    f["dx"] = f["x"] - f["t_wx"] / f["t_wt"]
    f["dy"] = f["y"] - f["t_wy"] / f["t_wt"]
    f["sxx"], f["sxy"] = f["wt"] * f["dx"] ** 2, f["wt"] * f["dx"] * f["dy"]
    sums = f.groupby("register_id")[["sxx", "sxy"]].sum().mul(g["n"] / g["wt"], axis=0)  # in days of evidence
    g = g.join(sums)
    xbar, ybar = g["wx"] / g["wt"], g["wy"] / g["wt"]
    with np.errstate(invalid="ignore", divide="ignore"):
        proportional = np.where(xbar > 0, ybar / xbar, 0.0)
        slope = (g["sxy"] + prior_strength * proportional) / (g["sxx"] + prior_strength)
        base = ybar - slope * xbar
        share = np.where(base + slope > 0, base / (base + slope), 0.0)
    floor = lowest_base_share(macro, key.reindex(g.index.to_numpy()).fillna(-1).to_numpy(dtype=np.int64))
    share = np.maximum(np.clip(np.nan_to_num(share), *BASE_SHARE_RANGE), floor)
    out = pd.DataFrame(
        {
            "register_id": g.index.to_numpy(),
            "base_share": share,
            "response_base": base.to_numpy(),
            "response_slope": slope.to_numpy(),
            "response_evidence": np.round(g["sxx"].to_numpy(), 4),
            "response_intervals": g["intervals"].to_numpy(),
        }
    )
    return (
        registers[["register_id"]]
        .merge(out, on="register_id", how="left")
        .fillna({"base_share": 0.0, "response_evidence": 0.0, "response_intervals": 0})
    )


def lowest_base_share(macro: MacroProfiles, key_index: np.ndarray) -> np.ndarray:
    """The most seasonal base share each register may have: its weight (1 - b) x w + b must stay
    >= 0 on its profile's lowest day (no day's estimate below zero), so b >= -w_min / (1 - w_min);
    never below BASE_SHARE_RANGE's floor. A heating-dominated line fitted through winter and
    summer reads could otherwise dip below zero on a mild day."""
    key_index = np.asarray(key_index, dtype=np.int64)
    lowest = macro.lowest()[np.maximum(key_index, 0)] if len(macro.daily) else np.ones(len(key_index))
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = np.where(lowest < 1, -lowest / (1 - lowest), BASE_SHARE_RANGE[0])
    return np.where(key_index >= 0, np.maximum(bound, BASE_SHARE_RANGE[0]), BASE_SHARE_RANGE[0])


def register_weights(
    macro: MacroProfiles, key_index: np.ndarray, base_share: np.ndarray, dates: np.ndarray
) -> np.ndarray:
    """A register's daily weight: its macro profile's, flattened or steepened by its base share."""
    return (1 - base_share) * macro.weights(key_index, dates) + base_share


def register_range_weight(
    macro: MacroProfiles, key_index: np.ndarray, base_share: np.ndarray, after: np.ndarray, through: np.ndarray
) -> np.ndarray:
    """Sum of register_weights over (after, through] for each row."""
    days = (np.asarray(through, dtype="datetime64[D]") - np.asarray(after, dtype="datetime64[D]")).astype(np.int64)
    return (1 - base_share) * range_weight(macro, key_index, after, through) + base_share * np.maximum(days, 0)


def with_response(
    scalars: pd.DataFrame,
    response: pd.DataFrame,
    registers: pd.DataFrame,
    macro: MacroProfiles,
    credibility: float = RECENT_CREDIBILITY,
) -> pd.DataFrame:
    """basic_scalars re-expressed in the register's own line (weather_response): over the
    reference period the register is expected at its line plus ``credibility`` x the period's
    departure from it (reference_expected; 1 keeps the reference quantity: the recent level in the
    register's shape), and the whole line takes that departure as a scale: base_share stays the
    line's, and the scalar (reference_expected over the reference period's register_weights)
    carries the credible recent level. So a departure carries over as the same share of every
    day, whatever the seasons of the reference period and of the days estimated; taken as a level
    shift of the base (the method before), a winter reference period's departure, large in
    units, weighed on the mild days after it far more than its share. A register without a line
    keeps the reference quantity in the segment's shape. ``registers``: register_id, key_index."""
    s = scalars.merge(response, on="register_id", how="left").fillna({"base_share": 0.0})
    s["reference_expected"] = s["reference_quantity"]
    has = s["reference_start"].notna().to_numpy()
    if has.any():
        k = (
            pd.Series(registers["key_index"].to_numpy(), index=registers["register_id"].to_numpy())
            .reindex(s.loc[has, "register_id"].to_numpy())
            .to_numpy(dtype=np.int64)
        )
        start = s.loc[has, "reference_start"].to_numpy(dtype="datetime64[D]")
        end = s.loc[has, "reference_end"].to_numpy(dtype="datetime64[D]")
        share = s.loc[has, "base_share"].to_numpy(dtype=float)
        quantity = s.loc[has, "reference_quantity"].to_numpy(dtype=float)
        if "response_base" in s.columns:
            base = s.loc[has, "response_base"].to_numpy(dtype=float)
            slope = s.loc[has, "response_slope"].to_numpy(dtype=float)
            days = s.loc[has, "reference_days"].to_numpy(dtype=float)
            line = base * days + slope * range_weight(macro, k, start, end)
            departure = quantity - line
            lined = np.isfinite(line) & (days > 0)
            quantity = np.where(lined, np.maximum(line + credibility * departure, 0.0), quantity)
        weight = register_range_weight(macro, k, share, start, end)
        s.loc[has, "reference_expected"] = quantity
        s.loc[has, "reference_weight"] = weight
        s.loc[has, "scalar"] = quantity / weight
    return s


# The closest group a register without history is averaged over (with_segment_averages' first
# level), and the level a move-in's previous occupant is compared with (with_premise_prior).
CLASS_LEVEL = ["profile_key", "customer_class", "read_kind"]


def with_segment_averages(scalars: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """Fill registers without their own scalar from the average of those with one: the same macro
    key (segment or gas network), customer class and read kind, then the same key and read kind,
    then the same key, then the same fuel, customer class and stream in any jurisdiction, then the
    same fuel and stream. Class and read kind come first because they separate populations: a gas
    network's key holds homes and businesses alike (a new home is not the average of both), and
    large business sites are all interval metered, so a basic business register is far more like
    other basic ones. ``registers``: register_id,
    profile_key, read_kind, fuel, customer_class, stream_type."""
    s = registers.merge(scalars, on="register_id", how="left")
    own = s["scalar"].notna() & np.isfinite(s["scalar"])
    s["method"] = np.where(own, "own_history", None)  # type: ignore[call-overload]  # None: an object column
    s["fallback"] = None
    for level, cols in (
        ("segment_class_read_kind", CLASS_LEVEL),
        ("segment_read_kind", ["profile_key", "read_kind"]),
        ("segment", ["profile_key"]),
        ("class_all_jurisdictions", ["fuel", "customer_class", "stream_type"]),
        ("fuel_stream", ["fuel", "stream_type"]),
    ):
        mean = s[own].groupby(cols)["scalar"].mean().rename("_avg")
        s = s.merge(mean.reset_index(), on=cols, how="left")
        take = s["scalar"].isna() & s["_avg"].notna()
        s.loc[take, "scalar"] = s.loc[take, "_avg"]
        s.loc[take, "method"] = "segment_average"
        s.loc[take, "fallback"] = level
        s = s.drop(columns="_avg")
    s.loc[s["scalar"].isna(), "method"] = "none"
    return s


# How much evidence the book needs before a previous occupant says anything about the next: a
# prior worth one past move-in whose previous occupant sat 100% away from the class average and
# whose next occupant did too (x = y = 1 in premise_credibility). With no past move-ins Z = 0.
PREMISE_PRIOR_STRENGTH = 1.0


def previous_occupant_levels(
    registers: pd.DataFrame,
    intervals: pd.DataFrame,
    macro: MacroProfiles,
    tenancies: pd.DataFrame,
    min_days: int = BASIC_MIN_DAYS,
) -> pd.Series:
    """Each accumulation register's level (units per average day, as a scalar) over its supply
    point's previous tenancy: the actual-to-actual read intervals inside the latest tenancy that
    started before the current one (``tenancies``: AccountUtility utility_id, start_date, end_date),
    their consumption over their macro weight. A vacancy or a new connection (no earlier tenancy)
    says nothing about who moves in and gives no level; nor do fewer than ``min_days`` of reads.
    ``registers``: register_id, key_index, utility_id, tenancy_start. By register_id."""
    t = tenancies.assign(
        start_date=pd.to_datetime(tenancies["start_date"]), end_date=pd.to_datetime(tenancies["end_date"])
    )
    r = registers[["register_id", "key_index", "utility_id", "tenancy_start"]].assign(
        tenancy_start=pd.to_datetime(registers["tenancy_start"])
    )
    before = r.merge(t, on="utility_id")
    before = before[before["start_date"] < before["tenancy_start"]]
    before = before.sort_values("start_date").groupby("register_id").tail(1)
    before["end_date"] = before["end_date"].fillna(before["tenancy_start"] - pd.Timedelta(days=1))
    iv = intervals[
        (intervals["from_read_type"] == "ACTUAL") & (intervals["to_read_type"] == "ACTUAL") & (intervals["days"] > 0)
    ].merge(
        before[["register_id", "key_index", "start_date", "end_date"]],
        left_on="meter_register_id",
        right_on="register_id",
    )
    # A read interval (from, to] belongs to the tenancy when its days do: from the day before the
    # move-in read to the move-out.
    inside = (pd.to_datetime(iv["from_date"]) >= iv["start_date"] - pd.Timedelta(days=1)) & (
        pd.to_datetime(iv["to_date"]) <= iv["end_date"] + pd.Timedelta(days=1)
    )
    iv = iv[inside & (iv["key_index"] >= 0)]
    weight = range_weight(
        macro,
        iv["key_index"].to_numpy(dtype=np.int64),
        iv["from_date"].to_numpy(dtype="datetime64[D]"),
        iv["to_date"].to_numpy(dtype="datetime64[D]"),
    )
    g = iv.assign(_w=weight).groupby("register_id").agg(q=("consumption", "sum"), w=("_w", "sum"), days=("days", "sum"))
    g = g[(g["days"] >= min_days) & (g["w"] > 0)]
    return (g["q"] / g["w"]).rename("previous_level")


def premise_credibility(
    previous: np.ndarray, following: np.ndarray, class_level: np.ndarray, prior: float = PREMISE_PRIOR_STRENGTH
) -> float:
    """How far the book's own past move-ins say a previous occupant's level predicts the next
    occupant's at the same premise, as a credibility Z in [0, 1]: the slope through the origin of
    the next occupant's departure from the class level on the previous occupant's (both relative,
    y = next / class - 1, x = previous / class - 1), Z = sum xy / (sum x^2 + ``prior``). No past
    move-ins: Z = 0 (the class level); many with the same level on both sides: Z near 1."""
    with np.errstate(invalid="ignore", divide="ignore"):
        x = np.asarray(previous, dtype=float) / np.asarray(class_level, dtype=float) - 1
        y = np.asarray(following, dtype=float) / np.asarray(class_level, dtype=float) - 1
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.clip((x[ok] * y[ok]).sum() / ((x[ok] ** 2).sum() + prior), 0.0, 1.0))


def with_premise_prior(
    scalars: pd.DataFrame, previous: pd.Series, groups: list[str], prior: float = PREMISE_PRIOR_STRENGTH
) -> pd.DataFrame:
    """Registers on a segment average (with_segment_averages) whose supply point had a previous
    occupant (``previous``: previous_occupant_levels) move from the average toward that occupant's
    level by the credibility the book's own move-ins give (premise_credibility) within ``groups``
    (e.g. fuel and customer class): scalar = average + Z x (previous - average), method
    premise_prior. The evidence is every register with its own scalar and a previous occupant,
    measured against the average its group would have given it."""
    s = scalars.assign(previous_level=scalars["register_id"].map(previous))
    own = s["method"] == "own_history"
    average = s[own].groupby(CLASS_LEVEL)["scalar"].transform("mean")
    s["_class_level"] = np.nan
    s.loc[own, "_class_level"] = average
    s["premise_credibility"] = np.nan
    for _, g in s.groupby(groups):
        evidence = g[(g["method"] == "own_history") & g["previous_level"].notna()]
        z = premise_credibility(
            evidence["previous_level"].to_numpy(),
            evidence["scalar"].to_numpy(),
            evidence["_class_level"].to_numpy(),
            prior,
        )
        take = (g["method"] == "segment_average") & g["previous_level"].notna()
        s.loc[g.index[take], "premise_credibility"] = z
    z = s["premise_credibility"].fillna(0.0).to_numpy()
    moved = z > 0
    s.loc[moved, "scalar"] += z[moved] * (s.loc[moved, "previous_level"] - s.loc[moved, "scalar"])
    s.loc[moved, "method"] = "premise_prior"
    return s.drop(columns="_class_level")
