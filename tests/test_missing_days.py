"""The unbilled interval register-days without meter data and their estimates
(estimation.missing_days), and the NEM12 files they are written to (estimation.estimate_files)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from bua_assets.estimation.estimate_files import (
    estimate_file_name,
    estimate_files,
    estimated_reads,
    file_created,
    register_chunks,
)
from bua_assets.estimation.intervals import READ_COLUMNS
from bua_assets.estimation.missing_days import estimate_missing_days, missing_register_days, wider_groups
from bua_assets.estimation.profiles import MacroProfiles, Window
from bua_assets.months import AccrualMonth

WINDOW = Window(date(2025, 11, 1), date(2026, 10, 31))
FLAT = MacroProfiles(
    ["RES|NSW|PRIMARY", "RES|VIC|PRIMARY"], np.ones((2, WINDOW.days)), np.full((2, WINDOW.days, 48), 1 / 48), WINDOW
)
NO_RECENT = pd.DataFrame(
    {
        "register_id": pd.Series(dtype="int64"),
        "read_date": pd.Series(dtype="datetime64[s]"),
        "kwh": pd.Series(dtype=float),
    }
)


def months(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "utility_id", "year_mnth", "first_day", "last_day"])


def registers(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["register_id", "utility_id", "nmi", "suffix", "profile_key", "profile_register"])


def test_a_missing_day_is_an_unbilled_day_of_the_register_without_meter_data_once_per_date():
    # Supply point 7 changed hands on 3 October: the old and the new account both have 3 October
    # unbilled. Register 1 has data for 2 and 4 October; register 2 (supply point 8) for none.
    window = months(
        (100, 7, date(2026, 10, 1), date(2026, 10, 1), date(2026, 10, 3)),
        (200, 7, date(2026, 10, 1), date(2026, 10, 3), date(2026, 10, 5)),
        (300, 8, date(2026, 10, 1), date(2026, 10, 30), date(2026, 10, 31)),
    )
    regs = registers((1, 7, "NMI7", "E1", "RES|NSW|PRIMARY", True), (2, 8, "NMI8", "E1", "RES|VIC|PRIMARY", True))
    metered = pd.DataFrame(
        {
            "register_id": np.array([1, 1], dtype="int32"),
            "read_date": np.array(["2026-10-02", "2026-10-04"], dtype="datetime64[s]"),
        }
    )
    missing = missing_register_days(window, regs, metered)
    got = sorted((r, str(d)[:10]) for r, d in zip(missing["register_id"], missing["date"]))
    assert got == [(1, "2026-10-01"), (1, "2026-10-03"), (1, "2026-10-05"), (2, "2026-10-30"), (2, "2026-10-31")]
    assert missing["date"].dtype == "datetime64[s]" and missing["register_id"].dtype == "int64"
    assert set(missing.loc[missing["register_id"] == 2, "nmi"]) == {"NMI8"}  # with the register's attributes


def test_the_wider_group_is_the_class_and_stream_in_every_jurisdiction():
    keys = ["RES|NSW|PRIMARY", "RES|VIC|PRIMARY", "BUS|NSW|PRIMARY", "RES|QLD|CONTROL", "GAS|JEMENA"]
    groups = wider_groups(keys)
    assert groups[0] == groups[1]  # residential primary, NSW and VIC
    assert len({groups[0], groups[2], groups[3], groups[4]}) == 4  # business, control load and gas apart


def test_a_register_without_recent_data_gets_scalar_times_weight_and_one_without_a_profile_is_an_exception():
    regs = registers(
        (1, 7, "NMI7", "E1", "RES|NSW|PRIMARY", True),
        (2, 8, "NMI8", "E1", "RES|QLD|PRIMARY", True),
        (3, 9, "NMI9", "E1", "RES|VIC|PRIMARY", True),
    )
    missing = regs.loc[[0, 0, 1, 2]].assign(
        date=np.array(["2026-10-02", "2026-10-01", "2026-10-01", "2026-10-01"], dtype="datetime64[s]")
    )
    scalars = pd.Series({1: 10.0, 2: 5.0})  # register 3 has no scalar; register 2's segment no profile
    est = estimate_missing_days(missing, regs, scalars, NO_RECENT, FLAT)
    # register 1's two days, in date order: 10 kWh a day (flat weight 1), 10/48 each half hour
    assert est.days["register_id"].tolist() == [1, 1]
    assert est.days["date"].astype(str).str[:10].tolist() == ["2026-10-01", "2026-10-02"]
    np.testing.assert_allclose(est.half_hours, np.full((2, 48), 10 / 48))
    assert not est.own_level.any()  # from the micro scalar, not the register's own level
    assert sorted(est.not_estimated["register_id"]) == [2, 3]
    assert set(est.not_estimated["code"]) == {"not_estimated"}


def test_files_hold_whole_registers_and_read_back_as_written(tmp_path):
    ids = np.array([9, 9, 4, 7, 4, 9])
    chunks = register_chunks(ids, per_file=2)
    assert [c.tolist() for c in chunks] == [[2, 3, 4], [0, 1, 5]]  # registers 4, 7 then 9
    month = AccrualMonth.from_key("2026-10-01")
    assert estimate_file_name(month, 3, "RETAILER") == "NEM12#202610EST003#BUAESTIMATE#RETAILER.csv"
    assert file_created(month) == "202611010100"

    days = pd.DataFrame(
        {
            "register_id": [1, 1, 2],
            "nmi": ["NMI0000001", "NMI0000001", "NMI0000002"],
            "nmi_configuration": ["E1", "E1", "E1B1"],
            "register_code": ["1", "1", "2"],
            "suffix": ["E1", "E1", "B1"],
            "meter_serial": ["M1", "M1", "M2"],
            "interval_length": [30, 30, 15],
            "date": np.array(["2026-10-01", "2026-10-02", "2026-10-01"], dtype="datetime64[s]"),
        }
    )
    half_hours = np.vstack([np.full(48, 0.5), np.full(48, 0.25), np.full(48, 1.0)])
    files = estimate_files(days, half_hours, month, "RETAILER", tmp_path, per_file=1)
    assert [f.name for f in files] == [estimate_file_name(month, n, "RETAILER") for n in (0, 1)]
    assert all(f.path.exists() and not f.issues for f in files)
    reads = estimated_reads(files)
    assert reads.column_names == READ_COLUMNS and reads.num_rows == 3
    totals = {
        (n, s, str(d)): sum(v)
        for n, s, d, v in zip(*(reads[c].to_pylist() for c in ("nmi", "suffix", "read_date", "values")))
    }
    assert totals == pytest.approx(
        {
            ("NMI0000001", "E1", "2026-10-01"): 24.0,
            ("NMI0000001", "E1", "2026-10-02"): 12.0,
            ("NMI0000002", "B1", "2026-10-01"): 48.0,
        }
    )
    assert reads["quality_method"].to_pylist() == ["E57"] * 3  # estimated, customer class
    assert estimated_reads([]).num_rows == 0
