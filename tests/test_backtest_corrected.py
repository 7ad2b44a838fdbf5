"""The backtest's accrual dollar error, with the accounts whose plan was replaced after billing apart."""

from __future__ import annotations

from datetime import date

import pandas as pd

from bua_synth.backtest import dollar_accuracy

OCT = date(2026, 10, 1)
RATES = pd.DataFrame(
    [
        (1, 1, date(2026, 7, 1), date(2027, 6, 30), "DAILY_RETAIL", "ANYTIME", 1, None, 1.00, "DAY"),
        (2, 1, date(2026, 7, 1), date(2027, 6, 30), "USAGE_RETAIL", "ANYTIME", 1, None, 0.30, "KWH"),
    ],
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
DISCOUNTS = pd.DataFrame(
    columns=["id", "plan_id", "discount_type", "category", "method", "rate", "effective_from", "effective_to"]
)


def test_dollar_error_is_reported_for_corrected_accounts_apart():
    # Account 1 (corrected): we estimate 110 kWh, the truth is 100; account 2: 200 kWh, exact.
    consumption = pd.DataFrame(
        [
            (a, a, 10 + a, OCT, 1, "PRIMARY", "ANYTIME", "KWH", q, q, date(2026, 10, 2), date(2026, 10, 31))
            for a, q in ((1, 110.0), (2, 200.0))
        ],
        columns=[
            "account_id",
            "utility_id",
            "register_id",
            "year_mnth",
            "plan_id",
            "stream_type",
            "time_class",
            "uom",
            "quantity",
            "estimated_quantity",
            "first_day",
            "last_day",
        ],
    )
    # Truth per register-month with its time-of-use split (none here: the rates are ANYTIME).
    truth = consumption[["account_id", "utility_id", "register_id", "year_mnth"]].assign(
        truth=[100.0, 200.0], PEAK=0.0, SHOULDER=0.0, OFF_PEAK=0.0
    )
    supply = pd.DataFrame(
        [(a, a, OCT, 1, 30, date(2026, 10, 2), date(2026, 10, 31)) for a in (1, 2)],
        columns=["account_id", "utility_id", "year_mnth", "plan_id", "days", "first_day", "last_day"],
    )
    attributes = pd.DataFrame({"account_id": [1, 2], "state": "VIC", "fuel": "ELECTRICITY"})
    out = dollar_accuracy(
        consumption, truth, supply, pd.Series({1: 0.5, 2: 0.5}), RATES, DISCOUNTS, attributes, corrected_accounts=[1]
    )
    # Ours: 30 days x 1.00 + 110 x 0.30 = 63.00 and 30.00 + 60.00 = 90.00; truth 60.00 and 90.00.
    assert out["truth_dollars"] == 150.00 and out["portfolio_dollar_error_pct"] == 2.0  # 3 / 150
    assert out["corrected_accounts"] == {"accounts": 1, "truth_dollars": 60.00, "dollar_error_pct": 5.0}  # 3 / 60
    assert (
        dollar_accuracy(consumption, truth, supply, pd.Series({1: 0.5, 2: 0.5}), RATES, DISCOUNTS, attributes)[
            "corrected_accounts"
        ]["dollar_error_pct"]
        is None
    )
