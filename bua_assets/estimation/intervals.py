"""Interval data as numpy matrices: any interval length brought to 30 minutes, with an actual mask.

A register-day of NEM12 data is a list of 48, 96 or 288 values and as many quality codes. The
estimation works on (rows, 48) half-hour matrices: 5- and 15-minute values are summed into
their half hour, and a half hour is actual only when every interval in it has quality A.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HALF_HOURS = 48


def half_hourly(table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """``table`` has interval_length, values and interval_quality (interval_reads columns).

    Returns (values, actual): float64 (rows, 48) kWh and bool (rows, 48). Empty intervals
    (null) count as 0 kWh and not actual.
    """
    n = table.num_rows
    values = np.zeros((n, HALF_HOURS))
    actual = np.zeros((n, HALF_HOURS), dtype=bool)
    lengths = table["interval_length"].to_numpy()
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        parts = 30 // int(length)
        per_day = HALF_HOURS * parts
        sub = table.take(pa.array(rows))
        flat = pc.list_flatten(sub["values"])
        v = flat.to_numpy(zero_copy_only=False).astype(np.float64)
        v = np.nan_to_num(v, nan=0.0)
        q = pc.list_flatten(sub["interval_quality"])
        is_a = pc.fill_null(pc.equal(pc.utf8_slice_codeunits(q, 0, 1), "A"), False).to_numpy(zero_copy_only=False)
        is_a &= pc.is_valid(flat).to_numpy(zero_copy_only=False)
        if len(v) != len(rows) * per_day:
            raise ValueError(f"{length}-minute rows must hold {per_day} values each")
        values[rows] = v.reshape(len(rows), HALF_HOURS, parts).sum(axis=2)
        actual[rows] = is_a.reshape(len(rows), HALF_HOURS, parts).all(axis=2)
    return values, actual


def day_type(dates: np.ndarray) -> np.ndarray:
    """0 weekday, 1 weekend, for datetime64[D] dates."""
    return ((dates.astype("datetime64[D]").astype(np.int64) + 3) % 7 >= 5).astype(np.int8)


def group_sum(keys: np.ndarray, matrix: np.ndarray, groups: int) -> np.ndarray:
    """Sum the rows of ``matrix`` by integer key into (groups, columns), without a Python loop."""
    out = np.zeros((groups,) + matrix.shape[1:], dtype=np.float64)
    if len(keys) == 0:
        return out
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    out[k[starts]] = np.add.reduceat(matrix[order], starts, axis=0)
    return out


def tou_masks(windows: list[tuple[str, str, str, str]], classes: list[str]) -> np.ndarray | None:
    """(2 day types, classes, 48) 0/1 masks from time-of-use windows (class, days, HH:MM, HH:MM).

    ``days`` is WEEKDAY, WEEKEND or ALL. Returns None unless every half hour of both day types
    falls in exactly one class: incomplete or overlapping windows cannot split usage.
    """
    masks = np.zeros((2, len(classes), HALF_HOURS))
    for cls, days, start, end in windows:
        if cls not in classes:
            return None
        s = int(start[:2]) * 2 + int(start[3:5]) // 30
        e = int(end[:2]) * 2 + int(end[3:5]) // 30
        span = np.r_[s:e] if s < e else np.r_[s:HALF_HOURS, 0:e]
        for d in {"WEEKDAY": [0], "WEEKEND": [1]}.get(days, [0, 1]):
            masks[d, classes.index(cls), span] += 1
    if not (masks.sum(axis=1) == 1).all():
        return None
    return masks
