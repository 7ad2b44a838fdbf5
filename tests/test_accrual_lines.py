"""Accrual lines from the unbilled window: overlapping charge versions, and the ILI check on bad lines."""

from __future__ import annotations

from datetime import date, datetime

import dagster as dg
import pandas as pd

from bua_assets.assets.billing import IliExceptionsConfig, ili_exceptions
from bua_assets.billing.accrual import overlapping_versions, supply_days

WINDOW = pd.DataFrame(
    {
        "account_id": [1],
        "utility_id": [9],
        "year_mnth": [date(2026, 10, 1)],
        "first_day": [date(2026, 10, 1)],
        "last_day": [date(2026, 10, 31)],
        "unbilled_days": [31],
    }
)


def versions(*rows):
    return pd.DataFrame(
        [(i + 1, 1, 9, p, s, e, "APPROVED", datetime(2026, 1, 1 + i), 0) for i, (p, s, e) in enumerate(rows)],
        columns=[
            "id",
            "account_id",
            "utility_id",
            "plan_id",
            "start_date",
            "end_date",
            "status",
            "created_at",
            "include_in_supplementary",
        ],
    )


def test_overlapping_approved_versions_price_the_latest_created_and_are_reported():
    ap = versions((10, date(2026, 1, 1), None), (20, date(2026, 10, 20), None))  # version 2 created later
    supply = supply_days(WINDOW, ap)
    assert supply[["plan_id", "days"]].values.tolist() == [[10, 19], [20, 12]]
    (row,) = overlapping_versions(WINDOW, ap).to_dict("records")
    assert row["code"] == "overlapping_charge_versions" and "1,2 overlap on 12 days" in row["reason"]


def test_days_without_an_approved_version_get_no_plan():
    supply = supply_days(WINDOW, versions((10, date(2026, 10, 11), None)))
    assert supply[["plan_id", "days"]].values.tolist() == [[-1, 10], [10, 21]]


def test_negative_usage_from_upstream_is_an_error_that_blocks():
    lines = pd.DataFrame(
        [
            (
                1,
                1,
                9,
                date(2026, 10, 1),
                10,
                "ESTIMATED",
                "USAGE_RETAIL",
                "ANYTIME",
                date(2026, 10, 1),
                date(2026, 10, 31),
                1,
                -5.0,
                0.3,
                -1.5,
            )
        ],
        columns=[
            "line_id",
            "account_id",
            "utility_id",
            "year_mnth",
            "plan_id",
            "ili_state",
            "plan_item_type_name",
            "time_class_name",
            "period_start",
            "period_end",
            "block_order",
            "quantity",
            "rate",
            "net_amount",
        ],
    )
    no_bills = pd.Series(dtype=float)  # an account never billed before
    result = ili_exceptions(
        lines,
        pd.DataFrame(columns=["line_id", "account_id", "code", "reason"]),
        no_bills,
        IliExceptionsConfig(),
        date(2024, 11, 1),
    )
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.metadata["counts"].value["negative_usage"] == 1
    table = {r.data["code"]: r.data for r in result.metadata["exceptions"].records}  # typed, for the UI
    assert table["negative_usage"] == {"code": "negative_usage", "severity": "ERROR", "rows": 1}
    assert [c.type for c in result.metadata["exceptions"].schema.columns] == ["string", "string", "int"]


def test_no_charge_versions_at_all_leaves_every_day_unpriced_instead_of_crashing():
    """An empty AccountPlan (the consistency check blocks it first in a run) gave a numpy ufunc error here."""
    empty = versions((10, date(2026, 1, 1), None)).iloc[0:0]
    assert overlapping_versions(WINDOW, empty).empty
    supply = supply_days(WINDOW, empty)
    assert supply[["account_id", "plan_id", "days"]].to_dict("records") == [
        {"account_id": 1, "plan_id": -1, "days": 31}
    ]
