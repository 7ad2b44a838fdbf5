"""Maximum demand (DESIGN §5.4): the kW a demand charge prices, measured from the same half-hourly
interval data the consumption is quantified from (actual reads first, then our estimates).

A site's demand in a half hour is its import streams (general and controlled load) summed, in kW
(kWh in the half hour x 2); a demand charge prices the highest such value in the rate's time
window (ANYTIME: every half hour; PEAK, SHOULDER, OFF_PEAK: the plan's time-of-use windows) over
the days of the month the plan is in force. The maximum is ESTIMATED when the half hour it comes
from is not all actual data (a missing register-day or our estimate), so finance sees which demand
was measured and which was estimated.

Pure numpy: only the site-days whose plan prices demand are held, one (48,) row each.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bua_assets.estimation.intervals import HALF_HOURS, day_type

DEMAND_COLUMNS = [
    "account_id",
    "utility_id",
    "year_mnth",
    "plan_id",
    "time_class",
    "quantity",  # kW, the maximum half-hourly demand in the window
    "uom",
    "estimated",  # the maximum's half hour is not all actual data
    "peak_date",
    "days",  # the site-days measured (with data in the window)
    "first_day",
    "last_day",
]
ALL_DAY = np.ones((2, HALF_HOURS), dtype=bool)  # the ANYTIME window: every half hour of both day types


def empty_demand() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "account_id": pd.Series(dtype="int64"),
            "utility_id": pd.Series(dtype="int64"),
            "year_mnth": pd.Series(dtype="object"),
            "plan_id": pd.Series(dtype="int64"),
            "time_class": pd.Series(dtype="object"),
            "quantity": pd.Series(dtype="float64"),
            "uom": pd.Series(dtype="object"),
            "estimated": pd.Series(dtype="bool"),
            "peak_date": pd.Series(dtype="object"),
            "days": pd.Series(dtype="int64"),
            "first_day": pd.Series(dtype="object"),
            "last_day": pd.Series(dtype="object"),
        },
        columns=DEMAND_COLUMNS,
    )


class DemandMeter:
    """Sums the half-hourly import of each site-day whose plan prices demand, from interval data
    handed in batch by batch (``add``), then gives each plan-month's maximum per window (``maxima``).

    ``days``: register-days (account_id, utility_id, year_mnth, date, stream_type); ``plan``: each
    row's plan; ``windows``: plan -> [(time class, (2 day types, 48) bool mask)] for the plans with
    a demand rate."""

    def __init__(
        self,
        days: pd.DataFrame,
        plan: np.ndarray,
        windows: dict[int, list[tuple[str, np.ndarray]]],
        streams: tuple[str, ...],
    ):
        self.windows = windows
        relevant = np.isin(plan, list(windows)) & days["stream_type"].isin(list(streams)).to_numpy()
        rows = np.flatnonzero(relevant)
        site_keys = days.iloc[rows][["account_id", "utility_id", "year_mnth", "date"]].assign(plan_id=plan[rows])
        cols = list(site_keys.columns)
        # groups numbered in order of first appearance, as drop_duplicates keeps them
        codes = site_keys.groupby(cols, sort=False).ngroup().to_numpy(dtype=np.int64)
        self.site_of_row = np.full(len(days), -1, dtype=np.int64)
        self.site_of_row[rows] = codes
        self.sites = site_keys.drop_duplicates().reset_index(drop=True)
        self.kwh = np.zeros((len(self.sites), HALF_HOURS))
        self.actual = np.ones((len(self.sites), HALF_HOURS), dtype=bool)
        self.seen = np.zeros(len(self.sites), dtype=bool)
        # a site-day is measured only when every register it has that day was found
        self.registers = np.bincount(codes, minlength=len(self.sites)) if len(codes) else np.zeros(0, dtype=np.int64)
        self.found = np.zeros(len(self.sites), dtype=np.int64)

    def add(self, rows: np.ndarray, values: np.ndarray, actual: np.ndarray) -> None:
        """Interval data of the register-days at positions ``rows`` of ``days`` (values, actual:
        (len(rows), 48) as intervals.half_hourly gives them)."""
        site = self.site_of_row[rows]
        keep = site >= 0
        if not keep.any():
            return
        site = site[keep]
        np.add.at(self.kwh, site, values[keep])
        np.logical_and.at(self.actual, site, actual[keep])
        np.add.at(self.found, site, 1)

    def maxima(self) -> pd.DataFrame:
        """Per account, supply point, month, plan and demand window: the maximum kW over the days
        with data, whether it is estimated (an interval of it not actual, or a register of that day
        missing), the day it fell on and the days measured."""
        measured = self.found > 0
        complete = self.found >= self.registers
        sites = self.sites.assign(_site=np.arange(len(self.sites)))[measured]
        dates = sites["date"].to_numpy(dtype="datetime64[D]")
        dt = day_type(dates)
        parts = []
        for p, windows in self.windows.items():
            mine = (sites["plan_id"] == p).to_numpy()
            if not mine.any():
                continue
            s = sites["_site"].to_numpy()[mine]
            for time_class, mask in windows:
                m = mask[dt[mine]]  # (n, 48)
                in_window = m.any(axis=1)
                if not in_window.any():
                    continue
                kw = np.where(m, self.kwh[s] * 2.0, -np.inf)
                at = kw.argmax(axis=1)
                peak = kw[np.arange(len(s)), at]
                estimated = ~self.actual[s, at] | ~complete[s]
                day = sites[mine][["account_id", "utility_id", "year_mnth", "plan_id", "date"]].assign(
                    time_class=time_class, kw=peak, estimated=estimated
                )
                parts.append(day[in_window])
        if not parts:
            return empty_demand()
        days = pd.concat(parts, ignore_index=True)
        keys = ["account_id", "utility_id", "year_mnth", "plan_id", "time_class"]
        top = days.sort_values([*keys, "kw", "date"], ascending=[True] * 5 + [False, True], kind="stable")
        top = top.drop_duplicates(keys)
        span = days.groupby(keys).agg(days=("date", "count"), first_day=("date", "min"), last_day=("date", "max"))
        out = top.set_index(keys).join(span).reset_index()
        return pd.DataFrame(
            {
                "account_id": out["account_id"].to_numpy(),
                "utility_id": out["utility_id"].to_numpy(),
                "year_mnth": out["year_mnth"].to_numpy(),
                "plan_id": out["plan_id"].to_numpy(dtype=np.int64),
                "time_class": out["time_class"].to_numpy(),
                "quantity": np.round(out["kw"].to_numpy(dtype=float), 3),
                "uom": "KW",
                "estimated": out["estimated"].to_numpy(dtype=bool),
                "peak_date": pd.to_datetime(out["date"]).dt.date.to_numpy(),
                "days": out["days"].to_numpy(dtype=np.int64),
                "first_day": pd.to_datetime(out["first_day"]).dt.date.to_numpy(),
                "last_day": pd.to_datetime(out["last_day"]).dt.date.to_numpy(),
            },
            columns=DEMAND_COLUMNS,
        )
