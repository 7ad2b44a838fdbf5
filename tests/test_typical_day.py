"""The typical register's day behind the macro daily weights (DESIGN §5.3), worked by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.estimation import profiles as prof

WINDOW = prof.Window(date(2026, 9, 1), date(2026, 9, 10))  # 10 days


def register_days(rows):
    """rows: (register_id, day offset, kwh, actual half hours)."""
    r = np.array(rows, dtype=float)
    return pa.table(
        {
            "register_id": pa.array(r[:, 0].astype(np.int32)),
            "read_date": pa.array(np.datetime64(WINDOW.start) + r[:, 1].astype(int)),
            "kwh": r[:, 2],
            "actual_half_hours": pa.array(r[:, 3].astype(np.int16)),
        }
    )


def test_typical_day_is_the_median_of_each_registers_day_over_its_own_level():
    # Segment 0: three small sites (level 10) at 1.2 x their level on day 0 and one large site
    # (level 1,000) at 0.5 x. The average kWh would follow the large site; the median does not.
    # Day 1: a partly estimated day (47 actual half hours) does not count.
    rows = [(1, 0, 12, 48), (2, 0, 12, 48), (3, 0, 12, 48), (4, 0, 500, 48), (1, 1, 30, 47), (2, 1, 9, 48)]
    level = pd.Series({1: 10.0, 2: 10.0, 3: 10.0, 4: 1000.0, 5: 0.0})
    segment_of = pd.Series({1: 0, 2: 0, 3: 0, 4: 0, 5: 1})
    everyone = pd.Series({1: 0, 2: 0, 3: 0, 4: 0, 5: 0})
    (own, n), (wide, wide_n) = prof.typical_day_index(
        # Months arrive as separate tables: day 3 is in the second.
        [register_days(rows), register_days([(1, 3, 20, 48), (5, 3, 7, 48)])],
        level,
        [(segment_of, 2), (everyone, 1)],
        WINDOW,
    )
    assert own.shape == (2, WINDOW.days) and wide.shape == (1, WINDOW.days)
    assert own[0, 0] == 1.2 and n[0, 0] == 4
    assert own[0, 1] == 0.9 and n[0, 1] == 1  # register 1's partial day left out
    assert own[0, 3] == 2.0 and n[0, 3] == 1  # register 5 has no level: never counted
    assert np.isnan(own[1]).all() and (n[1] == 0).all()
    assert np.isnan(own[0, 2]) and n[0, 2] == 0
    assert wide[0, 0] == 1.2 and wide_n[0, 0] == 4


def test_typical_weights_take_the_wider_group_then_the_profile_and_average_one():
    D = WINDOW.days
    profile = np.ones((3, D))
    profile[:, 5:] = 2.0  # the average kWh's weights, before normalising
    index = np.full((3, D), 1.0)
    registers = np.full((3, D), 10)
    registers[0, :2] = 3  # segment 0: too few registers on days 0-1 -> its wider group's index
    index[0, :2] = 9.0
    registers[1] = 2  # segment 1: never enough -> wholly its wider group
    index[2, :] = np.nan  # segment 2: no index at all -> the profile's own weights
    registers[2] = 0
    wide = np.full((3, D), 1.5)
    wide_n = np.full((3, D), 20)
    wide_n[2] = 0  # segment 2's wider group has no registers either
    wide_n[0, 1] = 0  # ... and on day 1 group 0 has nothing either: the profile, rescaled
    wide[0, 1] = np.nan
    weights = prof.typical_daily_weights(profile, index, registers, wide, wide_n, np.array([0, 1, 2]), min_registers=5)
    assert np.allclose(weights.mean(axis=1), 1.0)
    raw0 = np.r_[1.5, np.nan, np.ones(D - 2)]
    # Day 1 takes the profile (1.0) x the segment's index over profile on its known days (8 / 13).
    scale = np.nansum(raw0) / (profile[0].sum() - profile[0, 1])
    raw0[1] = scale * profile[0, 1]
    assert np.allclose(weights[0], raw0 / raw0.mean())
    assert np.allclose(weights[1], 1.0)  # group 1's index is flat
    assert np.allclose(weights[2], profile[2] / profile[2].mean())


def test_typical_segment_weights_use_profile_registers_and_their_class_in_every_jurisdiction():
    names = ["BUS|NSW|PRIMARY", "BUS|TAS|PRIMARY"]
    registers = pd.DataFrame(
        {
            "register_id": [1, 2, 3, 4, 5, 6, 7],
            "segment": names[:1] * 5 + names[1:] * 2,
            "profile_register": [True, True, True, True, False, True, True],
        }
    )
    levels = pd.Series({i: 10.0 for i in range(1, 8)})
    # NSW: 4 profile registers at 1.1 on even days, 0.9 on odd ones; register 5 (not a profile
    # register) at 5x would pull a mean and is left out. TAS: 2 registers, below the minimum:
    # its days come from BUS in every jurisdiction (median of all six).
    rows = [(r, d, 10 * (1.1 if d % 2 == 0 else 0.9), 48) for r in (1, 2, 3, 4) for d in range(WINDOW.days)]
    rows += [(5, d, 50, 48) for d in range(WINDOW.days)]
    rows += [(r, d, 10 * (1.3 if d % 2 == 0 else 0.7), 48) for r in (6, 7) for d in range(WINDOW.days)]
    weights = prof.typical_segment_weights(
        names, np.ones((2, WINDOW.days)), registers, levels, [register_days(rows)], WINDOW, min_registers=3
    )
    assert np.allclose(weights[0], np.tile([1.1, 0.9], 5))
    assert np.allclose(weights[1], np.tile([1.1, 0.9], 5))  # the median of four at 1.1 and two at 1.3
