"""A basic register's own weather response from its reads, shrunk toward its segment (scalars.weather_response)."""

from __future__ import annotations

import itertools
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bua_assets.estimation.profiles import MacroProfiles, Window
from bua_assets.estimation.scalars import (
    basic_scalars,
    register_range_weight,
    register_weights,
    weather_response,
    with_response,
)

WINDOW = Window(date(2025, 11, 1), date(2026, 10, 31))
DATES = WINDOW.dates
# The segment's daily weight: winter heavy (a gas network), averaging 1 over the window.
SEASON = 1 + 0.6 * np.cos(2 * np.pi * ((DATES - np.datetime64("2026-07-15")).astype(int)) / 365.25)
MACRO = MacroProfiles(["GAS|1"], (SEASON / SEASON.mean())[None, :], np.full((1, WINDOW.days, 48), 1 / 48), WINDOW)
W = MACRO.daily[0]
TRUE_DAILY = {
    1: 3.0 * W - 1.0,  # heating-dominated: more seasonal than the network
    2: np.full(WINDOW.days, 2.0),  # hot water and cooking only
    3: 1.5 * W,
}  # just like the network


def reads(register: int, every: int, first: int = 0) -> pd.DataFrame:
    """Actual read intervals every ``every`` days from day ``first`` with the exact consumption."""
    cuts = np.arange(first, WINDOW.days, every)
    return pd.DataFrame(
        {
            "meter_register_id": register,
            "from_date": DATES[cuts[:-1]],
            "to_date": DATES[cuts[1:]],
            "days": np.diff(cuts),
            "consumption": [TRUE_DAILY[register][a + 1 : b + 1].sum() for a, b in itertools.pairwise(cuts)],
            "from_read_type": "ACTUAL",
            "to_read_type": "ACTUAL",
            "rolled_over": False,
        }
    )


REGISTERS = pd.DataFrame({"register_id": [1, 2, 3], "key_index": 0, "tenancy_start": pd.Timestamp("2020-01-01")})


def test_heating_and_base_load_customers_are_told_apart_from_their_reads():
    intervals = pd.concat([reads(r, 91) for r in (1, 2, 3)], ignore_index=True)
    r = weather_response(REGISTERS, intervals, MACRO).set_index("register_id")
    assert r.loc[1, "base_share"] < -0.3  # steeper than the network: heating dominated
    assert r.loc[2, "base_share"] > 0.6  # flat: base load (shrunk a little toward the network)
    assert abs(r.loc[3, "base_share"]) < 0.02
    assert (r["response_intervals"] == 4).all() and (r["response_evidence"] > 0).all()
    # Read through winter (to day 273), estimate spring: the level of the last quarter in the
    # register's own shape follows each customer; the network's shape alone does not.
    known = intervals[intervals["to_date"] <= DATES[273]]
    response = weather_response(REGISTERS, known, MACRO)
    scalars = with_response(
        basic_scalars(REGISTERS, known, MACRO, reference_days=60), response, REGISTERS, MACRO
    ).set_index("register_id")
    share = response.set_index("register_id")["base_share"]
    ahead = DATES[274:]
    for reg in (1, 2):
        s = scalars.loc[reg]
        ours = (
            s["scalar"]
            * register_weights(MACRO, np.zeros(len(ahead), dtype=int), np.full(len(ahead), share[reg]), ahead).sum()
        )
        reference = (DATES > np.datetime64(s["reference_start"])) & (DATES <= np.datetime64(s["reference_end"]))
        network_shape_only = s["reference_quantity"] / W[reference].sum() * W[274:].sum()
        truth = TRUE_DAILY[reg][274:].sum()
        assert abs(ours - truth) < 0.5 * abs(network_shape_only - truth), (reg, ours, network_shape_only, truth)
        assert abs(ours - truth) / truth < 0.06  # the base-load home is shrunk a little toward the network


def test_short_or_one_season_history_keeps_the_segment_shape():
    one = reads(1, 40, first=200).iloc[:1]  # a single read interval: nothing to learn a slope from
    r = weather_response(REGISTERS, one, MACRO).set_index("register_id")
    assert r.loc[1, "base_share"] == 0.0 and r.loc[1, "response_intervals"] == 1
    assert r.loc[2, "base_share"] == 0.0 and r.loc[2, "response_intervals"] == 0  # no reads at all
    # Estimated reads are not the meter: intervals touching one are left out.
    est = reads(2, 91).assign(to_read_type="ESTIMATE")
    assert weather_response(REGISTERS, est, MACRO).set_index("register_id").loc[2, "response_intervals"] == 0


def test_register_weights_sum_over_a_range():
    k = np.zeros(2, dtype=int)
    share = np.array([0.5, -0.5])
    after, through = (
        np.array(["2026-01-31"] * 2, dtype="datetime64[D]"),
        np.array(["2026-03-31"] * 2, dtype="datetime64[D]"),
    )
    days = np.arange(np.datetime64("2026-02-01"), np.datetime64("2026-04-01"))
    expected = [
        register_weights(MACRO, np.zeros(len(days), dtype=int), np.full(len(days), s), days).sum() for s in share
    ]
    np.testing.assert_allclose(register_range_weight(MACRO, k, share, after, through), expected)


def test_recent_reads_weigh_more_in_the_registers_line():
    # Register 3 used 1.5 x the network's weight until day 182, then 3 x (a new household): with a
    # short half-life its line follows the new household, without decay it sits in between.
    true = np.where(np.arange(WINDOW.days) < 182, 1.5 * W, 3.0 * W)
    cuts = np.arange(0, WINDOW.days, 30)
    iv = pd.DataFrame(
        {
            "meter_register_id": 3,
            "from_date": DATES[cuts[:-1]],
            "to_date": DATES[cuts[1:]],
            "days": np.diff(cuts),
            "consumption": [true[a + 1 : b + 1].sum() for a, b in itertools.pairwise(cuts)],
            "from_read_type": "ACTUAL",
            "to_read_type": "ACTUAL",
            "rolled_over": False,
        }
    )
    flat = weather_response(REGISTERS, iv, MACRO, prior_strength=0.0, halflife_days=None).set_index("register_id")
    recent = weather_response(REGISTERS, iv, MACRO, prior_strength=0.0, halflife_days=20).set_index("register_id")
    assert abs(recent.loc[3, "response_slope"] - 3.0) < 0.3 < abs(flat.loc[3, "response_slope"] - 3.0)


def test_the_estimate_keeps_half_of_the_latest_periods_departure_from_the_line():
    # Register 3 is exactly 1.5 x the network all year, except its last 91-day read interval, 20%
    # higher. Credibility 1 is the recent level alone (the reference quantity); 0 the register's
    # line; 0.5 half way: the expected reference quantity is line + 0.5 x departure.
    iv = reads(3, 91)
    last = iv.index[-1]
    iv.loc[last, "consumption"] *= 1.2
    response = weather_response(REGISTERS, iv, MACRO)
    own = basic_scalars(REGISTERS, iv, MACRO, reference_days=60)
    got = {
        c: with_response(own, response, REGISTERS, MACRO, credibility=c).set_index("register_id").loc[3]
        for c in (0.0, 0.5, 1.0)
    }
    quantity = iv.loc[last, "consumption"]
    departure = quantity - got[0.0]["reference_expected"]  # from the register's line
    # the line sits between the old level (quantity / 1.2) and the bumped period: one interval of four
    assert 0 < departure < quantity - quantity / 1.2
    assert got[1.0]["reference_expected"] == pytest.approx(quantity)
    assert got[0.5]["reference_expected"] == pytest.approx(quantity - 0.5 * departure)
    for c, s in got.items():  # the scalar carries the expected quantity in the register's own weights
        weight = register_range_weight(
            MACRO,
            np.zeros(1, dtype=int),
            np.array([s["base_share"]]),
            np.array([s["reference_start"]], dtype="datetime64[D]"),
            np.array([s["reference_end"]], dtype="datetime64[D]"),
        )[0]
        assert s["scalar"] * weight == pytest.approx(s["reference_expected"]), c


def test_no_day_of_a_heating_only_customer_is_estimated_below_zero():
    from bua_assets.estimation.scalars import lowest_base_share

    # Heating only: nothing on the network's mildest days, a lot in winter. A straight line through
    # its reads is steeper than any non-negative weight allows on the mildest day.
    heating_only = np.maximum(4.0 * W - 2.5, 0.0)
    cuts = np.arange(0, WINDOW.days, 61)
    intervals = pd.DataFrame(
        {
            "meter_register_id": 9,
            "from_date": DATES[cuts[:-1]],
            "to_date": DATES[cuts[1:]],
            "days": np.diff(cuts),
            "consumption": [heating_only[a + 1 : b + 1].sum() for a, b in itertools.pairwise(cuts)],
            "from_read_type": "ACTUAL",
            "to_read_type": "ACTUAL",
            "rolled_over": False,
        }
    )
    registers = pd.DataFrame({"register_id": [9], "key_index": 0, "tenancy_start": pd.Timestamp("2020-01-01")})
    floor = lowest_base_share(MACRO, np.array([0]))[0]
    assert floor == pytest.approx(-W.min() / (1 - W.min()))
    share = weather_response(registers, intervals, MACRO, prior_strength=0.0).set_index("register_id")["base_share"][9]
    assert share == pytest.approx(floor)  # the unconstrained line's share would be far below it
    weights = register_weights(MACRO, np.zeros(WINDOW.days, dtype=int), np.full(WINDOW.days, share), DATES)
    assert weights.min() >= -1e-12 and weights.min() == pytest.approx(0.0, abs=1e-9)
    scalars = with_response(
        basic_scalars(registers, intervals, MACRO, reference_days=60),
        weather_response(registers, intervals, MACRO),
        registers,
        MACRO,
    )
    assert (scalars["base_share"] >= floor - 1e-12).all()


def test_reads_before_the_window_are_measured_against_the_networks_weather_of_their_own_days():
    # A register exactly like its network (base share 0). Its reads before the window fell in a
    # year whose network volumes (earlier) differ from the same days a year on: measured against
    # the year-on proxy its line looks flatter or steeper than it is; against its own days, exact.
    before = 365
    first = np.datetime64(WINDOW.start) - before
    days = np.arange(first, np.datetime64(WINDOW.start), dtype="datetime64[D]")
    proxy = MACRO.weights(np.zeros(before, dtype=np.int64), days)
    earlier = (proxy * (1 + 0.5 * (proxy - 1)))[None, :]  # a colder winter, a warmer summer
    macro = MacroProfiles(MACRO.keys, MACRO.daily, MACRO.intraday, WINDOW, earlier)
    assert np.allclose(macro.weights(np.zeros(before, dtype=np.int64), days), earlier[0])
    assert np.isclose(macro.lowest()[0], min(earlier.min(), MACRO.daily.min()))  # the floor sees every known day
    cuts = np.arange(0, before + 1, 91)
    daily = 2.0 * earlier[0]
    intervals = pd.DataFrame(
        {
            "meter_register_id": 1,
            "from_date": days[0] + cuts[:-1] - 1,
            "to_date": days[0] + cuts[1:] - 1,
            "days": np.diff(cuts),
            "consumption": [daily[a:b].sum() for a, b in itertools.pairwise(cuts)],
            "from_read_type": "ACTUAL",
            "to_read_type": "ACTUAL",
        }
    )
    one = REGISTERS.iloc[:1]
    own_days = weather_response(one, intervals, macro).set_index("register_id").loc[1]
    year_on = weather_response(one, intervals, MACRO).set_index("register_id").loc[1]
    assert abs(own_days["base_share"]) < 1e-6 and np.isclose(own_days["response_slope"], 2.0)
    assert year_on["base_share"] < -0.2  # the year-on proxy has too mild a winter: looks heating-dominated


def test_a_winter_periods_departure_carries_over_as_a_share_not_as_units():
    # A heating-dominated register (3 x network - 1) read monthly through winter, its last two
    # (winter) months 20% above its line's: half of the departure is kept as a share of every later
    # day. As a level shift of the base (the method before) the winter's extra units would land
    # whole on each mild spring day, a far larger share of those days than of the winter's.
    iv = reads(1, 30)
    iv = iv[iv["to_date"] <= DATES[270]].copy()
    iv.loc[iv.index[-2:], "consumption"] *= 1.2
    response = weather_response(REGISTERS, iv, MACRO)
    s = with_response(basic_scalars(REGISTERS, iv, MACRO, reference_days=60), response, REGISTERS, MACRO)
    s = s.set_index("register_id").loc[1]
    r = response.set_index("register_id").loc[1]
    assert s["base_share"] == pytest.approx(r["base_share"]) and r["base_share"] < -0.3  # the line's own shape
    ahead = DATES[271:]
    estimate = s["scalar"] * register_weights(
        MACRO, np.zeros(len(ahead), dtype=int), np.full(len(ahead), s["base_share"]), ahead
    )
    line = r["response_base"] + r["response_slope"] * W[271:]
    reference = (DATES > np.datetime64(s["reference_start"])) & (DATES <= np.datetime64(s["reference_end"]))
    line_ref = r["response_base"] * reference.sum() + r["response_slope"] * W[reference].sum()
    kept = s["reference_expected"] / line_ref
    assert kept == pytest.approx(1 + 0.5 * (s["reference_quantity"] / line_ref - 1)) and kept > 1.02
    np.testing.assert_allclose(estimate / line, kept, rtol=1e-9)  # the same share on a cold and a mild day
