"""DESIGN §5.1 on hand-made tables: billed coverage, credits, cancellations, tenancy, horizon, status."""

from __future__ import annotations

from datetime import date

import pyarrow as pa

from bua_assets.estimation.window import unbilled_window

MONTH_END, RUN_DATE = date(2026, 10, 31), date(2026, 11, 1)


def tables(accounts, tenancies, invoices):
    """accounts: (id, open, close, next_bill); tenancies: (account, utility, start, end);
    invoices: (id, account, utility, start, end, status, is_credit, issue) with one line each."""
    acc = pa.table(
        {
            "id": [a[0] for a in accounts],
            "open_date": [a[1] for a in accounts],
            "close_date": pa.array([a[2] for a in accounts], pa.date32()),
            "next_bill_date": pa.array([a[3] for a in accounts], pa.date32()),
        }
    )
    au = pa.table(
        {
            "id": list(range(1, len(tenancies) + 1)),
            "account_id": [t[0] for t in tenancies],
            "utility_id": [t[1] for t in tenancies],
            "start_date": [t[2] for t in tenancies],
            "end_date": pa.array([t[3] for t in tenancies], pa.date32()),
        }
    )
    inv = pa.table(
        {
            "id": pa.array([i[0] for i in invoices], pa.int64()),
            "status": pa.array([i[5] for i in invoices], pa.string()),
            "is_credit": pa.array([i[6] for i in invoices], pa.int64()),
            "issue_date": pa.array([i[7] for i in invoices], pa.date32()),
        }
    )
    li = pa.table(
        {
            "id": pa.array([100 + n for n in range(len(invoices))], pa.int64()),
            "invoice_id": pa.array([i[0] for i in invoices], pa.int64()),
            "account_id": pa.array([i[1] for i in invoices], pa.int64()),
            "utility_id": pa.array([i[2] for i in invoices], pa.int64()),
            "period_start": pa.array([i[3] for i in invoices], pa.date32()),
            "period_end": pa.array([i[4] for i in invoices], pa.date32()),
        }
    )
    return au, acc, inv, li


def months(result):
    return [
        (r["account_id"], r["year_mnth"].isoformat()[:7], r["unbilled_days"], r["first_day"].day, r["bill_status"])
        for r in result.months.to_pylist()
    ]


def test_not_yet_due_account_accrues_from_last_bill_to_month_end():
    w = unbilled_window(
        *tables(
            [(1, date(2025, 1, 1), None, date(2026, 11, 20))],
            [(1, 10, date(2025, 1, 1), None)],
            [(1, 1, 10, date(2025, 1, 1), date(2026, 8, 31), "ISSUED", 0, date(2026, 9, 3))],
        ),
        month_end=MONTH_END,
        run_date=RUN_DATE,
    )
    assert months(w) == [(1, "2026-09", 30, 1, "NOT_DUE"), (1, "2026-10", 31, 1, "NOT_DUE")]
    assert w.exceptions.num_rows == 0


def test_reversed_bill_is_unbilled_again_and_reissue_covers_once():
    base = [
        (1, 1, 10, date(2025, 1, 1), date(2026, 8, 31), "ISSUED", 0, date(2026, 9, 3)),
        (2, 1, 10, date(2026, 9, 1), date(2026, 9, 30), "ISSUED", 0, date(2026, 10, 2)),
        (3, 1, 10, date(2026, 9, 1), date(2026, 9, 30), "ISSUED", 1, date(2026, 10, 20)),
    ]  # credit of 2
    acc, ten = [(1, date(2025, 1, 1), None, date(2026, 10, 30))], [(1, 10, date(2025, 1, 1), None)]
    reversed_only = unbilled_window(*tables(acc, ten, base), month_end=MONTH_END, run_date=RUN_DATE)
    assert months(reversed_only) == [(1, "2026-09", 30, 1, "OVERDUE"), (1, "2026-10", 31, 1, "OVERDUE")]
    reissued = [*base, (4, 1, 10, date(2026, 9, 1), date(2026, 9, 30), "ISSUED", 0, date(2026, 10, 20))]
    assert months(unbilled_window(*tables(acc, ten, reissued), month_end=MONTH_END, run_date=RUN_DATE)) == [
        (1, "2026-10", 31, 1, "OVERDUE")
    ]


def test_cancelled_and_future_invoices_do_not_cover():
    inv = [
        (1, 1, 10, date(2025, 1, 1), date(2026, 8, 31), "ISSUED", 0, date(2026, 9, 3)),
        (2, 1, 10, date(2026, 9, 1), date(2026, 9, 30), "CANCELLED", 0, date(2026, 10, 2)),
        (3, 1, 10, date(2026, 10, 1), date(2026, 10, 31), "ISSUED", 0, date(2026, 11, 2)),
    ]  # after the run date
    w = unbilled_window(
        *tables([(1, date(2025, 1, 1), None, date(2026, 12, 1))], [(1, 10, date(2025, 1, 1), None)], inv),
        month_end=MONTH_END,
        run_date=RUN_DATE,
    )
    assert [m[:3] for m in months(w)] == [(1, "2026-09", 30), (1, "2026-10", 31)]


def test_move_out_and_move_in_split_the_supply_point():
    acc = [(1, date(2025, 1, 1), date(2026, 10, 9), None), (2, date(2026, 10, 10), None, date(2026, 11, 10))]
    ten = [(1, 10, date(2025, 1, 1), date(2026, 10, 9)), (2, 10, date(2026, 10, 10), None)]
    inv = [(1, 1, 10, date(2025, 1, 1), date(2026, 9, 30), "ISSUED", 0, date(2026, 10, 3))]
    w = unbilled_window(*tables(acc, ten, inv), month_end=MONTH_END, run_date=RUN_DATE)
    assert months(w) == [(1, "2026-10", 9, 1, "OVERDUE"), (2, "2026-10", 22, 10, "NOT_DUE")]


def test_days_older_than_the_horizon_are_exceptions_not_dropped():
    w = unbilled_window(
        *tables([(1, date(2026, 6, 15), None, None)], [(1, 10, date(2026, 6, 15), None)], []),
        month_end=MONTH_END,
        run_date=RUN_DATE,
        horizon_months=3,
    )
    assert [m[:3] for m in months(w)] == [(1, "2026-08", 31), (1, "2026-09", 30), (1, "2026-10", 31)]
    exc = w.exceptions.to_pylist()
    assert [(e["year_mnth"].isoformat()[:7], e["code"]) for e in exc] == [
        ("2026-06", "beyond_horizon"),
        ("2026-07", "beyond_horizon"),
    ]
    assert "16 unbilled days" in exc[0]["reason"] and "3-month" in exc[0]["reason"]


def test_a_missed_bill_between_billed_periods_is_unbilled():
    inv = [
        (1, 1, 10, date(2026, 1, 1), date(2026, 3, 31), "ISSUED", 0, date(2026, 4, 2)),
        (2, 1, 10, date(2026, 3, 1), date(2026, 3, 31), "ISSUED", 0, date(2026, 4, 2)),  # overlaps the first
        (3, 1, 10, date(2026, 5, 1), date(2026, 10, 31), "ISSUED", 0, date(2026, 10, 31)),
    ]
    w = unbilled_window(
        *tables([(1, date(2026, 1, 1), None, date(2027, 1, 31))], [(1, 10, date(2026, 1, 1), None)], inv),
        month_end=MONTH_END,
        run_date=RUN_DATE,
    )
    assert months(w) == [(1, "2026-04", 30, 1, "NOT_DUE")]


def test_a_credit_reversing_an_invoice_that_does_not_exist_is_ignored_and_reported():
    invoices = [
        (1, 1, 10, date(2025, 1, 1), date(2026, 9, 30), "ISSUED", 0, date(2026, 10, 3)),
        (2, 1, 10, date(2026, 9, 1), date(2026, 9, 30), "ISSUED", 1, date(2026, 10, 20)),
    ]
    acc, ten = [(1, date(2025, 1, 1), None, date(2026, 12, 30))], [(1, 10, date(2025, 1, 1), None)]
    au, a, inv, li = tables(acc, ten, invoices)
    inv = inv.append_column("reverses_invoice_id", pa.array([None, 999], pa.int64()))  # 999 was never issued
    result = unbilled_window(au, a, inv, li, month_end=MONTH_END, run_date=RUN_DATE)
    assert months(result) == [(1, "2026-10", 31, 1, "NOT_DUE")]  # September stays billed
    (exc,) = result.exceptions.to_pylist()
    assert exc["code"] == "orphan_credit" and "999, which does not exist" in exc["reason"]


def test_inverted_and_far_future_line_items_set_their_supply_point_aside_with_the_reason():
    """Account 1's September line ends before it starts (it used to re-accrue the billed month);
    account 2's ends in 2099 (it used to vanish as billed); account 3 is untouched."""
    invoices = [
        (1, 1, 10, date(2026, 9, 1), date(2026, 8, 30), "ISSUED", 0, date(2026, 10, 3)),
        (2, 2, 20, date(2026, 9, 1), date(2099, 12, 31), "ISSUED", 0, date(2026, 10, 3)),
        (3, 3, 30, date(2026, 9, 1), date(2026, 9, 30), "ISSUED", 0, date(2026, 10, 3)),
    ]
    acc = [(a, date(2026, 9, 1), None, date(2026, 12, 1)) for a in (1, 2, 3)]
    ten = [(1, 10, date(2026, 9, 1), None), (2, 20, date(2026, 9, 1), None), (3, 30, date(2026, 9, 1), None)]
    result = unbilled_window(*tables(acc, ten, invoices), month_end=MONTH_END, run_date=RUN_DATE)
    assert months(result) == [(3, "2026-10", 31, 1, "NOT_DUE")]
    assert [(e["account_id"], e["utility_id"], e["code"], e["reason"]) for e in result.exceptions.to_pylist()] == [
        (
            1,
            10,
            "inverted_period",
            "invoice line item 100 (2026-09-01 to 2026-08-30) ends before it starts: billed "
            "coverage of this supply point cannot be trusted, not accrued; fix the line item in CORE",
        ),
        (
            2,
            20,
            "far_future_period",
            "invoice line item 101 (2026-09-01 to 2099-12-31) reaches beyond 2027-11-02 "
            "(snapshot + 366 days): billed coverage of this supply point cannot be trusted, "
            "not accrued; fix the line item in CORE",
        ),
    ]
    # A shorter horizon: a line item ending in December 2026 is already too far.
    invoices[1] = (2, 2, 20, date(2026, 9, 1), date(2026, 12, 31), "ISSUED", 0, date(2026, 10, 3))
    short = unbilled_window(*tables(acc, ten, invoices), month_end=MONTH_END, run_date=RUN_DATE, future_horizon_days=30)
    assert [(e["account_id"], e["code"]) for e in short.exceptions.to_pylist()] == [
        (1, "inverted_period"),
        (2, "far_future_period"),
    ]


def test_an_open_account_without_a_supply_point_is_an_exception_not_a_silence():
    acc = [
        (1, date(2025, 1, 1), None, None),
        (2, date(2025, 1, 1), date(2026, 9, 30), None),
        (3, date(2025, 1, 1), None, None),
    ]
    result = unbilled_window(
        *tables(acc, [(3, 30, date(2025, 1, 1), None)], []), month_end=MONTH_END, run_date=RUN_DATE
    )
    # Account 2 closed before October: not open in the month, so not an exception.
    assert [(e["account_id"], e["utility_id"], e["code"]) for e in result.exceptions.to_pylist()] == [
        (1, None, "no_supply_point")
    ]
    assert {r["account_id"] for r in result.months.to_pylist()} == {3}
