"""A month re-extracted from a later CORE sees what its own snapshot saw: rows created on or after
the run date are left out, and a plan version replaced after the run date is APPROVED again."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pandas as pd
import pyarrow as pa

from bua_assets.core.database import CoreDatabase
from bua_assets.core.extract import approved_as_at, extract_core
from bua_assets.lake import Lake


def plans(*rows) -> pa.Table:
    """(id, account, start, end, status, created)"""
    cols = list(zip(*rows))
    return pa.table(
        {
            "id": pa.array(cols[0], pa.int32()),
            "account_id": pa.array(cols[1], pa.int32()),
            "utility_id": pa.array(cols[1], pa.int32()),
            "plan_id": pa.array([7] * len(rows), pa.int32()),
            "start_date": pa.array(cols[2], pa.date32()),
            "end_date": pa.array(cols[3], pa.date32()),
            "status": pa.array(cols[4], pa.string()),
            "created_at": pa.array(cols[5], pa.timestamp("ms")),
        }
    )


def test_a_version_replaced_after_the_run_date_was_approved_then():
    created = datetime(2025, 9, 30)
    as_at = approved_as_at(
        plans(
            # account 1: replaced by a backdated version created after the run date (not in the table)
            (1, 1, date(2024, 9, 26), None, "REPLACED", created),
            # account 2: replaced by a version the snapshot already had: stays REPLACED
            (2, 2, date(2024, 1, 1), None, "REPLACED", created),
            (3, 2, date(2024, 1, 1), None, "APPROVED", datetime(2026, 9, 1)),
            # account 3: a later version for a later period does not replace it (no overlap)
            (4, 3, date(2024, 1, 1), date(2025, 12, 31), "REPLACED", created),
            (5, 3, date(2026, 1, 1), None, "APPROVED", datetime(2026, 1, 5)),
            # account 4: an ordinary approved version is left alone
            (6, 4, date(2023, 5, 1), None, "APPROVED", created),
        )
    )
    assert as_at["status"].to_pylist() == ["APPROVED", "REPLACED", "APPROVED", "APPROVED", "APPROVED", "APPROVED"]
    assert as_at.schema == plans((1, 1, date(2024, 1, 1), None, "APPROVED", created)).schema


def test_the_small_retailers_past_month_has_an_approved_version_for_every_open_supply(retailer, tmp_path):
    folder, url = retailer
    lake, run_date = Lake(str(tmp_path / "lake")), date(2026, 10, 1)  # September's snapshot, from the final CORE
    with lake.partition_writer("core_tables", "2026-09-01") as writer:
        result = extract_core(CoreDatabase(url), writer, run_date)
    assert not result.value_errors
    p = lake.read("core_tables", "2026-09-01", "AccountPlan").to_pandas()
    assert (p["created_at"] < datetime(2026, 10, 1)).all()  # nothing created on or after the run date
    supplies = lake.read("core_tables", "2026-09-01", "AccountUtility").to_pandas()
    open_supplies = supplies[supplies["end_date"].isna() | (supplies["end_date"] >= date(2026, 9, 30))]
    approved = p[
        (p["status"] == "APPROVED")
        & (p["start_date"] <= date(2026, 9, 30))
        & (p["end_date"].isna() | (p["end_date"] >= date(2026, 9, 30)))
    ]
    missing = set(open_supplies["utility_id"]) - set(approved["utility_id"])
    assert not missing, f"supply points without an APPROVED version on 30 September: {sorted(missing)[:10]}"
    # the world replaces plans after billing (backdated): some versions were restored for September
    now = pd.read_sql("SELECT id, status FROM AccountPlan", sqlite3.connect(folder / "core.db")).set_index("id")[
        "status"
    ]
    restored = p[(p["status"] == "APPROVED") & (p["id"].map(now) == "REPLACED")]
    assert len(restored) > 0
