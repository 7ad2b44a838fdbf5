"""Every charge kind of a CDR energy plan, priced by hand (billing.tariff, billing.accrual):
metering and fees accrued by day, green power per day, week or kWh, seasonal usage rates, the four
discount methods, GST on feed-in by registration, and a plan item the engine cannot price, which
is a blocking ``unpriced_charge`` naming the plan, the item and the exposure."""

from __future__ import annotations

from datetime import date

import pandas as pd

from bua_assets.billing.accrual import accrual_lines, customer_terms, unpriced_charges
from bua_assets.billing.checks import ili_findings
from bua_assets.billing.line_items import priced_line_items
from bua_assets.billing.tariff import LINE_COLUMNS, price
from bua_assets.core.schema import core_tables

OCT1, OCT31 = date(2026, 10, 1), date(2026, 10, 31)
FY27 = (date(2026, 7, 1), date(2027, 6, 30))
RATE_COLUMNS = core_tables()["PlanRate"].column_names  # the CORE contract's columns, in its order
DISCOUNT_COLUMNS = core_tables()["PlanDiscount"].column_names
NO_DISCOUNTS = pd.DataFrame(columns=DISCOUNT_COLUMNS)


def rates(*rows, period=FY27):
    """(plan, charge, class, price, uom[, effective_from, effective_to])"""
    return pd.DataFrame(
        [(i + 1, p, *(rest or period), c, tc, 1, None, u, uom) for i, (p, c, tc, u, uom, *rest) in enumerate(rows)],
        columns=RATE_COLUMNS,
    )


def discounts(*rows):
    """(plan, type, method, rate, amount)"""
    return pd.DataFrame(
        [(i + 1, p, t, "PAY_ON_TIME", m, r, a, FY27[0], None) for i, (p, t, m, r, a) in enumerate(rows)],
        columns=DISCOUNT_COLUMNS,
    )


def lines(*rows, propensity=0.8, **terms):
    """(line, plan, charge, class, quantity, uom) over October; ``terms``: bill_days, gst_registered."""
    frame = pd.DataFrame(
        [(i, 1, p, OCT1, OCT31, c, tc, q, uom, propensity) for i, p, c, tc, q, uom in rows],
        columns=LINE_COLUMNS,
    )
    return frame.assign(**terms)


def amounts(priced):
    return [(r.charge_type, r.quantity, r.rate, r.net_amount) for r in priced.lines.itertuples()]


def test_metering_fees_and_green_power_accrue_by_day_at_their_daily_equivalent():
    plan = rates(
        (1, "METERING", "ANYTIME", 0.32, "DAY"),
        (2, "FEE", "ANYTIME", 3.50, "MONTH"),
        (3, "FEE", "ANYTIME", 40.00, "QUARTER"),
        (4, "FEE", "ANYTIME", 120.00, "YEAR"),
        (5, "GREEN_POWER", "ANYTIME", 1.40, "WEEK"),
        (6, "GREEN_POWER", "ANYTIME", 0.0475, "KWH"),
    )
    p = price(
        lines(
            (1, 1, "METERING", "ANYTIME", 31, "DAY"),
            (2, 2, "FEE", "ANYTIME", 31, "DAY"),
            (3, 3, "FEE", "ANYTIME", 31, "DAY"),
            (4, 4, "FEE", "ANYTIME", 31, "DAY"),
            (5, 5, "GREEN_POWER", "ANYTIME", 31, "DAY"),
            (6, 6, "GREEN_POWER", "ANYTIME", 400, "KWH"),
        ),
        plan,
        NO_DISCOUNTS,
    )
    # 31 x 0.32 = 9.92. A month is 365/12 days: 3.50 x 12 / 365 = 0.115068 a day, x 31 = 3.567 -> 3.57.
    # A quarter 365/4: 40 x 4 / 365 = 0.438356, x 31 = 13.589 -> 13.59. A year: 120 / 365 = 0.328767,
    # x 31 = 10.192 -> 10.19. A week: 1.40 / 7 = 0.20, x 31 = 6.20. Per kWh: 400 x 0.0475 = 19.00.
    assert amounts(p) == [
        ("METERING", 31, 0.32, 9.92),
        ("FEE", 31, 0.115068, 3.57),
        ("FEE", 31, 0.438356, 13.59),
        ("FEE", 31, 0.328767, 10.19),
        ("GREEN_POWER", 31, 0.2, 6.2),
        ("GREEN_POWER", 400, 0.0475, 19.0),
    ]
    assert p.exceptions.empty
    assert p.lines["gst"].tolist() == [0.99, 0.36, 1.36, 1.02, 0.62, 1.9]


def test_an_optional_item_is_priced_only_on_the_days_its_rate_is_in_force():
    # Metering introduced on 16 October: 16 days x 0.32 = 5.12, and no partial-tariff error
    # (the supply charge is required: its missing days would be one).
    plan = rates((1, "METERING", "ANYTIME", 0.32, "DAY", date(2026, 10, 16), None))
    p = price(lines((1, 1, "METERING", "ANYTIME", 31, "DAY")), plan, NO_DISCOUNTS)
    assert amounts(p) == [("METERING", 16, 0.32, 5.12)] and p.exceptions.empty


def test_seasonal_usage_rates_split_the_month_at_the_season():
    # Winter rate 0.30 to 14 October, summer 0.36 from the 15th: 310 kWh over 31 days is
    # 140 kWh (14 days) x 0.30 = 42.00 and 170 kWh (17 days) x 0.36 = 61.20.
    plan = rates(
        (1, "USAGE_RETAIL", "ANYTIME", 0.30, "KWH", date(2026, 7, 1), date(2026, 10, 14)),
        (1, "USAGE_RETAIL", "ANYTIME", 0.36, "KWH", date(2026, 10, 15), date(2027, 3, 31)),
    )
    p = price(lines((1, 1, "USAGE_RETAIL", "ANYTIME", 310, "KWH")), plan, NO_DISCOUNTS)
    assert amounts(p) == [("USAGE_RETAIL", 140.0, 0.30, 42.0), ("USAGE_RETAIL", 170.0, 0.36, 61.2)]


TOU = rates(
    (1, "DAILY_RETAIL", "ANYTIME", 1.00, "DAY"),
    (1, "USAGE_RETAIL", "PEAK", 0.45, "KWH"),
    (1, "USAGE_RETAIL", "OFF_PEAK", 0.20, "KWH"),
    (1, "FEED_IN", "SOLAR", 0.05, "KWH"),
)
MONTH_ON_TOU = [
    (1, 1, "DAILY_RETAIL", "ANYTIME", 31, "DAY"),  # 31.00
    (2, 1, "USAGE_RETAIL", "PEAK", 100, "KWH"),  # 45.00
    (3, 1, "USAGE_RETAIL", "OFF_PEAK", 300, "KWH"),  # 60.00
    (4, 1, "FEED_IN", "SOLAR", 200, "KWH"),  # -10.00
]


def discount_amounts(priced):
    return [
        (r.charge_type, r.discount_net, r.discount_net_propensity, r.discount_state) for r in priced.lines.itertuples()
    ]


def test_a_fixed_amount_per_bill_accrues_by_day_on_the_supply_line():
    # $12 off each quarterly bill (365/4 = 91.25 days): 12 x 31 / 91.25 = 4.0767 -> 4.08, guaranteed.
    p = price(lines(*MONTH_ON_TOU, bill_days=91.25), TOU, discounts((1, "GUARANTEED", "fixedAmount", 0.0, 12.0)))
    assert discount_amounts(p) == [
        ("DAILY_RETAIL", 4.08, 4.08, "GUARANTEED"),
        ("USAGE_RETAIL", 0.0, 0.0, "NONE"),
        ("USAGE_RETAIL", 0.0, 0.0, "NONE"),
        ("FEED_IN", 0.0, 0.0, "NONE"),
    ]


def test_percent_over_threshold_discounts_the_bills_usage_dollars_above_the_threshold():
    # 10% off usage above $100 a bill, monthly (365/12 days): October's threshold is
    # 100 x 31 / 30.4167 = 101.918. Usage 45.00 + 60.00 = 105.00: 3.082 above, 10% = 0.3082,
    # shared by net: peak 45/105 -> 0.1321 -> 0.13, off-peak 60/105 -> 0.1761 -> 0.18.
    # Conditional: x propensity 0.8 = 0.104 -> 0.10 and 0.144 -> 0.14. Supply and feed-in: none.
    over = discounts((1, "CONDITIONAL", "percentOverThreshold", 0.10, 100.0))
    p = price(lines(*MONTH_ON_TOU).assign(bill_key=7), TOU, over)
    assert discount_amounts(p) == [
        ("DAILY_RETAIL", 0.0, 0.0, "NONE"),
        ("USAGE_RETAIL", 0.13, 0.10, "CONDITIONAL"),
        ("USAGE_RETAIL", 0.18, 0.14, "CONDITIONAL"),
        ("FEED_IN", 0.0, 0.0, "NONE"),
    ]
    # A bill whose usage stays under the threshold (peak only: 45.00 < 101.92) gets nothing.
    p = price(lines(MONTH_ON_TOU[1]), TOU, over)
    assert p.lines["discount_net"].tolist() == [0.0]


def test_percent_of_bill_and_percent_of_use_apply_to_their_charges():
    both = discounts((1, "GUARANTEED", "percentOfBill", 0.03, None), (1, "CONDITIONAL", "percentOfUse", 0.10, None))
    p = price(lines(*MONTH_ON_TOU, propensity=0.5), TOU, both)
    # Bill 3%: supply 0.93, peak 1.35, off-peak 1.80 (not feed-in). Use 10% on top, conditional at
    # 0.5: peak 4.50 (2.25), off-peak 6.00 (3.00). The usage lines carry both: 5.85 (1.35 + 2.25)
    # and 7.80 (1.80 + 3.00), CONDITIONAL because one of their discounts is.
    assert discount_amounts(p) == [
        ("DAILY_RETAIL", 0.93, 0.93, "GUARANTEED"),
        ("USAGE_RETAIL", 5.85, 3.6, "CONDITIONAL"),
        ("USAGE_RETAIL", 7.8, 4.8, "CONDITIONAL"),
        ("FEED_IN", 0.0, 0.0, "NONE"),
    ]


def test_feed_in_carries_gst_only_for_a_customer_registered_for_gst():
    household = price(lines(*MONTH_ON_TOU, gst_registered=0), TOU, NO_DISCOUNTS)
    business = price(lines(*MONTH_ON_TOU, gst_registered=1), TOU, NO_DISCOUNTS)
    assert household.lines["gst"].tolist() == [3.1, 4.5, 6.0, 0.0]  # the feed-in credit GST-free
    assert business.lines["gst"].tolist() == [3.1, 4.5, 6.0, -1.0]


def test_customer_terms_read_the_gst_flag_and_default_households_to_unregistered():
    accounts = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "pay_on_time_propensity": [0.9, 0.5, 0.7, 0.6],
            "bill_frequency": ["MONTHLY", "QUARTERLY", "BIMONTHLY", "MONTHLY"],
            "journal_segment_id": [1, 2, 1, 2],
            "gst_registered": [None, None, 1, 0],
        }
    )
    segments = pd.DataFrame({"id": [1, 2], "name": ["RESIDENTIAL", "SME"]})
    terms = customer_terms(accounts, segments)
    assert terms["gst_registered"].tolist() == [0.0, 1.0, 1.0, 0.0]  # CORE's flag wins where given
    assert terms["bill_days"].round(4).tolist() == [30.4167, 91.25, 60.8333, 30.4167]


def test_a_plan_item_the_engine_cannot_price_is_a_blocking_exception_with_its_exposure():
    plan = rates(
        (1, "DAILY_RETAIL", "ANYTIME", 1.00, "DAY"),
        (1, "USAGE_RETAIL", "ANYTIME", 0.30, "KWH"),
        (1, "SOLAR_BONUS", "ANYTIME", 0.50, "DAY"),  # a charge type nobody taught the engine
        (1, "METERING", "ANYTIME", 0.01, "KWH"),  # a known type in a unit it is not priced in
        (1, "DEMAND", "PEAK", 0.25, "KVA"),  # demand in kVA: needs reactive energy, not loaded
    )
    odd = discounts((1, "CONDITIONAL", "percentOfSomething", 0.05, None))
    consumption = pd.DataFrame(
        {
            "account_id": [1],
            "utility_id": [9],
            "year_mnth": [OCT1],
            "plan_id": [1],
            "stream_type": ["PRIMARY"],
            "time_class": ["ANYTIME"],
            "uom": ["KWH"],
            "quantity": [400.0],
            "estimated_quantity": [0.0],
            "first_day": [OCT1],
            "last_day": [OCT31],
        }
    )
    supply = pd.DataFrame(
        {
            "account_id": [1],
            "utility_id": [9],
            "year_mnth": [OCT1],
            "plan_id": [1],
            "days": [31],
            "first_day": [OCT1],
            "last_day": [OCT31],
        }
    )
    accrual, _ = accrual_lines(consumption, supply, pd.Series({1: 0.8}), plan)
    unpriced = unpriced_charges(accrual, plan, odd)
    reasons = sorted(unpriced["reason"])
    assert set(unpriced["code"]) == {"unpriced_charge"} and set(unpriced["account_id"]) == {1}
    # Exposure: 0.50 a day x 31 days = 15.50; 0.01 a kWh x 400 kWh = 4.00; demand and the odd
    # discount cannot be estimated. Each names the plan and the item.
    assert reasons == [
        "plan 1 DEMAND/PEAK at 0.25 per KVA: a demand charge per KVA: apparent power needs reactive energy "
        "(Q/K channels), which is not loaded; 31 unbilled days, exposure cannot be estimated (not in the accrual)",
        "plan 1 METERING/ANYTIME at 0.01 per KWH: METERING is not priced per KWH; "
        "31 unbilled days, exposure about $4.00 (not in the accrual)",
        "plan 1 SOLAR_BONUS/ANYTIME at 0.5 per DAY: not a charge type the tariff engine prices (known: "
        "DAILY_RETAIL, USAGE_RETAIL, CONTROLLED_LOAD, FEED_IN, DEMAND, METERING, FEE, GREEN_POWER); "
        "31 unbilled days, exposure about $15.50 (not in the accrual)",
        "plan 1 discount CONDITIONAL percentOfSomething: discount method percentOfSomething is not one the "
        "engine applies (percentOfBill, percentOfUse, fixedAmount, percentOverThreshold); "
        "31 unbilled days, exposure cannot be estimated (not in the accrual)",
    ]
    # What can be priced is: 31 x 1.00 + 400 x 0.30 = 151.00; the check blocks the month.
    priced = price(accrual, plan, odd)
    assert round(priced.lines["net_amount"].sum(), 2) == 151.0 and priced.exceptions.empty
    items = priced_line_items(priced.lines, accrual)
    found = ili_findings(items, unpriced, pd.Series({1: 1000.0}), date(2025, 11, 1))
    assert found.has_error and found.counts["unpriced_charge"] == 4
    assert found.severity("unpriced_charge") == "ERROR"
