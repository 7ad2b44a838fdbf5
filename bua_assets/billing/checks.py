"""The accrual invoice's checks (DESIGN §5.8): which line items and exceptions are errors (the
month must not be exported as is) and which are warnings (to look at)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from bua_assets.billing.charges import CONSUMPTION_CHARGES, SUPPLY_CHARGE, VOLUME_CHARGES

LINE_KEY = [
    "account_id",
    "utility_id",
    "year_mnth",
    "plan_id",
    "ili_state",
    "plan_item_type_name",
    "time_class_name",
    "period_start",
    "period_end",
    "block_order",
    "rate",
    "net_amount",
]  # an exact repeat of a line: the same charge over the same whole period
MISSING_TARIFF_CODES = ["missing_tariff", "partial_tariff", "no_charge_version"]
UNPRICED_CODE = "unpriced_charge"  # a plan item the engine cannot price (accrual.unpriced_charges)
IMPLAUSIBLE_FACTOR = 5.0  # WARN when a month's net exceeds this x the account's largest past bill


@dataclass
class Findings:
    errors: dict[str, pd.DataFrame]  # code -> the rows behind it
    warnings: dict[str, pd.DataFrame]

    @property
    def counts(self) -> dict[str, int]:
        """Rows per code, errors first, every code (0 when clean)."""
        return {k: len(v) for k, v in {**self.errors, **self.warnings}.items()}

    @property
    def has_error(self) -> bool:
        return any(len(v) for v in self.errors.values())

    def severity(self, code: str) -> str:
        return "ERROR" if code in self.errors else "WARN"

    def failing_rows(self, limit: int = 20) -> dict[str, list[dict]]:
        """The first ``limit`` rows of each code that has any, as strings."""
        return {
            k: v.head(limit).astype(str).to_dict("records")
            for k, v in {**self.errors, **self.warnings}.items()
            if len(v)
        }


def ili_findings(
    lines: pd.DataFrame,
    exceptions: pd.DataFrame,
    largest_bill: pd.Series,
    horizon_start: dt.date,
    implausible_factor: float = IMPLAUSIBLE_FACTOR,
) -> Findings:
    """``lines``: the invoice line items; ``exceptions``: the invoice's exceptions (code);
    ``largest_bill``: each account's largest past bill (history.largest_bill).

    Errors: a missing tariff or charge version, a plan item the engine cannot price, negative
    usage (not a SUPPLEMENTARY credit, which reverses billed usage), an exact repeat of a line, a
    line starting before the horizon.
    Warnings: overlapping charge versions, a zero rate on a volume or supply charge (never free),
    a month's net over ``implausible_factor`` x the account's largest past bill."""
    usage = lines["plan_item_type_name"].isin(CONSUMPTION_CHARGES)
    errors = {
        "missing_tariff": exceptions[exceptions["code"].isin(MISSING_TARIFF_CODES)],
        UNPRICED_CODE: exceptions[exceptions["code"] == UNPRICED_CODE],
        "negative_usage": lines[usage & (lines["quantity"] < 0) & (lines["ili_state"] != "SUPPLEMENTARY")],
        "duplicate_lines": lines[lines.duplicated(LINE_KEY, keep=False)],
        "beyond_horizon": lines[pd.to_datetime(lines["period_start"]) < pd.Timestamp(horizon_start)],
    }
    expected_rate = lines["plan_item_type_name"].isin([*VOLUME_CHARGES, SUPPLY_CHARGE])
    monthly = lines.groupby(["account_id", "year_mnth"])["net_amount"].sum().reset_index()
    monthly["largest_bill"] = monthly["account_id"].map(largest_bill)
    warnings = {
        "overlapping_charge_versions": exceptions[exceptions["code"] == "overlapping_charge_versions"],
        "zero_rate": lines[expected_rate & (lines["rate"] == 0)],
        "implausible_amount": monthly[monthly["net_amount"] > implausible_factor * monthly["largest_bill"]],
    }
    return Findings(errors, warnings)
