"""Compare and cancel (DESIGN §5.6), scenarios worked by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from bua_assets.billing.supplementary import ChargeVersion, Transaction, run_supplementary

JUNE = (date(2026, 6, 1), date(2026, 6, 30))


def version(id, account, start=date(2026, 1, 1), end=None, status="APPROVED", rate=1.10, supply_point=500):
    return ChargeVersion(id, account, supply_point, start, end, status, "DAILY_RETAIL", rate)


def debit(account, days=30, rate=1.10, supply_point=500):
    return Transaction(
        account, supply_point, "DAILY_RETAIL", "ANYTIME", days, float(days), rate, round(days * rate, 2), False
    )


def credit(account, days=30, rate=1.10, supply_point=500):
    return replace(debit(account, days, rate, supply_point), is_credit=True)


def test_calculated_line_covers_the_overlap_inclusive_and_rounds_to_cents():
    out = run_supplementary([version(1, 7, start=date(2026, 6, 11), rate=1.0333)], [], *JUNE)
    assert out == [Transaction(7, 500, "DAILY_RETAIL", "ANYTIME", 20, 20.0, 1.0333, 20.67, False)]


def test_versions_moved_between_billing_accounts_over_successive_runs():
    # June was billed on account A (version 1). Run 1: the supply point belonged to account B.
    billed = [debit("A")]
    versions = [version(1, "A", status="REPLACED"), version(2, "B")]
    run1 = run_supplementary(versions, billed, *JUNE)
    assert run1 == [credit("A"), debit("B")]  # A's group holds only REPLACED versions, still finalised

    # Run 2: nothing changed; the previous transactions include run 1's output.
    previous = billed + run1
    assert run_supplementary(versions, previous, *JUNE) == []

    # Run 3: it was account C all along, from 16 June; B kept the first half of the month.
    versions = [
        version(1, "A", status="REPLACED"),
        version(2, "B", status="REPLACED"),
        version(3, "B", end=date(2026, 6, 15)),
        version(4, "C", start=date(2026, 6, 16)),
    ]
    run3 = run_supplementary(versions, previous, *JUNE)
    assert run3 == [debit("B", days=15), credit("B"), debit("C", days=15)]

    # Run 4: again nothing changed, with every earlier run in the history.
    previous += run3
    assert run_supplementary(versions, previous, *JUNE) == []

    # Run 5: back to A for the whole month (B and C reversed, A billed again).
    versions = [replace(v, status="REPLACED") for v in versions] + [version(5, "A")]
    run5 = run_supplementary(versions, previous, *JUNE)
    assert sorted(run5, key=repr) == sorted([debit("A"), credit("B", days=15), credit("C", days=15)], key=repr)
    assert run_supplementary(versions, previous + run5, *JUNE) == []


def test_rate_correction_on_the_same_account_reverses_and_rebills():
    out = run_supplementary(
        [version(1, "A", status="REPLACED", rate=1.10), version(2, "A", rate=1.25)], [debit("A", rate=1.10)], *JUNE
    )
    assert out == [debit("A", rate=1.25), credit("A", rate=1.10)]


def test_draft_versions_are_ignored_and_a_group_with_nothing_left_yields_nothing():
    # The debit was already reversed by a credit note; the only version left is a DRAFT.
    out = run_supplementary([version(1, "A", status="DRAFT")], [debit("A"), credit("A")], *JUNE)
    assert out == []
    # A REPLACED-only group whose billing was already cancelled: nothing to reverse again.
    assert run_supplementary([version(1, "A", status="REPLACED")], [debit("A"), credit("A")], *JUNE) == []


def test_each_credit_cancels_one_debit_and_each_line_one_debit():
    # Billed twice by mistake (two debits), one credited: one remains and matches the calculation.
    assert run_supplementary([version(1, "A")], [debit("A"), debit("A"), credit("A")], *JUNE) == []
    # Billed twice, never credited: the calculation cancels one, the other is reversed.
    assert run_supplementary([version(1, "A")], [debit("A"), debit("A")], *JUNE) == [credit("A")]


def test_other_supply_points_and_versions_outside_the_period_are_left_alone():
    versions = [version(1, "A", end=date(2026, 5, 31)), version(2, "A", supply_point=501)]
    previous = [debit("A", supply_point=502)]  # a group with no versions in this run: untouched
    assert run_supplementary(versions, previous, *JUNE) == [debit("A", supply_point=501)]


def test_bad_versions_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="status 'PENDING'"):
        version(1, "A", status="PENDING")
    with pytest.raises(ValueError, match=r"ends .* before it starts"):
        version(1, "A", start=date(2026, 6, 2), end=date(2026, 6, 1))
