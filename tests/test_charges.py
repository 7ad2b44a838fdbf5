"""The charge-type table is the one place charges are described: what each type prices, its sign,
its finance grouping and which discounts apply (tests/test_tariff.py prices bills by it)."""

from __future__ import annotations

from bua_assets.billing.charges import (
    CHARGE_OF_STREAM,
    CHARGE_TYPES,
    CONSUMPTION_CHARGES,
    CREDIT_CHARGES,
    FEATURE_OF_CHARGE,
    PERCENT_OF_BILL_CHARGES,
    SUPPLY_CHARGE,
    USAGE_DISCOUNT_CHARGES,
    VOLUME_CHARGES,
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
    }


def test_groupings_follow_from_the_table():
    assert CONSUMPTION_CHARGES == ("USAGE_RETAIL", "CONTROLLED_LOAD") == USAGE_DISCOUNT_CHARGES
    assert VOLUME_CHARGES == ("USAGE_RETAIL",) and CREDIT_CHARGES == ("FEED_IN",)
    assert "FEED_IN" not in PERCENT_OF_BILL_CHARGES and SUPPLY_CHARGE in PERCENT_OF_BILL_CHARGES
