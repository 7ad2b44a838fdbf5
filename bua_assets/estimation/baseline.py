"""The reads an estimate of an accumulation register starts from (DESIGN §5.1)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

BASELINE_READ_TYPES = ["ACTUAL", "ESTIMATE"]  # the meter's reads; BUA_ESTIMATE (ours) never a baseline


def baseline_reads(reads: pd.DataFrame, month_end: dt.date) -> pd.DataFrame:
    """The accumulation reads (BasicRead: read_date, reading, read_type, ...) a month-end estimate
    may start from: up to the month end (later reads are after the snapshot's month) and the
    meter's own, actual or estimated; our earlier BUA estimates are never a baseline. Readings as
    float."""
    reads = reads.copy()
    reads["reading"] = reads["reading"].astype(float)
    keep = (pd.to_datetime(reads["read_date"]) <= pd.Timestamp(month_end)) & reads["read_type"].isin(
        BASELINE_READ_TYPES
    )
    return reads[keep]
