"""Estimated month-end reads of accumulation (basic) registers (DESIGN §5.1): from each register's
last baseline read, its micro scalar x macro profile (with its own weather response) to the
month end (basic.month_end_reads)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from bua_assets.estimation.baseline import baseline_reads
from bua_assets.estimation.basic import month_end_reads
from bua_assets.estimation.micro_scalars import base_share
from bua_assets.estimation.profiles import MacroProfiles
from bua_assets.estimation.scalars import register_weights

REGISTER_COLUMNS = ["register_id", "dial_digits", "fuel", "network_id", "pressure_correction_factor"]


def estimated_month_end_reads(
    registers: pd.DataFrame,
    scalar_table: pd.DataFrame,
    macro: MacroProfiles,
    reads: pd.DataFrame,
    month_end: dt.date,
    heating_values: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(month-end reads, exceptions) for the BASIC registers of ``registers`` (utility_profiles
    registers); ``scalar_table``: micro scalars by register_id (scalar, base_share); ``reads``:
    BasicRead rows (baseline_reads chooses)."""
    basic = registers[registers["read_kind"] == "BASIC"]
    scalar, share = scalar_table["scalar"], base_share(scalar_table)
    key_index = pd.Series(macro.key_index(registers["profile_key"]), index=registers["register_id"].to_numpy())

    def daily_estimate(register_ids, dates):
        return scalar.reindex(register_ids).to_numpy(dtype=float) * register_weights(
            macro,
            key_index.reindex(register_ids).to_numpy(dtype=np.int64),
            share.reindex(register_ids).fillna(0.0).to_numpy(dtype=float),
            dates,
        )

    return month_end_reads(
        basic[REGISTER_COLUMNS], baseline_reads(reads, month_end), daily_estimate, month_end, heating_values
    )
