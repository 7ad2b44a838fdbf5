"""State public holidays, daylight saving and day types (bua_assets/calendar.py)."""

from __future__ import annotations

import numpy as np

from bua_assets.calendar import HOLIDAY, WEEKDAY, WEEKEND, day_types, daylight_saving, dst_shift, public_holidays


def days(*iso: str) -> np.ndarray:
    return np.array(iso, dtype="datetime64[D]")


def test_public_holidays_differ_by_state():
    d = days("2026-01-26", "2026-10-05", "2026-05-04", "2026-11-03", "2026-10-06")
    # Australia Day everywhere; NSW Labour Day is in October, Queensland's in May (its October Monday is the King's Birthday); Melbourne Cup in Victoria.
    assert public_holidays("NSW", d).tolist() == [True, True, False, False, False]
    assert public_holidays("QLD", d).tolist() == [True, True, True, False, False]  # and the King's Birthday
    assert public_holidays("VIC", d).tolist() == [True, False, False, True, False]
    assert not public_holidays("XX", d).any()


def test_daylight_saving_runs_first_sunday_of_october_to_first_sunday_of_april():
    d = days("2026-04-04", "2026-04-05", "2026-07-01", "2026-10-03", "2026-10-04", "2026-12-25")
    assert daylight_saving(d).tolist() == [True, False, False, False, True, True]
    assert dst_shift("NSW", d).tolist() == [2, 0, 0, 0, 2, 2]
    assert dst_shift("QLD", d).tolist() == [0] * 6  # Queensland keeps no daylight saving


def test_day_types():
    d = days("2026-10-02", "2026-10-03", "2026-10-05")  # Friday, Saturday, NSW Labour Day (Monday)
    assert day_types("NSW", d).tolist() == [WEEKDAY, WEEKEND, HOLIDAY]
    assert day_types("VIC", d).tolist() == [WEEKDAY, WEEKEND, WEEKDAY]
