"""accrual_true_up on the small generated retailer after three months of accruals: it
materialises with its table, chart, check and CSV, and on the days billed since it agrees with the
generator's truth (true-up bias = backtest bias on the same days, up to the apportioning)."""

from __future__ import annotations

from dataclasses import replace

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from support import CONFIG, PARTITION, run_month

from bua_assets.assets.true_up import true_up_of
from bua_assets.billing.charges import CHARGE_OF_STREAM
from bua_assets.lake import Lake
from bua_synth.backtest import truth_days
from bua_synth.generator import generate

HISTORY = ("2026-08-01", "2026-09-01")


@pytest.fixture(scope="module")
def trued_up(tmp_path_factory):
    """The small retailer with two more months of history (August's profiles need 12 months
    before it), accrued for August, September and October."""
    tmp = tmp_path_factory.mktemp("true_up")
    folder = tmp / "retailer"
    generate(replace(CONFIG, history_months=15), folder, f"sqlite:///{folder / 'core.db'}")
    lake = tmp / "lake"
    with dg.instance_for_test() as instance:
        for month in HISTORY:
            assert run_month(folder, lake, month, instance).success
        result = run_month(folder, lake, PARTITION, instance)
    return result, Lake(str(lake)), folder


def test_the_true_up_materialises_with_its_table_chart_check_and_csv(trued_up):
    result, lake, _ = trued_up
    assert result.success
    (event,) = [
        e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == "accrual_true_up"
    ]
    meta = event.materialization.metadata
    assert meta["months_compared"].value == list(HISTORY)
    assert "data:image/png;base64," in meta["chart"].value
    assert meta["days_trued_up"].value > 1000
    cells = lake.read("accrual_true_up", PARTITION, "accrual_true_up").to_pandas()
    assert set(cells["accrual_month"]) == set(HISTORY)
    assert {"actual_reads", "interval_gap", "basic_profile"} <= set(cells["method"])
    assert set(cells["meter_kind"]) == {"INTERVAL", "BASIC"} and set(cells["flow"]) == {"import", "export"}
    # the older month is further billed by now
    imports = lake.read("accrual_true_up", PARTITION, "months").to_pandas().query("flow == 'import'")
    share = imports.groupby("accrual_month").apply(
        lambda g: np.average(g["trued_up_share"], weights=g["accrued_quantity"])
    )
    assert share["2026-08-01"] > share["2026-09-01"] > 0
    misses = lake.read("accrual_true_up", PARTITION, "misses").to_pandas()
    assert len(misses) == 20 and misses["dollar_miss"].abs().is_monotonic_decreasing
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "true_up_bias")
    assert check.partition == PARTITION and check.severity == dg.AssetCheckSeverity.WARN
    assert meta["bills_set_aside"].value == 0  # the generated bills all have usable periods
    assert lake.exists("accrual_true_up", PARTITION, "exceptions")  # read by errors
    manifest = lake.read("bua_export", PARTITION, "manifest").to_pandas()
    assert "BUA_AccrualTrueUp_202610.csv" in set(manifest["name"])


def test_the_true_up_bias_agrees_with_the_synthetic_truth_on_the_days_billed_since(trued_up):
    _, lake, folder = trued_up
    result, _billed, absent, _ = true_up_of(lake, PARTITION, 2)
    assert not absent
    done = result.days[result.days["billed_quantity"].notna() & (result.days["flow"] == "import")]
    # the truth of the same register-days, summed to the supply point x charge x day like the bills
    registers = lake.read("utility_profiles", PARTITION, "registers").to_pandas()
    heating = lake.read("core_tables", PARTITION, "GasHeatingValue").to_pandas()
    reg_days = pd.concat(
        [
            lake.read("unbilled_consumption", m, "register_days").to_pandas().assign(accrual_month=pd.Timestamp(m))
            for m in HISTORY
        ]
    )
    reg_days = reg_days[reg_days["stream_type"] != "SOLAR"]
    reg_days["date"] = pd.to_datetime(reg_days["date"])
    reg_days["charge"] = reg_days["stream_type"].map(CHARGE_OF_STREAM)
    keys = ["accrual_month", "account_id", "utility_id", "charge", "date"]
    wanted = reg_days.merge(done[keys].drop_duplicates(), on=keys)
    truth = truth_days(
        folder / "truth",
        wanted.assign(year_mnth=wanted["date"].dt.to_period("M").dt.to_timestamp()),
        registers,
        heating,
    )
    assert len(truth) == len(wanted)
    rows = []
    for (kind, fuel), g in done.groupby(["meter_kind", "fuel"]):
        t = truth.merge(g[keys].drop_duplicates(), on=keys)
        accrued, billed_q, true_q = g["quantity"].sum(), g["billed_quantity"].sum(), t["truth"].sum()
        rows.append(
            {
                "meter_kind": kind,
                "fuel": fuel,
                "days": len(g),
                "true_up_bias_pct": 100 * (accrued - billed_q) / billed_q,
                "backtest_bias_pct": 100 * (accrued - true_q) / true_q,
            }
        )
    table = pd.DataFrame(rows)
    print(table.to_string())
    table["difference"] = (table["true_up_bias_pct"] - table["backtest_bias_pct"]).abs()
    interval = table[table["meter_kind"] == "INTERVAL"]
    basic = table[table["meter_kind"] == "BASIC"]
    assert len(interval) and len(basic)
    # Interval bills are apportioned by their own meter data, which is the truth but for the few
    # days a provider substituted or never delivered: measured 0.01 points apart.
    assert (interval["difference"] < 0.1).all(), table
    # A basic bill ends on a read, 4% of them estimated, so it differs from the truth of its own
    # period (on this world one bill's error has a spread of 10-15%, gas bills since May sum 1.4%
    # under the truth), and the profile's split of a bill between accrued and earlier days adds
    # its own error: measured 1.5 (electricity) and 2.6 (gas) points apart over ~2,000 days each.
    assert (basic["difference"] < 3.5).all(), table
