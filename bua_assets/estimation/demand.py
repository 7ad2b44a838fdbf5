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
        """Per account, supply point, month, plan and demand window with any day measured: the
        maximum kW over the days with data (0 when none of them has a half hour in the window, a
        weekday peak over weekend days), ESTIMATED when its half hour is not all actual or a day of
        the plan-month lacks a register's data (the maximum may be understated), the day it fell on
        and the days measured in the window."""
        measured = self.found > 0
        incomplete = self.found < self.registers
        dates = self.sites["date"].to_numpy(dtype="datetime64[D]")
        dt = day_type(dates)
        keys = ["account_id", "utility_id", "year_mnth", "plan_id", "time_class"]
        parts = []
        for p, windows in self.windows.items():
            s = np.flatnonzero((self.sites["plan_id"] == p).to_numpy())
            if not len(s):
                continue
            for time_class, mask in windows:
                m = mask[dt[s]] & measured[s, None]  # (n, 48)
                kw = np.where(m, self.kwh[s] * 2.0, -np.inf)
                at = kw.argmax(axis=1)
                day = self.sites.iloc[s][["account_id", "utility_id", "year_mnth", "plan_id", "date"]].assign(
                    time_class=time_class,
                    kw=kw[np.arange(len(s)), at],
                    peak_actual=self.actual[s, at],
                    measured=measured[s],
                    incomplete=incomplete[s],
                    in_window=m.any(axis=1),
                )
                parts.append(day)
        if not parts:
            return empty_demand()
        days = pd.concat(parts, ignore_index=True)
        top = days.sort_values([*keys, "kw", "date"], ascending=[True] * 5 + [False, True], kind="stable")
        top = top.drop_duplicates(keys).set_index(keys)
        window_days = days[days["in_window"]]
        span = days.groupby(keys).agg(any_measured=("measured", "any"), any_incomplete=("incomplete", "any"))
        span = span.join(
            window_days.groupby(keys).agg(days=("date", "count"), first_day=("date", "min"), last_day=("date", "max"))
        )
        out = top.join(span)
        out = out[out["any_measured"].to_numpy(dtype=bool)].reset_index()
        peak = out["kw"].to_numpy(dtype=float)
        found = np.isfinite(peak)
        estimated = (found & ~out["peak_actual"].to_numpy(dtype=bool)) | out["any_incomplete"].to_numpy(dtype=bool)

        def as_dates(col: str) -> np.ndarray:
            return pd.to_datetime(out[col]).dt.date.to_numpy()

        return pd.DataFrame(
            {
                "account_id": out["account_id"].to_numpy(),
                "utility_id": out["utility_id"].to_numpy(),
                "year_mnth": out["year_mnth"].to_numpy(),
                "plan_id": out["plan_id"].to_numpy(dtype=np.int64),
                "time_class": out["time_class"].to_numpy(),
                "quantity": np.round(np.where(found, peak, 0.0), 3),
                "uom": "KW",
                "estimated": estimated,
                "peak_date": pd.Series(as_dates("date")).where(found, None).to_numpy(),
                "days": out["days"].fillna(0).to_numpy(dtype=np.int64),
                "first_day": as_dates("first_day"),
                "last_day": as_dates("last_day"),
            },
            columns=DEMAND_COLUMNS,
        )
