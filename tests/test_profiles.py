"""Profiles, fills, scalars and interval splitting, worked by hand (pure modules, no Dagster)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bua_assets.estimation import profiles as prof
from bua_assets.estimation.basic import consumption_between_reads, month_end_reads
from bua_assets.estimation.consumption import TimeOfUse, basic_quantities, interval_quantities, register_days
from bua_assets.estimation.intervals import half_hourly
from bua_assets.estimation.scalars import basic_scalars, with_segment_averages

WINDOW = prof.Window(date(2026, 9, 1), date(2026, 10, 31))  # 61 days; 2026-09-01 is a Tuesday


def test_fifteen_and_five_minute_data_become_half_hours_and_actual_needs_every_interval():
    five = [0.1] * 288
    quality = ["A"] * 288
    quality[7] = "E52"  # one 5-minute interval estimated: its half hour (the second) is not actual
    t = pa.table(
        {
            "interval_length": pa.array([5, 15], pa.int16()),
            "values": [five, [0.5] * 96],
            "interval_quality": [quality, ["A"] * 96],
        }
    )
    values, actual = half_hourly(t)
    assert np.allclose(values[0], 0.6) and np.allclose(values[1], 1.0)
    assert actual[0].sum() == 47 and not actual[0, 1] and actual[1].all()


def test_a_days_method_holds_for_every_interval_unless_its_interval_qualities_are_set():
    t = pa.table(
        {
            "interval_length": pa.array([30, 30, 30, 30], pa.int16()),
            "values": [[1.0] * 48, [1.0] * 48, [1.0] * 48, [1.0] * 47 + [None]],
            "quality_method": ["A", "S14", "A", "A"],
            # the third is an A day whose 400 records estimated its first 10 half hours
            "interval_quality": pa.array([None, None, ["E52"] * 10 + ["A"] * 38, None], pa.list_(pa.string())),
        }
    )
    values, actual = half_hourly(t)
    assert values.sum(axis=1).tolist() == [48, 48, 48, 47]
    assert actual[0].all() and not actual[1].any()
    assert not actual[2, :10].any() and actual[2, 10:].all()
    assert actual[3, :47].all() and not actual[3, 47]  # a blank interval is never actual


def test_reading_some_rows_of_a_batch_equals_reading_those_rows_taken():
    batch = pa.record_batch(
        {
            "interval_length": pa.array([30, 15, 30, 5], pa.int16()),
            "values": [[1.0] * 48, [0.5] * 95 + [None], [2.0] * 48, [0.1] * 288],
            "quality_method": ["A", "A", "V", "S14"],
            "interval_quality": pa.array([None, None, ["A"] * 24 + ["E52"] * 24, None], pa.list_(pa.string())),
        }
    ).slice(0)
    rows = np.array([3, 2, 1, 2])  # any order, a row twice
    got, taken = half_hourly(batch, rows), half_hourly(batch.take(pa.array(rows)))
    assert np.array_equal(got[0], taken[0]) and np.array_equal(got[1], taken[1])
    assert got[1].sum(axis=1).tolist() == [0, 24, 47, 24]
    # a slice of a batch (as Arrow hands out) reads its own rows
    sliced = half_hourly(batch.slice(2, 2), np.array([0]))
    assert np.array_equal(sliced[0], taken[0][1:2]) and np.array_equal(sliced[1], taken[1][1:2])


def test_interval_qualities_of_the_wrong_length_are_an_error_not_a_guess():
    t = pa.table(
        {
            "interval_length": pa.array([30], pa.int16()),
            "values": [[1.0] * 48],
            "quality_method": ["V"],
            "interval_quality": pa.array([["A"] * 47], pa.list_(pa.string())),
        }
    )
    with pytest.raises(ValueError, match="interval_quality must hold 48"):
        half_hourly(t)


def test_segment_whose_registers_are_all_estimated_on_some_days_is_filled_from_the_same_day_type():
    names = ["RES|NSW|PRIMARY", "RES|VIC|PRIMARY"]
    D = WINDOW.days
    sums = np.ones((2, D, 48)) * 10  # 10 registers x 1 kWh per half hour
    counts = np.full((2, D), 10.0)
    sums[0, :, :] *= np.arange(1, D + 1)[:, None]  # NSW's level differs by day, to see the source
    # On 2026-10-14 (a Wednesday) every NSW register was estimated: nothing actual to average.
    gap = (date(2026, 10, 14) - WINDOW.start).days
    sums[0, gap], counts[0, gap] = 0, 0
    result = prof.segment_profiles(names, sums, counts, WINDOW, min_registers=5)
    (fill,) = result.fills.to_dict("records")
    assert fill["segment"] == "RES|NSW|PRIMARY" and fill["date"] == date(2026, 10, 14)
    assert fill["reason"] == "no actual data from any register"
    assert fill["method"] == "same_segment_nearest_day_type"
    # Both neighbours are weekdays one day away; ties go to the later day (Thursday).
    assert fill["source_date"] == date(2026, 10, 15)
    assert np.allclose(result.values[0, gap], gap + 2)
    assert result.status[0, gap] == "FILLED" and (result.status != "MISSING").all()


def test_segment_with_too_few_registers_is_filled_from_its_class_in_other_jurisdictions():
    names = ["RES|NSW|SOLAR", "RES|TAS|SOLAR", "RES|VIC|SOLAR"]
    D = WINDOW.days
    counts = np.stack([np.full(D, 8.0), np.full(D, 2.0), np.full(D, 12.0)])
    sums = np.stack([np.full((D, 48), 8 * 1.0), np.full((D, 48), 2 * 5.0), np.full((D, 48), 12 * 2.0)])
    result = prof.segment_profiles(names, sums, counts, WINDOW, min_registers=5)
    assert (result.status[1] == "FILLED").all() and (result.status[[0, 2]] == "VALID").all()
    # Register-weighted over the valid jurisdictions: (8 x 1 + 12 x 2) / 20 = 1.6 kWh.
    assert np.allclose(result.values[1], 1.6)
    fills = result.fills
    assert len(fills) == D and set(fills["method"]) == {"same_class_all_jurisdictions"}
    assert set(fills["source_segment"]) == {"RES|*|SOLAR"} and set(fills["reason"]) == {"2 registers < minimum 5"}


def test_segment_with_no_equivalent_anywhere_stays_missing():
    result = prof.segment_profiles(
        ["BUS|SA|CONTROL"], np.zeros((1, WINDOW.days, 48)), np.zeros((1, WINDOW.days)), WINDOW
    )
    assert (result.status == "MISSING").all() and set(result.fills["method"]) == {"unfilled"}


def test_macro_weights_average_one_and_dates_outside_take_the_same_weekday_a_year_on():
    D = WINDOW.days
    level = np.where(np.arange(D) < 30, 1.0, 3.0)
    values = np.ones((1, D, 48)) * level[None, :, None] / 48
    macro = prof.macro_profiles(
        prof.SegmentProfiles(["RES|NSW|PRIMARY"], values, np.ones((1, D)), np.full((1, D), "VALID"), pd.DataFrame()),
        pd.DataFrame(columns=["utility_network_id", "gas_date", "volume"]),
        WINDOW,
    )
    assert np.isclose(macro.daily[0].mean(), 1.0) and np.allclose(macro.intraday[0], 1 / 48)
    later = np.array(["2027-10-30"], dtype="datetime64[D]")  # 364 days after 2026-10-31... minus one
    assert macro.weights(np.array([0]), later)[0] == macro.daily[0, WINDOW.index(later - 364)[0]]


def test_gas_days_before_the_window_take_the_networks_own_volume_and_survive_the_lake():
    D = WINDOW.days
    values = np.ones((1, D, 48)) / 48
    segments = prof.SegmentProfiles(
        ["RES|NSW|PRIMARY"], values, np.ones((1, D)), np.full((1, D), "VALID"), pd.DataFrame()
    )
    # The network: 100 a day in the window, 300 in August (a colder year than the window's next August
    # would say), no volume on 2026-08-10.
    dates = pd.date_range("2026-08-01", "2026-10-31")
    volumes = pd.DataFrame(
        {"utility_network_id": 4, "gas_date": dates.date, "volume": np.where(dates < "2026-09-01", 300.0, 100.0)}
    )
    volumes = volumes[volumes["gas_date"] != date(2026, 8, 10)]
    macro = prof.macro_profiles(segments, volumes, WINDOW)
    assert macro.keys == ["RES|NSW|PRIMARY", "GAS|4"] and macro.earlier_start == np.datetime64("2026-08-01")
    days = np.array(["2026-07-31", "2026-08-01", "2026-08-10", "2026-08-31", "2026-09-01"], dtype="datetime64[D]")
    # On the window's scale (its mean 100 is 1): August is 3; a day without a volume, and a day
    # before any, take the same weekday a year on, as before; a segment has no days of its own.
    proxy = macro.daily[1, WINDOW.seasonal_index(days)]
    assert np.allclose(macro.weights(np.full(5, 1), days), [proxy[0], 3.0, proxy[2], 3.0, 1.0])
    assert np.allclose(macro.weights(np.zeros(5, dtype=np.int64), days), macro.daily[0, WINDOW.seasonal_index(days)])
    assert np.allclose(macro.lowest(), [1.0, 1.0])
    tables = prof.macro_to_tables(macro)
    assert tables["daily_before_window"].num_rows == 30
    back = prof.macro_from_tables(
        tables["daily_shape"], tables["intraday_shape"], WINDOW, tables["daily_before_window"]
    )
    assert np.allclose(back.weights(np.full(5, 1), days), macro.weights(np.full(5, 1), days))
    without = prof.macro_from_tables(tables["daily_shape"], tables["intraday_shape"], WINDOW)
    assert np.allclose(without.weights(np.full(5, 1), days), proxy[[0, 1, 2, 3, 4]])


def reads(*rows):
    return pd.DataFrame(rows, columns=["id", "meter_register_id", "read_date", "reading", "read_type"])


def test_basic_scalar_uses_actual_reads_in_the_current_tenancy_and_no_history_takes_the_segment_average():
    D = WINDOW.days
    macro = prof.MacroProfiles(["RES|NSW|PRIMARY"], np.ones((1, D)), np.full((1, D, 48), 1 / 48), WINDOW)
    r = reads(
        (1, 1, date(2026, 9, 1), 1000.0, "ACTUAL"),
        (2, 1, date(2026, 9, 21), 1100.0, "ESTIMATE"),
        (3, 1, date(2026, 10, 11), 1400.0, "ACTUAL"),
        # register 2 moved in on 2026-10-01: its earlier reads are the previous tenant's
        (4, 2, date(2026, 9, 1), 50.0, "ACTUAL"),
        (5, 2, date(2026, 9, 30), 990.0, "ACTUAL"),
        (6, 2, date(2026, 10, 11), 1100.0, "ACTUAL"),
    )
    between = consumption_between_reads(r, pd.Series({1: 5, 2: 5, 3: 5}))
    registers = pd.DataFrame(
        {
            "register_id": [1, 2, 3],
            "key_index": [0, 0, 0],
            "tenancy_start": [date(2025, 1, 1), date(2026, 10, 1), date(2025, 1, 1)],
        }
    )
    own = basic_scalars(registers, between.intervals, macro, reference_days=30, min_days=5)
    # 400 units between the two actual reads, 40 days of weight 1; the estimate in between cancels.
    assert own.loc[0, "scalar"] == 10.0 and own.loc[0, "reference_days"] == 40
    assert own.loc[1, "scalar"] == 10.0 and own.loc[1, "reference_start"] == date(2026, 9, 30)
    assert np.isnan(own.loc[2, "scalar"])  # register 3: no reads at all
    attrs = pd.DataFrame(
        {
            "register_id": [1, 2, 3, 4],
            "profile_key": ["RES|NSW|PRIMARY"] * 4,
            "fuel": "ELECTRICITY",
            "customer_class": "RES",
            "stream_type": "PRIMARY",
            "read_kind": ["BASIC", "BASIC", "BASIC", "INTERVAL"],
        }
    )
    # An interval register in the segment with a far larger scalar does not sway the basic average.
    own = pd.concat([own, pd.DataFrame({"register_id": [4], "scalar": [500.0]})], ignore_index=True)
    filled = with_segment_averages(own, attrs).set_index("register_id")
    assert filled.loc[3, "scalar"] == 10.0 and filled.loc[3, "method"] == "segment_average"
    assert filled.loc[3, "fallback"] == "segment_class_read_kind" and filled.loc[1, "method"] == "own_history"


def test_a_new_gas_home_takes_the_homes_average_on_its_network_not_the_businesses():
    # One gas network key holds homes and businesses: a new home without reads takes the homes'
    # average (2 and 4 -> 3), a new business the businesses' (100); a home on a network with no
    # register of its own takes the homes of every network (class_all_jurisdictions: 3).
    attrs = pd.DataFrame(
        {
            "register_id": [1, 2, 3, 4, 5, 6],
            "profile_key": ["GAS|13"] * 5 + ["GAS|14"],
            "fuel": "GAS",
            "customer_class": ["RES", "RES", "BUS", "RES", "BUS", "RES"],
            "stream_type": "PRIMARY",
            "read_kind": "BASIC",
        }
    )
    own = pd.DataFrame({"register_id": [1, 2, 3, 6], "scalar": [2.0, 4.0, 100.0, np.nan]})
    filled = with_segment_averages(own, attrs).set_index("register_id")
    assert filled.loc[4, "scalar"] == 3.0 and filled.loc[4, "fallback"] == "segment_class_read_kind"
    assert filled.loc[5, "scalar"] == 100.0
    assert filled.loc[6, "scalar"] == 3.0 and filled.loc[6, "fallback"] == "class_all_jurisdictions"


def test_month_end_read_rolls_over_and_gas_without_a_heating_value_is_flagged():
    registers = pd.DataFrame(
        {
            "register_id": [1, 2, 3],
            "dial_digits": [4, 5, 5],
            "fuel": ["ELECTRICITY", "GAS", "GAS"],
            "network_id": [1, 13, 14],
            "pressure_correction_factor": [1.0, 1.02, 1.0],
        }
    )
    r = reads(
        (1, 1, date(2026, 10, 21), 9990.0, "ACTUAL"),
        (2, 2, date(2026, 10, 21), 100.0, "ACTUAL"),
        (3, 3, date(2026, 10, 21), 100.0, "ACTUAL"),
    )
    heating = pd.DataFrame(
        {"utility_network_id": [13, 13], "month": [date(2026, 9, 1), date(2026, 10, 1)], "heating_value": [38.0, 39.0]}
    )
    out, exc = month_end_reads(registers, r, lambda ids, dates: np.full(len(ids), 2.0), date(2026, 10, 31), heating)
    out = out.set_index("register_id")
    assert out.loc[1, "estimate"] == 20.0 and out.loc[1, "reading"] == 10.0 and out.loc[1, "rolled_over"]
    assert out.loc[2, "estimate_mj"] == round(20 * 39.0 * 1.02, 3) and out.loc[2, "uom"] == "M3"
    assert np.isnan(out.loc[3, "estimate_mj"])
    assert exc[["register_id", "code"]].values.tolist() == [[3, "no_heating_value"]]


def test_tou_split_follows_the_plans_windows_and_other_streams_keep_their_class():
    plans = pd.DataFrame({"id": [1, 2], "pricing_model": ["TIME_OF_USE", "SINGLE_RATE"]})
    windows = pd.DataFrame(
        [
            (1, "PEAK", "WEEKDAY", "15:00", "21:00"),
            (1, "SHOULDER", "WEEKDAY", "07:00", "15:00"),
            (1, "SHOULDER", "WEEKDAY", "21:00", "22:00"),
            (1, "SHOULDER", "WEEKEND", "07:00", "22:00"),
            (1, "OFF_PEAK", "ALL", "22:00", "07:00"),
        ],
        columns=["plan_id", "time_class", "days", "start_time", "end_time"],
    )
    tou = TimeOfUse.from_tables(plans, windows)
    days = pd.DataFrame(
        {
            "account_id": 1,
            "utility_id": 1,
            "register_id": [1, 1, 2],
            "year_mnth": date(2026, 10, 1),
            "date": pd.to_datetime(["2026-10-14", "2026-10-17", "2026-10-14"]).date,
            "stream_type": ["PRIMARY", "PRIMARY", "CONTROL"],
        }
    )
    data = pa.table(
        {
            "interval_length": pa.array([30, 30, 30], pa.int16()),
            "values": [[1.0] * 48] * 3,
            "interval_quality": [["A"] * 48] * 3,
        }
    )
    out = interval_quantities(days, data, np.array([1, 1, 1]), tou)
    got = {(str(r.date), r.time_class): r.quantity for r in out.itertuples()}
    assert got[("2026-10-14", "PEAK")] == 12 and got[("2026-10-14", "SHOULDER")] == 18
    assert got[("2026-10-14", "OFF_PEAK")] == 18 and got[("2026-10-17", "PEAK")] == 0  # no weekend peak
    assert got[("2026-10-17", "SHOULDER")] == 30 and got[("2026-10-14", "CONTROLLED_LOAD")] == 48


def test_supply_point_that_changed_hands_mid_month_splits_by_day_and_a_closed_account_stops_at_close():
    D = WINDOW.days
    macro = prof.MacroProfiles(["RES|NSW|PRIMARY"], np.ones((1, D)), np.full((1, D, 48), 1 / 48), WINDOW)
    # Account 1 moved out on 14 October (its window ends there); account 2 moved in on the 15th.
    months = pd.DataFrame(
        {
            "account_id": [1, 2],
            "utility_id": [7, 7],
            "year_mnth": [date(2026, 10, 1)] * 2,
            "first_day": [date(2026, 10, 1), date(2026, 10, 15)],
            "last_day": [date(2026, 10, 14), date(2026, 10, 31)],
        }
    )
    registers = pd.DataFrame({"register_id": [70], "utility_id": [7], "stream_type": ["PRIMARY"]})
    days = register_days(months, registers)
    between = consumption_between_reads(
        reads((1, 70, date(2026, 9, 30), 500.0, "ACTUAL"), (2, 70, date(2026, 10, 14), 640.0, "ACTUAL")),
        pd.Series({70: 5}),
    )
    out = basic_quantities(days, between.intervals, pd.Series({70: 8.0}), macro, pd.Series({70: 0}))
    per_account = out.groupby("account_id").agg(
        q=("quantity", "sum"), a=("actual_quantity", "sum"), n=("date", "count")
    )
    # The move-out read covers account 1's days (actual); account 2's 17 days are estimated at 8 a day.
    assert per_account.loc[1].tolist() == [140.0, 140.0, 14] and per_account.loc[2].tolist() == [136.0, 0.0, 17]


def test_profile_validation_lists_segments_as_a_typed_table_whatever_their_names():
    """Segment names contain '|': a markdown table shifted the columns in the UI."""
    import dagster as dg

    from bua_assets.assets.profiles import SegmentProfilesConfig, validate_profiles
    from bua_assets.estimation.profiles import SegmentProfiles

    names = ["RES|NSW|PRIMARY", "BUS|VIC|SOLAR"]
    values = np.full((2, 3, 48), 0.2)
    status = np.array([["VALID", "FILLED", "FILLED"], ["VALID", "VALID", "MISSING"]])
    result = SegmentProfiles(names, values, np.full((2, 3), 6, dtype=np.int32), status, pd.DataFrame())
    summary = pd.DataFrame(
        {"register_id": [7], "nmi": ["N1"], "suffix": ["E1"], "coverage": [0.5], "days_with_data": [183]}
    )
    check = validate_profiles(result, summary, SegmentProfilesConfig())
    rows = [r.data for r in check.metadata["segments"].records]
    assert rows == [
        {"segment": "RES|NSW|PRIMARY", "missing_days": 0, "negative_days": 0, "absurd_days": 0, "fill_share": 0.667},
        {"segment": "BUS|VIC|SOLAR", "missing_days": 1, "negative_days": 0, "absurd_days": 0, "fill_share": 0.0},
    ]
    assert [c.type for c in check.metadata["segments"].schema.columns] == ["string", "int", "int", "int", "float"]
    assert check.severity == dg.AssetCheckSeverity.ERROR and not check.passed  # a MISSING day is an error
    assert check.metadata["lowest_coverage_registers"].records[0].data["coverage"] == 0.5
