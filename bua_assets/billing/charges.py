"""The charge types a plan item can be (``plan_item_type_name``): one table, so adding a charge is
one row here rather than string literals across the tariff engine, the accrual lines, the
corrections and the finance outputs.

The kinds follow the Consumer Data Standards energy plan (``EnergyPlanContract``): daily supply
charges, usage rates (single rate, time of use, step blocks, seasonal tariff periods), controlled
load, solar feed-in (flat or time of use), demand charges, metering charges, fees and green power.
Each type says
which metering streams it prices, the feature finance groups it under, its sign (feed-in is a
credit), the bases it can be priced on, whether every plan must price it (a missing rate is an
error) and which discounts apply.

A rate's basis follows from its unit (``PlanRate.uom``): a period (DAY, WEEK, MONTH, QUARTER,
YEAR) is a fixed charge accrued by day of supply at its daily equivalent; an energy unit (KWH,
MJ) is priced per unit of the type's streams; KW is a demand charge, the Australian way (the CDR
plan's demandCharges with measureUnit KW, measurementPeriod MONTH, chargePeriod DAY): dollars per
kW of the month's maximum demand in the rate's time window, per day of supply. A rate whose type
or unit is not one of these (a demand charge in kVA, which needs reactive energy we do not load;
an item CORE names that this table does not know) is never dropped: ``unpriced_rates`` sets it
apart and the accrual reports it as a blocking ``unpriced_charge``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

DAILY, UNIT, DEMAND = "DAY", "UNIT", "DEMAND"  # the bases a rate is priced on
# A periodic charge accrues by day: its daily equivalent is the period's price / the period's days.
PERIOD_DAYS = {"DAY": 1.0, "WEEK": 7.0, "MONTH": 365.0 / 12, "QUARTER": 365.0 / 4, "YEAR": 365.0}
UNIT_UOMS = ("KWH", "MJ")
DEMAND_UOMS = ("KW",)  # per kW of maximum demand per day (kVA would need reactive energy: not loaded)


@dataclass(frozen=True)
class ChargeType:
    name: str  # plan_item_type_name, as CORE and the CSVs spell it
    feature: str  # feature_type_name: the finance grouping
    streams: tuple[str, ...]  # the profile stream types whose consumption it prices per unit
    sign: float  # +1 a charge, -1 a credit to the customer
    bases: tuple[str, ...]  # DAILY (per day of supply), UNIT (per kWh/MJ of its streams), DEMAND (per kW per day)
    required: bool  # every plan must rate it when it applies (a missing rate is an error)
    usage_discount: bool  # usage-based discounts (percentOfUse, percentOverThreshold) apply
    percent_of_bill_discount: bool  # percentOfBill discounts apply
    counts_as_volume: bool = False  # the accrual summary's volume column (retail usage only)

    @property
    def consumption(self) -> bool:
        """Priced on energy the customer took from the network (not supply days, not exports)."""
        return UNIT in self.bases and self.sign > 0 and self.required


CHARGE_TYPES: dict[str, ChargeType] = {
    c.name: c
    for c in (
        ChargeType("DAILY_RETAIL", "SUPPLY", (), +1.0, (DAILY,), True, False, True),
        ChargeType("USAGE_RETAIL", "CONSUMPTION", ("PRIMARY", "GAS"), +1.0, (UNIT,), True, True, True, True),
        ChargeType("CONTROLLED_LOAD", "CONTROLLED_LOAD", ("CONTROL",), +1.0, (UNIT,), True, True, True),
        ChargeType("FEED_IN", "SOLAR_FEED_IN", ("SOLAR",), -1.0, (UNIT,), True, False, False),
        # The site's maximum half-hourly demand (its import streams summed) in the rate's window.
        ChargeType("DEMAND", "DEMAND", ("PRIMARY", "CONTROL"), +1.0, (DEMAND,), False, False, True),
        # Optional items: priced over the days their rates are in force, nothing where they are not.
        ChargeType("METERING", "METERING", (), +1.0, (DAILY,), False, False, True),
        ChargeType("FEE", "FEES", (), +1.0, (DAILY,), False, False, False),
        ChargeType("GREEN_POWER", "GREEN_POWER", ("PRIMARY", "CONTROL"), +1.0, (DAILY, UNIT), False, False, False),
    )
}

SUPPLY_CHARGE = "DAILY_RETAIL"  # the one charge every supply day carries
CHARGE_OF_STREAM = {s: c.name for c in CHARGE_TYPES.values() if c.required for s in c.streams}
FEATURE_OF_CHARGE = {c.name: c.feature for c in CHARGE_TYPES.values()}
CONSUMPTION_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.consumption)
VOLUME_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.counts_as_volume)
CREDIT_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.sign < 0)
USAGE_DISCOUNT_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.usage_discount)
PERCENT_OF_BILL_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if c.percent_of_bill_discount)
OPTIONAL_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if not c.required)
DEMAND_CHARGES = tuple(c.name for c in CHARGE_TYPES.values() if DEMAND in c.bases)
DEMAND_STREAMS = tuple(sorted({s for c in DEMAND_CHARGES for s in CHARGE_TYPES[c].streams}))
# Discounts (PlanDiscount): type and method as the CDR plan names them. ``amount`` carries
# fixedAmount's dollars per bill and percentOverThreshold's usage dollars per bill.
DISCOUNT_TYPES = ("CONDITIONAL", "GUARANTEED")
DISCOUNT_METHODS = ("percentOfBill", "percentOfUse", "fixedAmount", "percentOverThreshold")
BILL_DAYS = {"MONTHLY": 365.0 / 12, "BIMONTHLY": 365.0 / 6, "QUARTERLY": 365.0 / 4}  # a bill's days, on average


def basis_of(uom: pd.Series) -> np.ndarray:
    """DAILY for a period unit, UNIT for an energy unit, DEMAND for kW, None for anything else."""
    u = uom.astype(str).str.upper()
    out = np.full(len(u), None, dtype=object)
    out[u.isin(list(PERIOD_DAYS)).to_numpy()] = DAILY
    out[u.isin(UNIT_UOMS).to_numpy()] = UNIT
    out[u.isin(DEMAND_UOMS).to_numpy()] = DEMAND
    return out


def daily_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """Rates with their basis; a periodic rate as its daily equivalent (uom DAY, price per day to
    the micro-dollar), so a monthly fee and a daily supply charge are priced the same way."""
    r = rates.copy()
    u = r["uom"].astype(str).str.upper()
    days = np.array([PERIOD_DAYS.get(x, np.nan) for x in u.unique()], dtype=float)
    days = pd.Series(days, index=u.unique()).reindex(u.to_numpy()).to_numpy()  # one look-up per unit
    periodic = ~np.isnan(days)
    price = r["unit_price"].astype(float).to_numpy()
    r["unit_price"] = np.where(periodic, np.round(price / np.where(periodic, days, 1.0), 6), price)
    r["uom"] = np.where(periodic, "DAY", r["uom"].astype(object))
    r["basis"] = basis_of(u)
    return r


def unpriced_rates(rates: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the rates the engine prices, the rest with a ``why``): an unknown charge type, or a known
    one in a unit it is not priced in (e.g. usage per day, a demand charge per kW)."""
    basis = pd.Series(basis_of(rates["uom"]), index=rates.index)
    known = rates["charge_type"].isin(list(CHARGE_TYPES))
    fits = pd.Series(
        [
            b is not None and c in CHARGE_TYPES and b in CHARGE_TYPES[c].bases
            for c, b in zip(rates["charge_type"], basis)
        ],
        index=rates.index,
        dtype=bool,
    )
    why = np.where(
        ~known,
        "not a charge type the tariff engine prices (known: " + ", ".join(CHARGE_TYPES) + ")",
        rates["charge_type"].astype(str) + " is not priced per " + rates["uom"].astype(str),
    )
    kva = rates["uom"].astype(str).str.upper().isin(["KVA", "KVAR"])
    why = np.where(
        kva,
        "a demand charge per "
        + rates["uom"].astype(str)
        + ": apparent power needs reactive energy (Q/K channels), which is not loaded",
        why,
    )
    return rates[fits], rates[~fits].assign(why=why[~fits.to_numpy()])


def demand_rates(rates: pd.DataFrame) -> pd.DataFrame:
    """The demand rates the engine prices (charge type with a DEMAND basis, in kW), every column."""
    ok = unpriced_rates(rates)[0]
    return ok[ok["charge_type"].isin(DEMAND_CHARGES)]


def unpriced_discounts(discounts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the discounts the engine applies, the rest with a ``why``): an unknown type or method, or a
    fixedAmount / percentOverThreshold without its amount."""
    amount = discounts["amount"] if "amount" in discounts else pd.Series(np.nan, index=discounts.index)
    method_ok = discounts["method"].isin(DISCOUNT_METHODS)
    type_ok = discounts["discount_type"].isin(DISCOUNT_TYPES)
    needs_amount = discounts["method"].isin(["fixedAmount", "percentOverThreshold"])
    ok = method_ok & type_ok & ~(needs_amount & pd.to_numeric(amount, errors="coerce").isna())
    why = np.where(
        ~method_ok,
        "discount method "
        + discounts["method"].astype(str)
        + " is not one the engine applies ("
        + ", ".join(DISCOUNT_METHODS)
        + ")",
        np.where(
            ~type_ok,
            "discount type " + discounts["discount_type"].astype(str) + " is neither CONDITIONAL nor GUARANTEED",
            discounts["method"].astype(str) + " without its amount",
        ),
    )
    return discounts[ok], discounts[~ok].assign(why=why[~ok.to_numpy()])
