"""The unbilled window (DESIGN §5.1): which days of each account x supply point are not billed.

Pure: Arrow tables in, Arrow tables out (the SQL is ``sql/transform/unbilled_days.sql``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.months import first_of_month_before
from bua_assets.sql import run_sql

DEFAULT_HORIZON_MONTHS = 24


@dataclass
class UnbilledWindow:
    months: pa.Table  # account_id, utility_id, year_mnth, first_day, last_day, unbilled_days, bill_status
    exceptions: pa.Table  # account_id, utility_id, year_mnth, code, reason: months left out of the accrual


def unbilled_window(account_utility: pa.Table, accounts: pa.Table, invoices: pa.Table, line_items: pa.Table, *,
                    month_end: date, run_date: date, horizon_months: int = DEFAULT_HORIZON_MONTHS) -> UnbilledWindow:
    """Unbilled days per account x supply point x calendar month, within the lookback horizon.

    Months older than the horizon are not accrued; they come back as exceptions with the reason,
    never silently dropped.
    """
    horizon_start = first_of_month_before(run_date, horizon_months)
    invoices, orphans = _without_orphan_credits(invoices, line_items)
    result = run_sql("transform/unbilled_days", {
        "account_utility": account_utility, "accounts": accounts, "invoices": invoices, "line_items": line_items,
    }, {"month_end": month_end, "run_date": run_date, "horizon_start": horizon_start})
    beyond = result["beyond_horizon"]
    old = result.filter(beyond)
    exceptions = pa.table({
        "account_id": old["account_id"], "utility_id": old["utility_id"], "year_mnth": old["year_mnth"],
        "code": pa.array(["beyond_horizon"] * old.num_rows, pa.string()),
        "reason": pa.array([f"{n} unbilled days before the {horizon_months}-month lookback horizon "
                            f"({horizon_start}): not accrued, needs review" for n in old["unbilled_days"].to_pylist()],
                           pa.string()),
    })
    return UnbilledWindow(result.filter(pc.invert(beyond)).drop_columns(["beyond_horizon"]),
                          pa.concat_tables([exceptions, orphans.cast(exceptions.schema)]))


def _without_orphan_credits(invoices: pa.Table, line_items: pa.Table) -> tuple[pa.Table, pa.Table]:
    """A credit note that says it reverses an invoice that does not exist cancels nothing: it is
    left out of billed coverage and reported, so it can neither unbill a period nor vanish."""
    empty = pa.table({"account_id": pa.array([], pa.int64()), "utility_id": pa.array([], pa.int64()),
                      "year_mnth": pa.array([], pa.date32()), "code": pa.array([], pa.string()),
                      "reason": pa.array([], pa.string())})
    if "reverses_invoice_id" not in invoices.column_names:
        return invoices, empty
    reverses = invoices["reverses_invoice_id"]
    orphan = pc.and_(pc.is_valid(reverses), pc.invert(pc.fill_null(pc.is_in(reverses, value_set=invoices["id"]), False)))
    orphan = pc.and_(orphan, pc.equal(invoices["is_credit"], 1))
    if not pc.any(orphan).as_py():
        return invoices, empty
    bad = invoices.filter(orphan)
    lines = line_items.filter(pc.is_in(line_items["invoice_id"], value_set=bad["id"])).to_pylist()
    target = dict(zip(bad["id"].to_pylist(), bad["reverses_invoice_id"].to_pylist()))
    rows = {(li["account_id"], li["utility_id"], li["period_start"].replace(day=1),
             f"credit note {li['invoice_id']} reverses invoice {target[li['invoice_id']]}, which does not exist: "
             f"ignored, the period {li['period_start']} to {li['period_end']} stays as billed") for li in lines}
    exceptions = pa.table({"account_id": pa.array([r[0] for r in rows], pa.int64()),
                           "utility_id": pa.array([r[1] for r in rows], pa.int64()),
                           "year_mnth": pa.array([r[2] for r in rows], pa.date32()),
                           "code": pa.array(["orphan_credit"] * len(rows), pa.string()),
                           "reason": pa.array([r[3] for r in rows], pa.string())})
    return invoices.filter(pc.invert(orphan)), exceptions.sort_by([("account_id", "ascending"), ("year_mnth", "ascending")])
