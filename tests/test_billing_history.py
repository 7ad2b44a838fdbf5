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
