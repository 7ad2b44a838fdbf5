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


def interval_scalars(registers: pd.DataFrame, register_days: pa.Table | Iterable[pa.Table], macro: MacroProfiles,
                     reference_days: int = INTERVAL_REFERENCE_DAYS, min_days: int = INTERVAL_MIN_DAYS) -> pd.DataFrame:
    """``registers``: register_id, key_index. From each register's last ``reference_days`` fully
    actual days; fewer than ``min_days`` leaves the scalar empty (no history). ``register_days``
    is one table, or tables of months newest first: reading stops once every register has its
    reference days, and only the days that can still count are kept."""
    d = latest_actual_days([register_days] if isinstance(register_days, pa.Table) else register_days,
                           reference_days, registers["register_id"].to_numpy())
    key = pd.Series(registers["key_index"].to_numpy(), index=registers["register_id"].to_numpy())
    k = key.reindex(d["register_id"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    d = d[k >= 0].assign(weight=macro.weights(k[k >= 0], d.loc[k >= 0, "read_date"].to_numpy().astype("datetime64[D]")))
    g = d.groupby("register_id").agg(reference_start=("read_date", "min"), reference_end=("read_date", "max"),
                                     reference_days=("read_date", "count"), reference_quantity=("kwh", "sum"),
                                     reference_weight=("weight", "sum"))
    g = g[g["reference_days"] >= min_days]
    out = registers[["register_id"]].merge(g.reset_index(), on="register_id", how="left")
    out["scalar"] = out["reference_quantity"] / out["reference_weight"]
    return out


def latest_actual_days(months: Iterable[pa.Table], reference_days: int, register_ids: np.ndarray) -> pd.DataFrame:
    """Each register's last ``reference_days`` fully actual days (register_id, read_date, kwh),
    from tables whose dates never overlap, newest first (any order within a table)."""
    kept = pd.DataFrame(columns=["register_id", "read_date", "kwh"])
    wanted = pd.Index(np.unique(register_ids))
    for table in months:
        t = table.select(["register_id", "read_date", "kwh", "actual_half_hours"]).to_pandas()
        t = t[(t["actual_half_hours"] == 48) & t["register_id"].isin(wanted)].drop(columns="actual_half_hours")
        kept = pd.concat([kept, t], ignore_index=True) if len(kept) else t
        kept = kept.sort_values(["register_id", "read_date"], ascending=[True, False])
        kept = kept[kept.groupby("register_id").cumcount() < reference_days]
        full = kept["register_id"].value_counts()
        wanted = wanted.difference(full.index[full >= reference_days])
        if wanted.empty:
            break  # older months cannot change any register's reference days
    return kept.reset_index(drop=True)


def basic_scalars(registers: pd.DataFrame, intervals: pd.DataFrame, macro: MacroProfiles,
                  reference_days: int = BASIC_REFERENCE_DAYS, min_days: int = BASIC_MIN_DAYS) -> pd.DataFrame:
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
    ends = iv[iv["to_read_type"] == "ACTUAL"].groupby("meter_register_id").tail(1)[["meter_register_id", "to_date", "chain"]]
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
    g = c.groupby("meter_register_id").agg(reference_start=("start", "first"), reference_end=("end", "first"),
                                           reference_quantity=("consumption", "sum")).reset_index()
    g["reference_days"] = (pd.to_datetime(g["reference_end"]) - pd.to_datetime(g["reference_start"])).dt.days
    g = g[g["reference_days"] >= min_days].rename(columns={"meter_register_id": "register_id"})
    key = pd.Series(registers["key_index"].to_numpy(), index=registers["register_id"].to_numpy())
    k = key.reindex(g["register_id"].to_numpy()).fillna(-1).to_numpy(dtype=np.int64)
    g = g[k >= 0]
    g["reference_weight"] = range_weight(macro, k[k >= 0], g["reference_start"].to_numpy(dtype="datetime64[D]"),
                                         g["reference_end"].to_numpy(dtype="datetime64[D]"))
    out = registers[["register_id"]].merge(g, on="register_id", how="left")
    out["scalar"] = out["reference_quantity"] / out["reference_weight"]
    return out


def with_segment_averages(scalars: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """Fill registers without their own scalar from the average of those with one: the same macro
    key (segment or gas network) and read kind, then the same key, then the same fuel, customer
    class and stream in any jurisdiction, then the same fuel and stream. Read kind comes first
    because it separates populations: large business sites are all interval metered, so a basic
    business register is far more like other basic ones. ``registers``: register_id,
    profile_key, read_kind, fuel, customer_class, stream_type."""
    s = registers.merge(scalars, on="register_id", how="left")
    own = s["scalar"].notna() & np.isfinite(s["scalar"])
    s["method"] = np.where(own, "own_history", None)
    s["fallback"] = None
    for level, cols in (("segment_read_kind", ["profile_key", "read_kind"]), ("segment", ["profile_key"]),
                        ("class_all_jurisdictions", ["fuel", "customer_class", "stream_type"]),
                        ("fuel_stream", ["fuel", "stream_type"])):
        mean = s[own].groupby(cols)["scalar"].mean().rename("_avg")
        s = s.merge(mean.reset_index(), on=cols, how="left")
        take = s["scalar"].isna() & s["_avg"].notna()
        s.loc[take, "scalar"] = s.loc[take, "_avg"]
        s.loc[take, "method"] = "segment_average"
        s.loc[take, "fallback"] = level
        s = s.drop(columns="_avg")
    s.loc[s["scalar"].isna(), "method"] = "none"
    return s
