"""The tariff engine, bills worked out by hand for each feature and their combinations."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bua_assets.billing.tariff import price

FY25, FY26 = (date(2025, 7, 1), date(2026, 6, 30)), (date(2026, 7, 1), date(2027, 6, 30))


def _uom(charge: str) -> str:
    """Supply is priced per day, everything else here per unit used."""
    return "DAY" if charge == "DAILY_RETAIL" else "KWH"


def rates(*rows):
    """(plan, fy, charge, class, block, daily volume, price)"""
    return pd.DataFrame(
        [(i + 1, p, fy[0], fy[1], c, tc, b, v, u, _uom(c)) for i, (p, fy, c, tc, b, v, u) in enumerate(rows)],
        columns=[
            "id",
            "plan_id",
            "effective_from",
            "effective_to",
            "charge_type",
            "time_class",
            "block_order",
            "block_daily_volume",
            "unit_price",
            "uom",
        ],
    )


NO_DISCOUNTS = pd.DataFrame(
    columns=["id", "plan_id", "discount_type", "category", "method", "rate", "effective_from", "effective_to"]
)


def lines(*rows, propensity=0.8):
    """(line, plan, start, end, charge, class, quantity)"""
    return pd.DataFrame(
        [(i, 1, p, s, e, c, tc, q, _uom(c), propensity) for i, p, s, e, c, tc, q in rows],
        columns=[
            "line_id",
            "account_id",
            "plan_id",
            "period_start",
            "period_end",
            "charge_type",
            "time_class",
            "quantity",
            "uom",
            "pay_on_time_propensity",
        ],
    )


def amounts(priced):
    return [(r.line_id, r.block_order, r.quantity, r.net_amount) for r in priced.lines.itertuples()]


PLAN = rates(
    (1, FY26, "DAILY_RETAIL", "ANYTIME", 1, None, 1.05),
    (1, FY26, "USAGE_RETAIL", "ANYTIME", 1, None, 0.30),
    (1, FY26, "CONTROLLED_LOAD", "CONTROLLED_LOAD", 1, None, 0.18),
    (1, FY26, "FEED_IN", "SOLAR", 1, None, 0.05),
    (2, FY26, "USAGE_RETAIL", "PEAK", 1, None, 0.45),
    (2, FY26, "USAGE_RETAIL", "OFF_PEAK", 1, None, 0.20),
    # plan 3: stepped usage, the first 11 kWh a day at 0.30, the rest at 0.33
    (3, FY26, "USAGE_RETAIL", "ANYTIME", 1, 11.0, 0.30),
    (3, FY26, "USAGE_RETAIL", "ANYTIME", 2, None, 0.33),
    # plan 4: the 1 July change, FY25 then FY26 prices
    (4, FY25, "DAILY_RETAIL", "ANYTIME", 1, None, 1.00),
    (4, FY26, "DAILY_RETAIL", "ANYTIME", 1, None, 1.10),
    (4, FY25, "USAGE_RETAIL", "ANYTIME", 1, None, 0.30),
    (4, FY26, "USAGE_RETAIL", "ANYTIME", 1, None, 0.33),
    # plan 5: gas per MJ with blocks of 50 MJ a day
    (5, FY26, "USAGE_RETAIL", "ANYTIME", 1, 50.0, 0.0372),
    (5, FY26, "USAGE_RETAIL", "ANYTIME", 2, None, 0.0291),
)
OCT = (date(2026, 10, 1), date(2026, 10, 31))


def test_supply_single_rate_controlled_load_and_feed_in():
    p = price(
        lines(
            (1, 1, *OCT, "DAILY_RETAIL", "ANYTIME", 31),
            (2, 1, *OCT, "USAGE_RETAIL", "ANYTIME", 412.345),
            (3, 1, *OCT, "CONTROLLED_LOAD", "CONTROLLED_LOAD", 150),
            (4, 1, *OCT, "FEED_IN", "SOLAR", 200),
        ),
        PLAN,
        NO_DISCOUNTS,
    )
    # 31 x 1.05 = 32.55; 412.345 x 0.30 = 123.7035 -> 123.70; 150 x 0.18 = 27.00; feed-in credit 200 x 0.05
    assert amounts(p) == [(1, 1, 31, 32.55), (2, 1, 412.345, 123.70), (3, 1, 150, 27.0), (4, 1, 200, -10.0)]
    assert p.lines["gst"].tolist() == [3.26, 12.37, 2.7, -1.0] and p.exceptions.empty


def test_time_of_use_rates_per_class():
    p = price(
        lines((1, 2, *OCT, "USAGE_RETAIL", "PEAK", 100), (2, 2, *OCT, "USAGE_RETAIL", "OFF_PEAK", 300)),
        PLAN,
        NO_DISCOUNTS,
    )
    assert amounts(p) == [(1, 1, 100, 45.0), (2, 1, 300, 60.0)]


def test_step_block_thresholds_are_pro_rated_by_days():
    # 31 days x 11 kWh = 341 kWh in block 1; 500 - 341 = 159 kWh in block 2.
    p = price(lines((1, 3, *OCT, "USAGE_RETAIL", "ANYTIME", 500)), PLAN, NO_DISCOUNTS)
    assert amounts(p) == [(1, 1, 341.0, 102.3), (1, 2, 159.0, 52.47)]
    # Under the threshold: block 1 only.
    assert amounts(
        price(lines((1, 3, date(2026, 10, 1), date(2026, 10, 10), "USAGE_RETAIL", "ANYTIME", 80)), PLAN, NO_DISCOUNTS)
    ) == [(1, 1, 80.0, 24.0)]


def test_a_period_spanning_1_july_is_split_at_the_price_change():
    # 16 June - 15 July: 15 days at FY25 prices, 15 at FY26; 300 kWh pro-rated 150 / 150.
    p = price(
        lines(
            (1, 4, date(2026, 6, 16), date(2026, 7, 15), "DAILY_RETAIL", "ANYTIME", 30),
            (2, 4, date(2026, 6, 16), date(2026, 7, 15), "USAGE_RETAIL", "ANYTIME", 300),
        ),
        PLAN,
        NO_DISCOUNTS,
    )
    assert amounts(p) == [(1, 1, 15, 15.0), (1, 1, 15, 16.5), (2, 1, 150.0, 45.0), (2, 1, 150.0, 49.5)]
    assert p.lines["part_start"].dt.date.tolist() == [date(2026, 6, 16), date(2026, 7, 1)] * 2


def test_gas_per_mj_with_daily_blocks():
    # 30 days x 50 MJ = 1,500 MJ at 3.72 c; 2,000 - 1,500 = 500 MJ at 2.91 c.
    p = price(lines((1, 5, date(2026, 9, 1), date(2026, 9, 30), "USAGE_RETAIL", "ANYTIME", 2000)), PLAN, NO_DISCOUNTS)
    assert amounts(p) == [(1, 1, 1500.0, 55.8), (1, 2, 500.0, 14.55)]


def test_conditional_percent_of_usage_and_guaranteed_percent_of_bill():
    discounts = pd.DataFrame(
        [
            (1, 1, "CONDITIONAL", "PAY_ON_TIME", "percentOfUse", 0.10, FY26[0], None),
            (2, 2, "GUARANTEED", "GUARANTEED", "percentOfBill", 0.03, FY26[0], None),
        ],
        columns=NO_DISCOUNTS.columns,
    )
    p = price(
        lines(
            (1, 1, *OCT, "DAILY_RETAIL", "ANYTIME", 31),
            (2, 1, *OCT, "USAGE_RETAIL", "ANYTIME", 400),
            (3, 1, *OCT, "FEED_IN", "SOLAR", 100),
            (4, 2, *OCT, "USAGE_RETAIL", "PEAK", 100),
            propensity=0.75,
        ),
        PLAN,
        discounts,
    )
    got = p.lines.set_index("line_id")
    # Conditional 10% of usage: only the usage line (120.00 -> 12.00), x 0.75 propensity = 9.00.
    assert got.loc[2, ["discount_net", "discount_net_propensity", "discount_state"]].tolist() == [
        12.0,
        9.0,
        "CONDITIONAL",
    ]
    assert got.loc[1, "discount_net"] == 0 and got.loc[3, "discount_net"] == 0
    # Guaranteed 3% of the bill counts in full: 45.00 x 3% = 1.35 in both columns.
    assert got.loc[4, ["discount_net", "discount_net_propensity", "discount_state"]].tolist() == [
        1.35,
        1.35,
        "GUARANTEED",
    ]


def test_a_missing_rate_is_an_exception_and_the_rest_is_priced():
    p = price(
        lines((1, 2, *OCT, "USAGE_RETAIL", "SHOULDER", 50), (2, 2, *OCT, "USAGE_RETAIL", "PEAK", 10)),
        PLAN,
        NO_DISCOUNTS,
    )
    assert amounts(p) == [(2, 1, 10, 4.5)]
    (exc,) = p.exceptions.to_dict("records")
    assert exc["line_id"] == 1 and exc["code"] == "missing_tariff" and "USAGE_RETAIL/SHOULDER" in exc["reason"]


def test_rates_covering_part_of_the_period_price_that_part_and_say_so():
    p = price(lines((1, 1, date(2026, 6, 21), date(2026, 7, 10), "DAILY_RETAIL", "ANYTIME", 20)), PLAN, NO_DISCOUNTS)
    assert amounts(p) == [(1, 1, 10, 10.5)]
    assert p.exceptions["code"].tolist() == ["partial_tariff"] and "10 of the period's 20" in p.exceptions["reason"][0]


@pytest.mark.parametrize("quantity", [0.0, -12.5])
def test_zero_and_negative_usage_stay_in_block_one(quantity):
    p = price(lines((1, 3, *OCT, "USAGE_RETAIL", "ANYTIME", quantity)), PLAN, NO_DISCOUNTS)
    assert amounts(p) == [(1, 1, quantity, round(quantity * 0.30, 2))]
