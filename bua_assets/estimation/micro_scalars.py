"""Micro scalars (DESIGN §5.3): per register, its actual consumption over a recent reference period
over the macro profile across it (units per average day), with its own weather response; without
usable history the segment's (else class's, fuel's) average, flagged; none at all an exception.
The pieces are in estimation.scalars; here the month's wiring: the tenancy each register's history
starts from, the baseline reads, and which base share goes with which scalar."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.estimation.baseline import baseline_reads
from bua_assets.estimation.basic import consumption_between_reads
from bua_assets.estimation.profiles import MacroProfiles
from bua_assets.estimation.scalars import (
    basic_scalars,
    interval_scalars,
    previous_occupant_levels,
    weather_response,
    with_premise_prior,
    with_response,
    with_segment_averages,
)

NO_SCALAR_REASON = "no own history and no register with history in its segment, class or fuel: not estimated"
# A move-in's previous-occupant prior is credited by the book's own past move-ins within fuel and class.
PREMISE_GROUPS = ["fuel", "customer_class"]
SEGMENT_COLUMNS = ["register_id", "profile_key", "fuel", "customer_class", "stream_type", "read_kind"]


def base_share(scalars: pd.DataFrame) -> pd.Series:
    """Each register's base share (scalars.weather_response); 0 (the segment's shape) when absent."""
    return scalars["base_share"].fillna(0.0) if "base_share" in scalars.columns else pd.Series(0.0, index=scalars.index)


def tenancy_starts(tenancies: pd.DataFrame, month_end: dt.date) -> pd.Series:
    """The start of each supply point's current tenancy (AccountUtility utility_id, start_date):
    the latest move-in on or before the month end, by utility_id. A register's history before it
    is the previous tenant's."""
    start = pd.to_datetime(tenancies["start_date"])
    moved = (start <= pd.Timestamp(month_end)).to_numpy()
    # The last start per supply point by sorting on the datetime64 starts: a groupby max over the
    # column's date objects runs in Python per group (seconds at 100k supply points).
    order = np.argsort(start[moved].to_numpy(), kind="stable")
    latest = tenancies[moved].iloc[order].drop_duplicates("utility_id", keep="last")
    return latest.set_index("utility_id")["start_date"].sort_index()


@dataclass
class MicroScalars:
    scalars: pd.DataFrame  # one row per register: scalar, method, base_share, ...
    read_intervals: pd.DataFrame  # consumption between a basic register's successive reads
    exceptions: pd.DataFrame  # register_id, date, code, reason


def micro_scalars(
    registers: pd.DataFrame,
    macro: MacroProfiles,
    tenancies: pd.DataFrame,
    reads: pd.DataFrame,
    register_days: Iterable[pa.Table],
    month_end: dt.date,
    interval_reference_days: int,
    basic_reference_days: int,
    premise_groups: list[str] | None = PREMISE_GROUPS,
) -> MicroScalars:
    """``registers``: utility_profiles registers; ``tenancies``: AccountUtility (utility_id,
    start_date, end_date); ``reads``: BasicRead rows (baseline_reads chooses); ``register_days``: interval
    statistics' register-day totals (register_id, read_date, kwh, actual_half_hours), newest month
    first."""
    registers = registers.copy()
    registers["key_index"] = macro.key_index(registers["profile_key"])
    registers["tenancy_start"] = registers["utility_id"].map(tenancy_starts(tenancies, month_end))
    interval = registers[registers["read_kind"] == "INTERVAL"]
    basic = registers[registers["read_kind"] == "BASIC"]
    between = consumption_between_reads(baseline_reads(reads, month_end), basic.set_index("register_id")["dial_digits"])
    own = pd.concat(
        [
            interval_scalars(interval, register_days, macro, interval_reference_days),
            with_response(
                basic_scalars(basic, between.intervals, macro, basic_reference_days),
                weather_response(basic, between.intervals, macro),
                basic,
                macro,
            ),
        ],
        ignore_index=True,
    )
    scalars = with_segment_averages(own, registers[SEGMENT_COLUMNS])
    # No reads of its own but a previous occupant's: the premise prior (None: the class average alone).
    if premise_groups is not None:
        previous = previous_occupant_levels(basic, between.intervals, macro, tenancies)
        scalars = with_premise_prior(scalars, previous, premise_groups)
    # A register's own weather response goes with its own scalar; a segment average is in the segment's shape.
    scalars["base_share"] = np.where(scalars["method"] == "own_history", scalars["base_share"].fillna(0.0), 0.0)
    exceptions = between.exceptions.rename(columns={"meter_register_id": "register_id", "read_date": "date"})
    no_scalar = scalars[scalars["method"] == "none"]
    exceptions = pd.concat(
        [
            exceptions,
            pd.DataFrame(
                {
                    "register_id": no_scalar["register_id"],
                    "date": pd.NaT,
                    "code": "no_scalar",
                    "reason": NO_SCALAR_REASON,
                }
            ),
        ],
        ignore_index=True,
    )
    return MicroScalars(scalars, between.intervals, exceptions)
