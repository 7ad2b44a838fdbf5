"""Write valid AEMO NEM12 files from register-day arrays (the generator, and estimated data).

Interval values are formatted by Arrow's CSV writer in bulk; 200 and 400 records are spliced
in per record, so no Python code formats an individual interval value.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from bua_assets.nem12.reader import MINUTES_PER_DAY


@dataclass
class RegisterBlock:
    """One 200 record and the days that follow it."""

    nmi: str
    nmi_configuration: str
    register_id: str
    suffix: str
    meter_serial: str
    uom: str
    interval_length: int
    first_row: int  # rows [first_row, first_row + n_rows) of the day arrays
    n_rows: int


def write_nem12(
    path: Path,
    *,
    created: str,  # YYYYMMDDHHMM
    from_participant: str,
    to_participant: str,
    blocks: list[RegisterBlock],
    dates: np.ndarray,  # datetime64[D] per day row
    values: dict[int, np.ndarray],  # interval length -> (rows, intervals) for the rows of that length
    row_index: np.ndarray,  # day row -> row within values[interval_length]
    quality: np.ndarray,  # per day row: A, E52, S14, F14, V ...
    events: dict[int, list[tuple[int, int, str, str]]] | None = None,  # day row -> 400 records
    decimals: int = 3,
    update_datetime: str | None = None,
) -> int:
    """Write one NEM12 file; returns the number of 300 records written."""
    events = events or {}
    ymd = dates.astype("datetime64[D]")
    years = ymd.astype("datetime64[Y]")
    months = ymd.astype("datetime64[M]")
    date8 = ((years.astype(np.int64) + 1970) * 10000 + (months - years).astype(np.int64) * 100 + 100
             + (ymd - months).astype(np.int64) + 1)  # YYYYMMDD as an integer: Arrow prints it as is
    update = update_datetime or (created + "00")
    quality_arr = pa.array(np.asarray(quality).astype(str))
    # Substituted and final-substituted days carry reason code 76 (the example in the spec).
    substituted = pc.or_(pc.starts_with(quality_arr, "S"), pc.starts_with(quality_arr, "F"))
    reason = pc.if_else(substituted, "76", "")
    lengths = _lengths_of(blocks, len(dates))
    day_lines = np.empty(len(dates), dtype=object)
    for length, matrix in values.items():
        rows = np.flatnonzero(lengths == length)
        n = MINUTES_PER_DAY // length
        m = np.round(matrix[row_index[rows]], decimals)
        if decimals == 0:
            m = m.astype(np.int64)
        by_interval = np.ascontiguousarray(m.T)  # one contiguous array per CSV column
        take = pa.array(rows)
        cols = {"r": pa.array(np.full(len(rows), 300)), "d": pa.array(date8[rows])}
        cols.update({f"v{j}": pa.array(by_interval[j]) for j in range(n)})
        cols["q"] = quality_arr.take(take)
        cols["rc"] = reason.take(take)
        cols["rd"] = pa.nulls(len(rows), pa.string())
        cols["u"] = pa.array(np.full(len(rows), int(update)))
        cols["m"] = cols["u"]
        buf = io.BytesIO()
        pacsv.write_csv(pa.table(cols), buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        day_lines[rows] = buf.getvalue().split(b"\n")[:-1]
    # Assemble in file order: each block's 200 record, then its days, each followed by its 400s.
    # Every line gets a sort key (row, rank): 200 -> (first_row, 0), 300 -> (row, 1), 400 -> (row, 2+k).
    headers = [f"200,{b.nmi},{b.nmi_configuration},{b.register_id},{b.suffix},N{b.suffix[-1]},{b.meter_serial},"
               f"{b.uom},{b.interval_length},".encode() for b in blocks]
    event_rows = [(r, 2 + k, f"400,{s},{e},{method},{code},".encode())
                  for r, evs in sorted(events.items()) for k, (s, e, method, code) in enumerate(evs)]
    key_row = np.concatenate([[b.first_row for b in blocks], np.arange(len(dates)), [r for r, _, _ in event_rows]])
    key_rank = np.concatenate([np.zeros(len(blocks)), np.ones(len(dates)), [k for _, k, _ in event_rows]])
    lines = np.concatenate([_objects(headers), day_lines,
                            _objects([line for _, _, line in event_rows])])
    order = np.lexsort((key_rank, key_row))
    out = [f"100,NEM12,{created},{from_participant},{to_participant}".encode(), *lines[order].tolist(), b"900"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(out) + b"\n")
    return len(dates)


def _lengths_of(blocks: list[RegisterBlock], rows: int) -> np.ndarray:
    lengths = np.zeros(rows, dtype=np.int32)
    for b in blocks:
        lengths[b.first_row:b.first_row + b.n_rows] = b.interval_length
    return lengths


def _objects(items: list[bytes]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    out[:] = items
    return out
