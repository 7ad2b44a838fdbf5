"""The accrual invoice on the small retailer: supply days reconcile with the unbilled window,
GST and discounts, and the blocking ili_exceptions check on an account without a charge version."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
from support import PARTITION, month_resources, run_month

from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake


def run(folder, lake, instance=None, partition=PARTITION):
    """The month (and the interval history it needs) on a generated retailer in ``folder``."""
    return run_month(folder, lake, partition, instance)


def test_accrual_invoice_prices_every_unbilled_day_and_the_check_blocks_a_missing_charge_version(retailer, tmp_path):
    folder = tmp_path / "retailer"
    shutil.copytree(retailer[0] / "nem12", folder / "nem12")
    shutil.copy(retailer[0] / "core.db", folder / "core.db")
    clean = run(folder, tmp_path / "clean")
    assert clean.success
    check = next(c for c in clean.get_asset_check_evaluations() if c.check_name == "ili_exceptions")
    assert check.passed, check.description
    lake = Lake(str(tmp_path / "clean"))
    lines = lake.read("invoice_line_items", PARTITION, "invoice_line_items").to_pandas()
    window = lake.read("unbilled_window", PARTITION, "unbilled_months").to_pandas()
    # Every unbilled day is billed as supply exactly once.
    supply = (
        lines[lines["plan_item_type_name"] == "DAILY_RETAIL"]
        .groupby(["account_id", "utility_id", "year_mnth"])["quantity"]
        .sum()
    )
    days = window.set_index(["account_id", "utility_id", "year_mnth"])["unbilled_days"]
    assert supply.reindex(days.index).fillna(0).astype(int).equals(days.astype(int))
    # GST 10% to the cent; a feed-in credit carries none for a customer not registered for GST.
    con = sqlite3.connect(folder / "core.db")
    registered = pd.read_sql("select id, gst_registered from Account", con).set_index("id")["gst_registered"]
    con.close()
    free = (lines["plan_item_type_name"] == "FEED_IN") & (lines["account_id"].map(registered) == 0)
    assert free.any() and (lines.loc[free, "gst"] == 0).all()
    assert np.allclose(lines.loc[~free, "gst"], lines.loc[~free, "net_amount"] * 0.1, atol=0.0051)
    accrued = lines["ili_state"] != "SUPPLEMENTARY"  # a supplementary credit reverses a line: signs flip
    assert (lines.loc[accrued & (lines["plan_item_type_name"] == "FEED_IN"), "net_amount"] <= 0).all()
    assert (lines["discount_net_propensity"].abs() <= lines["discount_net"].abs() + 1e-9).all()
    assert (np.sign(lines["discount_net_propensity"]) * np.sign(lines["discount_net"]) >= 0).all()
    assert {"ACTUAL", "ESTIMATED"} <= set(lines["ili_state"])
    assert_demand_is_the_peak_half_hour_of_the_interval_data(lake, lines)
    # The outputs agree to the cent and every account with unbilled days has a summary row.
    reconciliation = next(c for c in clean.get_asset_check_evaluations() if c.check_name == "reconciliation")
    assert reconciliation.passed, reconciliation.description
    totals = reconciliation.metadata["net_amount_totals"].value
    assert len(set(totals.values())) == 1 and len(totals) == 4
    by_output = {
        r.data["output"]: r.data["net_amount"] for r in reconciliation.metadata["net_amount_by_output"].records
    }
    assert by_output == totals and reconciliation.partition == PARTITION  # the month, shown in the UI
    summary = lake.read("bua_account_summary", PARTITION, "bua_account_summary").to_pandas()
    # Accounts with unbilled days, plus the open accounts fully billed to the month end (0 days).
    fully_billed = summary[summary["bill_status"] == "BILLED"]
    assert set(summary["account_id"]) == set(window["account_id"]) | set(fully_billed["account_id"])
    assert not set(fully_billed["account_id"]) & set(window["account_id"])
    assert (fully_billed["unbilled_days"] == 0).all() and fully_billed["window_end"].isna().all()
    nothing_accrued = fully_billed[~fully_billed["account_id"].isin(lines["account_id"])]  # not even a correction
    assert (nothing_accrued["net_amount"] == 0).all()  # (tests/test_bad_core_input.py makes one for sure)
    assert (summary["window_end"].dropna() <= date(2026, 10, 31)).all() and summary["state"].notna().all()
    finance = lake.read("accrual_summary", PARTITION, "accrual_summary").to_pandas()
    assert np.allclose(finance["net_amount_less_discount"], finance["net_amount"] - finance["discount_net_propensity"])
    # Corrections to billed periods re-rate every charge item: SUPPLEMENTARY usage lines with their
    # time classes and discounts reach the finance summary and the exported CSVs.
    supplementary = lines[lines["ili_state"] == "SUPPLEMENTARY"]
    assert {"SUPPLY", "CONSUMPTION"} <= set(supplementary["feature_type_name"])
    assert supplementary["feature_type_name"].notna().all() and supplementary["time_class_name"].notna().all()
    assert (supplementary["discount_net"] != 0).any() and (supplementary["quantity"] < 0).any()
    in_summary = finance[finance["ili_state"] == "SUPPLEMENTARY"]
    assert round(in_summary["net_amount"].sum(), 2) == round(supplementary["net_amount"].sum(), 2)
    assert round(in_summary["discount_net"].sum(), 2) == round(supplementary["discount_net"].sum(), 2)
    exported = pd.read_csv(next((tmp_path / "exports").rglob("BUA_InvoiceLineItemMonthly_*.csv")))
    assert set(exported.loc[exported["ili_state"] == "SUPPLEMENTARY", "feature_type_name"]) == set(
        supplementary["feature_type_name"]
    )
    png = Path(lake.file_location("accrual_summary", PARTITION, "accrual_summary.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # An account whose only charge version is gone: its lines cannot be priced; the check blocks.
    account = int(window.sort_values("unbilled_days").iloc[-1]["account_id"])
    con = sqlite3.connect(folder / "core.db")
    con.execute("DELETE FROM AccountPlan WHERE account_id = ?", (account,))
    con.commit()
    con.close()
    with dg.instance_for_test() as instance:
        broken = run(folder, tmp_path / "broken", instance)
        check = next(c for c in broken.get_asset_check_evaluations() if c.check_name == "ili_exceptions")
        assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
        assert "missing_tariff" in check.description
        skipped = {e.asset_key.to_user_string() for e in broken.get_asset_materialization_events()}
        assert "bua_export" not in skipped and "errors" not in skipped  # blocked: nothing exported
        # The operator's next step: materialise the errors dump alone; it names the failed check.
        dump_run = dg.materialize(
            ALL_ASSETS,
            partition_key=PARTITION,
            selection=["errors"],
            resources=month_resources(folder, tmp_path / "broken"),
            instance=instance,
        )
        assert dump_run.success
    dump = Lake(str(tmp_path / "broken")).read("errors", PARTITION, "errors").to_pandas()
    failed = dump[dump["code"] == "check_failed:ili_exceptions"]
    assert len(failed) == 1 and failed["severity"].iloc[0] == "ERROR" and "missing_tariff" in failed["reason"].iloc[0]
    exceptions = Lake(str(tmp_path / "broken")).read("invoice_line_items", PARTITION, "exceptions").to_pandas()
    hit = exceptions[exceptions["account_id"] == account]
    assert len(hit) and set(hit["code"]) == {"no_charge_version"} and hit["reason"].str.contains("not priced").all()


def test_a_metering_charge_added_to_every_plan_raises_the_accrual_by_exactly_its_days(retailer, tmp_path):
    """$2.50 a day of METERING on every plan (CORE PlanRate, ANYTIME, per DAY): the month's accrual
    lines rise by exactly 2.50 x their supply days, priced as METERING, and the billing checks pass."""
    folder = tmp_path / "retailer"
    shutil.copytree(retailer[0] / "nem12", folder / "nem12")
    shutil.copy(retailer[0] / "core.db", folder / "core.db")
    before = run(folder, tmp_path / "before")
    con = sqlite3.connect(folder / "core.db")
    plans = pd.read_sql("select id from Plan", con)["id"]
    first = int(pd.read_sql("select max(id) m from PlanRate", con)["m"].iloc[0]) + 1
    con.executemany(
        "insert into PlanRate values (?, ?, '2020-07-01', NULL, 'METERING', 'ANYTIME', 1, NULL, 2.5, 'DAY')",
        [(first + i, int(p)) for i, p in enumerate(plans)],
    )
    con.commit()
    con.close()
    after = run(folder, tmp_path / "after")
    assert before.success and after.success
    billing_checks = {
        c.check_name: c
        for c in after.get_asset_check_evaluations()
        if c.check_name in ("ili_exceptions", "reconciliation")
    }
    assert len(billing_checks) == 2 and all(c.passed for c in billing_checks.values()), billing_checks

    def accrued(lake):
        lines = Lake(str(lake)).read("invoice_line_items", PARTITION, "invoice_line_items").to_pandas()
        return lines[lines["ili_state"] != "SUPPLEMENTARY"]  # corrections re-rate what was billed

    old, new = accrued(tmp_path / "before"), accrued(tmp_path / "after")
    days = old.loc[old["plan_item_type_name"] == "DAILY_RETAIL", "quantity"].sum()
    added = new[(new["plan_item_type_name"] == "METERING") & (new["rate"] == 2.5)]
    assert added["quantity"].sum() == days > 0
    assert round(new["net_amount"].sum() - old["net_amount"].sum(), 2) == round(2.5 * days, 2)


def assert_demand_is_the_peak_half_hour_of_the_interval_data(lake: Lake, lines: pd.DataFrame) -> None:
    """Each measured DEMAND line of the month, worked out again from the NEM12 data in the lake: the
    largest weekday 15:00-21:00 half hour of the site's import registers summed, x 2 (kW), over
    the line's days; priced at kW x rate x days."""
    demand = lines[(lines["plan_item_type_name"] == "DEMAND") & (lines["ili_state"] == "ACTUAL")]
    demand = demand[pd.to_datetime(demand["year_mnth"]) == pd.Timestamp(PARTITION)]
    assert len(demand), "the generated retailer's business time-of-use plans carry a peak demand charge"
    registers = lake.read("utility_profiles", PARTITION, "registers").to_pandas()
    reads = lake.read("interval_reads", PARTITION, "interval_reads").to_pandas()
    for line in demand.head(5).itertuples():
        site = registers[
            (registers["utility_id"] == line.utility_id) & registers["stream_type"].isin(["PRIMARY", "CONTROL"])
        ]
        days = reads[
            reads["nmi"].isin(site["nmi"])
            & reads["suffix"].isin(site["suffix"])
            & (reads["read_date"] >= line.period_start)
            & (reads["read_date"] <= line.period_end)
        ]
        weekday = days[pd.to_datetime(days["read_date"]).dt.day_of_week < 5]
        half_hours = weekday["values"].map(lambda v: np.nan_to_num(np.asarray(v, float)).reshape(48, -1).sum(axis=1))
        per_day = half_hours.groupby(weekday["read_date"]).apply(lambda v: np.sum(np.stack(v.to_numpy()), axis=0))
        peak_kw = max(float(np.max(day[30:42])) for day in per_day) * 2  # half hours 30-41: 15:00-21:00
        assert line.quantity == round(peak_kw, 3), (line.account_id, line.quantity, peak_kw)
        assert line.net_amount == round(line.quantity * line.rate * line.days + 1e-9, 2)
