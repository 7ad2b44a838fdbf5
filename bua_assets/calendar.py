"""Australian calendar facts shared by the synthetic world and the estimator: each state's public
holidays (the ``holidays`` package), daylight saving and day types. Pure numpy over dates.

Meter data is in NEM time (AEST, UTC+10, all year). Where a state keeps daylight saving (first
Sunday of October to the first Sunday of April), people live an hour ahead of the meter: the 7 am
shower shows at 06:00-06:30 NEM time. Queensland (and WA) keep no daylight saving.
"""

from __future__ import annotations

from functools import lru_cache

import holidays
import numpy as np

DST_STATES = frozenset({"NSW", "VIC", "SA", "ACT", "TAS"})
WEEKDAY, WEEKEND, HOLIDAY = 0, 1, 2  # day types: a public holiday is lived like a weekend day


@lru_cache(maxsize=64)
def _holiday_ordinals(state: str, years: tuple[int, ...]) -> np.ndarray:
    days = holidays.country_holidays("AU", subdiv=state, years=years)
    return np.array(sorted(np.datetime64(d, "D").astype(np.int64) for d in days), dtype=np.int64)


def public_holidays(state: str, dates: np.ndarray) -> np.ndarray:
    """Bool per date: a public holiday in ``state`` (an unknown state has none)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    if not len(d) or state not in holidays.country_holidays("AU").subdivisions:
        return np.zeros(len(d), dtype=bool)
    years = tuple(
        range(
            int(d.min().astype("datetime64[Y]").astype(int)) + 1970,
            int(d.max().astype("datetime64[Y]").astype(int)) + 1971,
        )
    )
    return np.isin(d.astype(np.int64), _holiday_ordinals(state, years))


def _first_sunday(year: np.ndarray, month: int) -> np.ndarray:
    first = (year - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (month - 1)
    first = first.astype("datetime64[D]")
    weekday = (first.astype(np.int64) + 3) % 7  # 0 Monday; 1970-01-01 was a Thursday
    return first + (6 - weekday) % 7


def daylight_saving(dates: np.ndarray) -> np.ndarray:
    """Bool per date: daylight saving in force in the states that keep it (from the first Sunday
    of October up to, not including, the first Sunday of April)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    return (d < _first_sunday(year, 4)) | (d >= _first_sunday(year, 10))


def day_types(state: str, dates: np.ndarray) -> np.ndarray:
    """WEEKDAY, WEEKEND or HOLIDAY (a public holiday on a weekday) per date."""
    d = np.asarray(dates, dtype="datetime64[D]")
    weekend = (d.astype(np.int64) + 3) % 7 >= 5
    return np.where(weekend, WEEKEND, np.where(public_holidays(state, d), HOLIDAY, WEEKDAY)).astype(np.int8)


def dst_shift(state: str, dates: np.ndarray) -> np.ndarray:
    """Half-hours by which local behaviour moves earlier in NEM time on each date (2 or 0)."""
    d = np.asarray(dates, dtype="datetime64[D]")
    return np.where(daylight_saving(d) & (state in DST_STATES), 2, 0).astype(np.int8)
