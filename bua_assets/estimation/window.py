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
    return UnbilledWindow(result.filter(pc.invert(beyond)).drop_columns(["beyond_horizon"]), exceptions)
