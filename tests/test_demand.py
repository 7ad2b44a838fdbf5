"""Demand charges and time-of-use feed-in, worked by hand: the maximum half-hourly kW of a site (its
import registers summed) in the rate's window, measured from the interval data the consumption is
quantified from; priced per kW per day of supply; named when nothing can measure it."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
from test_plan_charges import NO_DISCOUNTS, OCT1, OCT31, amounts, lines, rates

from bua_assets.billing.accrual import accrual_lines, unmeasured_demand
from bua_assets.billing.charges import DEMAND_STREAMS
from bua_assets.billing.tariff import price
from bua_assets.estimation.consumption import TimeOfUse, streamed_interval_quantities
from bua_assets.estimation.demand import DemandMeter

WEEKDAY, SATURDAY = date(2026, 10, 14), date(2026, 10, 17)  # a Wednesday and a Saturday
WINDOWS = pd.DataFrame(
    [
        (1, "PEAK", "WEEKDAY", "15:00", "21:00"),
        (1, "SHOULDER", "WEEKDAY", "07:00", "15:00"),
        (1, "SHOULDER", "WEEKDAY", "21:00", "22:00"),
        (1, "SHOULDER", "WEEKEND", "07:00", "22:00"),
        (1, "OFF_PEAK", "ALL", "22:00", "07:00"),
    ],
    columns=["plan_id", "time_class", "days", "start_time", "end_time"],
)
PLANS = pd.DataFrame({"id": [1], "pricing_model": ["TIME_OF_USE"]})


def half_hours(**at: float) -> list[float]:
    """A day of 0.5 kWh half hours with some set: at={'h16_00': 3.0} is 16:00-16:30."""
    day = [0.5] * 48
    for name, kwh in at.items():
        h, m = int(name[1:3]), int(name[4:6])
        day[h * 2 + m // 30] = kwh
    return day


def register_days(*rows):
    """(register, stream, date, nmi suffix): account 1, supply point 9, plan 1, October."""
    return pd.DataFrame(
        {
            "account_id": 1,
            "utility_id": 9,
            "register_id": [r[0] for r in rows],
            "year_mnth": OCT1,
            "date": pd.to_datetime([r[2] for r in rows]),
            "stream_type": [r[1] for r in rows],
            "nmi": "NMI0000001",
            "suffix": [r[3] for r in rows],
        }
    )


def batch(rows, days_values, quality="A"):
    return pa.table(
        {
            "nmi": ["NMI0000001"] * len(rows),
            "suffix": [r[3] for r in rows],
            "read_date": pa.array([r[2] for r in rows], pa.date32()),
            "interval_length": pa.array([30] * len(rows), pa.int16()),
            "values": days_values,
            "interval_quality": [[quality] * 48] * len(rows),
            "quality_method": [quality] * len(rows),
        }
    )


def test_maximum_demand_sums_the_sites_import_in_each_half_hour_within_the_window():
    # Wednesday: general usage 3.0 kWh at 16:00 (peak) and 2.0 at 10:00 (shoulder); controlled load
    # 2.5 kWh at 10:00 and 0.5 elsewhere. Solar export does not count. Coincident import: 16:00 is
    # 3.0 + 0.5 = 3.5 kWh = 7.0 kW; 10:00 is 2.0 + 2.5 = 4.5 kWh = 9.0 kW (shoulder, and the
    # day's anytime maximum). Saturday (no peak window): 4.0 kWh general at 18:00 = (4.0 + 0.5) x 2
    # = 9.0 kW shoulder; the anytime maximum ties at 9.0 and keeps the earlier day.
    rows = [
        (1, "PRIMARY", WEEKDAY, "E1"),
        (2, "CONTROL", WEEKDAY, "E2"),
        (3, "SOLAR", WEEKDAY, "B1"),
        (1, "PRIMARY", SATURDAY, "E1"),
        (2, "CONTROL", SATURDAY, "E2"),
    ]
    days = register_days(*rows)
    rates_ = rates(
        (1, "DEMAND", "PEAK", 0.40, "KW"), (1, "DEMAND", "SHOULDER", 0.20, "KW"), (1, "DEMAND", "ANYTIME", 0.10, "KW")
    )
    tou = TimeOfUse.from_tables(PLANS, WINDOWS, rates_)
    plan = np.ones(len(days), dtype=np.int64)
    meter = DemandMeter(days, plan, tou.demand, DEMAND_STREAMS)
    values = [
        half_hours(h16_00=3.0, h10_00=2.0),
        half_hours(h10_00=2.5),
        half_hours(h12_00=9.0),  # export: never demand
        half_hours(h18_00=4.0),
        half_hours(),
    ]
    streamed_interval_quantities(days, plan, tou, [batch(rows, values)], meter)
    got = meter.maxima().set_index("time_class")
    assert got.loc["PEAK", ["quantity", "peak_date", "days"]].tolist() == [7.0, WEEKDAY, 1]
    assert got.loc["SHOULDER", ["quantity", "peak_date", "days"]].tolist() == [9.0, WEEKDAY, 2]
    assert got.loc["ANYTIME", ["quantity", "peak_date", "days"]].tolist() == [9.0, WEEKDAY, 2]
    assert not got["estimated"].any() and set(got["uom"]) == {"KW"}


def test_a_maximum_from_estimated_intervals_or_a_missing_register_is_flagged_estimated():
    rows = [(1, "PRIMARY", WEEKDAY, "E1"), (2, "CONTROL", WEEKDAY, "E2"), (1, "PRIMARY", SATURDAY, "E1")]
    days = register_days(*rows)
    tou = TimeOfUse.from_tables(PLANS, WINDOWS, rates((1, "DEMAND", "ANYTIME", 0.10, "KW")))
    plan = np.ones(len(days), dtype=np.int64)
    # Wednesday's E2 never arrives: its day (2.0 kWh = 4 kW at most) is incomplete. Saturday is our
    # estimate (quality E): 1.5 kWh = 3 kW. The maximum, Wednesday's, is estimated either way.
    meter = DemandMeter(days, plan, tou.demand, DEMAND_STREAMS)
    streamed_interval_quantities(
        days,
        plan,
        tou,
        [batch(rows[:1], [half_hours(h16_00=2.0)]), batch(rows[2:], [half_hours(h18_00=1.5)], quality="E")],
        meter,
    )
    got = meter.maxima()
    assert got[["quantity", "estimated", "peak_date"]].values.tolist() == [[4.0, True, WEEKDAY]]


def test_days_with_no_half_hour_in_the_window_measure_zero_and_a_day_missing_data_flags_estimated():
    # Only a Saturday and a Sunday are unbilled on a weekday-peak plan: measured, nothing in the
    # window, so 0 kW (not "unmeasured", which would block the month); a missing register-day on
    # the Sunday makes the month's figure ESTIMATED (the true maximum may be higher).
    sunday = date(2026, 10, 18)
    rows = [(1, "PRIMARY", SATURDAY, "E1"), (1, "PRIMARY", sunday, "E1"), (2, "CONTROL", sunday, "E2")]
    days = register_days(*rows)
    tou = TimeOfUse.from_tables(PLANS, WINDOWS, rates((1, "DEMAND", "PEAK", 0.40, "KW")))
    plan = np.ones(len(days), dtype=np.int64)
    meter = DemandMeter(days, plan, tou.demand, DEMAND_STREAMS)
    streamed_interval_quantities(days, plan, tou, [batch(rows[:2], [half_hours(h18_00=4.0), half_hours()])], meter)
    got = meter.maxima()
    assert got[["time_class", "quantity", "estimated", "days"]].values.tolist() == [["PEAK", 0.0, True, 0]]
    assert got["peak_date"].isna().all()


def test_a_demand_charge_is_kw_times_rate_times_days_held_across_a_rate_change_and_blocks_in_kw():
    # 12.5 kW at 0.40 a kW a day over October's 31 days = 155.00.
    p = price(lines((1, 1, "DEMAND", "PEAK", 12.5, "KW")), rates((1, "DEMAND", "PEAK", 0.40, "KW")), NO_DISCOUNTS)
    assert amounts(p) == [("DEMAND", 12.5, 0.40, 155.0)] and p.exceptions.empty
    # A new rate from the 15th: the month's maximum holds on both parts, not pro-rated:
    # 12.5 x 0.40 x 14 = 70.00 and 12.5 x 0.46 x 17 = 97.75.
    changed = rates(
        (1, "DEMAND", "PEAK", 0.40, "KW", date(2026, 7, 1), date(2026, 10, 14)),
        (1, "DEMAND", "PEAK", 0.46, "KW", date(2026, 10, 15), date(2027, 6, 30)),
    )
    p = price(lines((1, 1, "DEMAND", "PEAK", 12.5, "KW")), changed, NO_DISCOUNTS)
    assert amounts(p) == [("DEMAND", 12.5, 0.40, 70.0), ("DEMAND", 12.5, 0.46, 97.75)]
    # Blocks in kW: the first 10 kW at 0.40, the rest at 0.30: 10 x 0.40 x 31 = 124.00 and
    # 2.5 x 0.30 x 31 = 23.25.
    blocks = rates((1, "DEMAND", "PEAK", 0.40, "KW"), (1, "DEMAND", "PEAK", 0.30, "KW"))
    blocks["block_order"], blocks["block_daily_volume"] = [1, 2], [10.0, None]
    p = price(lines((1, 1, "DEMAND", "PEAK", 12.5, "KW")), blocks, NO_DISCOUNTS)
    assert amounts(p) == [("DEMAND", 10.0, 0.40, 124.0), ("DEMAND", 2.5, 0.30, 23.25)]


def supply(**kw):
    return pd.DataFrame(
        {
            "account_id": [1],
            "utility_id": [9],
            "year_mnth": [OCT1],
            "plan_id": [1],
            "days": [31],
            "first_day": [OCT1],
            "last_day": [OCT31],
        }
    ).assign(**kw)


NO_USAGE = pd.DataFrame(
    columns=[
        "account_id",
        "utility_id",
        "year_mnth",
        "plan_id",
        "stream_type",
        "time_class",
        "uom",
        "quantity",
        "estimated_quantity",
        "first_day",
        "last_day",
    ]
)


def test_the_accrual_prices_the_measured_demand_over_the_supply_days_and_names_what_nothing_measured():
    plan = rates(
        (1, "DAILY_RETAIL", "ANYTIME", 1.00, "DAY"),
        (1, "DEMAND", "PEAK", 0.40, "KW"),
        (1, "DEMAND", "OFF_PEAK", 0.05, "KW"),
    )
    demand = pd.DataFrame(
        {
            "account_id": [1],
            "utility_id": [9],
            "year_mnth": [OCT1],
            "plan_id": [1],
            "time_class": ["PEAK"],
            "quantity": [7.0],
            "uom": ["KW"],
            "estimated": [True],
            "peak_date": [WEEKDAY],
            "days": [22],
            "first_day": [OCT1],
            "last_day": [OCT31],
        }
    )
    accrual, _ = accrual_lines(NO_USAGE, supply(), pd.Series({1: 0.8}), plan, demand)
    got = accrual[["charge_type", "time_class", "quantity", "uom", "ili_state"]].values.tolist()
    assert got == [["DAILY_RETAIL", "ANYTIME", 31.0, "DAY", "ACTUAL"], ["DEMAND", "PEAK", 7.0, "KW", "ESTIMATED"]]
    # 31 x 1.00 + 7.0 kW x 0.40 x 31 days = 31.00 + 86.80.
    assert price(accrual, plan, NO_DISCOUNTS).lines["net_amount"].tolist() == [31.0, 86.8]
    # OFF_PEAK was rated but nothing measured it: blocking, named, never a silent zero.
    missing = unmeasured_demand(accrual, plan)
    assert missing["code"].tolist() == ["unpriced_charge"] and missing["account_id"].tolist() == [1]
    assert missing["reason"].iloc[0].startswith("plan 1 DEMAND/OFF_PEAK at 0.05 per KW per day: no maximum demand")
    # A 1 July history, the old version closed and the new one open-ended: still in force, still named.
    fy = rates(
        (1, "DEMAND", "OFF_PEAK", 0.04, "KW", date(2025, 7, 1), date(2026, 6, 30)),
        (1, "DEMAND", "OFF_PEAK", 0.05, "KW", date(2026, 7, 1), None),
    )
    (reason,) = unmeasured_demand(accrual, fy)["reason"]
    assert reason.startswith("plan 1 DEMAND/OFF_PEAK at 0.05 per KW per day")  # the price in force
    # A rate in force only after the unbilled days asks for nothing.
    later = rates((1, "DEMAND", "OFF_PEAK", 0.05, "KW", date(2026, 11, 1), None))
    assert unmeasured_demand(accrual, later).empty


def test_feed_in_splits_by_time_of_use_only_where_the_plan_rates_it_so():
    rows = [(1, "PRIMARY", WEEKDAY, "E1"), (3, "SOLAR", WEEKDAY, "B1")]
    days = register_days(*rows)
    solar = half_hours(h16_00=2.0, h10_00=1.0)  # 0.5 elsewhere: peak 15-21 has 11 x 0.5 + 2.0 = 7.5
    data = [half_hours(), solar]
    plan = np.ones(len(days), dtype=np.int64)
    flat_feed_in = TimeOfUse.from_tables(PLANS, WINDOWS, rates((1, "FEED_IN", "SOLAR", 0.05, "KWH")))
    out, _ = streamed_interval_quantities(days, plan, flat_feed_in, [batch(rows, data)])
    assert out.loc[out["register_id"] == 3, ["time_class", "quantity"]].values.tolist() == [["SOLAR", 26.0]]
    tou_feed_in = TimeOfUse.from_tables(
        PLANS, WINDOWS, rates((1, "FEED_IN", "PEAK", 0.10, "KWH"), (1, "FEED_IN", "OFF_PEAK", 0.03, "KWH"))
    )
    out, _ = streamed_interval_quantities(days, plan, tou_feed_in, [batch(rows, data)])
    split = out[out["register_id"] == 3].set_index("time_class")["quantity"].to_dict()
    # Peak 15:00-21:00 is 12 half hours: 11 x 0.5 + 2.0 = 7.5; shoulder 07-15 and 21-22 is 18:
    # 17 x 0.5 + 1.0 = 9.5; off-peak 22-07 is 18 x 0.5 = 9.0; 26.0 in all.
    assert split == {"PEAK": 7.5, "SHOULDER": 9.5, "OFF_PEAK": 9.0}
    # A flat-usage plan with time-of-use feed-in splits its export but not its usage.
    single = PLANS.assign(pricing_model="SINGLE_RATE")
    tou_single = TimeOfUse.from_tables(single, WINDOWS, rates((1, "FEED_IN", "PEAK", 0.10, "KWH")))
    out, _ = streamed_interval_quantities(days, plan, tou_single, [batch(rows, data)])
    assert out.loc[out["register_id"] == 1, "time_class"].tolist() == ["ANYTIME"]
    assert sorted(out.loc[out["register_id"] == 3, "time_class"]) == ["OFF_PEAK", "PEAK", "SHOULDER"]
