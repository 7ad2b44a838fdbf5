"""Interval data as numpy matrices: any interval length brought to 30 minutes, with an actual mask.

A register-day of NEM12 data is a list of 48, 96 or 288 values, a quality method for the day and,
where 400 records split it, a quality per interval. The estimation works on (rows, 48) half-hour
matrices: 5- and 15-minute values are summed into their half hour, and a half hour is actual only
when every interval in it has quality A.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.nem12.reader import ENERGY_UNITS, REACTIVE_UNITS

HALF_HOURS = 48
# The interval_reads columns the estimation and the statistics read (one register-day a row).
READ_COLUMNS = ["nmi", "suffix", "uom", "read_date", "interval_length", "values", "interval_quality", "quality_method"]
# A channel's unit in one spelling: energy (Wh, kWh, MWh) as kWh, reactive (varh, kvarh, Mvarh) as
# kVArh; anything else (gas m3, MJ) upper-cased. CORE registers (KWH) and meter data (kWh after
# ingestion, or as our estimate files write it) meet on it, so data in a unit that is not the
# register's never counts as its energy.
CANONICAL_UNITS = {
    **{u: "kWh" for u in ENERGY_UNITS},
    **{u: "kVArh" for u in REACTIVE_UNITS},
}


def half_hourly(table: pa.Table | pa.RecordBatch, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``table`` has interval_length, values, interval_quality and quality_method (interval_reads
    columns; quality_method may be absent when every interval carries its quality); ``rows``: the
    rows to read, in this order (default: all), so a caller keeping some rows of a batch need not
    ``take`` its list columns (slow in Arrow).

    Returns (values, actual): float64 (len(rows), 48) kWh and bool (len(rows), 48). Empty
    intervals (null) count as 0 kWh and not actual. Values are gathered with one numpy index per
    interval length straight from the list column's buffers. A day's own quality method holds
    for every interval unless its interval_quality is set (the reader sets it only where 400
    records did: V days, mostly); set, it is read per interval.
    """
    rows = np.arange(table.num_rows) if rows is None else np.asarray(rows, dtype=np.int64)
    n = len(rows)
    values = np.zeros((n, HALF_HOURS))
    actual = np.zeros((n, HALF_HOURS), dtype=bool)
    if n == 0:
        return values, actual
    lists = _combined(table["values"])
    starts, counts = _spans(lists, rows)
    flat = np.asarray(lists.values.to_numpy(zero_copy_only=False), dtype=np.float64)  # nulls become NaN
    quality = _combined(table["interval_quality"])
    detailed = quality.is_valid().to_numpy(zero_copy_only=False)[rows]
    if "quality_method" in table.column_names:
        method = pc.utf8_slice_codeunits(_combined(table["quality_method"]), 0, 1)
        day_actual = pc.fill_null(pc.equal(method, "A"), False).to_numpy(zero_copy_only=False)[rows]
    else:
        day_actual = np.zeros(n, dtype=bool)
    lengths = _combined(table["interval_length"]).to_numpy(zero_copy_only=False)[rows]
    for length in np.unique(lengths):
        at = np.flatnonzero(lengths == length)
        parts = 30 // int(length)
        per_day = HALF_HOURS * parts
        if (counts[at] != per_day).any():
            raise ValueError(f"{length}-minute rows must hold {per_day} values each")
        v = flat[starts[at][:, None] + np.arange(per_day)]
        present = ~np.isnan(v)
        values[at] = np.where(present, v, 0.0).reshape(len(at), HALF_HOURS, parts).sum(axis=2)
        whole = np.asarray(present.reshape(len(at), HALF_HOURS, parts).all(axis=2))
        actual[at] = whole & day_actual[at, None]
        check = at[detailed[at]]
        if len(check):
            q_starts, q_counts = _spans(quality, rows[check])
            if (q_counts != per_day).any():
                raise ValueError(f"{length}-minute rows' interval_quality must hold {per_day} qualities each")
            idx = (q_starts[:, None] + np.arange(per_day)).reshape(-1)
            flags = pc.utf8_slice_codeunits(quality.values.take(pa.array(idx)), 0, 1)
            is_a = np.asarray(pc.fill_null(pc.equal(flags, "A"), False).to_numpy(zero_copy_only=False), dtype=bool)
            actual[check] = is_a.reshape(len(check), HALF_HOURS, parts).all(axis=2) & whole[detailed[at]]
    return values, actual


def _spans(lists: pa.ListArray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``rows``' lists starts in ``lists.values`` (which ignores a slice's offset,
    as its offsets do not), and how long it is."""
    offsets = lists.offsets.to_numpy()
    return offsets[rows], offsets[rows + 1] - offsets[rows]


def _combined(column):
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def day_type(dates: np.ndarray) -> np.ndarray:
    """0 weekday, 1 weekend, for datetime64[D] dates."""
    return ((dates.astype("datetime64[D]").astype(np.int64) + 3) % 7 >= 5).astype(np.int8)


def group_sum(keys: np.ndarray, matrix: np.ndarray, groups: int) -> np.ndarray:
    """Sum the rows of ``matrix`` by integer key into (groups, columns), without a Python loop."""
    out = np.zeros((groups, *matrix.shape[1:]), dtype=np.float64)
    add_by_key(keys, (out, matrix))
    return out


def add_by_key(keys: np.ndarray, *pairs: tuple[np.ndarray, np.ndarray]) -> None:
    """For each (into, matrix): add the rows of ``matrix`` into the rows of ``into`` their keys
    name, in place, sorting the keys once for every pair. An accumulator over many batches is
    touched only where a batch has keys (no full-size temporary per batch)."""
    if len(keys) == 0:
        return
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    present = k[starts]  # unique, so the in-place add below is not buffered over repeats
    for into, matrix in pairs:
        into[present] += np.add.reduceat(matrix[order], starts, axis=0)


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


def canonical_units(uoms: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each unit in CANONICAL_UNITS' spelling (one dictionary look-up per distinct unit)."""
    lower = pc.utf8_lower(pc.utf8_trim_whitespace(pc.fill_null(uoms, "")))
    distinct = pc.unique(lower).to_pylist()
    spelled = pa.array([CANONICAL_UNITS.get(u, u.upper()) for u in distinct], pa.string())
    return pc.take(spelled, pc.index_in(lower, value_set=pa.array(distinct, pa.string())))


def channel_keys(nmi, suffix, uom) -> pa.Array:
    """ "NMI/suffix/unit" keys matching meter data to registers (Arrow arrays or sequences)."""
    return pc.binary_join_element_wise(_strings(nmi), _strings(suffix), canonical_units(_strings(uom)), "/")


def _strings(x) -> pa.Array | pa.ChunkedArray:
    """An Arrow string array from Arrow, pandas (Arrow-backed strings pass without a copy) or a list."""
    if isinstance(x, pa.Array | pa.ChunkedArray):
        return x if pa.types.is_string(x.type) else x.cast(pa.string())
    return pa.array(x, pa.string(), from_pandas=True) if hasattr(x, "dtype") else pa.array(list(x), pa.string())
