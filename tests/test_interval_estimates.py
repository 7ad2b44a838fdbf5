"""Interval registers' missing days follow the register (estimates.recent_index, day_index,
register_levels, daily_estimates)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from bua_assets.estimation.estimates import daily_estimates, day_index, recent_index, register_levels
from bua_assets.estimation.profiles import MacroProfiles, Window

WINDOW = Window(date(2025, 11, 1), date(2026, 10, 31))
FLAT = MacroProfiles(
    ["RES|NSW|PRIMARY", "RES|VIC|PRIMARY"], np.ones((2, WINDOW.days)), np.full((2, WINDOW.days, 48), 1 / 48), WINDOW
)
DAY = [np.datetime64("2026-10-01") + i for i in range(31)]


def frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["register_id", "read_date", "kwh"]).astype({"read_date": "datetime64[s]"})


def test_the_index_is_the_segments_day_whatever_registers_delivered_it():
    # Five registers of one segment, sizes 1, 2, 3, 4 and 100 kWh a day; every one uses 20% more on
    # day 29; the big one sent nothing on day 10. The plain average per register falls from 22 to
    # 2.5 on day 10; the index (each register against its own level) does not move.
    size = {1: 1.0, 2: 2.0, 3: 3.0, 4: 4.0, 5: 100.0}
    rows = [
        (r, DAY[d], s * (1.2 if d == 28 else 1.0))
        for r, s in size.items()
        for d in range(29)
        if not (r == 5 and d == 9)
    ]
    index = recent_index(frame(rows), pd.Series(0, index=list(size))).set_index("date")
    i = index["index"]
    assert i[DAY[9]] == pytest.approx(i[DAY[0]]) and index.loc[DAY[9], "registers"] == 4
    assert i[DAY[28]] / i[DAY[0]] == pytest.approx(1.2)
    # every register's level is its last 28 days: 27 ordinary days and the 1.2 day
    assert i[DAY[0]] == pytest.approx(28 / 28.2)


def test_a_thin_day_leans_on_the_wider_group_by_how_many_registers_are_behind_it():
    index = pd.DataFrame({"key_index": [0, 0], "date": [DAY[0], DAY[1]], "index": [1.2, 0.9], "registers": [5, 1]})
    wider = (
        pd.DataFrame({"key_index": [7, 7], "date": [DAY[0], DAY[2]], "index": [1.0, 1.1], "registers": [40, 40]}),
        np.array([7, 8]),
    )  # key 0 is in group 7, key 1 in group 8
    keys, dates = np.array([0, 0, 0, 0]), np.array([DAY[0], DAY[1], DAY[2], DAY[3]], dtype="datetime64[D]")
    got = day_index(index, FLAT, keys, dates, wider, prior=5)
    # day 0: (5 x 1.2 + 5 x 1.0) / 10; day 1: no wider value, the flat macro weight x the key's mean
    # index (registers-weighted: (5 x 1.2 + 0.9) / 6 = 1.15): (0.9 + 5 x 1.15) / 6; day 2: the
    # wider index alone; day 3: the macro weight rescaled.
    np.testing.assert_allclose(got, [1.1, (0.9 + 5 * 1.15) / 6, 1.1, 1.15])
    assert np.isnan(day_index(index, FLAT, np.array([1]), dates[:1]))[0]  # key 1 has no index at all


def test_a_registers_level_leaves_out_its_absences_and_an_absence_at_the_gap_goes_on():
    # Register 1 uses 10 x the index, 3 x on a five-day trip in the middle; register 2 the same
    # but its trip runs to its last days; register 3 has only five days (under the minimum).
    idx = np.where(np.arange(31) % 7 >= 5, 1.1, 0.95)  # weekends a little higher
    # (a segment of a million registers: the index is its own, not blended toward the macro weight)
    index = pd.DataFrame({"key_index": 0, "date": DAY, "index": idx, "registers": 10**6})
    trip1, trip2 = set(range(10, 15)), set(range(24, 29))
    rows = (
        [(1, DAY[d], (3.0 if d in trip1 else 10.0) * idx[d]) for d in range(29)]
        + [(2, DAY[d], (3.0 if d in trip2 else 10.0) * idx[d]) for d in range(29)]
        + [(3, DAY[d], 5.0 * idx[d]) for d in range(24, 29)]
    )
    key_of = pd.Series(0, index=[1, 2, 3])
    levels = register_levels(frame(rows), index, key_of, FLAT).set_index("register_id")
    assert levels.loc[1, "level"] == pytest.approx(10.0) and np.isnan(levels.loc[1, "away_level"])
    assert levels.loc[2, "level"] == pytest.approx(10.0) and levels.loc[2, "away_level"] == pytest.approx(3.0)
    assert 3 not in levels.index
    daily, own = daily_estimates(
        np.array([1, 2, 3]),
        np.zeros(3, dtype=int),
        np.array([DAY[29]] * 3, dtype="datetime64[D]"),
        levels.reset_index(),
        index,
        FLAT,
        scalar=np.array([np.nan, np.nan, 4.0]),
    )
    # registers 1 and 2 on their own level (2 still away), register 3 on its micro scalar x weight 1
    np.testing.assert_allclose(daily, [10.0 * idx[29], 3.0 * idx[29], 4.0], rtol=1e-5)
    assert own.tolist() == [True, True, False]
