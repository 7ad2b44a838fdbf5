"""An accrual over a period that is not one calendar month (e.g. 1 May to 30 June): the monthly
partitions it spans, each accrued as at its own month end, and their finance totals combined.
Pure: the CLI (bua-assets period) materialises the months and hands their summaries here."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from bua_assets.billing.money import round_cents
from bua_assets.months import AccrualMonth

SUMS = ("net_amount", "net_amount_less_discount", "volume", "days")


def period_partitions(start: date, end: date) -> list[str]:
    """The monthly partition keys from ``start`` (a 1st) to ``end`` (a month's last day), oldest first.
    A period must be whole months: an accrual is computed as at a month end."""
    if start.day != 1:
        raise ValueError(f"--from must be the first day of a month (got {start})")
    if (end + timedelta(days=1)).day != 1:
        raise ValueError(f"--to must be the last day of a month (got {end})")
    if end < start:
        raise ValueError(f"--to ({end}) is before --from ({start})")
    keys, month = [], AccrualMonth(start)
    while month.start <= end:
        keys.append(month.key)
        month = month.shifted(1)
    return keys


# The balance the period closes on: the last month's accrual. An accrual is a month-end balance
# (unbilled revenue at that date, largely billed the month after), so the balance sheet at the
# period's end carries the last month's figure, while the sums add the months' balances.
CLOSING = ("net_amount", "net_amount_less_discount", "volume", "accounts")


def combine_period(months: dict[str, tuple[pd.DataFrame, pd.DataFrame]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """From each month's (accrual_summary, bua_account_summary): (by month: month x state x fuel with
    the sums and the month's accounts; combined: state x fuel summed over the period, months counted,
    and the closing balance: closing_* the period's last month, 0 where it has no accrual)."""
    missing = [k for k, frames in months.items() if frames is None]
    if missing:
        raise LookupError(f"no accrual for {', '.join(missing)}: materialise those months first")
    parts = []
    for key, (summary, accounts) in months.items():
        g = summary.groupby(["state", "fuel"], dropna=False)[list(SUMS)].sum()
        g["accounts"] = accounts.groupby(["state", "fuel"], dropna=False).size()
        g = g.fillna({"accounts": 0}).astype({"accounts": "int64"}).reset_index()
        g.insert(0, "month", AccrualMonth.from_key(key).label)
        parts.append(g)
    by_month = pd.concat(parts, ignore_index=True)
    combined = (
        by_month.groupby(["state", "fuel"], dropna=False)
        .agg(**{c: (c, "sum") for c in SUMS}, months=("month", "nunique"))
        .reset_index()
    )
    last = by_month[by_month["month"] == by_month["month"].max()]
    closing = last[["state", "fuel", *CLOSING]].rename(columns={c: f"closing_{c}" for c in CLOSING})
    combined = combined.merge(closing, on=["state", "fuel"], how="left")
    combined = combined.fillna({f"closing_{c}": 0 for c in CLOSING}).astype({"closing_accounts": "int64"})
    for frame in (by_month, combined):
        for c in frame.columns[frame.columns.str.endswith(("net_amount", "net_amount_less_discount"))]:
            frame[c] = round_cents(frame[c])
        for c in frame.columns[frame.columns.str.endswith("volume")]:
            frame[c] = frame[c].round(3)
    return by_month.sort_values(["month", "state", "fuel"]).reset_index(drop=True), combined.sort_values(
        ["state", "fuel"]
    ).reset_index(drop=True)
