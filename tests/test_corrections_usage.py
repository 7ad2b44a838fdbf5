"""Compare and cancel for every charge item (DESIGN §5.6) on CORE-shaped tables: usage per time
class, controlled load, feed-in and discounts re-priced by the accrual's tariff engine. Every
expected number is worked by hand in the comments; after each run, its lines are issued into the
history (debits on one invoice, credits on a credit note) and a run in which nothing changed is
empty."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from bua_assets.billing.accrual import customer_terms
from bua_assets.billing.corrections import supplementary_lines
from bua_assets.estimation.consumption import TimeOfUse

FY26, FY27 = (date(2025, 7, 1), date(2026, 6, 30)), (date(2026, 7, 1), date(2027, 6, 30))
HORIZON = date(2025, 11, 1)
A, B, C = 5, 6, 7  # billing accounts
SP = 9  # the supply point
PROPENSITY = pd.Series({A: 0.8, B: 0.5, C: 1.0})


def rate_rows():
    rows = []

    def rate(plan, fy, charge, cls, price, uom, block=1, volume=None):
        rows.append((len(rows) + 1, plan, *fy, charge, cls, block, volume, price, uom))

    for fy in (FY26, FY27):
        # 1: time of use, no discount. 2: time of use, dearer, 10% CONDITIONAL on usage.
        # 3: plan 2's rates with a 3% GUARANTEED discount on the bill instead.
        for plan, daily, peak, off, feed in (
            (1, 1.00, 0.40, 0.20, 0.05),
            (2, 1.10, 0.50, 0.25, 0.06),
            (3, 1.10, 0.50, 0.25, 0.06),
            (7, 1.00, 0.40, 0.20, 0.08),
        ):
            rate(plan, fy, "DAILY_RETAIL", "ANYTIME", daily, "DAY")
            rate(plan, fy, "USAGE_RETAIL", "PEAK", peak, "KWH")
            rate(plan, fy, "USAGE_RETAIL", "OFF_PEAK", off, "KWH")
            rate(plan, fy, "FEED_IN", "SOLAR", feed, "KWH")
    # 5: single rate, only ever priced for FY26. 6: single rate with step blocks (10 kWh/day),
    # its prices change on 1 July.
    rate(5, FY26, "DAILY_RETAIL", "ANYTIME", 1.00, "DAY")
    rate(5, FY26, "USAGE_RETAIL", "ANYTIME", 0.30, "KWH")
    rate(6, FY26, "DAILY_RETAIL", "ANYTIME", 1.00, "DAY")
    rate(6, FY26, "USAGE_RETAIL", "ANYTIME", 0.30, "KWH", 1, 10.0)
    rate(6, FY26, "USAGE_RETAIL", "ANYTIME", 0.35, "KWH", 2, None)
    rate(6, FY27, "DAILY_RETAIL", "ANYTIME", 1.05, "DAY")
    rate(6, FY27, "USAGE_RETAIL", "ANYTIME", 0.33, "KWH", 1, 10.0)
    rate(6, FY27, "USAGE_RETAIL", "ANYTIME", 0.38, "KWH", 2, None)
    return pd.DataFrame(
        rows,
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


RATES = rate_rows()
DISCOUNTS = pd.DataFrame(
    [
        (1, 2, "CONDITIONAL", "PAY_ON_TIME", "percentOfUse", 0.10, date(2025, 7, 1), None),
        (2, 3, "GUARANTEED", "GUARANTEED", "percentOfBill", 0.03, date(2025, 7, 1), None),
    ],
    columns=["id", "plan_id", "discount_type", "category", "method", "rate", "effective_from", "effective_to"],
)


def versions(*rows):
    """(account, plan, start, end, status, flagged[, created]) -> AccountPlan; created in row order
    on 1 November 2026 unless the row says when (a version replaced later is created later)."""
    return pd.DataFrame(
        [
            (i + 1, a, SP, p, s, e, st, (*rest, datetime(2026, 11, 1, i))[0], f)
            for i, (a, p, s, e, st, f, *rest) in enumerate(rows)
        ],
        columns=[
            "id",
            "account_id",
            "utility_id",
            "plan_id",
            "start_date",
            "end_date",
            "status",
            "created_at",
            "include_in_supplementary",
        ],
    )


class History:
    """Invoice and InvoiceLineItem as CORE holds them. Bills are issued on 1 November 2026 unless
    said; each run's output is issued a day after the previous one."""

    def __init__(self):
        self.invoices, self.lines = [], []
        self.today = date(2026, 11, 1)

    def bill(self, account, start, end, items, is_credit=False, issued=None):
        """items: (charge, time class, quantity, uom, rate, net, discount) as printed on the invoice."""
        inv = len(self.invoices) + 1
        self.invoices.append((inv, account, "ISSUED", int(is_credit), issued or self.today))
        self.lines += [(inv, account, SP, start, end, *item) for item in items]
        return inv

    def issue(self, supplementary: pd.DataFrame):
        """A run's output billed: per account, its debits on an invoice and its credits on a credit
        note that repeats the lines reversed, as printed (the way the billing system issues them)."""
        self.today += timedelta(days=1)
        for (account, credit), part in supplementary.groupby(["account_id", "is_credit"]):
            sign = -1 if credit else 1
            inv = self.bill(account, part["period_start"].min(), part["period_end"].max(), [], credit)
            self.lines += [
                (
                    inv,
                    account,
                    SP,
                    r.period_start,
                    r.period_end,
                    r.charge_type,
                    r.time_class,
                    r.quantity,
                    r.uom,
                    r.rate,
                    sign * r.net_amount,
                    sign * r.discount_net,
                )
                for r in part.itertuples()
            ]

    def tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(Invoice, InvoiceLineItem) as frames."""
        invoices = pd.DataFrame(self.invoices, columns=["id", "account_id", "status", "is_credit", "issue_date"])
        lines = pd.DataFrame(
            self.lines,
            columns=[
                "invoice_id",
                "account_id",
                "utility_id",
                "period_start",
                "period_end",
                "plan_item_type_name",
                "time_class_name",
                "quantity",
                "uom",
                "rate",
                "net_amount",
                "discount_net",
            ],
        )
        return invoices, lines

    def run(self, account_plans):
        invoices, lines = self.tables()
        out, exceptions = supplementary_lines(account_plans, RATES, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY)
        assert exceptions.empty, exceptions.to_dict("records")
        return out


def rows(out: pd.DataFrame) -> set:
    return {
        (
            r.account_id,
            r.period_start,
            r.period_end,
            r.charge_type,
            r.time_class,
            r.quantity,
            r.rate,
            r.net_amount,
            r.discount_net,
            r.discount_net_propensity,
            r.is_credit,
        )
        for r in out.itertuples()
    }


AUG1, SEP15, SEP16, OCT31 = date(2026, 8, 1), date(2026, 9, 15), date(2026, 9, 16), date(2026, 10, 31)
QUARTER_ON_PLAN_1 = [
    ("DAILY_RETAIL", "ANYTIME", 92.0, "DAY", 1.00, 92.00, 0.0),  # 1 Aug - 31 Oct: 92 days
    ("USAGE_RETAIL", "PEAK", 460.0, "KWH", 0.40, 184.00, 0.0),
    ("USAGE_RETAIL", "OFF_PEAK", 920.0, "KWH", 0.20, 184.00, 0.0),
]
# The same quarter billed flat (1,380 kWh ANYTIME at 0.30), as a single-rate plan bills it.
FLAT_QUARTER = [
    ("DAILY_RETAIL", "ANYTIME", 92.0, "DAY", 1.00, 92.00, 0.0),
    ("USAGE_RETAIL", "ANYTIME", 1380.0, "KWH", 0.30, 414.00, 0.0),
]
REVERSED_QUARTER = {
    (A, AUG1, OCT31, "DAILY_RETAIL", "ANYTIME", 92.0, 1.00, -92.00, 0.0, 0.0, True),
    (A, AUG1, OCT31, "USAGE_RETAIL", "PEAK", 460.0, 0.40, -184.00, 0.0, 0.0, True),
    (A, AUG1, OCT31, "USAGE_RETAIL", "OFF_PEAK", 920.0, 0.20, -184.00, 0.0, 0.0, True),
}
# Plan 1 from 1 Aug to 15 Sep: 46 of the 92 days, so half of each billed quantity.
FIRST_HALF = {
    (A, AUG1, SEP15, "DAILY_RETAIL", "ANYTIME", 46.0, 1.00, 46.00, 0.0, 0.0, False),
    (A, AUG1, SEP15, "USAGE_RETAIL", "PEAK", 230.0, 0.40, 92.00, 0.0, 0.0, False),
    (A, AUG1, SEP15, "USAGE_RETAIL", "OFF_PEAK", 460.0, 0.20, 92.00, 0.0, 0.0, False),
}


def test_plan_replaced_mid_quarter_with_tou_and_a_conditional_discount_then_replaced_again():
    h = History()
    h.bill(A, AUG1, OCT31, QUARTER_ON_PLAN_1)
    # After billing: plan 2 (dearer, 10% conditional on usage) applies from 16 September.
    plans = versions(
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (A, 1, date(2026, 1, 1), SEP15, "APPROVED", 0),
        (A, 2, SEP16, None, "APPROVED", 1),
    )
    run1 = h.run(plans)
    # 16 Sep - 31 Oct on plan 2: 46 days x 1.10 = 50.60 (no discount on supply: percentOfUse);
    # peak 230 x 0.50 = 115.00, discount 10% = 11.50, x propensity 0.8 = 9.20; off-peak 460 x 0.25 = 115.00, same.
    assert rows(run1) == REVERSED_QUARTER | FIRST_HALF | {
        (A, SEP16, OCT31, "DAILY_RETAIL", "ANYTIME", 46.0, 1.10, 50.60, 0.0, 0.0, False),
        (A, SEP16, OCT31, "USAGE_RETAIL", "PEAK", 230.0, 0.50, 115.00, 11.50, 9.20, False),
        (A, SEP16, OCT31, "USAGE_RETAIL", "OFF_PEAK", 460.0, 0.25, 115.00, 11.50, 9.20, False),
    }
    # Owed: 460.00 billed -> 510.60; the conditional discounts are CONDITIONAL, GST beside (10%).
    assert round(run1["net_amount"].sum(), 2) == 50.60
    assert set(run1.loc[run1["discount_net"] > 0, "discount_state"]) == {"CONDITIONAL"}
    assert run1.loc[run1["net_amount"] == 50.60, "gst"].tolist() == [5.06]
    h.issue(run1)
    assert h.run(plans).empty  # nothing changed

    # Replaced again: plan 3 from 16 September has plan 2's rates but a 3% GUARANTEED discount on
    # the bill. Only the second half moves; the lines differ only in their discount.
    plans = versions(
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (A, 1, date(2026, 1, 1), SEP15, "APPROVED", 0),
        (A, 2, SEP16, None, "REPLACED", 0),
        (A, 3, SEP16, None, "APPROVED", 1, datetime(2026, 11, 20)),
    )
    run2 = h.run(plans)
    # 50.60 x 3% = 1.518 -> 1.52; 115.00 x 3% = 3.45; guaranteed: counted in full. The plan 2 lines
    # reversed give back their conditional discount at the same propensity (-9.20).
    assert rows(run2) == {
        (A, SEP16, OCT31, "DAILY_RETAIL", "ANYTIME", 46.0, 1.10, 50.60, 1.52, 1.52, False),
        (A, SEP16, OCT31, "USAGE_RETAIL", "PEAK", 230.0, 0.50, 115.00, 3.45, 3.45, False),
        (A, SEP16, OCT31, "USAGE_RETAIL", "OFF_PEAK", 460.0, 0.25, 115.00, 3.45, 3.45, False),
        (A, SEP16, OCT31, "DAILY_RETAIL", "ANYTIME", 46.0, 1.10, -50.60, 0.0, 0.0, True),
        (A, SEP16, OCT31, "USAGE_RETAIL", "PEAK", 230.0, 0.50, -115.00, -11.50, -9.20, True),
        (A, SEP16, OCT31, "USAGE_RETAIL", "OFF_PEAK", 460.0, 0.25, -115.00, -11.50, -9.20, True),
    }
    # The supply line at 1.10 for 46 days was billed without a discount and now has one, so it is
    # a different line: reversed and billed again. Net: only the discounts move (-1.52 - 6.90).
    assert round(run2["net_amount"].sum(), 2) == 0.0
    assert round(run2["discount_net"].sum(), 2) == -14.58  # -11.50 x 2 reversed, +1.52 + 3.45 x 2 billed
    h.issue(run2)
    assert h.run(plans).empty


def test_versions_moved_between_billing_accounts_over_successive_runs_with_usage_lines():
    h = History()
    sep1, sep15, sep16, sep30 = date(2026, 9, 1), date(2026, 9, 15), date(2026, 9, 16), date(2026, 9, 30)
    # September billed to A on plan 1: 30 days x 1.00; peak 300 x 0.40 = 120.00; off-peak 600 x 0.20
    # = 120.00; feed-in 150 x 0.05 = 7.50 credited to the customer (negative).
    h.bill(
        A,
        sep1,
        sep30,
        [
            ("DAILY_RETAIL", "ANYTIME", 30.0, "DAY", 1.00, 30.00, 0.0),
            ("USAGE_RETAIL", "PEAK", 300.0, "KWH", 0.40, 120.00, 0.0),
            ("USAGE_RETAIL", "OFF_PEAK", 600.0, "KWH", 0.20, 120.00, 0.0),
            ("FEED_IN", "SOLAR", 150.0, "KWH", 0.05, -7.50, 0.0),
        ],
    )
    whole = [
        ("DAILY_RETAIL", "ANYTIME", 30.0, 1.00, 30.00),
        ("USAGE_RETAIL", "PEAK", 300.0, 0.40, 120.00),
        ("USAGE_RETAIL", "OFF_PEAK", 600.0, 0.20, 120.00),
        ("FEED_IN", "SOLAR", 150.0, 0.05, -7.50),
    ]

    def lines(account, start, end, items, credit):
        sign = -1 if credit else 1
        return {(account, start, end, c, t, q, r, sign * n, 0.0, 0.0, credit) for c, t, q, r, n in items}

    # Run 1: the supply point was B's (same plan): A's four lines reversed, B's billed.
    plans = versions((A, 1, date(2026, 1, 1), None, "REPLACED", 0), (B, 1, date(2026, 1, 1), None, "APPROVED", 1))
    run1 = h.run(plans)
    assert rows(run1) == lines(A, sep1, sep30, whole, True) | lines(B, sep1, sep30, whole, False)
    h.issue(run1)
    assert h.run(plans).empty

    # Run 3: B until 15 September, C from the 16th: each half of the days and quantities
    # (15 x 1.00; 150 x 0.40 = 60.00; 300 x 0.20 = 60.00; 75 x 0.05 = 3.75 credited).
    half = [
        ("DAILY_RETAIL", "ANYTIME", 15.0, 1.00, 15.00),
        ("USAGE_RETAIL", "PEAK", 150.0, 0.40, 60.00),
        ("USAGE_RETAIL", "OFF_PEAK", 300.0, 0.20, 60.00),
        ("FEED_IN", "SOLAR", 75.0, 0.05, -3.75),
    ]
    plans = versions(
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (B, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (B, 1, date(2026, 1, 1), sep15, "APPROVED", 1),
        (C, 1, sep16, None, "APPROVED", 1),
    )
    run3 = h.run(plans)
    assert rows(run3) == (
        lines(B, sep1, sep30, whole, True) | lines(B, sep1, sep15, half, False) | lines(C, sep16, sep30, half, False)
    )
    h.issue(run3)
    assert h.run(plans).empty

    # Run 5: back to A for the month: B's and C's halves reversed, A billed again. The billed
    # period is still the bill's own month (the halves are parts a correction made), so A gets the
    # month whole, as first billed: the halves do not stay split.
    plans = versions(
        *[
            (a, p, s, e, "REPLACED", 0)
            for a, p, s, e in (
                (A, 1, date(2026, 1, 1), None),
                (B, 1, date(2026, 1, 1), None),
                (B, 1, date(2026, 1, 1), sep15),
                (C, 1, sep16, None),
            )
        ],
        (A, 1, date(2026, 1, 1), None, "APPROVED", 1),
    )
    run5 = h.run(plans)
    assert rows(run5) == (
        lines(A, sep1, sep30, whole, False) | lines(B, sep1, sep15, half, True) | lines(C, sep16, sep30, half, True)
    )
    h.issue(run5)
    assert h.run(plans).empty


def test_rate_change_across_1_july_inside_a_billed_period_with_step_blocks():
    h = History()
    jun16, jun30, jul1, jul15 = date(2026, 6, 16), date(2026, 6, 30), date(2026, 7, 1), date(2026, 7, 15)
    # Billed 16 Jun - 15 Jul (30 days) whole on plan 5 at its FY26 prices: 30 x 1.00; 600 kWh x 0.30 = 180.00.
    h.bill(
        A,
        jun16,
        jul15,
        [
            ("DAILY_RETAIL", "ANYTIME", 30.0, "DAY", 1.00, 30.00, 0.0),
            ("USAGE_RETAIL", "ANYTIME", 600.0, "KWH", 0.30, 180.00, 0.0),
        ],
    )
    plans = versions((A, 5, date(2026, 1, 1), None, "REPLACED", 0), (A, 6, date(2026, 1, 1), None, "APPROVED", 1))
    run = h.run(plans)
    # Plan 6 splits at 1 July: 15 + 15 days, 300 + 300 kWh. The first block takes 10 kWh/day x 15
    # days = 150 kWh in each part. June: 15 x 1.00 = 15.00; 150 x 0.30 = 45.00; 150 x 0.35 = 52.50.
    # July: 15 x 1.05 = 15.75; 150 x 0.33 = 49.50; 150 x 0.38 = 57.00.
    assert rows(run) == {
        (A, jun16, jul15, "DAILY_RETAIL", "ANYTIME", 30.0, 1.00, -30.00, 0.0, 0.0, True),
        (A, jun16, jul15, "USAGE_RETAIL", "ANYTIME", 600.0, 0.30, -180.00, 0.0, 0.0, True),
        (A, jun16, jun30, "DAILY_RETAIL", "ANYTIME", 15.0, 1.00, 15.00, 0.0, 0.0, False),
        (A, jun16, jun30, "USAGE_RETAIL", "ANYTIME", 150.0, 0.30, 45.00, 0.0, 0.0, False),
        (A, jun16, jun30, "USAGE_RETAIL", "ANYTIME", 150.0, 0.35, 52.50, 0.0, 0.0, False),
        (A, jul1, jul15, "DAILY_RETAIL", "ANYTIME", 15.0, 1.05, 15.75, 0.0, 0.0, False),
        (A, jul1, jul15, "USAGE_RETAIL", "ANYTIME", 150.0, 0.33, 49.50, 0.0, 0.0, False),
        (A, jul1, jul15, "USAGE_RETAIL", "ANYTIME", 150.0, 0.38, 57.00, 0.0, 0.0, False),
    }
    assert round(run["net_amount"].sum(), 2) == 24.75  # 234.75 - 210.00
    assert sorted(run.loc[~run["is_credit"] & (run["charge_type"] == "USAGE_RETAIL"), "block_order"]) == [1, 1, 2, 2]
    h.issue(run)
    assert h.run(plans).empty  # the two parts are now the billed periods, each priced as billed


def test_feed_in_credit_re_rated_and_nothing_else_touched():
    h = History()
    aug31 = date(2026, 8, 31)
    # August on plan 1: 31 x 1.00; feed-in 310 x 0.05 = 15.50 to the customer.
    h.bill(
        A,
        AUG1,
        aug31,
        [
            ("DAILY_RETAIL", "ANYTIME", 31.0, "DAY", 1.00, 31.00, 0.0),
            ("FEED_IN", "SOLAR", 310.0, "KWH", 0.05, -15.50, 0.0),
        ],
    )
    plans = versions((A, 1, date(2026, 1, 1), None, "REPLACED", 0), (A, 7, date(2026, 1, 1), None, "APPROVED", 1))
    run = h.run(plans)
    # Plan 7 pays 0.08: 310 x 0.08 = 24.80 to the customer; the old credit (15.50) is taken back.
    # The supply line is priced exactly as billed and cancels it.
    assert rows(run) == {
        (A, AUG1, aug31, "FEED_IN", "SOLAR", 310.0, 0.08, -24.80, 0.0, 0.0, False),
        (A, AUG1, aug31, "FEED_IN", "SOLAR", 310.0, 0.05, 15.50, 0.0, 0.0, True),
    }
    assert round(run["net_amount"].sum(), 2) == -9.30
    h.issue(run)
    assert h.run(plans).empty


def test_a_credit_note_already_issued_for_part_of_the_period():
    h = History()
    aug31, sep1, sep30 = date(2026, 8, 31), date(2026, 9, 1), date(2026, 9, 30)
    august = [
        ("DAILY_RETAIL", "ANYTIME", 31.0, "DAY", 1.00, 31.00, 0.0),
        ("USAGE_RETAIL", "PEAK", 310.0, "KWH", 0.40, 124.00, 0.0),
    ]
    september = [
        ("DAILY_RETAIL", "ANYTIME", 30.0, "DAY", 1.00, 30.00, 0.0),
        ("USAGE_RETAIL", "PEAK", 300.0, "KWH", 0.40, 120.00, 0.0),
    ]
    inv = h.bill(A, AUG1, aug31, august)
    h.lines += [(inv, A, SP, sep1, sep30, *item) for item in september]  # one bill, two months
    h.bill(A, sep1, sep30, september, is_credit=True)  # September credited, not yet billed again
    plans = versions((A, 1, date(2026, 1, 1), None, "REPLACED", 0), (A, 2, date(2026, 1, 1), None, "APPROVED", 1))
    run = h.run(plans)
    # Only August is still billed: reversed, and billed at plan 2 (31 x 1.10 = 34.10; 310 x 0.50
    # = 155.00, 10% conditional = 15.50, x 0.8 = 12.40). September was cancelled by its credit note:
    # it is unbilled (the accrual prices it), so compare and cancel neither credits nor bills it.
    assert rows(run) == {
        (A, AUG1, aug31, "DAILY_RETAIL", "ANYTIME", 31.0, 1.00, -31.00, 0.0, 0.0, True),
        (A, AUG1, aug31, "USAGE_RETAIL", "PEAK", 310.0, 0.40, -124.00, 0.0, 0.0, True),
        (A, AUG1, aug31, "DAILY_RETAIL", "ANYTIME", 31.0, 1.10, 34.10, 0.0, 0.0, False),
        (A, AUG1, aug31, "USAGE_RETAIL", "PEAK", 310.0, 0.50, 155.00, 15.50, 12.40, False),
    }
    h.issue(run)
    assert h.run(plans).empty


def test_a_period_the_new_plan_cannot_price_is_not_reopened_and_says_why():
    h = History()
    # ANYTIME usage billed, but plan 1 is time of use: the billed quantity has no time classes.
    h.bill(A, AUG1, OCT31, FLAT_QUARTER)
    plans = versions((A, 5, date(2026, 1, 1), None, "REPLACED", 0), (A, 1, date(2026, 1, 1), None, "APPROVED", 1))
    with pytest.raises(AssertionError, match="missing_tariff"):
        h.run(plans)
    invoices, lines = h.tables()
    out, exceptions = supplementary_lines(plans, RATES, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY)
    assert out.empty  # not even the supply line: the period is left whole
    (exc,) = exceptions.to_dict("records")
    assert exc["code"] == "missing_tariff" and exc["period_start"] == AUG1
    assert "USAGE_RETAIL/ANYTIME" in exc["reason"] and "not recalculated" in exc["reason"]


def test_every_generated_bill_re_priced_at_the_plan_it_was_billed_on_cancels_exactly(retailer):
    """The generated history is billed the way the engine prices: flag every account that was
    never replaced, at its own plans, and compare and cancel finds nothing to correct. The
    retailer's real corrections re-rate usage as well as supply."""
    con = sqlite3.connect(retailer[0] / "core.db")
    tables = {
        t: pd.read_sql(f"select * from {t}", con)
        for t in (
            "AccountPlan",
            "PlanRate",
            "PlanDiscount",
            "Invoice",
            "InvoiceLineItem",
            "Account",
            "JournalAccountSegment",
        )
    }
    con.close()
    # The account's terms: pay-on-time propensity, bill length (a fixed discount per bill accrues
    # by day) and GST registration.
    terms = customer_terms(tables["Account"], tables["JournalAccountSegment"])
    plans = tables["AccountPlan"]
    replaced = plans.loc[plans["status"] == "REPLACED", "account_id"]
    unchanged = plans[~plans["account_id"].isin(replaced)].assign(include_in_supplementary=1)
    args = (
        tables["PlanRate"],
        tables["Invoice"],
        tables["InvoiceLineItem"],
        date(2024, 11, 1),
        tables["PlanDiscount"],
        terms,
    )
    out, exceptions = supplementary_lines(unchanged, *args)
    assert out.empty and set(exceptions["code"]) <= {"beyond_horizon"}
    assert tables["InvoiceLineItem"]["utility_id"].isin(unchanged["utility_id"]).mean() > 0.9

    corrections, exceptions = supplementary_lines(plans, *args)
    assert set(exceptions["code"]) <= {"beyond_horizon"}
    assert {"DAILY_RETAIL", "USAGE_RETAIL"} <= set(corrections["charge_type"])
    # The retailer's plans carry metering, fees and green power: generated bills price them as
    # the engine does (the unchanged accounts above cancel exactly with them).
    billed_items = set(tables["InvoiceLineItem"]["plan_item_type_name"])
    assert {"METERING", "FEE", "GREEN_POWER"} <= billed_items
    assert set(corrections["account_id"]) == set(replaced)


def test_overlapping_approved_versions_leave_the_period_as_billed_and_say_so():
    h = History()
    h.bill(A, AUG1, OCT31, QUARTER_ON_PLAN_1)
    # Plan 2 from 16 Sep overlaps plan 1, still open: those days would be billed twice.
    plans = versions((A, 1, date(2026, 1, 1), None, "APPROVED", 0), (A, 2, SEP16, None, "APPROVED", 1))
    invoices, lines = h.tables()
    out, exceptions = supplementary_lines(plans, RATES, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY)
    assert out.empty
    assert exceptions[["code", "period_start"]].values.tolist() == [["overlapping_charge_versions", AUG1]]


def test_a_plan_replaced_twice_before_one_run_is_reversed_at_the_version_that_billed_it():
    h = History()
    # The quarter billed on 1 November on plan 2 (10% CONDITIONAL on usage): 92 x 1.10 = 101.20;
    # peak 460 x 0.50 = 230.00, discount 23.00; off-peak 920 x 0.25 = 230.00, discount 23.00.
    h.bill(
        A,
        AUG1,
        OCT31,
        [
            ("DAILY_RETAIL", "ANYTIME", 92.0, "DAY", 1.10, 101.20, 0.0),
            ("USAGE_RETAIL", "PEAK", 460.0, "KWH", 0.50, 230.00, 23.00),
            ("USAGE_RETAIL", "OFF_PEAK", 920.0, "KWH", 0.25, 230.00, 23.00),
        ],
    )
    # After the bill: replaced by plan 3 on 10 November (never billed), then by plan 1 on the 12th.
    plans = versions(
        (A, 2, date(2026, 1, 1), None, "REPLACED", 0, datetime(2026, 1, 1)),
        (A, 3, date(2026, 1, 1), None, "REPLACED", 0, datetime(2026, 11, 10)),
        (A, 1, date(2026, 1, 1), None, "APPROVED", 1, datetime(2026, 11, 12)),
    )
    run = h.run(plans)
    # Reversed at plan 2, the plan in force on the issue date: its CONDITIONAL discount comes back
    # at the propensity (23.00 x 0.8 = 18.40), not plan 3's GUARANTEED 3%. Billed again at plan 1.
    assert rows(run) == {
        (A, AUG1, OCT31, "DAILY_RETAIL", "ANYTIME", 92.0, 1.10, -101.20, 0.0, 0.0, True),
        (A, AUG1, OCT31, "USAGE_RETAIL", "PEAK", 460.0, 0.50, -230.00, -23.00, -18.40, True),
        (A, AUG1, OCT31, "USAGE_RETAIL", "OFF_PEAK", 920.0, 0.25, -230.00, -23.00, -18.40, True),
        *{(A, AUG1, OCT31, c, t, q, r, n, 0.0, 0.0, False) for c, t, q, _, r, n, _ in QUARTER_ON_PLAN_1},
    }
    assert set(run.loc[run["is_credit"], "plan_id"]) == {2}
    assert set(run.loc[run["is_credit"] & (run["discount_net"] != 0), "discount_state"]) == {"CONDITIONAL"}
    h.issue(run)
    assert h.run(plans).empty


def test_a_backdated_change_replaced_back_mirrors_the_first_correction_and_restores_the_bill():
    h = History()
    h.bill(A, AUG1, OCT31, QUARTER_ON_PLAN_1)
    first = versions(
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (A, 1, date(2026, 1, 1), SEP15, "APPROVED", 0),
        (A, 2, SEP16, None, "APPROVED", 1),
    )
    run1 = h.run(first)
    assert round(run1["net_amount"].sum(), 2) == 50.60  # as in the first test: 460.00 -> 510.60
    h.issue(run1)
    # The change was a mistake: plan 1 for the whole quarter again.
    back = versions(
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (A, 1, date(2026, 1, 1), SEP15, "REPLACED", 0),
        (A, 2, SEP16, None, "REPLACED", 0),
        (A, 1, date(2026, 1, 1), None, "APPROVED", 1, datetime(2026, 11, 20)),
    )
    run2 = h.run(back)
    # The mirror of run 1: both parts reversed (the plan 2 part with its conditional discount at the
    # propensity) and the quarter billed whole again, exactly as first billed: -50.60 to the cent.
    second_half = {
        (A, SEP16, OCT31, "DAILY_RETAIL", "ANYTIME", 46.0, 1.10, -50.60, 0.0, 0.0, True),
        (A, SEP16, OCT31, "USAGE_RETAIL", "PEAK", 230.0, 0.50, -115.00, -11.50, -9.20, True),
        (A, SEP16, OCT31, "USAGE_RETAIL", "OFF_PEAK", 460.0, 0.25, -115.00, -11.50, -9.20, True),
    }
    first_half_reversed = {(*r[:7], -r[7], *r[8:10], True) for r in FIRST_HALF}
    quarter = {(A, AUG1, OCT31, c, t, q, r, n, 0.0, 0.0, False) for c, t, q, _, r, n, _ in QUARTER_ON_PLAN_1}
    assert rows(run2) == second_half | first_half_reversed | quarter
    assert round(run2["net_amount"].sum(), 2) == -round(run1["net_amount"].sum(), 2) == -50.60
    assert round(run2["discount_net"].sum(), 2) == -round(run1["discount_net"].sum(), 2) == -23.00
    h.issue(run2)
    assert h.run(back).empty


def test_a_zero_line_re_rated_emits_nothing():
    h = History()
    aug31 = date(2026, 8, 31)
    # August on plan 1 with no export at all: the feed-in line shows 0 kWh.
    h.bill(
        A,
        AUG1,
        aug31,
        [
            ("DAILY_RETAIL", "ANYTIME", 31.0, "DAY", 1.00, 31.00, 0.0),
            ("FEED_IN", "SOLAR", 0.0, "KWH", 0.05, -0.0, 0.0),
        ],
    )
    # Plan 7 pays more for exports (0.08) at the same supply rate: 0 kWh is worth 0 at either rate,
    # and the supply line prices exactly as billed. Nothing to correct, so no lines at all.
    plans = versions((A, 1, date(2026, 1, 1), None, "REPLACED", 0), (A, 7, date(2026, 1, 1), None, "APPROVED", 1))
    assert h.run(plans).empty


# Plan 8: single rate (1.00 a day, 0.30 a kWh, feed-in 0.05); plan 1's windows: PEAK 15:00-21:00
# every day, OFF_PEAK the rest.
FLAT_RATES = pd.concat(
    [
        RATES,
        pd.DataFrame(
            [
                (900 + i, 8, *fy, c, tc, 1, None, p, u)
                for i, (fy, (c, tc, p, u)) in enumerate(
                    (fy, item)
                    for fy in (FY26, FY27)
                    for item in (
                        ("DAILY_RETAIL", "ANYTIME", 1.00, "DAY"),
                        ("USAGE_RETAIL", "ANYTIME", 0.30, "KWH"),
                        ("FEED_IN", "SOLAR", 0.05, "KWH"),
                    )
                )
            ],
            columns=RATES.columns,
        ),
    ],
    ignore_index=True,
)
PLAN_1_WINDOWS = TimeOfUse.from_tables(
    pd.DataFrame({"id": [1, 8], "pricing_model": ["TIME_OF_USE", "SINGLE_RATE"]}),
    pd.DataFrame(
        [(1, "PEAK", "ALL", "15:00", "21:00"), (1, "OFF_PEAK", "ALL", "21:00", "15:00")],
        columns=["plan_id", "time_class", "days", "start_time", "end_time"],
    ),
)


def interval_days(estimated: bool = False):
    """Every day 0.5 kWh a half hour on the general (and solar) registers, no controlled load: PEAK
    (12 half hours) is a quarter of the day, OFF_PEAK three quarters; ``estimated``: the days'
    shapes come from the profile."""

    def half_hours(requests, stream):
        first, last = requests["first"].min(), requests["last"].max()
        dates = pd.date_range(first, last) if stream != "CONTROL" else pd.DatetimeIndex([])  # no controlled load
        days = pd.DataFrame({"utility_id": SP, "date": dates})
        return days, np.full((len(days), 48), 0.5), np.full(len(days), estimated)

    return half_hours


def rerating_run(h: History, plans, half_hours=None):
    invoices, lines = h.tables()
    return supplementary_lines(
        plans, FLAT_RATES, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY, PLAN_1_WINDOWS, half_hours
    )


def test_time_of_use_billed_then_a_flat_plan_backdated_and_replaced_back_re_rates_both_ways():
    h = History()
    h.bill(A, AUG1, OCT31, QUARTER_ON_PLAN_1)
    # A flat plan backdated over the quarter: the billed PEAK 460 + OFF_PEAK 920 are summed onto
    # ANYTIME, 1,380 kWh x 0.30 = 414.00; the time-of-use lines are reversed. The supply line (92
    # days at 1.00 on both plans) is unchanged.
    flat = versions((A, 1, date(2026, 1, 1), None, "REPLACED", 0), (A, 8, date(2026, 1, 1), None, "APPROVED", 1))
    out, exceptions = rerating_run(h, flat, interval_days())
    assert exceptions.empty, exceptions.to_dict("records")
    assert rows(out) == {
        (A, AUG1, OCT31, "USAGE_RETAIL", "PEAK", 460.0, 0.40, -184.00, 0.0, 0.0, True),
        (A, AUG1, OCT31, "USAGE_RETAIL", "OFF_PEAK", 920.0, 0.20, -184.00, 0.0, 0.0, True),
        (A, AUG1, OCT31, "USAGE_RETAIL", "ANYTIME", 1380.0, 0.30, 414.00, 0.0, 0.0, False),
    }
    h.issue(out)
    assert rerating_run(h, flat, interval_days())[0].empty  # issued: nothing left to correct
    # Replaced back to plan 1: the ANYTIME figure is split by the interval data of those days, a
    # quarter PEAK (345 kWh x 0.40 = 138.00) and three quarters OFF_PEAK (1,035 x 0.20 = 207.00);
    # the ANYTIME line is reversed. (The days' data says 25% peak; the first bill said 33%: the
    # bill's own split is not known once it was billed flat.)
    back = versions(
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0),
        (A, 8, date(2026, 1, 1), None, "REPLACED", 0, datetime(2026, 11, 1, 1)),
        (A, 1, date(2026, 1, 1), None, "APPROVED", 1, datetime(2026, 11, 5)),
    )
    out, exceptions = rerating_run(h, back, interval_days())
    assert exceptions.empty, exceptions.to_dict("records")
    assert rows(out) == {
        (A, AUG1, OCT31, "USAGE_RETAIL", "ANYTIME", 1380.0, 0.30, -414.00, 0.0, 0.0, True),
        (A, AUG1, OCT31, "USAGE_RETAIL", "PEAK", 345.0, 0.40, 138.00, 0.0, 0.0, False),
        (A, AUG1, OCT31, "USAGE_RETAIL", "OFF_PEAK", 1035.0, 0.20, 207.00, 0.0, 0.0, False),
    }
    h.issue(out)
    assert rerating_run(h, back, interval_days())[0].empty


def test_a_flat_figure_split_by_the_profile_is_flagged_estimated_and_without_data_left_as_billed():
    h = History()
    h.bill(A, AUG1, OCT31, FLAT_QUARTER)
    to_tou = versions((A, 8, date(2026, 1, 1), None, "REPLACED", 0), (A, 1, date(2026, 1, 1), None, "APPROVED", 1))
    out, exceptions = rerating_run(h, to_tou, interval_days(estimated=True))
    assert {(r.time_class, r.quantity, r.net_amount) for r in out.itertuples() if not r.is_credit} == {
        ("PEAK", 345.0, 138.0),
        ("OFF_PEAK", 1035.0, 207.0),
    }
    (flag,) = exceptions.to_dict("records")
    assert flag["code"] == "rerated_estimate" and "92 day(s) shaped by the load profile" in flag["reason"]
    # No half hours for those days at all: the period is left as billed, and says why.
    nothing = lambda requests, stream: (  # noqa: E731
        pd.DataFrame({"utility_id": [], "date": []}),
        np.zeros((0, 48)),
        np.zeros(0, dtype=bool),
    )
    out, exceptions = rerating_run(h, to_tou, nothing)
    assert out.empty and exceptions["code"].tolist() == ["missing_tariff"]


def test_a_billed_figure_the_days_data_measures_none_of_is_split_by_the_windows_hours_not_left_blocking():
    # Found at 300k accounts: a month's tiny export pro-rated onto the one day a plan change cut
    # off, whose half hours exported nothing, had no shape to split by and stopped the month
    # (missing_tariff). Days found but measuring nothing: split by the hours of the plan's
    # windows (PEAK 15:00-21:00 is 12 of 48 half hours), flagged estimated; the month goes on.
    h = History()
    h.bill(A, AUG1, OCT31, FLAT_QUARTER)
    to_tou = versions((A, 8, date(2026, 1, 1), None, "REPLACED", 0), (A, 1, date(2026, 1, 1), None, "APPROVED", 1))

    def measured_nothing(requests, stream):
        days, values, estimated = interval_days()(requests, stream)
        return days, np.zeros_like(values), estimated

    out, exceptions = rerating_run(h, to_tou, measured_nothing)
    assert {(r.time_class, r.quantity, r.net_amount) for r in out.itertuples() if not r.is_credit} == {
        ("PEAK", 345.0, 138.0),
        ("OFF_PEAK", 1035.0, 207.0),
    }
    (flag,) = exceptions.to_dict("records")
    assert flag["code"] == "rerated_estimate" and "by the hours of its windows" in flag["reason"], flag


def test_a_demand_charge_of_the_new_plan_is_measured_from_the_billed_days_half_hours():
    # Plan 9 is plan 8 with a demand charge of 0.50 a kW a day, any time of day. Billed on plan 8
    # (no demand), plan 9 backdated: every half hour is 0.5 kWh, so the maximum demand is 1.0 kW,
    # and 1.0 x 0.50 x 92 days = 46.00 is billed; nothing else changes.
    demand_plan = FLAT_RATES[FLAT_RATES["plan_id"] == 8].assign(plan_id=9, id=lambda r: r["id"] + 100)
    extra = demand_plan.head(2).assign(
        id=[990, 991],
        charge_type="DEMAND",
        time_class="ANYTIME",
        unit_price=0.50,
        uom="KW",
        effective_from=[FY26[0], FY27[0]],
        effective_to=[FY26[1], FY27[1]],
    )
    rates = pd.concat([FLAT_RATES, demand_plan, extra], ignore_index=True)
    plans = pd.DataFrame({"id": [8, 9], "pricing_model": ["SINGLE_RATE", "SINGLE_RATE"]})
    no_windows = pd.DataFrame(columns=["plan_id", "time_class", "days", "start_time", "end_time"])
    tou = TimeOfUse.from_tables(plans, no_windows, rates)
    h = History()
    h.bill(A, AUG1, OCT31, FLAT_QUARTER)
    change = versions((A, 8, date(2026, 1, 1), None, "REPLACED", 0), (A, 9, date(2026, 1, 1), None, "APPROVED", 1))
    invoices, lines = h.tables()
    out, exceptions = supplementary_lines(
        change, rates, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY, tou, interval_days()
    )
    assert exceptions.empty, exceptions.to_dict("records")
    assert rows(out) == {(A, AUG1, OCT31, "DEMAND", "ANYTIME", 1.0, 0.50, 46.00, 0.0, 0.0, False)}
    h.issue(out)
    invoices, lines = h.tables()
    again, _ = supplementary_lines(change, rates, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY, tou, interval_days())
    assert again.empty  # the billed demand is now the bill's and re-prices to itself
    # Nothing to measure it by: the period is left as billed, blocking (missing_tariff), named.
    nothing = lambda requests, stream: (  # noqa: E731
        pd.DataFrame({"utility_id": [], "date": []}),
        np.zeros((0, 48)),
        np.zeros(0, dtype=bool),
    )
    h = History()
    h.bill(A, AUG1, OCT31, [("DAILY_RETAIL", "ANYTIME", 92.0, "DAY", 1.00, 92.00, 0.0)])
    invoices, lines = h.tables()
    out, exceptions = supplementary_lines(change, rates, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY, tou, nothing)
    assert out.empty and exceptions["code"].tolist() == ["missing_tariff"]
    assert "DEMAND/ANYTIME" in exceptions["reason"].iloc[0] and "maximum demand" in exceptions["reason"].iloc[0]


def test_a_re_rated_period_split_again_by_a_later_change_is_not_counted_twice():
    # Billed flat (1,380 kWh), moved onto time of use for the quarter and issued, then the flat plan
    # put back to 15 September with time of use from the 16th and issued: a run with nothing
    # changed since is empty (the time-of-use figures replaced the flat one; they are not summed).
    h = History()
    h.bill(A, AUG1, OCT31, FLAT_QUARTER)
    to_tou = versions((A, 8, date(2026, 1, 1), None, "REPLACED", 0), (A, 1, date(2026, 1, 1), None, "APPROVED", 1))
    out, _ = rerating_run(h, to_tou, interval_days())
    h.issue(out)
    split = versions(
        (A, 8, date(2026, 1, 1), None, "REPLACED", 0),
        (A, 1, date(2026, 1, 1), None, "REPLACED", 0, datetime(2026, 11, 3)),
        (A, 8, date(2026, 1, 1), SEP15, "APPROVED", 1, datetime(2026, 11, 4)),
        (A, 1, SEP16, None, "APPROVED", 1, datetime(2026, 11, 4, 1)),
    )
    out, exceptions = rerating_run(h, split, interval_days())
    assert exceptions.empty, exceptions.to_dict("records")
    # 1 Aug - 15 Sep back on the flat plan: half the quarter, 690 kWh x 0.30 = 207.00, in place of
    # its time-of-use half (172.5 PEAK + 517.5 OFF_PEAK); 16 Sep on stays time of use.
    usage = {
        (r.period_start, r.time_class, r.quantity, r.net_amount)
        for r in out.itertuples()
        if r.charge_type == "USAGE_RETAIL" and not r.is_credit
    }
    assert (AUG1, "ANYTIME", 690.0, 207.0) in usage
    h.issue(out)
    assert rerating_run(h, split, interval_days())[0].empty


def demand_plan_rates(from_fy=FY26):
    """Plan 9: plan 8 with usage at 0.35 and a demand charge of 0.50 a kW a day from ``from_fy``."""
    plan9 = FLAT_RATES[FLAT_RATES["plan_id"] == 8].assign(plan_id=9, id=lambda r: r["id"] + 100)
    plan9.loc[plan9["charge_type"] == "USAGE_RETAIL", "unit_price"] = 0.35
    demand = plan9.head(1).assign(
        id=[990],
        charge_type="DEMAND",
        time_class="ANYTIME",
        unit_price=0.50,
        uom="KW",
        effective_from=[from_fy[0]],
        effective_to=[None],
    )
    rates = pd.concat([FLAT_RATES, plan9, demand], ignore_index=True)
    plans = pd.DataFrame({"id": [8, 9], "pricing_model": ["SINGLE_RATE", "SINGLE_RATE"]})
    no_windows = pd.DataFrame(columns=["plan_id", "time_class", "days", "start_time", "end_time"])
    return rates, TimeOfUse.from_tables(plans, no_windows, rates)


def test_demand_is_asked_for_only_where_its_rate_is_in_force_and_never_from_profiled_days():
    feb1, apr30 = date(2026, 2, 1), date(2026, 4, 30)
    h = History()
    h.bill(
        A,
        feb1,
        apr30,
        [
            ("DAILY_RETAIL", "ANYTIME", 89.0, "DAY", 1.00, 89.00, 0.0),
            ("USAGE_RETAIL", "ANYTIME", 1000.0, "KWH", 0.30, 300.00, 0.0),
        ],
    )
    change = versions((A, 8, date(2026, 1, 1), None, "REPLACED", 0), (A, 9, date(2026, 1, 1), None, "APPROVED", 1))
    invoices, lines = h.tables()

    def profiled_only(requests, stream):  # a basic meter: every day is the profile's shape
        dates = pd.date_range(requests["first"].min(), requests["last"].max())
        return (
            pd.DataFrame({"utility_id": SP, "date": dates, "profiled": True}),
            np.full((len(dates), 48), 0.5),
            np.ones(len(dates), dtype=bool),
        )

    # The demand rate starts on 1 July 2026: the FY26 bill's usage correction (1,000 kWh at 0.35
    # instead of 0.30: +50.00) goes through and no demand is asked for.
    rates, tou = demand_plan_rates(from_fy=FY27)
    out, exceptions = supplementary_lines(
        change, rates, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY, tou, profiled_only
    )
    assert exceptions.empty, exceptions.to_dict("records")
    assert sorted(out["net_amount"]) == [-300.0, 350.0]
    # In force on those days, but only profiled days to go by: never a made-up maximum demand; the
    # period is left as billed, blocking.
    rates, tou = demand_plan_rates(from_fy=FY26)
    out, exceptions = supplementary_lines(
        change, rates, invoices, lines, HORIZON, DISCOUNTS, PROPENSITY, tou, profiled_only
    )
    assert out.empty and exceptions["code"].tolist() == ["missing_tariff"]


def test_a_meter_exchanged_under_the_same_nmi_and_suffix_is_one_channel_counted_once():
    from bua_assets.billing.rerating import supply_point_half_hours
    from bua_assets.estimation import profiles as prof

    window = prof.Window(date(2026, 1, 1), date(2026, 12, 31))
    macro = prof.MacroProfiles(
        ["RES|NSW|PRIMARY"], np.ones((1, window.days)), np.full((1, window.days, 48), 1 / 48), window
    )
    registers = pd.DataFrame(
        {
            "register_id": [1, 2],  # the old meter's E1 and the new meter's E1
            "utility_id": [SP, SP],
            "nmi": ["4100000001", "4100000001"],
            "suffix": ["E1", "E1"],
            "stream_type": ["PRIMARY", "PRIMARY"],
            "profile_key": ["RES|NSW|PRIMARY"] * 2,
        }
    )
    data = pa.table(
        {
            "nmi": ["4100000001"],
            "suffix": ["E1"],
            "read_date": pa.array([date(2026, 10, 1)], pa.date32()),
            "interval_length": pa.array([30], pa.int16()),
            "values": [[0.5] * 48],
            "interval_quality": [["A"] * 48],
            "quality_method": ["A"],
        }
    )
    days, values, estimated = supply_point_half_hours(
        registers,
        data,
        macro,
        pd.DataFrame({"utility_id": [SP], "first": [pd.Timestamp("2026-10-01")], "last": [pd.Timestamp("2026-10-02")]}),
        "PRIMARY",
    )
    # 1 October: its data, 24 kWh, once; 2 October: no data, the profile's shape at the site's
    # mean measured day (24 kWh), flagged estimated and profiled.
    assert values.sum(axis=1).tolist() == [24.0, 24.0]
    assert estimated.tolist() == [False, True] and days["profiled"].tolist() == [False, True]
