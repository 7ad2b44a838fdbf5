"""The accrual invoice (DESIGN §5.5): every account's unbilled supply days and consumption priced
at its own plan (ex-GST with GST beside, discounts with the pay-on-time propensity), then the
SUPPLEMENTARY lines of re-rated billed periods, all in the line item layout."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.billing.accrual import (
    accrual_lines,
    customer_terms,
    overlapping_versions,
    supply_days,
    unmeasured_demand,
    unpriced_charges,
)
from bua_assets.billing.charges import FEATURE_OF_CHARGE
from bua_assets.billing.corrections import flagged_line_items, supplementary_lines
from bua_assets.billing.rerating import HalfHours
from bua_assets.billing.tariff import price
from bua_assets.estimation.consumption import TimeOfUse

LINE_ITEM_COLUMNS = [
    "line_id",
    "account_id",
    "utility_id",
    "year_mnth",
    "plan_id",
    "ili_state",
    "discount_state",
    "feature_type_name",
    "plan_item_type_name",
    "time_class_name",
    "period_start",
    "period_end",
    "days",
    "block_order",
    "quantity",
    "uom",
    "rate",
    "net_amount",
    "discount_net",
    "discount_net_propensity",
    "gst",
]
EXCEPTION_COLUMNS = ["account_id", "code", "reason"]


def priced_line_items(priced: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    """tariff.price's lines (one row per line part x block) in the line item layout, with each
    line's supply point, month and ILI state from ``lines`` (accrual.accrual_lines)."""
    attrs = lines.set_index("line_id")[["utility_id", "year_mnth", "ili_state"]]
    out = priced.join(attrs, on="line_id")
    out = out.rename(
        columns={
            "charge_type": "plan_item_type_name",
            "time_class": "time_class_name",
            "part_start": "period_start",
            "part_end": "period_end",
        }
    )
    out["feature_type_name"] = out["plan_item_type_name"].map(FEATURE_OF_CHARGE)
    out["period_start"] = out["period_start"].dt.date
    out["period_end"] = out["period_end"].dt.date
    return out[LINE_ITEM_COLUMNS]


def as_line_items(supplementary: pd.DataFrame, start: int) -> pd.DataFrame:
    """SUPPLEMENTARY lines (every charge item) in the line item layout, numbered from ``start``:
    credits carry negative quantity and money, so a re-rated period nets to the difference."""
    s = supplementary
    sign = np.where(s["is_credit"], -1.0, 1.0)
    return pd.DataFrame(
        {
            "line_id": np.arange(start, start + len(s)),
            "account_id": s["account_id"],
            "utility_id": s["utility_id"],
            "year_mnth": pd.to_datetime(s["period_start"]).dt.to_period("M").dt.start_time.dt.date,
            "plan_id": s["plan_id"],
            "ili_state": "SUPPLEMENTARY",
            "discount_state": s["discount_state"],
            "feature_type_name": s["charge_type"].map(FEATURE_OF_CHARGE),
            "plan_item_type_name": s["charge_type"],
            "time_class_name": s["time_class"],
            "period_start": s["period_start"],
            "period_end": s["period_end"],
            "days": s["days"].astype(int),
            "block_order": s["block_order"].astype(int),
            "quantity": sign * s["quantity"],
            "uom": s["uom"],
            "rate": s["rate"],
            "net_amount": s["net_amount"],
            "discount_net": s["discount_net"],
            "discount_net_propensity": s["discount_net_propensity"],
            "gst": s["gst"],
        }
    )


@dataclass
class AccrualInvoice:
    lines: pd.DataFrame  # LINE_ITEM_COLUMNS: the accrual lines, then the SUPPLEMENTARY ones
    exceptions: pd.DataFrame  # line_id (accrual and pricing ones), account_id, code, reason


def accrual_invoice(
    window: pd.DataFrame,
    consumption: pd.DataFrame,
    account_plans: pd.DataFrame,
    rates: pd.DataFrame,
    discounts: pd.DataFrame,
    accounts: pd.DataFrame,
    invoices: pd.DataFrame,
    billed: pa.Table,
    horizon_start: dt.date,
    segments: pd.DataFrame | None = None,
    demand: pd.DataFrame | None = None,
    tou: TimeOfUse | None = None,
    half_hours: HalfHours | None = None,
) -> AccrualInvoice:
    """``window``: unbilled_months; ``consumption``: unbilled_consumption; ``accounts``: Account
    (id, pay_on_time_propensity, bill_frequency, gst_registered, journal_segment_id); ``invoices``:
    Invoice (id, status, is_credit, issue_date); ``billed``: InvoiceLineItem rows (the
    supplementary run re-rates those of flagged supply points back to ``horizon_start``);
    ``segments``: JournalAccountSegment (residential accounts default to no GST registration);
    ``demand``: unbilled_consumption's max_demand (demand charges priced on it); ``tou`` and
    ``half_hours``: the plans' windows and the billed days' half hours, to re-rate billed figures
    onto another plan's time classes (corrections.supplementary_lines)."""
    terms = customer_terms(accounts, segments)
    lines, exceptions = accrual_lines(consumption, supply_days(window, account_plans), terms, rates, demand)
    planned = lines[lines["plan_id"] >= 0]
    priced = price(planned, rates, discounts)
    out = priced_line_items(priced.lines, lines)
    supplementary, supplementary_exceptions = supplementary_lines(
        account_plans,
        rates,
        invoices,
        flagged_line_items(billed, account_plans),
        horizon_start,
        discounts,
        terms,
        tou,
        half_hours,
    )
    out = pd.concat([out, as_line_items(supplementary, start=len(lines))], ignore_index=True)
    overlaps = overlapping_versions(window, account_plans)[EXCEPTION_COLUMNS]
    exceptions = pd.concat(
        [
            exceptions,
            priced.exceptions,
            unpriced_charges(planned, rates, discounts),
            unmeasured_demand(planned, rates),
            overlaps,
            supplementary_exceptions[EXCEPTION_COLUMNS],
        ],
        ignore_index=True,
    )
    return AccrualInvoice(out, exceptions)
