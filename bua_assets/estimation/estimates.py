"""Estimated interval data (DESIGN §5.2) and its NEM12 files.

estimate(d, i) = micro scalar x daily weight(segment, d) x intraday share(segment, d, i): the
segment's profile scaled to the register. Written as NEM12 300 records with quality E and
method flag 57 (customer class), at the register's own interval length, then read back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bua_assets.estimation.profiles import MacroProfiles
from bua_assets.nem12.writer import RegisterBlock, write_nem12

ESTIMATE_QUALITY = "E57"  # E: estimated; 57: customer class (the segment profile)
ESTIMATOR = "BUAESTIMATE"  # the participant the files say they come from


def estimate_half_hours(key_index: np.ndarray, scalar: np.ndarray, dates: np.ndarray,
                        macro: MacroProfiles) -> np.ndarray:
    """(rows, 48) kWh for register-days with no data."""
    d = macro.window.seasonal_index(dates)
    daily = scalar * macro.daily[key_index, d]
    return daily[:, None] * macro.intraday[key_index, d]


def write_estimate_file(path: Path, days: pd.DataFrame, half_hours: np.ndarray, *, created: str, to_participant: str) -> int:
    """One NEM12 file of estimated days. ``days`` (sorted by register, date): nmi,
    nmi_configuration, register_code, suffix, meter_serial, interval_length, date. Values are
    split evenly into the register's interval length."""
    blocks, store, row_index = [], {}, np.zeros(len(days), dtype=np.int64)
    reg = days["nmi"].to_numpy() + "/" + days["suffix"].to_numpy()
    starts = np.flatnonzero(np.r_[True, reg[1:] != reg[:-1]])
    ends = np.r_[starts[1:], len(days)]
    lengths = days["interval_length"].to_numpy(dtype=np.int64)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        parts = 30 // int(length)
        store[int(length)] = np.repeat(half_hours[rows] / parts, parts, axis=1)
        row_index[rows] = np.arange(len(rows))
    first = days.iloc[starts]
    for s, e, r in zip(starts, ends, first.itertuples()):
        blocks.append(RegisterBlock(r.nmi, r.nmi_configuration, str(r.register_code), r.suffix, r.meter_serial, "kWh",
                                    int(r.interval_length), int(s), int(e - s)))
    return write_nem12(path, created=created, from_participant=ESTIMATOR, to_participant=to_participant,
                       blocks=blocks, dates=days["date"].to_numpy(dtype="datetime64[D]"), values=store,
                       row_index=row_index, quality=np.full(len(days), ESTIMATE_QUALITY))
