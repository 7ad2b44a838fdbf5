"""Other periods and longer history: an accrual over whole months as the monthly partitions'
runs with their totals combined (bua-assets period on the small retailer), and the profile
history length as configuration (12 by default, up to 36)."""

from __future__ import annotations

import csv
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest

from bua_assets.billing.period import combine_period, period_partitions
from bua_assets.cli import main, period_problem
from bua_assets.settings import profile_history_months


def test_period_is_whole_months():
    assert period_partitions(date(2024, 5, 1), date(2024, 6, 30)) == ["2024-05-01", "2024-06-01"]
    assert period_partitions(date(2024, 11, 1), date(2025, 2, 28)) == [
        "2024-11-01",
        "2024-12-01",
        "2025-01-01",
        "2025-02-01",
    ]
    with pytest.raises(ValueError, match="--from must be the first day of a month"):
        period_partitions(date(2024, 5, 2), date(2024, 6, 30))
    with pytest.raises(ValueError, match="--to must be the last day of a month"):
        period_partitions(date(2024, 5, 1), date(2024, 6, 29))
    with pytest.raises(ValueError, match="is before"):
        period_partitions(date(2024, 6, 1), date(2024, 5, 31))


def test_period_range_is_checked_before_anything_runs():
    today = date(2026, 12, 7)
    assert period_problem("2026-09-01", "2026-11-30", today) is None
    assert "before the first partition (2023-09)" in period_problem("2023-01-01", "2023-12-31", today)
    assert period_problem("2027-01-01", "2027-02-28", today) == (
        "--to 2027-02-28 is in a month that has not ended yet (today is 2026-12-07): "
        "the latest complete month is 2026-11"
    )
    assert "has not ended yet" in period_problem("2026-11-01", "2026-12-31", today)
    assert "use dates YYYY-MM-DD" in period_problem("2026-13-01", "2026-11-30", today)
    assert "--from must be the first day of a month" in period_problem("2026-09-02", "2026-11-30", today)


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2023-01-01", "2023-01-31", "before the first partition"),
        ("2026-09-01", "2099-02-28", "has not ended yet"),
        ("2026-09", "2026-10-31", "use dates YYYY-MM-DD"),
    ],
)
def test_period_command_says_one_line_for_a_bad_range(tmp_path, capsys, start, end, says):
    assert main(["period", "--from", start, "--to", end, "--home", str(tmp_path / "home")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "home").exists()  # rejected before the home was touched


def test_combined_totals_add_the_months():
    may = pd.DataFrame(
        {
            "state": ["NSW", "NSW", "VIC"],
            "fuel": ["ELECTRICITY"] * 2 + ["GAS"],
            "net_amount": [10.0, 5.5, 3.0],
            "net_amount_less_discount": [9.0, 5.0, 3.0],
            "volume": [100.0, 50.0, 7.0],
            "days": [30.0, 31.0, 31.0],
        }
    )
    june = may.iloc[[0]].assign(net_amount=2.25, net_amount_less_discount=2.0, volume=10.0, days=30.0)
    accounts = pd.DataFrame({"state": ["NSW", "NSW", "VIC"], "fuel": ["ELECTRICITY", "ELECTRICITY", "GAS"]})
    by_month, combined = combine_period({"2024-05-01": (may, accounts), "2024-06-01": (june, accounts.iloc[:1])})
    assert by_month.to_dict("records") == [
        {
            "month": "2024-05",
            "state": "NSW",
            "fuel": "ELECTRICITY",
            "net_amount": 15.5,
            "net_amount_less_discount": 14.0,
            "volume": 150.0,
            "days": 61.0,
            "accounts": 2,
        },
        {
            "month": "2024-05",
            "state": "VIC",
            "fuel": "GAS",
            "net_amount": 3.0,
            "net_amount_less_discount": 3.0,
            "volume": 7.0,
            "days": 31.0,
            "accounts": 1,
        },
        {
            "month": "2024-06",
            "state": "NSW",
            "fuel": "ELECTRICITY",
            "net_amount": 2.25,
            "net_amount_less_discount": 2.0,
            "volume": 10.0,
            "days": 30.0,
            "accounts": 1,
        },
    ]
    assert combined.to_dict("records") == [
        {
            "state": "NSW",
            "fuel": "ELECTRICITY",
            "net_amount": 17.75,
            "net_amount_less_discount": 16.0,
            "volume": 160.0,
            "days": 91.0,
            "months": 2,
            "closing_net_amount": 2.25,
            "closing_net_amount_less_discount": 2.0,
            "closing_volume": 10.0,
            "closing_accounts": 1,
        },
        {
            "state": "VIC",
            "fuel": "GAS",
            "net_amount": 3.0,
            "net_amount_less_discount": 3.0,
            "volume": 7.0,
            "days": 31.0,
            "months": 1,
            # no VIC gas accrual at 30 June: the period closes on none
            "closing_net_amount": 0.0,
            "closing_net_amount_less_discount": 0.0,
            "closing_volume": 0.0,
            "closing_accounts": 0,
        },
    ]
    with pytest.raises(LookupError, match="2024-07-01"):
        combine_period({"2024-07-01": None})


def test_period_command_combines_the_months_and_stops_at_a_failed_one(
    retailer, operations_month, tmp_path, monkeypatch, capsys
):
    folder, url = retailer
    home = operations_month["home"]  # October is in this lake already (conftest.py)
    monkeypatch.setenv("BUA_CORE_URL", url)
    monkeypatch.setenv("BUA_METER_DATA", str(folder / "nem12"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    out = tmp_path / "period.csv"
    assert (
        main(["period", "--from", "2026-10-01", "--to", "2026-10-31", "--home", str(home), "--output", str(out)]) == 0
    )
    assert "2026-10: already in the lake" in capsys.readouterr().err  # not re-run
    month = operations_month["lake"].read("accrual_summary", "2026-10-01", "accrual_summary").to_pandas()
    expected = month.groupby(["state", "fuel"])["net_amount"].sum().round(2)
    rows = list(csv.DictReader(out.open()))
    assert {(r["state"], r["fuel"]): float(r["net_amount"]) for r in rows} == expected.to_dict()
    assert {r["months"] for r in rows} == {"1"}
    by_month = list(csv.DictReader((tmp_path / "period_by_month.csv").open()))
    accounts = operations_month["lake"].read("bua_account_summary", "2026-10-01", "bua_account_summary").num_rows
    assert sum(int(r["accounts"]) for r in by_month) == accounts
    # September is run (its plans as its own snapshot showed them) and October reused: two months
    both = tmp_path / "both.csv"
    assert (
        main(["period", "--from", "2026-09-01", "--to", "2026-10-31", "--home", str(home), "--output", str(both)]) == 0
    )
    err = capsys.readouterr().err
    assert "2026-09: materialising" in err and "2026-10: already in the lake" in err
    assert {r["month"] for r in csv.DictReader((tmp_path / "both_by_month.csv").open())} == {"2026-09", "2026-10"}
    assert "2" in {r["months"] for r in csv.DictReader(both.open())}
    # A CORE that fails a blocking check (an account utility of no account): the period stops at the
    # first month it cannot run, names it, and combines nothing
    bad = tmp_path / "bad.db"
    shutil.copy(folder / "core.db", bad)
    with sqlite3.connect(bad) as con:
        con.execute("UPDATE AccountUtility SET account_id = 999999 WHERE id = (SELECT min(id) FROM AccountUtility)")
    monkeypatch.setenv("BUA_CORE_URL", f"sqlite:///{bad}")
    assert (
        main(
            [
                "period",
                "--from",
                "2026-08-01",
                "--to",
                "2026-10-31",
                "--home",
                str(tmp_path / "bad-home"),
                "--output",
                str(tmp_path / "bad.csv"),
            ]
        )
        == 1
    )
    err = capsys.readouterr().err
    assert "error: the interval history for 2026-08 failed" in err or "error: the run for 2026-08 failed" in err
    assert not (tmp_path / "bad.csv").exists()
    assert main(["period", "--from", "2026-09-02", "--to", "2026-10-31", "--home", str(home)]) == 2


def test_profile_history_length_is_configuration():
    assert profile_history_months({}) == 12
    assert profile_history_months({"BUA_PROFILE_HISTORY_MONTHS": "36"}) == 36
    for bad in ("37", "0", "twelve"):
        with pytest.raises(ValueError, match="BUA_PROFILE_HISTORY_MONTHS must be"):
            profile_history_months({"BUA_PROFILE_HISTORY_MONTHS": bad})
    # read when the definitions load: the profiles' partition mapping and window follow it
    probe = (
        "import bua_assets.assets.profiles as p, bua_assets.runner as r;"
        "m = p.statistics_history.partition_mapping;"
        "print(p.HISTORY_MONTHS, m.start_offset, p.profile_window('2026-10-01').start,"
        " len(r.history_partitions('2026-10-01')))"
    )
    env = os.environ | {"BUA_PROFILE_HISTORY_MONTHS": "36"}
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["36", "-35", "2023-11-01", "35"]
    env["BUA_PROFILE_HISTORY_MONTHS"] = ""
    out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["12", "-11", "2025-11-01", "11"]


def test_period_names_history_months_before_the_first_partition_and_runs_nothing(
    retailer, tmp_path, monkeypatch, capsys
):
    """A month whose profile window reaches back past BUA_FIRST_MONTH (2023-09 in the tests) into
    months with NEM12 files: the period stops before any run with what to set, not as a failed month."""
    _, url = retailer
    nem12 = tmp_path / "nem12"
    for month in ("2023-06", "2023-11"):
        (nem12 / month).mkdir(parents=True)
        (nem12 / month / "NEM12#1#MDP#RETAILER.csv").write_text("100,NEM12,202301010000,MDP,RETAILER\n900\n")
    monkeypatch.setenv("BUA_CORE_URL", url)
    monkeypatch.setenv("BUA_METER_DATA", str(nem12))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    home = tmp_path / "home"
    assert main(["period", "--from", "2024-02-01", "--to", "2024-02-29", "--home", str(home)]) == 1
    err = capsys.readouterr().err
    assert (
        "error: the profile window of 2024-02 needs 2023-06, which have NEM12 files but are before the first "
        "partition (2023-09, BUA_FIRST_MONTH): set BUA_FIRST_MONTH=2023-06 (or earlier)"
    ) in err
    assert "failed" not in err
    assert not (home / "lake").exists() or not any((home / "lake").iterdir())
