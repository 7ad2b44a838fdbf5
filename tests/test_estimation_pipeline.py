"""The estimation assets on the small generated retailer: NEM12 estimates read back by both readers,
every unbilled month quantified or excepted, streams and fuels, tenancies, and bad input."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import date
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
from support import PARTITION, oracle_per_interval, ours_per_interval

from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.resources import LakeResource, local_resources
from bua_assets.runner import backfill_interval_history

KEYS = ["account_id", "utility_id", "year_mnth"]


def materialise(folder: Path, lake: Path):
    resources = local_resources(f"sqlite:///{folder / 'core.db'}", str(folder / "nem12"), lake.parent) | {
        "lake": LakeResource(base=str(lake))
    }
    with dg.instance_for_test() as instance:
        backfill_interval_history(PARTITION, instance, resources)
        result = dg.materialize(ALL_ASSETS, partition_key=PARTITION, resources=resources, instance=instance)
    assert result.success
    return Lake(str(lake))


@pytest.fixture(scope="module")
def month(retailer, tmp_path_factory) -> Lake:
    return materialise(retailer[0], tmp_path_factory.mktemp("lake"))


def frame(lake: Lake, asset: str, dataset: str) -> pd.DataFrame:
    return lake.read(asset, PARTITION, dataset).to_pandas()


def test_estimated_nem12_files_read_back_by_nemreader_and_ours_with_the_values_written(month):
    located = month.file_locations("nem12_estimates", PARTITION)
    files = sorted(Path(at) for p, at in located.items() if p.startswith("nem12/") and p.endswith(".csv"))
    assert files, "no estimate files"
    loaded = frame(month, "nem12_estimates", "estimated_reads")
    assert len(loaded) > 0 and set(loaded["quality_method"]) == {"E57"}
    for path in files:
        ours, oracle = ours_per_interval(path), oracle_per_interval(path)
        assert ours == oracle and len(ours) > 0
        assert {r[5] for r in ours} == {"E57"}
    # What the pipeline loaded is exactly what the files hold.
    per_day = {}
    for nmi, suffix, _, t, v, _ in (r for p in files for r in ours_per_interval(p)):
        per_day[(nmi, suffix, t.date())] = per_day.get((nmi, suffix, t.date()), 0.0) + v
    loaded_totals = {(r.nmi, r.suffix, r.read_date): float(np.sum(r.values)) for r in loaded.itertuples()}
    assert loaded_totals.keys() == per_day.keys()
    assert all(abs(loaded_totals[k] - per_day[k]) < 1e-6 for k in per_day)


def test_estimates_cover_exactly_the_unbilled_interval_days_without_meter_data(month):
    estimated = frame(month, "nem12_estimates", "estimated_reads")
    registers = frame(month, "utility_profiles", "registers")
    have = pd.concat(
        [
            month.read("interval_statistics", m, "register_days").to_pandas()  # every month in the lake
            for m in month.partitions("interval_statistics", "register_days")
        ]
    )
    reg = registers.set_index(["nmi", "suffix"])["register_id"]
    est = set(zip(reg.loc[list(zip(estimated["nmi"], estimated["suffix"]))].to_numpy(), estimated["read_date"]))
    assert not est & set(zip(have["register_id"], have["read_date"]))  # never over real data
    consumption = frame(month, "unbilled_consumption", "unbilled_consumption")
    interval = consumption[consumption["read_kind"] == "INTERVAL"]
    assert (interval["estimated_quantity"] > 0).any() and (interval["actual_quantity"] > 0).any()


def test_every_unbilled_month_is_quantified_or_an_exception_with_a_reason(month):
    window = frame(month, "unbilled_window", "unbilled_months")
    consumption = frame(month, "unbilled_consumption", "unbilled_consumption")
    exceptions = frame(month, "unbilled_consumption", "exceptions")
    seen = set(map(tuple, consumption[KEYS].values)) | set(map(tuple, exceptions[KEYS].values))
    missing = [k for k in map(tuple, window[KEYS].values) if k not in seen]
    assert not missing
    assert exceptions["reason"].str.len().gt(10).all()
    # Days are never counted twice: per register and month, at most the window's days.
    days = consumption.groupby(["account_id", "utility_id", "register_id", "year_mnth"])["days"].max().reset_index()
    merged = days.merge(window, on=KEYS)
    assert (merged["days"] <= merged["unbilled_days"]).all()


def test_streams_time_classes_and_gas_energy(month):
    c = frame(month, "unbilled_consumption", "unbilled_consumption")
    assert set(c.loc[c["suffix"] == "E2", "time_class"]) <= {"CONTROLLED_LOAD"}
    assert set(c.loc[c["suffix"] == "B1", "time_class"]) == {"SOLAR"}
    assert {"PEAK", "SHOULDER", "OFF_PEAK"} <= set(c.loc[c["suffix"] == "E1", "time_class"])
    gas = c[c["fuel"] == "GAS"]
    assert len(gas) and set(gas["uom"]) == {"MJ"} and set(c.loc[c["fuel"] != "GAS", "uom"]) == {"KWH"}
    ratio = gas["quantity"] / gas["quantity_m3"]
    assert ratio.between(37.0, 40.5).all()  # heating value ~38 MJ/m3 x pressure correction 1.00-1.03
    assert (c.loc[c["stream_type"] != "SOLAR", "quantity"] >= 0).all()
    assert c["estimated_share"].between(0, 1).all()


def test_bad_input_negative_interval_no_heating_value_and_register_without_reads(retailer, tmp_path):
    source = retailer[0]
    folder = tmp_path / "retailer"
    shutil.copytree(source / "nem12", folder / "nem12")
    shutil.copy(source / "core.db", folder / "core.db")
    con = sqlite3.connect(folder / "core.db")
    gas_network = con.execute(
        "SELECT u.utility_network_id FROM Utility u WHERE u.service_type_id = 2 "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    con.execute("DELETE FROM GasHeatingValue WHERE utility_network_id = ? AND month >= '2026-09-01'", (gas_network,))
    orphan = con.execute(
        "SELECT mr.id FROM MeterRegister mr JOIN Meter m ON m.id = mr.meter_id "
        "WHERE m.meter_installation_type = 'BASIC' AND mr.suffix_id = '11' ORDER BY mr.id LIMIT 1"
    ).fetchone()[0]
    con.execute("DELETE FROM BasicRead WHERE meter_register_id = ?", (orphan,))
    con.commit()
    con.close()
    # A negative interval value in one October day of a delivered file.
    path = next(p for p in sorted((folder / "nem12" / "2026-10").glob("*.csv")) if "R#" not in p.name)
    lines = path.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("300,20261012"))
    nmi = next(lines[j].split(",")[1] for j in range(k, -1, -1) if lines[j].startswith("200,"))
    suffix = next(lines[j].split(",")[4] for j in range(k, -1, -1) if lines[j].startswith("200,"))
    fields = lines[k].split(",")
    fields[2] = "-" + fields[2]
    lines[k] = ",".join(fields)
    path.write_text("\n".join(lines) + "\n")

    lake = materialise(folder, tmp_path / "lake")
    quarantine = frame(lake, "interval_reads", "quarantine")
    hit = quarantine[(quarantine["code"] == "negative_value") & (quarantine["nmi"] == nmi)]
    assert len(hit) == 1 and "negative interval value" in hit["reason"].iloc[0]
    # The day is not lost: if the account has not been billed for it, it is estimated.
    estimated = frame(lake, "nem12_estimates", "estimated_reads")
    window = frame(lake, "unbilled_window", "unbilled_months")
    registers = frame(lake, "utility_profiles", "registers").set_index("register_id")
    utility = registers[(registers["nmi"] == nmi) & (registers["suffix"] == suffix)]["utility_id"].iloc[0]
    unbilled = window[(window["utility_id"] == utility)]
    day = date(2026, 10, 12)
    if ((unbilled["first_day"] <= day) & (unbilled["last_day"] >= day)).any():
        assert ((estimated["nmi"] == nmi) & (estimated["suffix"] == suffix) & (estimated["read_date"] == day)).any()

    basic = frame(lake, "basic_reads", "basic_reads").set_index("register_id")
    basic_exc = frame(lake, "basic_reads", "exceptions")
    assert orphan not in basic.index
    assert basic_exc.loc[basic_exc["register_id"] == orphan, "code"].tolist() == ["no_reads"]
    scalars = frame(lake, "micro_scalars", "micro_scalars").set_index("register_id")
    assert scalars.loc[orphan, "method"] == "segment_average"
    gas_regs = registers[(registers["fuel"] == "GAS") & (registers["network_id"] == gas_network)].index
    assert basic.loc[basic.index.isin(gas_regs), "heating_value_substituted"].any()
    consumption = frame(lake, "unbilled_consumption", "unbilled_consumption")
    exceptions = frame(lake, "unbilled_consumption", "exceptions")
    substituted = exceptions[exceptions["code"] == "heating_value_substituted"]
    assert len(substituted) and set(substituted["register_id"]) <= set(gas_regs)
    # Still accrued, at the nearest month's heating value.
    assert consumption["register_id"].isin(substituted["register_id"]).any()
    # The month's errors dump holds each of them, with the reason, and is exported beside the CSVs.
    dump = frame(lake, "errors", "errors")
    codes = set(zip(dump["source"], dump["code"]))
    assert {
        ("interval_reads.quarantine", "negative_value"),
        ("basic_reads.exceptions", "no_reads"),
        ("unbilled_consumption.exceptions", "heating_value_substituted"),
    } <= codes
    assert dump["reason"].str.len().gt(0).all()
    exported = list((lake_root := Path(lake.base).parent / "integration").rglob("BUA_Errors_202610.csv"))
    assert len(exported) == 1 and len(pd.read_csv(exported[0])) == len(dump), lake_root
    orphan_utility = registers.loc[orphan, "utility_id"]
    if (window["utility_id"] == orphan_utility).any():
        assert (consumption["register_id"] == orphan).any()


def test_backtest_against_ground_truth_runs_and_beats_the_last_bill_average(retailer, month):
    from support import CONFIG

    from bua_synth.backtest import (
        baselines,
        compare,
        estimated_interval_days,
        month_dollar_accuracy,
        truth_by_row,
        truth_days,
        truth_window,
    )

    read = lambda asset, ds: frame(month, asset, ds)  # noqa: E731
    registers = read("utility_profiles", "registers")
    billing = pd.read_parquet(retailer[0] / "truth" / "billing.parquet")
    window = truth_window(billing, registers, CONFIG.end)
    days = truth_days(retailer[0] / "truth", window, registers, read("core_tables", "GasHeatingValue"))
    assert len(days) == len(window)  # every unbilled register-day has its truth
    truth = truth_by_row(days)
    # The time-of-use split of the truth is its own half-hours: the classes add up to the day.
    np.testing.assert_allclose(truth[["PEAK", "SHOULDER", "OFF_PEAK"]].sum(axis=1), truth["truth"], rtol=1e-9)
    base = baselines(days, registers, read("core_tables", "Invoice"), read("core_tables", "InvoiceLineItem"))
    estimated = estimated_interval_days(read("nem12_estimates", "estimated_reads"), registers, days)
    out = compare(
        read("unbilled_consumption", "unbilled_consumption"),
        truth,
        base,
        registers,
        read("utility_profiles", "utility_profile_summary"),
        estimated,
    )
    portfolio = out["portfolio_error_pct"]
    assert set(portfolio) == {"ours", "adu", "last_year"} and out["cells"] and out["portfolio_truth_kwh"] > 0
    # Even on 120 accounts the estimate is within a few percent of the truth, and closer than ADU.
    assert abs(portfolio["ours"]) < 5 and abs(portfolio["ours"]) < abs(portfolio["adu"])
    assert out["median_register_error_pct"] is not None and out["median_register_error_pct"] < 10
    assert out["estimated_interval_days"] > 0 and out["median_estimated_interval_day_error_pct"] is not None
    assert out["estimated_days_outside_truth_window"] == 0  # we estimate only days that are truly unbilled
    assert out["basic_registers_compared"] > 0
    # A register-day without a truth row stops the backtest instead of counting as zero.
    with pytest.raises(ValueError, match="no truth row"):
        truth_days(
            retailer[0] / "truth",
            window.assign(register_id=window["register_id"] + 10**6),
            registers,
            read("core_tables", "GasHeatingValue"),
        )
    dollars = month_dollar_accuracy(read, truth)
    assert dollars["truth_dollars"] > 0 and abs(dollars["portfolio_dollar_error_pct"]) < 5


def test_utility_profiles_from_monthly_statistics_equal_a_full_recompute_of_the_year(month):
    """On the generated retailer: the profiles the pipeline combined from twelve months of
    interval_statistics equal one pass over the twelve months of raw interval_reads."""
    from bua_assets.assets.lake_reads import history_months, profile_window
    from bua_assets.estimation import profiles as prof

    window = profile_window(PARTITION)
    registers = frame(month, "utility_profiles", "registers")
    segments = sorted(registers["segment"].dropna().unique())
    interval = registers[(registers["read_kind"] == "INTERVAL") & (registers["fuel"] == "ELECTRICITY")].reset_index(
        drop=True
    )
    interval["segment_index"] = interval["segment"].map({s: i for i, s in enumerate(segments)})
    full_pass = prof.HistoryPass(interval, len(segments), window)
    months = [m for m in history_months(PARTITION) if month.exists("interval_reads", m, "interval_reads")]
    assert len(months) == 12
    for m in months:
        for batch in month.iter_batches("interval_reads", m, "interval_reads"):
            full_pass.add(batch)
    full = full_pass.finish()
    profile = frame(month, "utility_profiles", "utility_profile")
    expected = prof.utility_profile(interval, full)
    assert len(profile) == len(expected) and profile["actual_days"].sum() > 0
    pd.testing.assert_frame_equal(profile, expected, check_exact=False, rtol=1e-9, atol=1e-6)
    summary = frame(month, "utility_profiles", "utility_profile_summary")
    pd.testing.assert_frame_equal(
        summary, prof.utility_profile_summary(interval, full, window), check_exact=False, rtol=1e-9, check_dtype=False
    )
    names, sums, counts = prof.table_to_dense(month.read("utility_profiles", PARTITION, "segment_sums"))
    assert names == segments
    np.testing.assert_allclose(sums, np.round(full.segment_sum, 6), atol=1e-6)
    np.testing.assert_array_equal(counts, full.segment_registers)
