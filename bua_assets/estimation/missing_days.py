"""Unbilled interval register-days without meter data, and their daily estimates (DESIGN §5.2).

``missing_register_days`` finds the days to estimate: every unbilled day of an interval register
that no month's interval statistics has. ``estimate_missing_days`` gives each its kWh from the
register's own recent level on its segment's recent day index (estimates.daily_estimates), the
segment leaning on the same class and stream in every jurisdiction where its own days are thin;
a day with neither a micro scalar nor a macro profile is not estimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bua_assets.estimation.consumption import register_days
from bua_assets.estimation.estimates import daily_estimates, estimate_half_hours, recent_index, register_levels
from bua_assets.estimation.profiles import MacroProfiles

NOT_ESTIMATED_REASON = "no micro scalar or macro profile for the register: day not estimated"


def unbilled_interval_days(unbilled_months: pd.DataFrame, interval: pd.DataFrame) -> pd.DataFrame:
    """Every unbilled day of each interval register (``interval``: utility_profiles registers with
    register_id and utility_id), once per register and date (a supply point that changed hands
    on a day is one register-day): account_id, utility_id, year_mnth, register_id (int64), date
    (datetime64[s]). A register's days are only those it is installed on (``active_from``..
    ``active_to``, when given)."""
    bounds = [c for c in ("active_from", "active_to") if c in interval]
    days = register_days(unbilled_months, interval[["register_id", "utility_id", *bounds]]).drop_duplicates(
        ["register_id", "date"]
    )
    return days.assign(
        register_id=days["register_id"].astype("int64"), date=days["date"].to_numpy().astype("datetime64[s]")
    )


def missing_register_days(
    unbilled_months: pd.DataFrame, interval: pd.DataFrame, metered: pd.DataFrame, days: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The unbilled days of each interval register (``interval``: utility_profiles registers with
    register_id and utility_id) that ``metered`` (register_id, read_date) does not have, once per
    register and date, with the register's attributes; ``date`` is datetime64[s]. ``days``:
    unbilled_interval_days of the same window, when the caller has it already."""
    days = unbilled_interval_days(unbilled_months, interval) if days is None else days
    have = pd.DataFrame(
        {
            "register_id": metered["register_id"].astype("int64"),
            "_have": True,
            "date": metered["read_date"].to_numpy().astype("datetime64[s]"),
        }
    )
    missing = days[days.merge(have, on=["register_id", "date"], how="left")["_have"].isna().to_numpy()]
    return missing.merge(interval, on=["register_id", "utility_id"])


def wider_groups(keys: list[str] | pd.Index) -> np.ndarray:
    """The wider group of each profile key ("CLASS|JURISDICTION|STREAM"): the same class and
    stream in every jurisdiction, numbered in order of first appearance."""
    return pd.factorize(pd.Series(keys).str.replace(r"^([^|]*)\|[^|]*\|", r"\1|*|", regex=True))[0]


@dataclass
class MissingDayEstimates:
    days: pd.DataFrame  # the estimated register-days, by nmi, suffix, date, with scalar and key_index
    half_hours: np.ndarray  # (rows of days, 48) kWh
    own_level: np.ndarray  # bool per day: from the register's own recent level (else segment x micro scalar)
    not_estimated: pd.DataFrame  # register_id, date, code, reason


def estimate_missing_days(
    missing: pd.DataFrame, interval: pd.DataFrame, scalars: pd.Series, recent: pd.DataFrame, macro: MacroProfiles
) -> MissingDayEstimates:
    """``missing``: missing_register_days; ``interval``: the interval registers (register_id,
    profile_key, profile_register); ``scalars``: micro scalar by register_id; ``recent``: fully
    actual register-days (register_id, read_date, kwh) of the last months."""
    missing = missing.assign(
        scalar=lambda f: scalars.reindex(f["register_id"]).to_numpy(),
        key_index=lambda f: macro.key_index(f["profile_key"]),
    )
    key_of = pd.Series(macro.key_index(interval["profile_key"]), index=interval["register_id"].to_numpy())
    key_of = key_of[key_of >= 0]
    profiled = key_of[
        interval.set_index("register_id")["profile_register"].reindex(key_of.index).fillna(False).to_numpy(dtype=bool)
    ]
    index = recent_index(recent, profiled)
    group_of_key = wider_groups(macro.keys)
    wider = (recent_index(recent, pd.Series(group_of_key[profiled.to_numpy()], index=profiled.index)), group_of_key)
    levels = register_levels(recent, index, key_of, macro, wider)
    missing = missing.sort_values(["nmi", "suffix", "date"]).reset_index(drop=True)
    daily, own = daily_estimates(
        missing["register_id"].to_numpy(),
        missing["key_index"].to_numpy(),
        missing["date"].to_numpy(dtype="datetime64[D]"),
        levels,
        index,
        macro,
        missing["scalar"].to_numpy(dtype=float),
        wider,
    )
    ok = np.isfinite(daily) & (missing["key_index"] >= 0).to_numpy()
    no_scalar = missing[~ok]
    missing, daily, own = missing[ok].reset_index(drop=True), daily[ok], own[ok]
    half_hours = estimate_half_hours(
        missing["key_index"].to_numpy(),
        missing["scalar"].to_numpy(),
        missing["date"].to_numpy(dtype="datetime64[D]"),
        macro,
        daily,
    )
    not_estimated = pd.DataFrame(
        {
            "register_id": no_scalar["register_id"].astype("int64"),
            "date": no_scalar["date"].astype("datetime64[s]"),
            "code": "not_estimated",
            "reason": NOT_ESTIMATED_REASON,
        }
    )
    return MissingDayEstimates(missing, half_hours, own, not_estimated)


COVERAGE_COLUMNS = ["month", "register_days", "metered", "estimated", "not_estimated", "estimated_share"]


def estimation_coverage(days: pd.DataFrame, missing: pd.DataFrame, not_estimated: pd.DataFrame) -> pd.DataFrame:
    """Per calendar month of the unbilled window: its unbilled interval register-days
    (``days``: unbilled_interval_days), how many had meter data, how many of the rest
    (``missing``: missing_register_days) we estimated, and how many could not be estimated
    (``not_estimated``: register_id, date). ``estimated_share`` is the share without meter data
    (estimated, or not even that): what a degraded month is judged on (billing/degraded.py)."""

    def per_month(dates: pd.Series) -> pd.Series:
        return pd.Series(dates.to_numpy().astype("datetime64[M]")).value_counts()

    total, without = per_month(days["date"]), per_month(missing["date"])
    out = pd.concat(
        {"register_days": total, "without": without, "not_estimated": per_month(not_estimated["date"])},
        axis=1,
        sort=True,
    )
    out = out.reindex(total.index).fillna(0).astype("int64").sort_index()
    out["metered"] = out["register_days"] - out["without"]
    out["estimated"] = out["without"] - out["not_estimated"]
    out["estimated_share"] = (out["without"] / out["register_days"]).round(4)
    out["month"] = out.index.to_numpy().astype("datetime64[D]").astype(object)  # datetime.date: a date column
    return out.reset_index(drop=True)[COVERAGE_COLUMNS]
