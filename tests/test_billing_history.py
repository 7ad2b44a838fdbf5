"""What was billed: issued debit invoices only (not cancelled, not credit notes)."""

from datetime import date
from decimal import Decimal

import pyarrow as pa

from bua_assets.billing.history import billed_lines, billed_through, largest_bill

INVOICES = pa.table(
    {
        "id": pa.array([1, 2, 3, 4], pa.int32()),
        "status": ["ISSUED", "ISSUED", "CANCELLED", "ISSUED"],
        "is_credit": pa.array([0, 0, 0, 1], pa.int8()),
    }
)
LINES = pa.table(
    {
        "invoice_id": pa.array([1, 1, 2, 3, 4], pa.int32()),
        "account_id": pa.array([7, 7, 7, 7, 8], pa.int32()),
        "period_end": pa.array(
            [date(2026, 6, 30), date(2026, 6, 30), date(2026, 9, 30), date(2026, 12, 31), date(2026, 10, 31)],
            pa.date32(),
        ),
        "net_amount": pa.array(
            [Decimal("100.10"), Decimal("20.00"), Decimal("90.00"), Decimal("999.00"), Decimal("-50.00")],
            pa.decimal128(14, 2),
        ),
    }
)


def test_largest_bill_sums_each_issued_debit_invoice_and_takes_the_largest():
    bills = largest_bill(INVOICES, LINES)
    assert bills.to_dict() == {7: 120.10}  # invoice 1 (100.10 + 20.00) beats 2; 3 is cancelled; 8 only has a credit


def test_billed_through_ignores_cancelled_invoices_and_credit_notes():
    assert billed_through(INVOICES, LINES).to_dict() == {7: date(2026, 9, 30)}


def test_credit_notes_count_when_asked():
    assert billed_lines(INVOICES, LINES, credits=True)["invoice_id"].to_pylist() == [1, 1, 2, 4]


def test_state_fuel_totals_count_each_account_once_and_round_money_to_the_cent():
    import pandas as pd

    from bua_assets.billing.outputs import state_fuel_totals

    lines = pd.DataFrame(
        {
            "account_id": [1, 1, 1, 2, 3],
            "net_amount": [10.004, 20.0, 5.0, 7.333, 1.0],
            "discount_net_propensity": [1.0, 0.0, 0.5, 0.0, 0.0],
        }
    )
    attributes = pd.DataFrame(
        {"account_id": [1, 2, 3], "state": ["NSW", "NSW", "VIC"], "fuel": ["ELECTRICITY", "ELECTRICITY", "GAS"]}
    )
    totals = state_fuel_totals(lines, attributes).to_dict("records")
    assert totals == [
        {"state": "NSW", "fuel": "ELECTRICITY", "net_amount": 42.34, "net_amount_less_discount": 40.84, "accounts": 2},
        {"state": "VIC", "fuel": "GAS", "net_amount": 1.0, "net_amount_less_discount": 1.0, "accounts": 1},
    ]


def test_a_multi_site_accounts_lines_fall_in_each_sites_own_state_and_fuel():
    import pandas as pd

    from bua_assets.billing.outputs import accrual_summary, site_attributes, state_fuel_totals

    # Account 1 has a NSW electricity site (utility 10) and a VIC gas site (utility 11); its
    # account-level state (latest supply point) is VIC, but each line belongs to its own site.
    lines = pd.DataFrame(
        {
            "account_id": [1, 1],
            "utility_id": [10, 11],
            "year_mnth": ["2026-10-01"] * 2,
            "ili_state": ["ACTUAL"] * 2,
            "discount_state": ["NONE"] * 2,
            "feature_type_name": ["SUPPLY"] * 2,
            "plan_item_type_name": ["DAILY_RETAIL"] * 2,
            "time_class_name": ["ANYTIME"] * 2,
            "quantity": [31.0, 31.0],
            "net_amount": [31.0, 22.32],
            "discount_net": [0.0, 0.0],
            "discount_net_propensity": [0.0, 0.0],
        }
    )
    attributes = pd.DataFrame({"account_id": [1], "state": ["VIC"], "fuel": ["GAS"], "segment": ["SME"]})
    sites = site_attributes(
        pd.DataFrame({"id": [10, 11], "jurisdiction_id": [1, 2], "service_type_id": [1, 2]}),
        pd.DataFrame({"id": [1, 2], "name": ["NSW", "VIC"]}),
        pd.DataFrame({"id": [1, 2], "name": ["ELECTRICITY", "GAS"]}),
    )
    totals = state_fuel_totals(lines, attributes, sites)
    assert totals[["state", "fuel", "net_amount"]].values.tolist() == [
        ["NSW", "ELECTRICITY", 31.0],
        ["VIC", "GAS", 22.32],
    ]
    summary = accrual_summary(lines, attributes, sites)
    assert summary[["state", "fuel", "segment", "days"]].values.tolist() == [
        ["NSW", "ELECTRICITY", "SME", 31.0],
        ["VIC", "GAS", "SME", 31.0],
    ]
