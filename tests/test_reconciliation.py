"""The month reconciles per supply point (issue 24): an account's second supply point lost between
the window and the priced lines is named, though the account itself is accounted for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bua_assets.billing.reconciliation import unreconciled_supply_points

WINDOW = pd.DataFrame(
    {
        "account_id": [1, 1, 2, 3, 4, 5],
        "utility_id": [10, 11, 20, 30, 40, 50],
        "unbilled_days": [31, 31, 12, 5, 0, 9],
    }
)


def test_a_supply_point_neither_priced_nor_excepted_is_named():
    lines = pd.DataFrame({"account_id": [1, 2, 2], "utility_id": [10, 20, 20]})  # account 1's 11 is lost
    exceptions = pd.DataFrame({"account_id": [3], "utility_id": [30.0]})  # 3/30 said why
    left = unreconciled_supply_points(WINDOW, lines, exceptions)
    # 4/40 has no unbilled days: nothing to price. 5/50 is lost too.
    assert left.to_dict("records") == [{"account_id": 1, "utility_id": 11}, {"account_id": 5, "utility_id": 50}]


def test_an_exception_naming_only_the_account_covers_its_supply_points():
    lines = pd.DataFrame({"account_id": [1, 2, 5], "utility_id": [10, 20, 50]})
    exceptions = pd.DataFrame({"account_id": [1, 3], "utility_id": [np.nan, 30.0]})  # pricing exceptions: per account
    assert unreconciled_supply_points(WINDOW, lines, exceptions).empty
    # Without it, account 1's second supply point is named.
    only_three = exceptions[exceptions["account_id"] == 3]
    assert unreconciled_supply_points(WINDOW, lines, only_three).to_dict("records") == [
        {"account_id": 1, "utility_id": 11}
    ]


def test_reconciliation_blocks_the_export():
    from bua_assets.assets.billing import accrual_summary

    (spec,) = [s for s in accrual_summary.check_specs if s.name == "reconciliation"]
    assert spec.blocking  # a month that does not reconcile stops before errors and bua_export
