"""A move-in with no reads of its own: the previous occupant's level, credited by the book's own
past move-ins (DESIGN §5.4), worked by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bua_assets.estimation import profiles as prof
from bua_assets.estimation.basic import consumption_between_reads
from bua_assets.estimation.scalars import premise_credibility, previous_occupant_levels, with_premise_prior

WINDOW = prof.Window(date(2026, 1, 1), date(2026, 10, 31))
MACRO = prof.MacroProfiles(
    ["GAS|1"], np.ones((1, WINDOW.days)), np.full((1, WINDOW.days, 48), 1 / 48), WINDOW
)  # flat weight 1: a level is units per day


def test_previous_occupants_level_comes_from_reads_inside_the_previous_tenancy_only():
    reads = pd.DataFrame(
        [
            # Register 1: previous tenant 2026-01-01 to 2026-05-31 at 10/day, then a move-in read
            # and the new tenant (from 2026-06-01) with no read of its own yet.
            (1, 1, date(2026, 1, 31), 0.0, "ACTUAL"),
            (2, 1, date(2026, 3, 2), 300.0, "ACTUAL"),
            (3, 1, date(2026, 5, 31), 1200.0, "ACTUAL"),
            # Register 2: a new connection, vacant (a trickle) before its first tenant's move-in.
            (4, 2, date(2026, 1, 31), 0.0, "ACTUAL"),
            (5, 2, date(2026, 5, 31), 12.0, "ACTUAL"),
            # Register 3: the previous tenancy has an estimated read: only actual-to-actual intervals count.
            (6, 3, date(2026, 2, 10), 0.0, "ACTUAL"),
            (7, 3, date(2026, 3, 12), 600.0, "ESTIMATE"),
            (8, 3, date(2026, 4, 11), 900.0, "ACTUAL"),
            (9, 3, date(2026, 5, 1), 1300.0, "ACTUAL"),
        ],
        columns=["id", "meter_register_id", "read_date", "reading", "read_type"],
    )
    intervals = consumption_between_reads(reads, pd.Series({1: 5, 2: 5, 3: 5})).intervals
    registers = pd.DataFrame(
        {
            "register_id": [1, 2, 3],
            "key_index": [0, 0, 0],
            "utility_id": [10, 20, 30],
            "tenancy_start": [date(2026, 6, 1)] * 3,
        }
    )
    tenancies = pd.DataFrame(
        {
            "utility_id": [10, 10, 20, 30, 30],
            "start_date": [date(2025, 6, 1), date(2026, 6, 1), date(2026, 6, 1), date(2025, 1, 1), date(2026, 6, 1)],
            "end_date": [date(2026, 5, 31), None, None, date(2026, 5, 31), None],
        }
    )
    levels = previous_occupant_levels(registers, intervals, MACRO, tenancies, min_days=10)
    # 1,200 units over 120 days; register 2 had no earlier tenancy; register 3: 400 over 20 days.
    assert levels.to_dict() == {1: 10.0, 3: 20.0}


def test_premise_credibility_is_the_books_slope_shrunk_toward_the_class_level():
    # Two past move-ins, each next occupant exactly where the previous one was: x = y = (1, -0.5).
    assert premise_credibility(np.array([20.0, 5.0]), np.array([20.0, 5.0]), np.array([10.0, 10.0]), prior=1.0) == (
        1.25 / 2.25
    )
    # Next occupants unrelated to the previous (opposite departures): no credibility, not negative.
    assert premise_credibility(np.array([20.0]), np.array([5.0]), np.array([10.0]), prior=1.0) == 0.0
    # No past move-ins at all: the class level.
    assert premise_credibility(np.array([]), np.array([]), np.array([]), prior=1.0) == 0.0


def test_with_premise_prior_moves_only_move_ins_on_an_average_by_their_groups_credibility():
    scalars = pd.DataFrame(
        {
            "register_id": [1, 2, 3, 4, 5, 6],
            "profile_key": ["GAS|1"] * 6,
            "customer_class": ["RES"] * 6,
            "read_kind": ["BASIC"] * 6,
            "fuel": ["GAS"] * 5 + ["ELECTRICITY"],
            # 1 and 2: own history, average 10; 3: a move-in on the average; 4: a new
            # connection on the average (no previous occupant); 5: own history, not moved.
            "scalar": [15.0, 5.0, 10.0, 10.0, 10.0, 7.0],
            "method": [
                "own_history",
                "own_history",
                "segment_average",
                "segment_average",
                "own_history",
                "segment_average",
            ],
        }
    )
    # 1 and 2 moved in after occupants at 14 and 6 (x = 0.4, -0.4; y = 0.5, -0.5).
    previous = pd.Series({1: 14.0, 2: 6.0, 3: 30.0, 6: 30.0})
    out = with_premise_prior(scalars, previous, ["fuel"], prior=0.68).set_index("register_id")
    z = (0.2 + 0.2) / (0.16 + 0.16 + 0.68)
    assert np.isclose(out.loc[3, "premise_credibility"], z)
    assert np.isclose(out.loc[3, "scalar"], 10 + z * 20) and out.loc[3, "method"] == "premise_prior"
    assert out.loc[4, "scalar"] == 10.0 and out.loc[4, "method"] == "segment_average"
    assert out.loc[1, "scalar"] == 15.0 and out.loc[5, "scalar"] == 10.0
    # Electricity has no past move-ins of its own in the book: its move-in keeps the average.
    assert out.loc[6, "scalar"] == 7.0 and out.loc[6, "method"] == "segment_average"
