"""The charge-type table is the one place charges are described: what each type prices, its sign,
its finance grouping and which discounts apply (tests/test_tariff.py prices bills by it)."""

from __future__ import annotations

import pandas as pd

from bua_assets.billing.charges import (
    CHARGE_OF_STREAM,
    CHARGE_TYPES,
    CONSUMPTION_CHARGES,
    CREDIT_CHARGES,
    DEMAND_CHARGES,
    DEMAND_STREAMS,
    FEATURE_OF_CHARGE,
    OPTIONAL_CHARGES,
    PERCENT_OF_BILL_CHARGES,
    SUPPLY_CHARGE,
    USAGE_DISCOUNT_CHARGES,
    VOLUME_CHARGES,
    daily_rates,
    unpriced_rates,
)


def test_every_metered_stream_is_priced_by_exactly_one_charge_and_supply_by_days():
    assert CHARGE_OF_STREAM == {
        "PRIMARY": "USAGE_RETAIL",
        "GAS": "USAGE_RETAIL",
        "CONTROL": "CONTROLLED_LOAD",
        "SOLAR": "FEED_IN",
    }
    assert SUPPLY_CHARGE == "DAILY_RETAIL" and CHARGE_TYPES[SUPPLY_CHARGE].streams == ()
    assert FEATURE_OF_CHARGE == {
        "DAILY_RETAIL": "SUPPLY",
        "USAGE_RETAIL": "CONSUMPTION",
        "CONTROLLED_LOAD": "CONTROLLED_LOAD",
        "FEED_IN": "SOLAR_FEED_IN",
        "METERING": "METERING",
        "FEE": "FEES",
        "GREEN_POWER": "GREEN_POWER",
        "DEMAND": "DEMAND",
    }


def test_groupings_follow_from_the_table():
    assert CONSUMPTION_CHARGES == ("USAGE_RETAIL", "CONTROLLED_LOAD") == USAGE_DISCOUNT_CHARGES
    assert VOLUME_CHARGES == ("USAGE_RETAIL",) and CREDIT_CHARGES == ("FEED_IN",)
    assert "FEED_IN" not in PERCENT_OF_BILL_CHARGES and SUPPLY_CHARGE in PERCENT_OF_BILL_CHARGES


def test_optional_items_are_per_day_or_per_unit_and_discounts_apply_as_the_table_says():
    assert OPTIONAL_CHARGES == ("DEMAND", "METERING", "FEE", "GREEN_POWER")
    assert DEMAND_CHARGES == ("DEMAND",) and CHARGE_TYPES["DEMAND"].bases == ("DEMAND",)
    assert DEMAND_STREAMS == ("CONTROL", "PRIMARY")  # the site's import: general and controlled load
    assert CHARGE_TYPES["GREEN_POWER"].bases == ("DAY", "UNIT") and CHARGE_TYPES["METERING"].bases == ("DAY",)
    assert "METERING" in PERCENT_OF_BILL_CHARGES and "FEE" not in PERCENT_OF_BILL_CHARGES
    assert "GREEN_POWER" not in USAGE_DISCOUNT_CHARGES


def test_periodic_rates_become_daily_and_unknown_ones_are_set_apart_with_a_reason():
    rates = pd.DataFrame(
        {
            "plan_id": [1, 1, 1, 1, 1],
            "charge_type": ["FEE", "USAGE_RETAIL", "DEMAND", "DEMAND", "USAGE_RETAIL"],
            "time_class": ["ANYTIME"] * 5,
            "unit_price": [36.5, 0.3, 0.2, 0.25, 1.0],
            "uom": ["YEAR", "KWH", "KW", "KVA", "DAY"],
        }
    )
    ok, bad = unpriced_rates(rates)
    assert ok["charge_type"].tolist() == ["FEE", "USAGE_RETAIL", "DEMAND"]
    assert bad["why"].tolist() == [
        "a demand charge per KVA: apparent power needs reactive energy (Q/K channels), which is not loaded",
        "USAGE_RETAIL is not priced per DAY",
    ]
    daily = daily_rates(ok)
    assert daily["unit_price"].tolist() == [0.1, 0.3, 0.2] and daily["uom"].tolist() == ["DAY", "KWH", "KW"]
    assert daily["basis"].tolist() == ["DAY", "UNIT", "DEMAND"]
