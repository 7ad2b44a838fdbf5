"""Reference data, tariffs and the customer population of the synthetic retailer.

Everything is drawn from one numpy Generator, vectorised over accounts; proportions follow an
Australian mass-market retailer (DESIGN.md §4).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

JURISDICTIONS = ["NSW", "VIC", "QLD", "SA", "ACT", "TAS", "WA"]
JURISDICTION_ID = {s: i + 1 for i, s in enumerate(JURISDICTIONS)}  # Jurisdiction.id by state
STATE_SHARE = {"NSW": 0.35, "VIC": 0.30, "QLD": 0.19, "SA": 0.08, "ACT": 0.05, "TAS": 0.03}
# (name, jurisdiction, fuel, meter data provider, provider writes Wh)
NETWORKS = [
    ("Ausgrid", "NSW", "ELECTRICITY", "AUSGRIDMDP", False),
    ("Endeavour Energy", "NSW", "ELECTRICITY", "ENDEAVMDP", False),
    ("Essential Energy", "NSW", "ELECTRICITY", "ESSENTMDP", False),
    ("CitiPower", "VIC", "ELECTRICITY", "CITIPMDP", False),
    ("Powercor", "VIC", "ELECTRICITY", "POWERMDP", False),
    ("AusNet Services", "VIC", "ELECTRICITY", "AUSNETMDP", False),
    ("Jemena Electricity", "VIC", "ELECTRICITY", "JEMENAMDP", False),
    ("Energex", "QLD", "ELECTRICITY", "ENERGEXM", False),
    ("Ergon Energy", "QLD", "ELECTRICITY", "ERGONMDP", False),
    ("SA Power Networks", "SA", "ELECTRICITY", "SAPNMDP", True),
    ("Evoenergy", "ACT", "ELECTRICITY", "ACTEWM", False),
    ("TasNetworks", "TAS", "ELECTRICITY", "TASNETMDP", False),
    ("Jemena Gas Networks", "NSW", "GAS", None, False),
    ("AusNet Gas", "VIC", "GAS", None, False),
    ("Multinet Gas", "VIC", "GAS", None, False),
    ("Australian Gas Networks SA", "SA", "GAS", None, False),
    ("Australian Gas Networks QLD", "QLD", "GAS", None, False),
    ("Evoenergy Gas", "ACT", "GAS", None, False),
]
SEGMENTS = ["RESIDENTIAL", "SME", "C&I"]
TNIS = ["NSYD", "NWST", "VMTS", "VTTS", "QBCK", "SPAR", "ACTN", "TGTN"]
RETAILER = "BUARETAIL"
TIME_CLASSES = ["PEAK", "SHOULDER", "OFF_PEAK"]
# Time-of-use windows (NEM time) shared by the TOU plans: (class, days, start, end).
TOU_WINDOWS = [
    ("PEAK", "WEEKDAY", "15:00", "21:00"),
    ("SHOULDER", "WEEKDAY", "07:00", "15:00"),
    ("SHOULDER", "WEEKDAY", "21:00", "22:00"),
    ("SHOULDER", "WEEKEND", "07:00", "22:00"),
    ("OFF_PEAK", "ALL", "22:00", "07:00"),
]


def tou_masks() -> np.ndarray:
    """(2 day types: weekday, weekend) x (3 classes) x 48 half-hours -> 0/1."""
    masks = np.zeros((2, 3, 48), dtype=np.float64)
    for cls, days, start, end in TOU_WINDOWS:
        c = TIME_CLASSES.index(cls)
        s = int(start[:2]) * 2 + int(start[3:]) // 30
        e = int(end[:2]) * 2 + int(end[3:]) // 30
        span = list(range(s, e)) if s < e else list(range(s, 48)) + list(range(0, e))
        for d in [0] if days == "WEEKDAY" else [1] if days == "WEEKEND" else [0, 1]:
            masks[d, c, span] = 1
    assert (masks.sum(axis=1) == 1).all(), "TOU windows must cover every half-hour exactly once"
    return masks


@dataclass
class Tariffs:
    plans: pd.DataFrame
    rates: pd.DataFrame
    time_of_use: pd.DataFrame
    discounts: pd.DataFrame


def financial_years(start: date, end: date) -> list[int]:
    """Financial years (named by the year they start, 1 July) overlapping [start, end]."""
    first = start.year - (1 if start.month < 7 else 0)
    last = end.year - (1 if end.month < 7 else 0)
    return list(range(first, last + 1))


def build_tariffs(rng: np.random.Generator, start: date, end: date) -> Tariffs:
    """Plans per jurisdiction x fuel x customer type x pricing model; prices change each 1 July.
    ``rng`` draws, plan by plan: each financial year's price growth, then a SAVER plan's discount."""
    plans: list[tuple] = []
    rates: list[tuple] = []
    tous: list[tuple] = []
    discounts: list[tuple] = []
    fys = financial_years(start, end)
    for plan_id, spec in enumerate(_plan_specs(), start=1):
        plans.append(
            (
                plan_id,
                spec.code,
                f"{spec.variant.title()} {spec.model.replace('_', ' ').title()}",
                1 if spec.fuel == "ELECTRICITY" else 2,
                spec.jurisdiction_id,
                spec.customer,
                spec.model,
            )
        )
        for k, fy in enumerate(fys):
            growth = (1.0 + rng.normal(0.045, 0.02)) ** k * spec.state_level
            if spec.variant == "FLEX":
                growth *= 1.04
            for charge, cls, price, uom, block, volume in _year_rates(spec, fy):
                rates.append(
                    (
                        len(rates) + 1,
                        plan_id,
                        date(fy, 7, 1),
                        date(fy + 1, 6, 30),
                        charge,
                        cls,
                        block,
                        volume,
                        round(price * growth, 6),
                        uom,
                    )
                )
        if spec.model.startswith("TIME_OF_USE"):
            for cls, days, s, e in TOU_WINDOWS:
                tous.append((len(tous) + 1, plan_id, cls, days, s, e))
        discount = _discount(rng, spec)
        if discount is not None:
            discounts.append((len(discounts) + 1, plan_id, *discount, date(fys[0], 7, 1), None))
    return _tariff_frames(plans, rates, tous, discounts)


@dataclass(frozen=True)
class _PlanSpec:
    """What a plan is for: one per jurisdiction x fuel x customer type x pricing model x variant."""

    jurisdiction_id: int
    state: str
    fuel: str  # ELECTRICITY or GAS
    customer: str  # RESIDENTIAL or BUSINESS
    model: str  # pricing model
    variant: str  # SAVER or FLEX

    @property
    def code(self) -> str:
        return f"{self.state}-{self.fuel[:4]}-{self.customer[:3]}-{self.model.replace('_', '')[:8]}-{self.variant}"

    @property
    def state_level(self) -> float:
        return 1.0 + 0.08 * (self.state in ("SA", "QLD")) - 0.05 * (self.state == "TAS")


def _plan_specs() -> Iterator[_PlanSpec]:
    """Every plan in plan id order (no gas in TAS)."""
    for j, state in enumerate(JURISDICTIONS[:-1], start=1):
        for fuel in ("ELECTRICITY", "GAS"):
            if fuel == "GAS" and state == "TAS":
                continue
            models = (
                ["SINGLE_RATE", "TIME_OF_USE", "SINGLE_RATE_CONT_LOAD", "TIME_OF_USE_CONT_LOAD"]
                if fuel == "ELECTRICITY"
                else ["SINGLE_RATE"]
            )
            for customer in ("RESIDENTIAL", "BUSINESS"):
                for model in models:
                    for variant in ("SAVER", "FLEX"):
                        yield _PlanSpec(j, state, fuel, customer, model, variant)


def _year_rates(spec: _PlanSpec, fy: int) -> list[tuple[str, str, float, str, int, float | None]]:  # noqa: C901 - one branch per tariff component of the synthetic plans
    """A plan's rates in financial year ``fy`` before that year's growth: (charge type, time
    class, price, unit, block order, block daily volume)."""
    out: list[tuple[str, str, float, str, int, float | None]] = []
    customer, model, variant = spec.customer, spec.model, spec.variant

    def rate(charge: str, cls: str, price: float, uom: str, block: int = 1, volume: float | None = None) -> None:
        out.append((charge, cls, price, uom, block, volume))

    if spec.fuel == "GAS":
        rate("DAILY_RETAIL", "ANYTIME", 0.72 + 0.3 * (customer == "BUSINESS"), "DAY")
        rate("USAGE_RETAIL", "ANYTIME", 0.0372, "MJ", 1, 50.0)
        rate("USAGE_RETAIL", "ANYTIME", 0.0291, "MJ", 2, None)
        return out
    stepped = customer == "BUSINESS" and model == "SINGLE_RATE"
    rate("DAILY_RETAIL", "ANYTIME", 1.02 + 0.35 * (customer == "BUSINESS"), "DAY")
    if model.startswith("TIME_OF_USE"):
        rate("USAGE_RETAIL", "PEAK", 0.452, "KWH")
        rate("USAGE_RETAIL", "SHOULDER", 0.298, "KWH")
        rate("USAGE_RETAIL", "OFF_PEAK", 0.201, "KWH")
    elif stepped:
        rate("USAGE_RETAIL", "ANYTIME", 0.301, "KWH", 1, 11.0)
        rate("USAGE_RETAIL", "ANYTIME", 0.334, "KWH", 2, None)
    else:
        rate("USAGE_RETAIL", "ANYTIME", 0.318, "KWH")
    if model.endswith("CONT_LOAD"):
        rate("CONTROLLED_LOAD", "CONTROLLED_LOAD", 0.176, "KWH")
    if customer == "RESIDENTIAL" and model == "TIME_OF_USE" and variant == "FLEX":
        # time-of-use feed-in: exports in the evening peak earn most
        rate("FEED_IN", "PEAK", 0.10, "KWH")
        rate("FEED_IN", "SHOULDER", 0.04, "KWH")
        rate("FEED_IN", "OFF_PEAK", 0.02, "KWH")
    else:
        rate("FEED_IN", "SOLAR", 0.05 if fy >= 2024 else 0.065, "KWH")
    # Items beyond supply and usage, as real plans carry them: a metering charge per day on
    # business plans (and peak demand on time of use), a monthly account fee on residential FLEX
    # plans, GreenPower per kWh on residential time-of-use SAVER plans.
    if customer == "BUSINESS":
        rate("METERING", "ANYTIME", 0.32, "DAY")
        if model == "TIME_OF_USE":  # a peak demand charge per kW per day
            rate("DEMAND", "PEAK", 0.265, "KW")
    elif variant == "FLEX":
        rate("FEE", "ANYTIME", 3.50, "MONTH")
    elif model == "TIME_OF_USE":
        rate("GREEN_POWER", "ANYTIME", 0.0475, "KWH")
    return out


def _discount(rng: np.random.Generator, spec: _PlanSpec) -> tuple | None:
    """A plan's discount (type, category, method, rate, amount), if it has one: pay on time on
    SAVER plans, a guaranteed share of the bill on business FLEX, $12 off every gas bill (accrued
    by day) on residential gas FLEX."""
    if spec.variant == "SAVER":
        return ("CONDITIONAL", "PAY_ON_TIME", "percentOfUse", round(float(rng.choice([0.05, 0.07, 0.1])), 4), None)
    if spec.customer == "BUSINESS":
        return ("GUARANTEED", "GUARANTEED", "percentOfBill", 0.03, None)
    if spec.fuel == "GAS":
        return ("GUARANTEED", "GUARANTEED", "fixedAmount", 0.0, 12.0)
    return None


def _tariff_frames(plans: list[tuple], rates: list[tuple], tous: list[tuple], discounts: list[tuple]) -> Tariffs:
    return Tariffs(
        pd.DataFrame(
            plans,
            columns=["id", "plan_code", "name", "service_type_id", "jurisdiction_id", "customer_type", "pricing_model"],
        ),
        pd.DataFrame(
            rates,
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
        ),
        pd.DataFrame(tous, columns=["id", "plan_id", "time_class", "days", "start_time", "end_time"]),
        pd.DataFrame(
            discounts,
            columns=[
                "id",
                "plan_id",
                "discount_type",
                "category",
                "method",
                "rate",
                "amount",
                "effective_from",
                "effective_to",
            ],
        ),
    )


def reference_tables() -> dict[str, pd.DataFrame]:
    nets = pd.DataFrame(
        [
            (i + 1, n[0], JURISDICTIONS.index(n[1]) + 1, 1 if n[2] == "ELECTRICITY" else 2)
            for i, n in enumerate(NETWORKS)
        ],
        columns=["id", "name", "jurisdiction_id", "service_type_id"],
    )
    return {
        "Jurisdiction": pd.DataFrame({"id": range(1, len(JURISDICTIONS) + 1), "name": JURISDICTIONS}),
        "ServiceType": pd.DataFrame({"id": [1, 2], "name": ["ELECTRICITY", "GAS"]}),
        "UtilityNetwork": nets,
        "UtilityTni": pd.DataFrame({"id": range(1, len(TNIS) + 1), "name": TNIS}),
        "JournalAccountSegment": pd.DataFrame({"id": [1, 2, 3], "name": SEGMENTS}),
        # ControlledLoad also maps the registers' own controlled-load values (0/1), as the legacy reads them.
        "MarketPayloadMapping": pd.DataFrame(
            {
                "id": [1, 2, 3, 4, 5, 6],
                "market_tag": ["ControlledLoad"] * 2 + ["Solar"] * 2 + ["ControlledLoad"] * 2,
                "market_value": ["E2", "41", "B1", "B2", "1", "0"],
                "value": ["YES", "YES", "YES", "YES", "YES", "NO"],
            }
        ),
    }
