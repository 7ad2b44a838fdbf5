"""The month at a glance: this month's accrual beside last month's, by state x fuel, with the
movement; the same table on ``accrual_summary``, in the run notification and at the end of the
CLI's demo. The accrual is what finance books: net ex-GST less expected discounts
(``net_amount_less_discount`` of the finance summary)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from bua_assets.billing.money import round_cents
from bua_assets.datasets import ACCRUAL_SUMMARY
from bua_assets.months import AccrualMonth

if TYPE_CHECKING:
    from bua_assets.lake import Lake

ACCRUAL = "net_amount_less_discount"
TOTAL = "Total"
COLUMNS = ["state", "fuel", "accrual", "last_month", "movement", "movement_pct"]


def month_at_a_glance(current: pd.DataFrame, previous: pd.DataFrame | None) -> pd.DataFrame:
    """One row per state x fuel in either month (0 where a month has none), sorted, then a
    ``Total`` row. ``movement_pct`` is NaN where last month's accrual is 0 (no base to compare);
    without last month's accrual (``previous`` None) its columns are NaN, shown as n/a."""

    def by_cell(frame: pd.DataFrame | None) -> pd.Series:
        if frame is None or frame.empty:
            return pd.Series(dtype=float)
        keyed = frame.assign(state=frame["state"].fillna("?"), fuel=frame["fuel"].fillna("?"))
        return keyed.groupby(["state", "fuel"])[ACCRUAL].sum()

    cells = pd.concat({"accrual": by_cell(current), "last_month": by_cell(previous)}, axis=1).fillna(0.0)
    cells = cells.rename_axis(["state", "fuel"]).reset_index().sort_values(["state", "fuel"])
    total = pd.DataFrame(
        [{"state": TOTAL, "fuel": "", "accrual": cells["accrual"].sum(), "last_month": cells["last_month"].sum()}]
    )
    out = pd.concat([cells, total], ignore_index=True)
    out["accrual"] = round_cents(out["accrual"])
    out["last_month"] = round_cents(out["last_month"])
    out["movement"] = round_cents(out["accrual"] - out["last_month"])
    base = out["last_month"].abs()
    out["movement_pct"] = (100 * out["movement"] / base.where(base > 0)).round(1)
    if previous is None:  # last month not in the lake: unknown, not zero
        out[["last_month", "movement", "movement_pct"]] = math.nan
    return out[COLUMNS].reset_index(drop=True)


def read_month_at_a_glance(lake: Lake, key: str) -> pd.DataFrame | None:
    """The glance for a month already in the lake (None before its accrual_summary exists)."""
    if not ACCRUAL_SUMMARY.exists(lake, key):
        return None
    previous_key = AccrualMonth.from_key(key).previous.key
    previous = (
        ACCRUAL_SUMMARY.read(lake, previous_key).to_pandas() if ACCRUAL_SUMMARY.exists(lake, previous_key) else None
    )
    return month_at_a_glance(ACCRUAL_SUMMARY.read(lake, key).to_pandas(), previous)


def money(value: float) -> str:
    """Dollars with thousands separators and two decimals: 33,616.60; -1,250.00 (n/a if unknown)."""
    return "n/a" if math.isnan(value) else f"{value:,.2f}"


def percent(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:+.1f}%"


def glance_headers(month_label: str, previous_label: str) -> list[str]:
    return ["state", "fuel", f"accrual {month_label}", f"last month {previous_label}", "movement", "movement %"]


def glance_display(glance: pd.DataFrame, month_label: str, previous_label: str) -> pd.DataFrame:
    """The table as finance reads it: every cell text, money with separators and two decimals."""
    rows = [
        [r.state, r.fuel.lower(), money(r.accrual), money(r.last_month), money(r.movement), percent(r.movement_pct)]
        for r in glance.itertuples()
    ]
    return pd.DataFrame(rows, columns=glance_headers(month_label, previous_label))


def _cells(glance: pd.DataFrame) -> list[list[str]]:
    return [list(row) for row in glance.itertuples(index=False)]


def glance_text(glance: pd.DataFrame, month_label: str, previous_label: str) -> str:
    """The same table in fixed-width text (a terminal, an email)."""
    shown = glance_display(glance, month_label, previous_label)
    rows = [list(shown.columns), *_cells(shown)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        left = [row[i].ljust(widths[i]) for i in (0, 1)]
        right = [row[i].rjust(widths[i]) for i in range(2, len(row))]
        out.append("  ".join(left + right).rstrip())
    return "\n".join(out)
