"""Write valid AEMO NEM12 files from register-day arrays (the generator, and estimated data).

Interval values are rendered to text in bulk with numpy: each value is scaled to an integer
(value x 10^decimals), its text (",<digits>[.<decimals without trailing zeros>]") is looked up
in a table of pre-rendered byte strings padded with NUL bytes, and a whole batch of 300 records
is one byte matrix from which the NUL padding is dropped. The text is exactly what Arrow's CSV
writer printed for the rounded floats (the shortest representation); values the table cannot
render (negative, non-finite, huge) fall back to Arrow. 200 and 400 records are spliced in per
record, so no Python code formats an individual interval value.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

TABLE_SIZE = 10**6  # scaled values rendered once and looked up (999.999 kWh at 3 decimals): 8 bytes each
_MAX_FAST = 10**15  # beyond this the digit rendering hands over to Arrow


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
    data = nem12_bytes(
        created=created,
        from_participant=from_participant,
        to_participant=to_participant,
        blocks=blocks,
        dates=dates,
        values=values,
        row_index=row_index,
        quality=quality,
        events=events,
        decimals=decimals,
        update_datetime=update_datetime,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return len(dates)


def nem12_bytes(
    *,
    created: str,
    from_participant: str,
    to_participant: str,
    blocks: list[RegisterBlock],
    dates: np.ndarray,
    values: dict[int, np.ndarray],
    row_index: np.ndarray,
    quality: np.ndarray,
    events: dict[int, list[tuple[int, int, str, str]]] | None = None,
    decimals: int = 3,
    update_datetime: str | None = None,
    fast: bool = True,
) -> bytes:
    """The bytes of one NEM12 file (see :func:`write_nem12`); ``fast=False`` renders with Arrow."""
    events = events or {}
    n_days = len(dates)
    ymd = np.asarray(dates).astype("datetime64[D]")
    years = ymd.astype("datetime64[Y]")
    months = ymd.astype("datetime64[M]")
    date8 = (
        (years.astype(np.int64) + 1970) * 10000
        + (months - years).astype(np.int64) * 100
        + 100
        + (ymd - months).astype(np.int64)
        + 1
    )  # YYYYMMDD as an integer
    update = update_datetime or (created + "00")
    quality = np.asarray(quality).astype(str)
    row_index = np.asarray(row_index)
    lengths = _lengths_of(blocks, n_days)
    # Per interval length: the 300 records of its day rows (in row order) as one buffer.
    group_of_row = np.full(n_days, -1, dtype=np.int64)
    pos_in_group = np.zeros(n_days, dtype=np.int64)
    buffers: list[memoryview] = []
    offsets: list[np.ndarray] = []
    for length, matrix in values.items():
        rows = np.flatnonzero(lengths == length)
        if not len(rows):
            continue
        m = matrix[row_index[rows]]
        buf, off = _render_fast(m, decimals, date8[rows], quality[rows], update) if fast else (None, None)
        if buf is None:
            buf, off = _render_arrow(np.round(m, decimals), decimals, date8[rows], quality[rows], update)
        assert off is not None  # _render_arrow always renders
        group_of_row[rows] = len(buffers)
        pos_in_group[rows] = np.arange(len(rows))
        buffers.append(memoryview(buf))
        offsets.append(off)
    if (group_of_row < 0).any():
        raise ValueError("day rows without values of their interval length")
    # Assemble in file order: each block's 200 record, then its days, each followed by its 400s.
    headers: dict[int, list[bytes]] = {}
    for b in sorted(blocks, key=lambda b: b.first_row):  # stable: blocks at the same row keep their order
        headers.setdefault(b.first_row, []).append(
            f"200,{b.nmi},{b.nmi_configuration},{b.register_id},{b.suffix},N{b.suffix[-1]},{b.meter_serial},"
            f"{b.uom},{b.interval_length},\n".encode()
        )
    event_lines = {
        r: [f"400,{s},{e},{method},{code},\n".encode() for s, e, method, code in evs] for r, evs in events.items()
    }
    cuts = {0, n_days} | {r for r in headers if r < n_days} | {r + 1 for r in event_lines if r < n_days}
    if n_days:
        cuts |= set((np.flatnonzero(group_of_row[1:] != group_of_row[:-1]) + 1).tolist())
    boundaries = sorted(cuts)
    out = [f"100,NEM12,{created},{from_participant},{to_participant}\n".encode()]
    for s, e in itertools.pairwise(boundaries):
        out.extend(headers.get(s, ()))
        g = group_of_row[s]
        off = offsets[g]
        out.append(buffers[g][off[pos_in_group[s]] : off[pos_in_group[e - 1] + 1]])
        out.extend(event_lines.get(e - 1, ()))
    for r in sorted(r for r in headers if r >= n_days):
        out.extend(headers[r])
    out.append(b"900\n")
    return b"".join(out)


def _suffixes(quality: np.ndarray, update: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the index of its record tail (",quality,reason,,update,update\\n") in a table."""
    kinds, inverse = np.unique(quality, return_inverse=True)
    # Substituted and final-substituted days carry reason code 76 (the example in the spec).
    tails = [f",{q},{'76' if q[:1] in ('S', 'F') else ''},,{update},{update}\n".encode() for q in kinds]
    return _table(tails), inverse.reshape(-1)


def _table(items: list[bytes], width: int = 0) -> np.ndarray:
    """Byte strings as rows of a NUL-padded matrix (width: at least; a multiple of 8)."""
    width = max(width, -(-max(len(b) for b in items) // 8) * 8)
    out = np.zeros((len(items), width), dtype=np.uint8)
    for i, b in enumerate(items):
        out[i, : len(b)] = np.frombuffer(b, dtype=np.uint8)
    return out


_TABLES: dict[int, np.ndarray] = {}


def _value_table(decimals: int) -> np.ndarray:
    """(TABLE_SIZE,) uint64: the 8 bytes of each value's text, NUL-padded (at most 8 bytes)."""
    if decimals not in _TABLES:
        text = _render_digits(np.arange(TABLE_SIZE, dtype=np.int64), decimals)
        if text.shape[1] > 8:
            raise ValueError(f"values with {decimals} decimals do not fit the 8-byte table")
        padded = np.zeros((TABLE_SIZE, 8), dtype=np.uint8)
        padded[:, : text.shape[1]] = text
        _TABLES[decimals] = padded.view(np.uint64).reshape(-1)
    return _TABLES[decimals]


def _render_digits(keys: np.ndarray, decimals: int) -> np.ndarray:
    """keys (N,) non-negative integers = value x 10^decimals -> (N, W) uint8: ",<value>" with NUL
    bytes wherever a digit is not printed (leading zeros, trailing decimal zeros, a bare '.')."""
    scale = 10**decimals
    ip, fp = np.divmod(keys, scale)
    n_int = max(1, len(str(int(ip.max())))) if len(keys) else 1
    out = np.zeros((len(keys), 1 + n_int + (1 + decimals if decimals else 0)), dtype=np.uint8)
    out[:, 0] = ord(",")
    for p in range(n_int):
        place = 10 ** (n_int - 1 - p)
        out[:, 1 + p] = np.where((ip >= place) | (place == 1), ip // place % 10 + 48, 0)
    if decimals:
        keep = np.zeros(len(keys), dtype=np.int64)  # decimals up to the last non-zero one
        digits = []
        for j in range(decimals):
            d = fp // 10 ** (decimals - 1 - j) % 10
            digits.append(d)
            keep = np.where(d != 0, j + 1, keep)
        out[:, 1 + n_int] = np.where(keep > 0, ord("."), 0)
        for j, d in enumerate(digits):
            out[:, 2 + n_int + j] = np.where(j < keep, d + 48, 0)
    return out


def _render_fast(m: np.ndarray, decimals: int, date8: np.ndarray, quality: np.ndarray, update: str):
    """300 records as one buffer and the byte offset of each record; None if a value needs Arrow.

    ``m`` is not yet rounded: rint(m x 10^decimals) is the unscaled integer of np.round(m, decimals).
    """
    rows, n = m.shape
    if rows == 0:
        return b"", np.zeros(1, dtype=np.int64)
    keys = m * 10.0**decimals
    np.rint(keys, out=keys)
    with np.errstate(invalid="ignore"):
        lo, hi = keys.min(), keys.max()
        # NaN fails both tests; -0.0 (Arrow prints "-0") only matters when the minimum is zero.
        if not (lo >= 0 and hi < _MAX_FAST) or (lo == 0 and np.signbit(keys).any()):
            return None, None
    keys = keys.astype(np.int64)
    uniq, inv = np.unique(date8, return_inverse=True)
    heads = _table([f"300,{int(d):08d}".encode() for d in uniq], width=16)
    tails, tail_idx = _suffixes(quality, update)
    if hi < TABLE_SIZE and decimals <= 4:
        # One line per row, 8-byte aligned: head (16) | n values x 8 | tail; the table lookup
        # writes the values straight into the line buffer.
        width = 16 + 8 * n + tails.shape[1]
        line = np.empty((rows, width), dtype=np.uint8)
        line[:, :16] = heads[inv.reshape(-1)]
        np.take(_value_table(decimals), keys, out=line.view(np.uint64)[:, 2 : 2 + n], mode="clip")  # type: ignore[call-overload]
        line[:, 16 + 8 * n :] = tails[tail_idx]
    else:
        rendered = _render_digits(keys.reshape(-1), decimals).reshape(rows, -1)
        line = np.concatenate([heads[inv.reshape(-1)], rendered, tails[tail_idx]], axis=1)
    keep = line != 0
    off = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(keep, axis=1), out=off[1:])
    return line[keep].tobytes(), off


def _render_arrow(m: np.ndarray, decimals: int, date8: np.ndarray, quality: np.ndarray, update: str):
    """The reference rendering: Arrow's CSV writer prints the rounded floats."""
    rows, n = m.shape
    if decimals == 0:
        m = m.astype(np.int64)
    by_interval = np.ascontiguousarray(m.T)  # one contiguous array per CSV column
    quality_arr = pa.array(quality)
    substituted = pc.or_(pc.starts_with(quality_arr, "S"), pc.starts_with(quality_arr, "F"))
    cols = {"r": pa.array(np.full(rows, 300)), "d": pa.array(date8)}
    cols.update({f"v{j}": pa.array(by_interval[j]) for j in range(n)})
    cols["q"] = quality_arr
    cols["rc"] = pc.if_else(substituted, "76", "")
    cols["rd"] = pa.nulls(rows, pa.string())
    cols["u"] = pa.array(np.full(rows, int(update)))
    cols["m"] = cols["u"]
    buf = io.BytesIO()
    pacsv.write_csv(pa.table(cols), buf, pacsv.WriteOptions(include_header=False, quoting_style="none"))
    data = buf.getvalue()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n")) + 1
    return data, np.concatenate([[0], ends]).astype(np.int64)


def _lengths_of(blocks: list[RegisterBlock], rows: int) -> np.ndarray:
    lengths = np.zeros(rows, dtype=np.int32)
    for b in blocks:
        lengths[b.first_row : b.first_row + b.n_rows] = b.interval_length
    return lengths
