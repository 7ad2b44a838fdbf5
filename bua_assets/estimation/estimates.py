"""Estimated interval data (DESIGN §5.2) and its NEM12 files.

estimate(d, i) = daily kWh(d) x intraday share(segment, d, i). The daily kWh follows the register
itself (``recent_index``, ``register_levels``, ``daily_estimates``): its own recent level, free of
its absences, times its segment's recent day index, in which every register is measured against
its own level (so the index is the segment's weather and day type, not which registers happened
to deliver that day), and an absence that runs into the gap goes on. Without enough of its own
data: micro scalar x daily weight(segment, d), the segment's profile scaled to the register.
Written as NEM12 300 records with quality E and method flag 57 (customer class), at the
register's own interval length, then read back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bua_assets.estimation.profiles import DEFAULT_MIN_REGISTERS, MacroProfiles
from bua_assets.nem12.writer import RegisterBlock, write_nem12

ESTIMATE_QUALITY = "E57"  # E: estimated; 57: customer class (the segment profile)
ESTIMATOR = "BUAESTIMATE"  # the participant the files say they come from


INDEX_LEVEL_DAYS = 28  # a register's own level in the segment index: the mean of its last fully actual days
REFERENCE_DAYS = 42  # the register's level for its estimates: its last fully actual days ...
MIN_REFERENCE_DAYS = 7  # ... at least this many, else the micro scalar x macro weight
AWAY_RATIO = 0.5  # a day under half the register's typical (index-adjusted) use is an absence: trip, vacancy
PERSIST_DAYS = 2  # the register's last days before the gap all absences: the absence goes on


def estimate_half_hours(
    key_index: np.ndarray, scalar: np.ndarray, dates: np.ndarray, macro: MacroProfiles, daily: np.ndarray | None = None
) -> np.ndarray:
    """(rows, 48) kWh for register-days with no data: ``daily`` kWh (daily_estimates), else
    scalar x the macro daily weight, spread by the segment's intraday shape of the day."""
    d = macro.window.seasonal_index(dates)
    if daily is None:
        daily = scalar * macro.daily[key_index, d]
    return daily[:, None] * macro.intraday[key_index, d]


def _latest(days: pd.DataFrame, n: int) -> pd.DataFrame:
    """Each register's last ``n`` rows of ``days`` (register_id, read_date, ...), newest first."""
    d = days.sort_values(["register_id", "read_date"], ascending=[True, False], kind="stable")
    return d[d.groupby("register_id").cumcount().to_numpy() < n]


def recent_index(days: pd.DataFrame, key_of: pd.Series, level_days: int = INDEX_LEVEL_DAYS) -> pd.DataFrame:
    """Each profile key's day index over recent fully actual register-days ``days`` (register_id,
    read_date, kwh): the mean over the key's registers with data that day of kWh / the register's
    own level (its mean over its last ``level_days`` days). A day's index is then the segment's
    weather and day type relative to normal, whatever registers delivered it: one large site
    missing does not move it (the plain average per register does). ``key_of``: register_id ->
    profile key index (or any group code). Columns: key_index, date, index, registers."""
    days = days[days["register_id"].isin(key_of.index)]
    level = _latest(days, level_days).groupby("register_id")["kwh"].mean()
    level = level[level > 0]
    d = days[days["register_id"].isin(level.index)]
    ratio = d["kwh"].to_numpy(dtype=float) / level.reindex(d["register_id"].to_numpy()).to_numpy()
    f = pd.DataFrame(
        {
            "key_index": key_of.reindex(d["register_id"].to_numpy()).to_numpy(dtype=np.int64),
            "date": d["read_date"].to_numpy().astype("datetime64[D]"),
            "ratio": ratio,
        }
    )
    g = f.groupby(["key_index", "date"])["ratio"].agg(["mean", "size"]).reset_index()
    return g.rename(columns={"mean": "index", "size": "registers"})


def _lookup(index: pd.DataFrame, keys: np.ndarray, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index, registers) of each (key, date) in a recent_index table; NaN and 0 where absent."""
    at = pd.MultiIndex.from_arrays(
        [index["key_index"].to_numpy(dtype=np.int64), index["date"].to_numpy().astype("datetime64[D]")]
    )
    pos = at.get_indexer(pd.MultiIndex.from_arrays([np.asarray(keys, dtype=np.int64), dates]))
    found = pos >= 0
    value = np.where(found, index["index"].to_numpy(dtype=float)[np.maximum(pos, 0)] if len(index) else np.nan, np.nan)
    n = np.where(found, index["registers"].to_numpy(dtype=float)[np.maximum(pos, 0)] if len(index) else 0.0, 0.0)
    return value, n


def day_index(
    index: pd.DataFrame,
    macro: MacroProfiles,
    key_index: np.ndarray,
    dates: np.ndarray,
    wider: tuple[pd.DataFrame, np.ndarray] | None = None,
    prior: float = DEFAULT_MIN_REGISTERS,
) -> np.ndarray:
    """The recent index of each (key, date), credibility-weighted toward a wider one: (n x own +
    ``prior`` x wider) / (n + ``prior``), n the registers behind the key's own value. ``wider`` is
    (a recent_index of wider groups, each key's group code: e.g. the same class and stream in
    every jurisdiction, as segment fills use); without it, or where it has no value, the wider
    value is the macro daily weight rescaled to the index (times the key's mean index over mean
    weight on its days). NaN where there is nothing (a key with no index at all)."""
    dates = np.asarray(dates, dtype="datetime64[D]")
    key_index = np.asarray(key_index, dtype=np.int64)
    own, n = _lookup(index, key_index, dates)
    w = (
        macro.weights(index["key_index"].to_numpy(dtype=np.int64), index["date"].to_numpy().astype("datetime64[D]"))
        if len(index)
        else np.zeros(0)
    )
    frame = pd.DataFrame(
        {
            "k": index["key_index"].to_numpy(),
            "i": index["index"].to_numpy() * index["registers"].to_numpy(),
            "w": w * index["registers"].to_numpy(),
        }
    )
    sums = frame.groupby("k").sum()
    scale = (sums["i"] / sums["w"]).reindex(key_index).to_numpy()
    base = scale * macro.weights(np.maximum(key_index, 0), dates)
    if wider is not None:
        wide_index, group_of_key = wider
        group = np.where(key_index >= 0, np.asarray(group_of_key)[np.maximum(key_index, 0)], -1)
        wide, _ = _lookup(wide_index, group, dates)
        base = np.where(np.isfinite(wide), wide, base)
    blended = (n * np.nan_to_num(own) + prior * np.nan_to_num(base)) / (n + prior)
    return np.where(np.isfinite(base), blended, np.where(n > 0, own, np.nan))


def register_levels(
    days: pd.DataFrame,
    index: pd.DataFrame,
    key_of: pd.Series,
    macro: MacroProfiles,
    wider: tuple[pd.DataFrame, np.ndarray] | None = None,
    reference_days: int = REFERENCE_DAYS,
    min_days: int = MIN_REFERENCE_DAYS,
    away_ratio: float = AWAY_RATIO,
    persist_days: int = PERSIST_DAYS,
) -> pd.DataFrame:
    """Each register's level on the recent index from its last ``reference_days`` fully actual
    days (register_id, read_date, kwh): sum kWh / sum index over them, leaving out absences (days
    under ``away_ratio`` x the register's median kWh / index: a trip or a vacancy would otherwise
    pull the level of the days after down). When its last ``persist_days`` days are all absences,
    ``away_level`` is their level (the absence is still going on at the gap), else NaN.
    Columns: register_id, level, away_level, reference_days; registers under ``min_days`` are
    left out."""
    d = _latest(days[days["register_id"].isin(key_of.index)], reference_days)
    k = key_of.reindex(d["register_id"].to_numpy()).to_numpy(dtype=np.int64)
    idx = day_index(index, macro, k, d["read_date"].to_numpy().astype("datetime64[D]"), wider)
    d = d.assign(_i=idx).dropna(subset=["_i"])
    d = d[d["_i"] > 0]
    d = d.assign(_r=d["kwh"].to_numpy(dtype=float) / d["_i"].to_numpy())
    typical = d.groupby("register_id")["_r"].transform("median").to_numpy()
    away = d["_r"].to_numpy() < away_ratio * typical
    kept = d[~away]
    g = kept.groupby("register_id")[["kwh", "_i"]].sum()
    out = pd.DataFrame({"level": g["kwh"] / g["_i"], "reference_days": d.groupby("register_id").size()}).dropna()
    last = d.assign(_away=away).groupby("register_id").head(persist_days)  # newest first
    run = last.groupby("register_id").agg(
        n=("_away", "size"), away=("_away", "all"), kwh=("kwh", "sum"), i=("_i", "sum")
    )
    run = run[(run["n"] == persist_days) & run["away"]]
    out["away_level"] = (run["kwh"] / run["i"]).reindex(out.index)
    out = out[out["reference_days"] >= min_days]
    return out.rename_axis("register_id").reset_index()[["register_id", "level", "away_level", "reference_days"]]


def daily_estimates(
    register_id: np.ndarray,
    key_index: np.ndarray,
    dates: np.ndarray,
    levels: pd.DataFrame,
    index: pd.DataFrame,
    macro: MacroProfiles,
    scalar: np.ndarray,
    wider: tuple[pd.DataFrame, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Daily kWh for register-days without data: the register's level (its away level while an
    absence goes on) x the day's index (day_index, with ``wider``); a register without a level, or a key
    without an index, takes scalar x the macro daily weight. Returns (kWh, own: which rows used
    the register's own level)."""
    lv = levels.set_index("register_id")
    level = lv["away_level"].fillna(lv["level"]).reindex(register_id).to_numpy(dtype=float)
    idx = day_index(index, macro, key_index, dates, wider)
    own = np.isfinite(level) & np.isfinite(idx)
    fallback = np.asarray(scalar, dtype=float) * macro.weights(
        np.maximum(np.asarray(key_index, dtype=np.int64), 0), dates
    )
    return np.where(own, level * np.nan_to_num(idx), fallback), own


def write_estimate_file(
    path: Path, days: pd.DataFrame, half_hours: np.ndarray, *, created: str, to_participant: str
) -> int:
    """One NEM12 file of estimated days. ``days`` (sorted by register, date): nmi,
    nmi_configuration, register_code, suffix, meter_serial, interval_length, date. Values are
    split evenly into the register's interval length."""
    blocks, store, row_index = [], {}, np.zeros(len(days), dtype=np.int64)
    reg = days["nmi"].to_numpy() + "/" + days["suffix"].to_numpy()
    starts = np.flatnonzero(np.r_[True, reg[1:] != reg[:-1]])
    ends = np.r_[starts[1:], len(days)]
    lengths = days["interval_length"].to_numpy(dtype=np.int64)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        parts = 30 // int(length)
        store[int(length)] = np.repeat(half_hours[rows] / parts, parts, axis=1)
        row_index[rows] = np.arange(len(rows))
    first = days.iloc[starts]
    for s, e, r in zip(starts, ends, first.itertuples()):
        blocks.append(
            RegisterBlock(
                r.nmi,
                r.nmi_configuration,
                str(r.register_code),
                r.suffix,
                r.meter_serial,
                "kWh",
                int(r.interval_length),
                int(s),
                int(e - s),
            )
        )
    return write_nem12(
        path,
        created=created,
        from_participant=ESTIMATOR,
        to_participant=to_participant,
        blocks=blocks,
        dates=days["date"].to_numpy(dtype="datetime64[D]"),
        values=store,
        row_index=row_index,
        quality=np.full(len(days), ESTIMATE_QUALITY),
    )
