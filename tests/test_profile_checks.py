"""Which segments fail the profile check (estimation.profile_checks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bua_assets.estimation.profile_checks import profile_findings
from bua_assets.estimation.profiles import SegmentProfiles

NAMES = ["RES|NSW|PRIMARY", "RES|VIC|PRIMARY", "BUS|QLD|PRIMARY", "RES|SA|CONTROL"]


def profiles(values: np.ndarray, status: np.ndarray) -> SegmentProfiles:
    return SegmentProfiles(NAMES, values, np.full(status.shape, 6, dtype=np.int32), status, pd.DataFrame())


def test_missing_negative_and_absurd_days_are_errors_and_heavy_filling_a_warning():
    values = np.full((4, 4, 48), 0.3)
    values[1, 2, 17] = -0.01  # one negative half hour on one day of VIC
    values[2, 0, :] = 600.0  # an absurd day in QLD (over 500 kWh a register-half-hour) ...
    values[2, 3, 5] = 501.0  # ... and another
    status = np.full((4, 4), "VALID", dtype=object)
    status[0, 3] = "MISSING"
    status[3, :3] = "FILLED"  # SA control load: 3 of 4 days filled
    status[1, 0:2] = "FILLED"  # VIC: half its days, not over the limit
    summary = pd.DataFrame(
        {
            "register_id": range(12),
            "nmi": "N",
            "suffix": "E1",
            "coverage": np.linspace(0.0, 1.1, 12),
            "days_with_data": 100,
        }
    )
    found = profile_findings(profiles(values, status), summary)
    seg = found.segments.set_index("segment")
    assert seg.loc["RES|NSW|PRIMARY", "missing_days"] == 1 and seg.loc["RES|VIC|PRIMARY", "negative_days"] == 1
    assert seg.loc["BUS|QLD|PRIMARY", "absurd_days"] == 2
    assert seg["fill_share"].tolist() == [0.0, 0.5, 0.0, 0.75]
    assert found.errors["segment"].tolist() == NAMES[:3]
    assert found.over_filled["segment"].tolist() == ["RES|SA|CONTROL"]
    assert not found.passed
    assert found.lowest_coverage["register_id"].tolist() == list(range(10))
    # 12 registers at 0, 0.1, ..., 1.1: median 0.55, 5 below a half
    summary_stats = found.coverage_summary()
    assert summary_stats["registers"] == 12 and summary_stats["below_50pct"] == 5
    assert abs(summary_stats["median"] - 0.55) < 1e-9


def test_clean_profiles_pass_unless_history_months_are_missing():
    values, status = np.full((4, 2, 48), 0.3), np.full((4, 2), "VALID", dtype=object)
    empty = pd.DataFrame(columns=["register_id", "nmi", "suffix", "coverage", "days_with_data"])
    found = profile_findings(profiles(values, status), empty)
    assert found.passed and found.errors.empty and found.over_filled.empty
    assert found.coverage_summary() == {"registers": 0, "median": None, "p10": None, "below_50pct": 0}
    gaps = profile_findings(profiles(values, status), empty, missing_history=["2026-03-01", "2025-12-01"])
    assert not gaps.passed and gaps.missing_history == ["2025-12-01", "2026-03-01"]
    # a stricter absurdity limit catches the ordinary 0.3 kWh half hours
    assert profile_findings(profiles(values, status), empty, max_interval_kwh=0.25).errors["segment"].tolist() == NAMES
