"""The held-out synthetic world (synth/alt.py): determinism, calibration to scale, the calendar and
clock it lives by, gas heating spread, network volumes apart from our customers, and a tiny world
through the whole asset graph."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import date

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from bua_assets.calendar import public_holidays
from bua_synth import load
from bua_synth.alt import AltLoad, simulate_weather
from bua_synth.generator import GeneratorConfig, build_world, generate

SEED = 5
MODEL_CONFIG = GeneratorConfig(accounts=500, seed=SEED, as_at=date(2026, 11, 1), history_months=16)


@pytest.fixture(scope="module")
def world():
    """The model alone on a generated world's registers: (registers, days, state, values)."""
    regs = build_world(np.random.default_rng(SEED), MODEL_CONFIG)["registers"]
    days = np.arange(np.datetime64(MODEL_CONFIG.start), np.datetime64(MODEL_CONFIG.as_at), dtype="datetime64[D]")
    model = AltLoad()
    state = model.prepare(SEED, regs, days)
    values = model.half_hourly(
        state, np.random.default_rng(0), np.arange(len(regs)), regs["kind"].to_numpy(), 0, len(days)
    )
    return regs, days, state, values


def months(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[M]")


def test_values_are_metered_non_negative_and_average_their_scale(world):
    regs, days, _, values = world
    assert values.shape == (len(regs), len(days), 48) and np.isfinite(values).all() and (values >= 0).all()
    np.testing.assert_array_equal(values, np.round(values, 3))
    daily_mean = values.sum(axis=2).mean(axis=1)
    scale = regs["scale"].to_numpy()
    # Every register's mean over the history is its scale (to the metering resolution); so is the
    # total per kind of register.
    np.testing.assert_allclose(daily_mean, scale, rtol=0.02, atol=48 * 0.0005)
    for kind, group in regs.groupby("kind"):
        assert abs(daily_mean[group.index].sum() / scale[group.index].sum() - 1) < 0.002, kind


def test_values_do_not_depend_on_how_rows_and_days_are_split(world):
    regs, _days, state, values = world
    model = AltLoad()
    kind = regs["kind"].to_numpy()
    rows = np.arange(37, 121)
    part = np.concatenate(
        [
            model.half_hourly(state, np.random.default_rng(d0), rows, kind[rows], d0, d1)
            for d0, d1 in ((40, 47), (47, 80))
        ],
        axis=1,
    )
    np.testing.assert_array_equal(part, values[rows, 40:80])


def test_solar_is_netted_against_its_own_home(world):
    regs, days, _, values = world
    kind, utility = regs["kind"].to_numpy(), regs["utility_index"].to_numpy()
    export_rows = np.flatnonzero(kind == load.SOLAR)
    import_rows = np.array(
        [np.flatnonzero((utility == utility[r]) & np.isin(kind, (load.RES, load.BUS)))[0] for r in export_rows]
    )
    assert len(export_rows) > 10
    exp, imp = values[export_rows], values[import_rows]
    assert ((exp > 0) & (imp > 0)).sum() == 0  # a home imports or exports in a half-hour, not both
    assert (exp > 0).mean() > 0.1 and exp[:, :, :10].max() == 0 and exp[:, :, 44:].max() == 0
    # Exports fall in winter (a lower sun), and on cloudy days.
    m = months(days)
    assert exp[:, m == np.datetime64("2026-01")].mean() > 1.3 * exp[:, m == np.datetime64("2026-07")].mean()


def test_businesses_use_less_on_public_holidays(world):
    regs, days, _, values = world
    weekday = (days.astype(np.int64) + 3) % 7 < 5
    for s in ("NSW", "VIC", "QLD"):
        rows = np.flatnonzero((regs["kind"] == load.BUS).to_numpy() & (regs["state"] == s).to_numpy())
        daily = values[rows].sum(axis=(0, 2))
        holiday = public_holidays(s, days) & weekday
        assert holiday.sum() >= 8
        assert daily[holiday].mean() < 0.85 * daily[weekday & ~holiday].mean(), s


def test_daylight_saving_moves_the_evening_peak_in_nsw_not_in_queensland(world):
    regs, days, _, values = world
    # Three weeks either side of the start of daylight saving (Sunday 4 October 2026).
    before = (days >= np.datetime64("2026-09-13")) & (days < np.datetime64("2026-10-04"))
    after = (days >= np.datetime64("2026-10-04")) & (days < np.datetime64("2026-10-25"))

    def evening_centre(state: str, when: np.ndarray) -> float:
        rows = np.flatnonzero((regs["kind"] == load.RES).to_numpy() & (regs["state"] == state).to_numpy())
        evening = values[rows][:, when, 28:46].mean(axis=(0, 1))
        # The centre of the evening's mass above its own median (robust to noise in a single slot).
        w = np.clip(evening - np.median(evening), 0, None)
        return float((w * np.arange(len(evening))).sum() / w.sum())

    nsw = evening_centre("NSW", after) - evening_centre("NSW", before)
    qld = evening_centre("QLD", after) - evening_centre("QLD", before)
    # From 4 October NSW lives an hour ahead of the AEST meter: its evening shows about two
    # half-hours earlier. Queensland keeps no daylight saving.
    assert nsw < -1.2 and abs(qld) < 0.5, (nsw, qld)


def test_gas_heating_share_ranges_from_base_load_to_heating_dominated(world):
    regs, days, _, values = world
    rows = np.flatnonzero((regs["kind"] == load.GAS).to_numpy() & (regs["scale"] < 5).to_numpy())
    m = months(days)
    daily = values[rows].sum(axis=2)
    winter = daily[:, (m == np.datetime64("2026-07")) | (m == np.datetime64("2025-07"))].mean(axis=1)
    summer = daily[:, (m == np.datetime64("2026-01")) | (m == np.datetime64("2026-02"))].mean(axis=1)
    ratio = winter / np.maximum(summer, 1e-3)
    assert len(rows) > 50
    assert (ratio < 1.3).mean() > 0.1  # nearly pure base load (cooking, hot water)
    assert (ratio > 4).mean() > 0.1  # heating-dominated
    assert np.median(ratio) > 1.3


def test_weather_is_persistent_with_heat_and_cold_spells():
    days = np.arange(np.datetime64("2023-01-01"), np.datetime64("2026-01-01"))
    w = simulate_weather(SEED, days)
    t = w.temperature
    anomaly = t - np.array([np.convolve(x, np.ones(31) / 31, mode="same") for x in t])
    lag1 = [np.corrcoef(a[20:-20], a[21:-19])[0, 1] for a in anomaly]
    assert min(lag1) > 0.4
    assert w.hot_spell[[1, 3]].any(axis=1).all() and (anomaly[3] > 7).any()  # Melbourne, Adelaide heatwaves
    assert t[1].mean() < t[0].mean() < t[2].mean()  # Melbourne < Sydney < Brisbane
    # Cloudier on colder-than-usual days.
    assert np.corrcoef(anomaly[1], w.cloud[1])[0, 1] < -0.1
    np.testing.assert_array_equal(t, simulate_weather(SEED, days).temperature)


def test_network_volumes_are_not_derived_from_our_customers(world):
    regs, days, state, _ = world
    model = AltLoad()
    ours = model.gas_network_daily(state, SEED, "VIC", 14, 3000)
    # Different customers (other households, other scales, another state): the same network.
    other = regs.assign(scale=regs["scale"] * 3, state="TAS").iloc[::3].reset_index(drop=True)
    other_state = model.prepare(SEED, other, days)
    np.testing.assert_array_equal(model.gas_network_daily(other_state, SEED, "VIC", 14, 3000), ours)
    assert not np.array_equal(model.gas_network_daily(state, SEED + 1, "VIC", 14, 3000), ours)
    m = months(days)
    assert ours[m == np.datetime64("2026-07")].mean() > 1.5 * ours[m == np.datetime64("2026-01")].mean()


TINY = GeneratorConfig(accounts=60, seed=SEED, as_at=date(2026, 11, 1), history_months=3)


def truth_values(out) -> dict[str, np.ndarray]:
    got = {}
    for f in sorted((out / "truth").glob("20*.parquet")):
        t = pq.read_table(f, columns=["meter_register_id", "read_date", "values"]).sort_by(
            [("meter_register_id", "ascending"), ("read_date", "ascending")]
        )
        got[f.name] = pc.list_flatten(t["values"]).to_numpy()
    return got


def test_the_world_does_not_depend_on_the_worker_count(tmp_path):
    a, b = tmp_path / "one", tmp_path / "two"
    generate(TINY, a, f"sqlite:///{a / 'core.db'}", workers=1, load_model=AltLoad())
    # Two workers in a fresh process through the CLI (this process may run other threads, in which
    # case the generator declines to fork).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bua_synth.cli",
            "generate",
            "--accounts",
            str(TINY.accounts),
            "--seed",
            str(SEED),
            "--as-at",
            TINY.as_at.isoformat(),
            "--history-months",
            str(TINY.history_months),
            "--out",
            str(b),
            "--core-url",
            f"sqlite:///{b / 'core.db'}",
            "--load-model",
            "alt",
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "BUA_GENERATOR_WORKERS": "2"},
    )
    ta, tb = truth_values(a), truth_values(b)
    assert ta.keys() == tb.keys() and len(ta) == 3
    for k in ta:
        np.testing.assert_array_equal(ta[k], tb[k])
    assert json.loads((b / "manifest.json").read_text())["load_model"] == "alt"
    con_a, con_b = sqlite3.connect(a / "core.db"), sqlite3.connect(b / "core.db")
    for table in ("Invoice", "BasicRead", "GasNetworkDailyVolume"):
        query = f"select * from {table} order by id"
        pd.testing.assert_frame_equal(pd.read_sql(query, con_a), pd.read_sql(query, con_b))
    con_a.close()
    con_b.close()


def test_a_tiny_alt_world_runs_through_the_whole_asset_graph(tmp_path):
    from bua_assets.definitions import ALL_ASSETS
    from bua_assets.lake import Lake
    from bua_assets.resources import local_resources
    from bua_assets.runner import backfill_interval_history

    config = GeneratorConfig(accounts=25, seed=SEED, as_at=date(2026, 11, 1), history_months=13)
    out = tmp_path / "retailer"
    generate(config, out, f"sqlite:///{out / 'core.db'}", load_model=AltLoad())
    resources = local_resources(f"sqlite:///{out / 'core.db'}", str(out / "nem12"), tmp_path)
    partition = "2026-10-01"
    with dg.instance_for_test() as instance:
        backfill_interval_history(partition, instance, resources)
        result = dg.materialize(ALL_ASSETS, partition_key=partition, resources=resources, instance=instance)
    assert result.success
    unbilled = Lake(str(tmp_path / "lake")).read("unbilled_consumption", partition, "unbilled_consumption").to_pandas()
    assert len(unbilled) > 0
