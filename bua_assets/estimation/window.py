"""The unbilled window (DESIGN §5.1): which days of each account x supply point are not billed.

Pure: Arrow tables in, Arrow tables out (the SQL is ``sql/transform/unbilled_days.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.months import first_of_month_before
from bua_assets.sql import run_sql

DEFAULT_HORIZON_MONTHS = 24
FUTURE_HORIZON_DAYS = 366  # as bua_assets.core.consistency: a billed period beyond this is suspect
EXCEPTION_SCHEMA = pa.schema(
    [
        ("account_id", pa.int64()),
        ("utility_id", pa.int64()),
        ("year_mnth", pa.date32()),
        ("code", pa.string()),
        ("reason", pa.string()),
    ]
)


@dataclass
class UnbilledWindow:
    months: pa.Table  # account_id, utility_id, year_mnth, first_day, last_day, unbilled_days, bill_status
    exceptions: pa.Table  # account_id, utility_id, year_mnth, code, reason: months left out of the accrual


def unbilled_window(
    account_utility: pa.Table,
    accounts: pa.Table,
    invoices: pa.Table,
    line_items: pa.Table,
    *,
    month_end: date,
    run_date: date,
    horizon_months: int = DEFAULT_HORIZON_MONTHS,
    future_horizon_days: int = FUTURE_HORIZON_DAYS,
) -> UnbilledWindow:
    """Unbilled days per account x supply point x calendar month, within the lookback horizon.

    Months older than the horizon are not accrued; they come back as exceptions with the reason,
    never silently dropped. So do an account x supply point whose billed coverage cannot be
    trusted (a line item ending before it starts, or beyond the snapshot + ``future_horizon_days``:
    accruing it would re-accrue a billed month or hide unbilled ones) and an account open in the
    month with no supply point at all (``line_items`` needs ``id`` for the first; ``accounts``
    ``open_date`` and ``close_date`` for the second).
    """
    horizon_start = first_of_month_before(run_date, horizon_months)
    no_supply = accounts_without_supply_point(accounts, account_utility, month_end)
    suspect = suspect_billed_periods(line_items, run_date, month_end, future_horizon_days)
    if suspect.num_rows:
        pairs = suspect.select(["account_id", "utility_id"]).to_pandas()
        au = account_utility.to_pandas()
        keep = ~pd.MultiIndex.from_frame(au[["account_id", "utility_id"]].astype("int64")).isin(
            pd.MultiIndex.from_frame(pairs)
        )
        account_utility = account_utility.filter(pa.array(keep))
    invoices, orphans = _without_orphan_credits(invoices, line_items)
    result = run_sql(
        "transform/unbilled_days",
        {
            "account_utility": account_utility,
            "accounts": accounts,
            "invoices": invoices,
            "line_items": line_items,
        },
        {"month_end": month_end, "run_date": run_date, "horizon_start": horizon_start},
    )
    beyond = result["beyond_horizon"]
    old = result.filter(beyond)
    exceptions = pa.table(
        {
            "account_id": old["account_id"],
            "utility_id": old["utility_id"],
            "year_mnth": old["year_mnth"],
            "code": pa.array(["beyond_horizon"] * old.num_rows, pa.string()),
            "reason": pa.array(
                [
                    f"{n} unbilled days before the {horizon_months}-month lookback horizon "
                    f"({horizon_start}): not accrued, needs review"
                    for n in old["unbilled_days"].to_pylist()
                ],
                pa.string(),
            ),
        }
    )
    return UnbilledWindow(
        result.filter(pc.invert(beyond)).drop_columns(["beyond_horizon"]),
        pa.concat_tables([exceptions.cast(EXCEPTION_SCHEMA), orphans.cast(EXCEPTION_SCHEMA), suspect, no_supply]),
    )


def suspect_billed_periods(
    line_items: pa.Table, run_date: date, month_end: date, future_horizon_days: int = FUTURE_HORIZON_DAYS
) -> pa.Table:
    """One exception per account x supply point with an inverted or far-future billed line item
    (the first such line named in the reason)."""
    limit = run_date + timedelta(days=future_horizon_days)
    inverted = pc.fill_null(pc.less(line_items["period_end"], line_items["period_start"]), False)
    future = pc.fill_null(
        pc.or_(
            pc.greater(line_items["period_end"], pa.scalar(limit, pa.date32())),
            pc.greater(line_items["period_start"], pa.scalar(limit, pa.date32())),
        ),
        False,
    )
    suspect = pc.or_(inverted, future)
    bad = (
        line_items.select(["id", "account_id", "utility_id", "period_start", "period_end"])
        .filter(suspect)
        .append_column("inverted", inverted.filter(suspect))
        .to_pandas()
    )
    if bad.empty:
        return EXCEPTION_SCHEMA.empty_table()
    first = bad.sort_values(["account_id", "utility_id", "id"]).drop_duplicates(["account_id", "utility_id"])
    what = pd.Series(
        [
            "ends before it starts" if inv else f"reaches beyond {limit} (snapshot + {future_horizon_days} days)"
            for inv in first["inverted"]
        ],
        index=first.index,
    )
    reason = (
        "invoice line item "
        + first["id"].astype(str)
        + " ("
        + first["period_start"].astype(str)
        + " to "
        + first["period_end"].astype(str)
        + ") "
        + what
        + ": billed coverage of this supply point cannot be "
        "trusted, not accrued; fix the line item in CORE"
    )
    return pa.Table.from_pandas(
        pd.DataFrame(
            {
                "account_id": first["account_id"].astype("int64"),
                "utility_id": first["utility_id"].astype("int64"),
                "year_mnth": month_end.replace(day=1),
                "code": ["inverted_period" if inv else "far_future_period" for inv in first["inverted"]],
                "reason": reason,
            }
        ),
        schema=EXCEPTION_SCHEMA,
        preserve_index=False,
    )


def accounts_without_supply_point(accounts: pa.Table, account_utility: pa.Table, month_end: date) -> pa.Table:
    """Accounts open during the month with no AccountUtility row at all: nothing can be accrued for
    them, and they must not vanish."""
    month_start = month_end.replace(day=1)
    open_in_month = pc.and_(
        pc.less_equal(accounts["open_date"], pa.scalar(month_end, pa.date32())),
        pc.fill_null(pc.greater_equal(accounts["close_date"], pa.scalar(month_start, pa.date32())), True),
    )
    has_supply = pc.is_in(accounts["id"], value_set=pc.unique(account_utility["account_id"]).cast(accounts["id"].type))
    lost = accounts.filter(pc.and_(pc.fill_null(open_in_month, False), pc.invert(has_supply))).to_pandas()
    return pa.Table.from_pandas(
        pd.DataFrame(
            {
                "account_id": lost["id"].astype("int64"),
                "utility_id": pd.array([None] * len(lost), dtype="Int64"),
                "year_mnth": month_start,
                "code": "no_supply_point",
                "reason": "account open in the month has no AccountUtility row: no supply point to accrue",
            }
        ),
        schema=EXCEPTION_SCHEMA,
        preserve_index=False,
    )


def _without_orphan_credits(invoices: pa.Table, line_items: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A credit note that says it reverses an invoice that does not exist cancels nothing: it is
    left out of billed coverage and reported, so it can neither unbill a period nor vanish."""
    empty = pa.table(
        {
            "account_id": pa.array([], pa.int64()),
            "utility_id": pa.array([], pa.int64()),
            "year_mnth": pa.array([], pa.date32()),
            "code": pa.array([], pa.string()),
            "reason": pa.array([], pa.string()),
        }
    )
    if "reverses_invoice_id" not in invoices.column_names:
        return invoices, empty
    reverses = invoices["reverses_invoice_id"]
    orphan = pc.and_(
        pc.is_valid(reverses), pc.invert(pc.fill_null(pc.is_in(reverses, value_set=invoices["id"]), False))
    )
    orphan = pc.and_(orphan, pc.equal(invoices["is_credit"], 1))
    if not pc.any(orphan).as_py():
        return invoices, empty
    bad = invoices.filter(orphan)
    lines = line_items.filter(pc.is_in(line_items["invoice_id"], value_set=bad["id"])).to_pylist()
    target = dict(zip(bad["id"].to_pylist(), bad["reverses_invoice_id"].to_pylist()))
    rows = {
        (
            li["account_id"],
            li["utility_id"],
            li["period_start"].replace(day=1),
            f"credit note {li['invoice_id']} reverses invoice {target[li['invoice_id']]}, which does not exist: "
            f"ignored, the period {li['period_start']} to {li['period_end']} stays as billed",
        )
        for li in lines
    }
    exceptions = pa.table(
        {
            "account_id": pa.array([r[0] for r in rows], pa.int64()),
            "utility_id": pa.array([r[1] for r in rows], pa.int64()),
            "year_mnth": pa.array([r[2] for r in rows], pa.date32()),
            "code": pa.array(["orphan_credit"] * len(rows), pa.string()),
            "reason": pa.array([r[3] for r in rows], pa.string()),
        }
    )
    return invoices.filter(pc.invert(orphan)), exceptions.sort_by(
        [("account_id", "ascending"), ("year_mnth", "ascending")]
    )
