"""The accrual invoice's line item layout (billing.line_items) and which of its rows are errors or
warnings (billing.checks)."""

from __future__ import annotations

from datetime import date

import pandas as pd

from bua_assets.billing.checks import ili_findings
from bua_assets.billing.line_items import LINE_ITEM_COLUMNS, as_line_items, priced_line_items

OCT = date(2026, 10, 1)
HORIZON = date(2024, 11, 1)
NO_EXCEPTIONS = pd.DataFrame(columns=["line_id", "account_id", "code", "reason"])


def line(**kw) -> dict:
    return {
        "line_id": 0,
        "account_id": 1,
        "utility_id": 9,
        "year_mnth": OCT,
        "plan_id": 10,
        "ili_state": "UNBILLED",
        "plan_item_type_name": "USAGE_RETAIL",
        "time_class_name": "ANYTIME",
        "period_start": OCT,
        "period_end": date(2026, 10, 31),
        "block_order": 1,
        "quantity": 100.0,
        "rate": 0.3,
        "net_amount": 30.0,
    } | kw


def test_a_clean_month_has_no_findings():
    lines = pd.DataFrame(
        [line(), line(line_id=1, plan_item_type_name="DAILY_RETAIL", quantity=31.0, rate=1.0, net_amount=31.0)]
    )
    found = ili_findings(lines, NO_EXCEPTIONS, pd.Series({1: 200.0}), HORIZON)
    assert not found.has_error and not any(found.counts.values()) and found.failing_rows() == {}
    assert list(found.counts) == [
        "missing_tariff",
        "unpriced_charge",
        "negative_usage",
        "duplicate_lines",
        "beyond_horizon",
        "overlapping_charge_versions",
        "zero_rate",
        "implausible_amount",
    ]


def test_errors_and_warnings_name_their_rows():
    lines = pd.DataFrame(
        [
            line(line_id=1, quantity=-5.0, net_amount=-1.5),  # negative usage
            line(line_id=2, ili_state="SUPPLEMENTARY", quantity=-5.0, net_amount=-1.5),  # a credit: not negative usage
            line(line_id=3, period_start=date(2024, 10, 31), year_mnth=date(2024, 10, 1)),  # a day before the horizon
            line(line_id=4, plan_item_type_name="DAILY_RETAIL", rate=0.0, net_amount=0.0),  # a free supply charge
            line(line_id=5, plan_item_type_name="FEED_IN", rate=0.0, net_amount=0.0),  # a zero feed-in rate is allowed
            line(line_id=6, time_class_name="PEAK", net_amount=7.0),
            line(line_id=7, time_class_name="PEAK", net_amount=7.0),
            # Same start, plan and amount but another end: two billed periods, not a repeat.
            line(line_id=8, ili_state="SUPPLEMENTARY", plan_item_type_name="FEED_IN", period_end=date(2026, 10, 20)),
            line(line_id=9, ili_state="SUPPLEMENTARY", plan_item_type_name="FEED_IN", period_end=date(2026, 11, 24)),
        ]
    )
    exceptions = pd.DataFrame(
        {
            "line_id": [None, None, None],
            "account_id": [1, 2, 3],
            "code": ["partial_tariff", "overlapping_charge_versions", "something_else"],
            "reason": ["", "", ""],
        }
    )
    found = ili_findings(lines, exceptions, pd.Series({1: 1000.0}), HORIZON)
    ids = {k: v["line_id"].tolist() for k, v in {**found.errors, **found.warnings}.items() if "line_id" in v}
    assert ids["negative_usage"] == [1] and ids["beyond_horizon"] == [3] and ids["duplicate_lines"] == [6, 7]
    assert ids["zero_rate"] == [4]
    assert found.errors["missing_tariff"]["account_id"].tolist() == [1]
    assert found.warnings["overlapping_charge_versions"]["account_id"].tolist() == [2]
    assert found.has_error and found.severity("duplicate_lines") == "ERROR" and found.severity("zero_rate") == "WARN"
    assert found.counts["implausible_amount"] == 0


def test_a_month_over_five_times_the_largest_past_bill_is_implausible():
    lines = pd.DataFrame([line(net_amount=501.0), line(line_id=1, account_id=2, net_amount=499.0)])
    found = ili_findings(lines, NO_EXCEPTIONS, pd.Series({1: 100.0, 2: 100.0}), HORIZON)
    assert found.warnings["implausible_amount"]["account_id"].tolist() == [1]  # 501 > 5 x 100; 499 is not
    assert not found.has_error and found.counts["implausible_amount"] == 1
    # a stricter factor catches both; an account never billed before is never implausible
    assert (
        ili_findings(lines, NO_EXCEPTIONS, pd.Series({1: 100.0, 2: 100.0}), HORIZON, 4.0).counts["implausible_amount"]
        == 2
    )
    assert ili_findings(lines, NO_EXCEPTIONS, pd.Series(dtype=float), HORIZON).counts["implausible_amount"] == 0


def test_supplementary_credits_carry_negative_quantity_and_number_on_from_the_accrual_lines():
    s = pd.DataFrame(
        {
            "account_id": [1, 1],
            "utility_id": [9, 9],
            "period_start": [date(2026, 8, 5)] * 2,
            "period_end": [date(2026, 9, 4)] * 2,
            "plan_id": [10, 10],
            "charge_type": ["USAGE_RETAIL"] * 2,
            "time_class": ["ANYTIME"] * 2,
            "days": [31.0, 31.0],
            "block_order": [1.0, 1.0],
            "quantity": [300.0, 300.0],
            "uom": ["KWH"] * 2,
            "rate": [0.30, 0.32],
            "net_amount": [-90.0, 96.0],
            "discount_net": [0.0, 0.0],
            "discount_net_propensity": [0.0, 0.0],
            "discount_state": ["NONE"] * 2,
            "gst": [-9.0, 9.6],
            "is_credit": [True, False],
        }
    )
    out = as_line_items(s, start=40)
    assert list(out.columns) == LINE_ITEM_COLUMNS
    assert out["line_id"].tolist() == [40, 41] and set(out["ili_state"]) == {"SUPPLEMENTARY"}
    assert out["quantity"].tolist() == [-300.0, 300.0] and out["net_amount"].sum() == 6.0  # nets to the re-rating
    assert out["year_mnth"].tolist() == [date(2026, 8, 1)] * 2  # the month the period starts in
    assert set(out["feature_type_name"]) == {"CONSUMPTION"} and out["days"].dtype == int


def test_priced_parts_take_their_lines_supply_point_month_and_state():
    lines = pd.DataFrame(
        {"line_id": [0, 1], "utility_id": [9, 8], "year_mnth": [OCT, OCT], "ili_state": ["UNBILLED", "UNBILLED"]}
    )
    priced = pd.DataFrame(
        {
            "line_id": [1, 1],
            "account_id": [2, 2],
            "plan_id": [10, 10],
            "discount_state": "NONE",
            "charge_type": "DAILY_RETAIL",
            "time_class": "ANYTIME",
            "part_start": pd.to_datetime(["2026-10-01", "2026-10-16"]),
            "part_end": pd.to_datetime(["2026-10-15", "2026-10-31"]),
            "days": [15, 16],
            "block_order": 1,
            "quantity": [15.0, 16.0],
            "uom": "DAY",
            "rate": [1.0, 1.1],
            "net_amount": [15.0, 17.6],
            "discount_net": 0.0,
            "discount_net_propensity": 0.0,
            "gst": [1.5, 1.76],
        }
    )
    out = priced_line_items(priced, lines)
    assert list(out.columns) == LINE_ITEM_COLUMNS
    assert out["utility_id"].tolist() == [8, 8] and set(out["feature_type_name"]) == {"SUPPLY"}
    assert out["period_start"].tolist() == [date(2026, 10, 1), date(2026, 10, 16)]  # dates, not timestamps
    assert out["period_end"].tolist() == [date(2026, 10, 15), date(2026, 10, 31)]


def test_the_account_summary_is_billed_through_issued_debits_and_keeps_fully_billed_open_accounts():
    import pyarrow as pa

    from bua_assets.billing.outputs import month_account_summary

    lines = pd.DataFrame(
        {
            "account_id": [1, 1],
            "plan_item_type_name": ["USAGE_RETAIL", "DAILY_RETAIL"],
            "quantity": [220.0, 22.0],
            "uom": ["KWH", "DAY"],
            "net_amount": [66.0, 22.0],
            "discount_net": 0.0,
            "discount_net_propensity": 0.0,
            "gst": [6.6, 2.2],
        }
    )
    window = pd.DataFrame(
        {
            "account_id": [1],
            "first_day": [date(2026, 10, 10)],
            "last_day": [date(2026, 10, 31)],
            "unbilled_days": [22],
            "bill_status": ["NOT_DUE"],
        }
    )
    accounts = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "account_number": ["A1", "A2", "A3"],
            "bill_frequency": "MONTHLY",
            "open_date": [date(2020, 1, 1)] * 3,
            "close_date": [None, None, date(2026, 9, 30)],
        }
    )  # account 3 closed before October
    attributes = pd.DataFrame({"account_id": [1, 2, 3], "fuel": "ELECTRICITY", "state": "NSW", "segment": "RES"})
    consumption = pd.DataFrame(
        {"account_id": [1], "stream_type": ["PRIMARY"], "quantity": [220.0], "estimated_quantity": [55.0]}
    )
    exceptions = pd.DataFrame({"account_id": pd.Series(dtype="int64"), "code": pd.Series(dtype=str)})
    invoices = pa.table(
        {"id": [100, 101, 102, 103], "status": ["ISSUED", "ISSUED", "DRAFT", "ISSUED"], "is_credit": [0, 1, 0, 0]}
    )
    billed = pa.table(
        {
            "invoice_id": [100, 101, 102, 103],
            "account_id": [1, 1, 1, 2],
            "period_end": [date(2026, 10, 9), date(2026, 10, 20), date(2026, 10, 31), date(2026, 10, 31)],
        }
    )
    out = month_account_summary(
        lines,
        window,
        accounts,
        attributes,
        consumption,
        exceptions,
        invoices,
        billed,
        date(2026, 10, 1),
        date(2026, 10, 31),
    ).set_index("account_id")
    assert out.index.tolist() == [1, 2]  # 3 was not open in October
    # the credit note (101) and the draft (102) do not bill account 1 further than 9 October
    assert out["billed_through"].to_dict() == {1: date(2026, 10, 9), 2: date(2026, 10, 31)}
    assert out.loc[2, "bill_status"] == "BILLED" and out.loc[2, "unbilled_days"] == 0
    assert (
        out.loc[1, "net_amount"] == 88.0 and out.loc[1, "usage_kwh"] == 220.0 and out.loc[1, "share_estimated"] == 0.25
    )
