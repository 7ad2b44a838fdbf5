"""The month reconciles per supply point: every supply point with unbilled days is priced, or an
exception says why (DESIGN §5.7). Counting accounts alone would let one of an account's two supply
points go missing unseen."""

from __future__ import annotations

import pandas as pd

KEYS = ["account_id", "utility_id"]


def unreconciled_supply_points(window: pd.DataFrame, lines: pd.DataFrame, exceptions: pd.DataFrame) -> pd.DataFrame:
    """The (account_id, utility_id) of the unbilled window (``unbilled_window``'s unbilled_months,
    days > 0) with no priced line in ``lines`` (invoice_line_items) and no exception: one naming
    the supply point, or one naming only the account (pricing exceptions are per account), in
    ``exceptions`` (account_id, utility_id or NaN). Sorted, int64."""
    due = window.loc[window["unbilled_days"] > 0, KEYS].drop_duplicates().astype("int64")
    priced = lines[KEYS].drop_duplicates().astype("int64")
    named = exceptions.dropna(subset=KEYS)[KEYS].drop_duplicates().astype("int64")
    whole_accounts = set(exceptions.loc[exceptions["utility_id"].isna(), "account_id"].dropna().astype("int64"))
    covered = pd.concat([priced, named], ignore_index=True).drop_duplicates()
    left = due.merge(covered, on=KEYS, how="left", indicator=True)
    left = left[(left["_merge"] == "left_only") & ~left["account_id"].isin(whole_accounts)]
    return left[KEYS].sort_values(KEYS).reset_index(drop=True)
