"""The accrual true-up (billing/true_up.py) on hand-built frames: a bill spanning the accrued days
exactly, a bill covering part of them, a credit note and re-issue, a register never billed, and
the apportioning of a bill by meter data, by profile and flat."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bua_assets.billing.true_up import (
    accrued_days,
    apportion,
    effective_bills,
    flagged_cells,
    interval_weights,
    profile_weights,
    true_up,
)

MONTH = pd.Timestamp("2026-09-01")
SITES = pd.DataFrame(
    {
        "utility_id": [10, 20, 30],
        "site_state": ["VIC", "NSW", "VIC"],
        "site_fuel": ["GAS", "ELECTRICITY", "ELECTRICITY"],
    }
)
REGISTERS = pd.DataFrame(
    {
        "register_id": [100, 200, 300],
        "utility_id": [10, 20, 30],
        "read_kind": ["BASIC", "INTERVAL", "INTERVAL"],
        "stream_type": ["PRIMARY", "PRIMARY", "PRIMARY"],
    }
)


def register_days(register_id, account_id, utility_id, first, last, per_day, method, read_kind="BASIC"):
    dates = pd.date_range(first, last)
    q = np.broadcast_to(np.asarray(per_day, dtype=float), len(dates))
    return pd.DataFrame(
        {
            "accrual_month": MONTH,
            "account_id": account_id,
            "utility_id": utility_id,
            "register_id": register_id,
            "date": dates,
            "read_kind": read_kind,
            "stream_type": "PRIMARY",
            "quantity": q,
            "actual_quantity": 0.0,
            "method": method,
        }
    )


def accrual_line(account_id, utility_id, year_mnth, quantity, net):
    return {
        "accrual_month": MONTH,
        "account_id": account_id,
        "utility_id": utility_id,
        "year_mnth": pd.Timestamp(year_mnth),
        "plan_item_type_name": "USAGE_RETAIL",
        "ili_state": "ESTIMATED",
        "quantity": quantity,
        "net_amount": net,
    }


def invoices(*rows):
    """(id, account, issue_date, is_credit, reverses)"""
    return pd.DataFrame(
        [
            {
                "id": i,
                "account_id": a,
                "issue_date": pd.Timestamp(d),
                "status": "ISSUED",
                "is_credit": c,
                "reverses_invoice_id": r,
            }
            for i, a, d, c, r in rows
        ]
    )


def lines(*rows):
    """(invoice, account, utility, start, end, quantity, net)"""
    return pd.DataFrame(
        [
            {
                "invoice_id": i,
                "account_id": a,
                "utility_id": u,
                "period_start": pd.Timestamp(s).date(),
                "period_end": pd.Timestamp(e).date(),
                "plan_item_type_name": "USAGE_RETAIL",
                "time_class_name": "ANYTIME",
                "quantity": q,
                "net_amount": n,
            }
            for i, a, u, s, e, q, n in rows
        ]
    )


def test_a_bill_spanning_the_accrued_days_exactly_gives_the_bias_of_the_accrual():
    # 30 days accrued at 10/day = 300 (class average), the bill says 250 for the same days.
    days = register_days(100, 1, 10, "2026-09-01", "2026-09-30", 10.0, "class_average")
    accrued = accrued_days(days, pd.DataFrame([accrual_line(1, 10, "2026-09-01", 300.0, 30.0)]), SITES)
    bills = effective_bills(
        invoices((1, 1, "2026-10-05", 0, None)), lines((1, 1, 10, "2026-09-01", "2026-09-30", 250.0, 25.0))
    )
    billed = apportion(
        bills,
        interval_weights(pd.DataFrame(columns=["register_id", "read_date", "kwh"]), REGISTERS),
        profile_weights(
            pd.DataFrame(columns=["utility_id", "charge", "date"]), REGISTERS, lambda r, d: np.ones(len(r))
        ),
    )
    result = true_up(accrued, billed)
    cell = result.cells.iloc[0]
    assert (cell["state"], cell["fuel"], cell["meter_kind"], cell["method"], cell["flow"]) == (
        "VIC",
        "GAS",
        "BASIC",
        "class_average",
        "import",
    )
    assert cell["billed_quantity"] == pytest.approx(250.0) and cell["accrued_quantity_trued_up"] == pytest.approx(300.0)
    assert cell["quantity_bias_pct"] == pytest.approx(20.0) and cell["dollar_bias_pct"] == pytest.approx(20.0)
    assert cell["mae_pct"] == pytest.approx(20.0) and cell["trued_up_share"] == 1.0 and cell["days_trued_up"] == 30
    assert result.days["whole_bill"].all() and cell["days_of_whole_bills"] == 30  # no apportioning in the sum
    miss = result.misses.iloc[0]
    assert miss["quantity_miss"] == pytest.approx(50.0) and miss["dollar_miss"] == pytest.approx(5.0)


def test_a_bill_covering_part_of_the_accrued_days_is_apportioned_by_its_meter_data_and_the_rest_waits():
    # Accrued 20 Sep - 31 Oct at 2 kWh/day; a bill 1-30 Sep (90 kWh) covers 11 accrued days.
    days = register_days(200, 2, 20, "2026-09-20", "2026-10-31", 2.0, "interval_gap", "INTERVAL")
    accrued = accrued_days(
        days,
        pd.DataFrame([accrual_line(2, 20, "2026-09-01", 22.0, 5.5), accrual_line(2, 20, "2026-10-01", 62.0, 15.5)]),
        SITES,
    )
    # Meter data (now delivered): 3 kWh/day in September but for two days with none.
    reads = pd.DataFrame({"register_id": 200, "read_date": pd.date_range("2026-09-01", "2026-09-28"), "kwh": 3.0})
    bills = effective_bills(
        invoices((7, 2, "2026-10-03", 0, None)), lines((7, 2, 20, "2026-09-01", "2026-09-30", 90.0, 22.5))
    )
    billed = apportion(
        bills,
        interval_weights(reads, REGISTERS),
        profile_weights(
            pd.DataFrame(columns=["utility_id", "charge", "date"]), REGISTERS, lambda r, d: np.ones(len(r))
        ),
    )
    assert billed["billed_quantity"].sum() == pytest.approx(90.0)  # nothing lost
    assert set(billed["basis"]) == {"meter_data", "meter_data_filled"}  # 29-30 Sep: the bill's mean weight
    result = true_up(accrued, billed)
    cell = result.cells.iloc[0]
    assert cell["days_trued_up"] == 11 and cell["accrued_days"] == 42 and cell["days_of_whole_bills"] == 0
    assert cell["billed_quantity"] == pytest.approx(33.0) and cell["accrued_quantity_trued_up"] == pytest.approx(22.0)
    assert cell["quantity_bias_pct"] == pytest.approx(-100 / 3, abs=1e-3)
    assert cell["trued_up_share"] == pytest.approx(22.0 / 84.0, abs=1e-4)
    # dollars at each side's own rate: 0.25 $/kWh on both
    assert cell["dollar_bias_pct"] == pytest.approx(-100 / 3, abs=1e-3)


def test_a_credit_note_and_re_issue_trues_up_at_the_re_issued_figures():
    days = register_days(100, 1, 10, "2026-09-01", "2026-09-30", 10.0, "basic_profile")
    accrued = accrued_days(days, pd.DataFrame([accrual_line(1, 10, "2026-09-01", 300.0, 30.0)]), SITES)
    bill = ("2026-09-01", "2026-09-30")
    inv = invoices(
        (1, 1, "2026-10-05", 0, None),  # billed 400: wrong
        (2, 1, "2026-10-20", 1, 1),  # credit note reversing it
        (3, 1, "2026-10-20", 0, None),  # re-issued at 330
        (4, 1, "2026-10-25", 0, None),  # a second bill of the same period ...
        (5, 1, "2026-10-26", 1, None),  # ... cancelled by a credit note that names no invoice
    )
    li = lines(
        (1, 1, 10, *bill, 400.0, 40.0),
        (2, 1, 10, *bill, 400.0, 40.0),
        (3, 1, 10, *bill, 330.0, 33.0),
        (4, 1, 10, *bill, 500.0, 50.0),
        (5, 1, 10, *bill, 500.0, 50.0),
    )
    bills = effective_bills(inv, li)
    assert list(bills["invoice_id"]) == [3] and bills["quantity"].iloc[0] == 330.0
    weigh = lambda r, d: np.where(pd.DatetimeIndex(d).day <= 15, 1.0, 2.0)  # noqa: E731
    wanted = pd.DataFrame({"utility_id": 10, "charge": "USAGE_RETAIL", "date": pd.date_range(*bill)})
    billed = apportion(
        bills,
        interval_weights(pd.DataFrame(columns=["register_id", "read_date", "kwh"]), REGISTERS),
        profile_weights(wanted, REGISTERS, weigh),
    )
    assert set(billed["basis"]) == {"profile"}
    # 15 days of weight 1 and 15 of 2: the profile puts a third of the bill in the first half
    assert billed.loc[billed["date"].dt.day <= 15, "billed_quantity"].sum() == pytest.approx(110.0)
    cell = true_up(accrued, billed).cells.iloc[0]
    assert cell["quantity_bias_pct"] == pytest.approx((300 - 330) / 330 * 100, abs=1e-3)


def test_a_register_never_billed_counts_against_the_share_trued_up_only():
    billed_days = register_days(200, 2, 20, "2026-09-01", "2026-09-30", 2.0, "actual_reads", "INTERVAL")
    never = register_days(300, 3, 30, "2026-09-01", "2026-09-30", 6.0, "actual_reads", "INTERVAL")
    accrued = accrued_days(
        pd.concat([billed_days, never], ignore_index=True),
        pd.DataFrame([accrual_line(2, 20, "2026-09-01", 60.0, 15.0), accrual_line(3, 30, "2026-09-01", 180.0, 45.0)]),
        SITES.assign(site_state="NSW"),
    )
    bills = effective_bills(
        invoices((1, 2, "2026-10-03", 0, None)), lines((1, 2, 20, "2026-09-01", "2026-09-30", 60.0, 15.0))
    )
    billed = apportion(
        bills,
        interval_weights(pd.DataFrame(columns=["register_id", "read_date", "kwh"]), REGISTERS),
        profile_weights(
            pd.DataFrame(columns=["utility_id", "charge", "date"]), REGISTERS, lambda r, d: np.ones(len(r))
        ),
    )
    assert set(billed["basis"]) == {"flat"}  # no meter data, no basic register: spread evenly
    result = true_up(accrued, billed)
    cell = result.cells.iloc[0]
    assert cell["accounts"] == 2 and cell["days_trued_up"] == 30 and cell["accrued_days"] == 60
    assert cell["quantity_bias_pct"] == pytest.approx(0.0) and cell["trued_up_share"] == pytest.approx(0.25)
    assert list(result.misses["account_id"]) == [2]  # the never-billed account has no miss to report
    assert result.days["billed_quantity"].isna().sum() == 30


def test_cells_beyond_the_threshold_are_flagged_when_they_have_enough_days():
    cells = pd.DataFrame(
        {"days_trued_up": [100, 100, 3], "quantity_bias_pct": [7.0, -2.0, 40.0], "dollar_bias_pct": [6.0, -8.0, 40.0]}
    )
    assert list(flagged_cells(cells, 5.0, 30).index) == [0, 1]


def test_each_accrued_register_day_says_how_it_was_estimated():
    from bua_assets.estimation.unbilled import with_methods

    registers = pd.DataFrame(
        {
            "register_id": [1, 2, 3, 4, 5],
            "read_kind": ["INTERVAL", "INTERVAL", "BASIC", "BASIC", "BASIC"],
            "stream_type": ["PRIMARY", "SOLAR", "PRIMARY", "PRIMARY", "CONTROL"],
        }
    )
    days = pd.DataFrame(
        {
            "account_id": 9,
            "utility_id": 8,
            "register_id": [1, 1, 2, 3, 3, 4, 5],
            "date": pd.to_datetime(
                ["2026-09-01", "2026-09-02", "2026-09-01", "2026-09-01", "2026-09-20", "2026-09-01", "2026-09-01"]
            ),
            "quantity": [5.0, 5.0, 1.0, 3.0, 3.0, 2.0, 4.0],
            "actual_quantity": [5.0, 2.0, 0.0, 3.0, 0.0, 0.0, 0.0],
        }
    )
    scalar_methods = pd.Series({3: "own_history", 4: "premise_prior", 5: "segment_average"})
    out = with_methods(days, registers, scalar_methods)
    assert list(out["method"]) == [
        "actual_reads",  # meter data
        "interval_gap",  # a day partly estimated
        "interval_gap",
        "actual_reads",  # between two reads: spread by the profile, but measured
        "basic_profile",  # after the last read, its own scalar
        "move_in_prior",
        "class_average",
    ]
    assert list(out["stream_type"][:3]) == ["PRIMARY", "PRIMARY", "SOLAR"]


def test_the_look_back_is_read_from_the_environment_and_bounded():
    from bua_assets.settings import true_up_months

    assert true_up_months({}) == 6 and true_up_months({"BUA_TRUE_UP_MONTHS": "24"}) == 24
    for bad in ("0", "25", "six", "-1"):
        with pytest.raises(ValueError, match="BUA_TRUE_UP_MONTHS must be"):
            true_up_months({"BUA_TRUE_UP_MONTHS": bad})


def test_a_bill_whose_period_cannot_be_spread_is_set_aside_with_a_reason():
    from bua_assets.billing.true_up import usable_bills

    li = lines(
        (1, 1, 10, "2026-09-01", "2026-09-30", 250.0, 25.0),
        (2, 2, 20, "2026-09-30", "2026-09-01", 90.0, 9.0),
        (3, 3, 30, "2026-09-01", "2026-09-30", 80.0, 8.0),
    )
    li.loc[2, "period_end"] = None
    bills = effective_bills(
        invoices((1, 1, "2026-10-05", 0, None), (2, 2, "2026-10-05", 0, None), (3, 3, "2026-10-05", 0, None)), li
    )
    usable, exceptions = usable_bills(bills)
    assert list(usable["invoice_id"]) == [1]
    assert list(exceptions["invoice_id"]) == [2, 3] and set(exceptions["code"]) == {"unusable_bill_period"}
    assert "ends before it starts (2026-09-30 to 2026-09-01)" in exceptions["reason"].iloc[0]
    assert "has no start or end" in exceptions["reason"].iloc[1]


def test_a_look_back_longer_than_the_graph_declares_is_refused(tmp_path):
    import dagster as dg

    from bua_assets.assets.true_up import TRUE_UP_MONTHS, accrual_true_up
    from bua_assets.resources import LakeResource

    result = dg.materialize(
        [accrual_true_up],
        partition_key="2026-10-01",
        resources={"lake": LakeResource(base=str(tmp_path / "lake"))},
        run_config={"ops": {"accrual_true_up": {"config": {"months": TRUE_UP_MONTHS + 1}}}},
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert f"months must be 1 to {TRUE_UP_MONTHS}" in failure.step_failure_data.error.message
