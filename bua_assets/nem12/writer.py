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
    dates_text = np.datetime_as_string(dates, unit="D")
    date8 = np.char.replace(dates_text.astype("U10"), "-", "")
    update = update_datetime or (created + "00")
    reason = np.where(np.char.startswith(quality.astype(str), "A") | np.char.startswith(quality.astype(str), "V"),
                      "", np.where(np.char.startswith(quality.astype(str), "E"), "", "76"))
    lengths = _lengths_of(blocks, len(dates))
    by_row: dict[int, bytes] = {}
    for length, matrix in values.items():
        rows = np.flatnonzero(lengths == length)
        n = MINUTES_PER_DAY // length
        m = np.round(matrix[row_index[rows]], decimals)
        if decimals == 0:
            m = m.astype(np.int64)
        cols = {"r": pa.array(np.full(len(rows), "300")), "d": pa.array(date8[rows])}
        cols.update({f"v{j}": pa.array(m[:, j]) for j in range(n)})
        cols["q"] = pa.array(quality[rows].astype(str))
        cols["rc"] = pa.array(reason[rows])
        cols["rd"] = pa.array(np.full(len(rows), ""))
        cols["u"] = pa.array(np.full(len(rows), update))
        cols["m"] = pa.array(np.full(len(rows), update))
        buf = io.BytesIO()
        pacsv.write_csv(pa.table(cols), buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
        by_row.update(zip(rows.tolist(), buf.getvalue().split(b"\n")[:-1]))
    # Assemble: header, then each block's 200 record and its days (with their 400 records).
    out = [f"100,NEM12,{created},{from_participant},{to_participant}".encode()]
    for b in blocks:
        out.append(
            f"200,{b.nmi},{b.nmi_configuration},{b.register_id},{b.suffix},N{b.suffix[-1]},{b.meter_serial},"
            f"{b.uom},{b.interval_length},".encode()
        )
        for r in range(b.first_row, b.first_row + b.n_rows):
            out.append(by_row[r])
            for start, end, method, code in events.get(r, ()):
                out.append(f"400,{start},{end},{method},{code},".encode())
    out.append(b"900")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(out) + b"\n")
    return len(by_row)


def _lengths_of(blocks: list[RegisterBlock], rows: int) -> np.ndarray:
    lengths = np.zeros(rows, dtype=np.int32)
    for b in blocks:
        lengths[b.first_row:b.first_row + b.n_rows] = b.interval_length
    return lengths
