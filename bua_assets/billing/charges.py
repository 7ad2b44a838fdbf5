"""The charge types a plan item can be (``plan_item_type_name``): one table, so adding a charge is
one row here rather than string literals across the tariff engine, the accrual lines, the
corrections and the finance outputs.

Each type says which metering streams it prices, the feature type finance groups it under, its
sign (feed-in is a credit), whether it is priced per day of supply or per unit used, and which
discounts apply to it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChargeType:
    name: str  # plan_item_type_name, as CORE and the CSVs spell it
    feature: str  # feature_type_name: the finance grouping
    streams: tuple[str, ...]  # the profile stream types whose consumption it prices (none: supply)
    sign: float  # +1 a charge, -1 a credit to the customer
    per_day: bool  # priced per day of supply (quantity in days), else per unit used
    usage_discount: bool  # usage-based discounts (e.g. per kWh) apply
    percent_of_bill_discount: bool  # percentOfBill discounts apply
    counts_as_volume: bool  # the accrual summary's volume column (retail usage only)

    @property
    def consumption(self) -> bool:
        """Priced on energy the customer took from the network (not supply days, not exports)."""
        return not self.per_day and self.sign > 0


CHARGE_TYPES: dict[str, ChargeType] = {
    c.name: c
    for c in (
        ChargeType(
            "DAILY_RETAIL",
            "SUPPLY",
            (),
            +1.0,
            per_day=True,
            usage_discount=False,
            percent_of_bill_discount=True,
            counts_as_volume=False,
        ),
        ChargeType(
            "USAGE_RETAIL",
            "CONSUMPTION",
            ("PRIMARY", "GAS"),
            +1.0,
            per_day=False,
            usage_discount=True,
            percent_of_bill_discount=True,
            counts_as_volume=True,
        ),
        ChargeType(
            "CONTROLLED_LOAD",
            "CONTROLLED_LOAD",
            ("CONTROL",),
            +1.0,
            per_day=False,
            usage_discount=True,
            percent_of_bill_discount=True,
            counts_as_volume=False,
        ),
        ChargeType(
            "FEED_IN",
            "SOLAR_FEED_IN",
            ("SOLAR",),
            -1.0,
            per_day=False,
            usage_discount=False,
            percent_of_bill_discount=False,
            counts_as_volume=False,
        ),
    )
}

SUPPLY_CHARGE = next(c.name for c in CHARGE_TYPES.values() if c.per_day)  # DAILY_RETAIL
CHARGE_OF_STREAM = {s: c.name for c in CHARGE_TYPES.values() for s in c.streams}
FEATURE_OF_CHARGE = {c.name: c.feature for c in CHARGE_TYPES.values()}
CONSUMPTION_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.consumption)
VOLUME_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.counts_as_volume)
CREDIT_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.sign < 0)
USAGE_DISCOUNT_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.usage_discount)
PERCENT_OF_BILL_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.percent_of_bill_discount)
