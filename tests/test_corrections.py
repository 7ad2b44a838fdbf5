"""Supplementary lines on CORE-shaped tables: a charge version replaced after billing."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from bua_assets.billing.corrections import supplementary_lines

RATES = pd.DataFrame(
    [
        (1, 1, date(2026, 7, 1), date(2027, 6, 30), "DAILY_RETAIL", "ANYTIME", 1, None, 1.00, "DAY"),
        (2, 2, date(2026, 7, 1), date(2027, 6, 30), "DAILY_RETAIL", "ANYTIME", 1, None, 1.20, "DAY"),
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


def plans(*rows):
    return pd.DataFrame(
        [(i + 1, a, 9, p, s, None, st, datetime(2026, 10, 1), f) for i, (a, p, s, st, f) in enumerate(rows)],
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


INVOICES = pd.DataFrame(
    [
        (1, 5, "ISSUED", 0, date(2026, 9, 3)),
        (2, 5, "ISSUED", 0, date(2026, 10, 3)),
        (3, 5, "CANCELLED", 0, date(2026, 10, 2)),
    ],
    columns=["id", "account_id", "status", "is_credit", "issue_date"],
)
LINES = pd.DataFrame(
    [
        (1, 5, 9, date(2026, 8, 1), date(2026, 8, 31), "DAILY_RETAIL", "ANYTIME", 31.0, 1.00, 31.00),
        (2, 5, 9, date(2026, 9, 1), date(2026, 9, 30), "DAILY_RETAIL", "ANYTIME", 30.0, 1.00, 30.00),
        (3, 5, 9, date(2026, 9, 1), date(2026, 9, 30), "DAILY_RETAIL", "ANYTIME", 30.0, 1.00, 30.00),
        (1, 5, 9, date(2024, 1, 1), date(2024, 1, 31), "DAILY_RETAIL", "ANYTIME", 31.0, 0.90, 27.90),
    ],
    columns=[
        "invoice_id",
        "account_id",
        "utility_id",
        "period_start",
        "period_end",
        "plan_item_type_name",
        "time_class_name",
        "quantity",
        "rate",
        "net_amount",
    ],
)


def test_a_plan_replaced_after_billing_reverses_and_rebills_each_billed_period_within_the_horizon():
    versions = plans((5, 1, date(2026, 1, 1), "REPLACED", 0), (5, 2, date(2026, 1, 1), "APPROVED", 1))
    lines, exceptions = supplementary_lines(versions, RATES, INVOICES, LINES, horizon_start=date(2024, 11, 1))
    got = lines[["period_start", "quantity", "rate", "net_amount", "is_credit"]].values.tolist()
    # August and September at 1.20 instead of 1.00; the cancelled invoice's line is not a billing.
    assert got == [
        [date(2026, 8, 1), 31.0, 1.2, 37.2, False],
        [date(2026, 8, 1), 31.0, 1.0, -31.0, True],
        [date(2026, 9, 1), 30.0, 1.2, 36.0, False],
        [date(2026, 9, 1), 30.0, 1.0, -30.0, True],
    ]
    (exc,) = exceptions.to_dict("records")
    assert exc["code"] == "beyond_horizon" and exc["period_start"] == date(2024, 1, 1)


def test_nothing_flagged_or_nothing_changed_gives_no_lines():
    unflagged = plans((5, 1, date(2026, 1, 1), "APPROVED", 0))
    assert supplementary_lines(unflagged, RATES, INVOICES, LINES, date(2024, 11, 1))[0].empty
    same = plans((5, 1, date(2026, 1, 1), "APPROVED", 1))  # flagged, but billed exactly as it is
    assert supplementary_lines(same, RATES, INVOICES, LINES, date(2024, 11, 1))[0].empty


def test_a_credit_note_that_matches_no_debit_is_ignored_and_a_reversal_of_nothing_changes_nothing():
    invoices = pd.concat([INVOICES, pd.DataFrame([(4, 5, "ISSUED", 1, date(2026, 10, 9))], columns=INVOICES.columns)])
    stray = pd.concat(
        [
            LINES,
            pd.DataFrame(
                [(4, 5, 9, date(2026, 9, 1), date(2026, 9, 30), "DAILY_RETAIL", "ANYTIME", 29.0, 1.00, 29.00)],
                columns=LINES.columns,
            ),
        ]
    )
    same = plans((5, 1, date(2026, 1, 1), "APPROVED", 1))
    lines, _ = supplementary_lines(same, RATES, invoices, stray, date(2024, 11, 1))
    assert lines.empty
