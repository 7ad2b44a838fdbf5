"""The month's wiring around the estimators: which reads are baselines (estimation.baseline), the
tenancy a register's history starts from and the base share that goes with a scalar
(estimation.micro_scalars), and the unbilled consumption's exceptions (estimation.unbilled)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bua_assets.estimation.baseline import baseline_reads
from bua_assets.estimation.micro_scalars import base_share, tenancy_starts
from bua_assets.estimation.unbilled import no_register_exceptions, one_per_code


def test_a_baseline_is_the_meters_read_up_to_the_month_end_never_our_own_estimate():
    reads = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "meter_register_id": 9,
            "read_date": [
                date(2026, 8, 1),
                date(2026, 9, 1),
                date(2026, 10, 31),
                date(2026, 10, 31),
                date(2026, 11, 2),
            ],
            "reading": ["100.5", "200", "300", "310", "400"],
            "read_type": ["ACTUAL", "ESTIMATE", "BUA_ESTIMATE", "ACTUAL", "ACTUAL"],
        }
    )
    got = baseline_reads(reads, date(2026, 10, 31))
    assert got["id"].tolist() == [1, 2, 4]  # not our BUA_ESTIMATE (3), not after the month end (5)
    assert got["reading"].tolist() == [100.5, 200.0, 310.0]
    assert reads["reading"].tolist()[0] == "100.5"  # the caller's frame untouched


def test_the_tenancy_is_the_latest_move_in_on_or_before_the_month_end():
    tenancies = pd.DataFrame(
        {
            "utility_id": [7, 7, 7, 8],
            "start_date": [date(2024, 1, 1), date(2026, 3, 15), date(2026, 11, 1), date(2026, 10, 31)],
        }
    )
    starts = tenancy_starts(tenancies, date(2026, 10, 31))
    # supply point 7: the move-in of 1 November is after the month; 8 moved in on its last day
    assert starts.to_dict() == {7: date(2026, 3, 15), 8: date(2026, 10, 31)}


def test_a_missing_base_share_is_the_segments_shape():
    scalars = pd.DataFrame({"scalar": [1.0, 2.0], "base_share": [0.3, None]}, index=[5, 6])
    assert base_share(scalars).tolist() == [0.3, 0.0]
    assert base_share(scalars[["scalar"]]).tolist() == [0.0, 0.0]  # micro scalars from before weather response


def test_a_supply_point_without_registers_is_an_exception_per_unbilled_month():
    months = pd.DataFrame(
        {
            "account_id": [1, 1, 2],
            "utility_id": [7, 7, 8],
            "year_mnth": [date(2026, 9, 1), date(2026, 10, 1), date(2026, 10, 1)],
        }
    )
    exc = no_register_exceptions(months, pd.DataFrame({"utility_id": [8]}))
    assert exc[["account_id", "utility_id", "year_mnth"]].values.tolist() == [
        [1, 7, date(2026, 9, 1)],
        [1, 7, date(2026, 10, 1)],
    ]
    assert set(exc["code"]) == {"no_meter_registers"} and exc["register_id"].isna().all()


def test_exceptions_are_kept_once_per_register_month_and_code_with_the_first_reason():
    month = dict(account_id=1, utility_id=7, year_mnth=date(2026, 10, 1))
    a = pd.DataFrame(
        [
            month | {"register_id": 3, "code": "no_plan", "reason": "first"},
            month | {"register_id": 3, "code": "no_plan", "reason": "second"},
            month | {"register_id": 4, "code": "no_plan", "reason": "other register"},
        ]
    )
    b = pd.DataFrame([month | {"register_id": None, "code": "no_meter_registers", "reason": "none"}])
    got = one_per_code([a, pd.DataFrame(), b])
    assert sorted(zip(got["register_id"].fillna(-1), got["reason"])) == [
        (-1, "none"),
        (3, "first"),
        (4, "other register"),
    ]
    empty = one_per_code([pd.DataFrame()])
    assert len(empty) == 0 and "reason" in empty.columns
    assert np.array_equal(empty.columns, ["account_id", "utility_id", "register_id", "year_mnth", "code", "reason"])
