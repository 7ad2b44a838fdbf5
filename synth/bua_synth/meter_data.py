"""Meter data as delivered, month by month: the true half hours from the load model, what each
meter data provider delivered of them (substitutions, estimates, V days, gaps, lag) as NEM12 files
per month, provider and batch of registers, the truth Parquet beside them, and the daily
aggregates billing reads.

Every month and chunk of registers has its own seed, so the output does not depend on how many
worker processes write the months.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bua_assets.nem12.writer import RegisterBlock, write_nem12
from bua_synth import load
from bua_synth.config import GeneratorConfig
from bua_synth.load import LoadModel
from bua_synth.pool import terminable_worker
from bua_synth.world import NETWORKS, RETAILER, tou_masks

BILLED_COLUMNS = 5  # per interval register-day: total, PEAK, SHOULDER, OFF_PEAK, largest PEAK half hour
REGISTER_CHUNK = 4000  # registers generated together: bounds memory whatever the account count
# The register columns a month worker reads.
REGISTER_COLUMNS = (
    "id",
    "kind",
    "scale",
    "winter_w",
    "summer_w",
    "interval_length",
    "mdp",
    "nmi",
    "nmi_config",
    "register_id",
    "suffix",
    "serial",
)


@dataclass(frozen=True)
class MonthContext:
    """What every month's worker shares (copy-on-write after fork): the world's registers as
    arrays, their occupancy and the load model."""

    config: GeneratorConfig
    out: Path
    days: np.ndarray  # the history's days, datetime64[D]
    occupied: np.ndarray  # register x day
    model: LoadModel
    model_state: Any
    chunks: list[tuple[int, int]]
    regs: dict[str, np.ndarray]

    @classmethod
    def of(
        cls, config: GeneratorConfig, out: Path, days: np.ndarray, world: dict, model: LoadModel, model_state: Any
    ) -> MonthContext:
        regs = world["registers"]
        return cls(
            config,
            out,
            days,
            world["occupied"],
            model,
            model_state,
            register_chunks(regs["utility_index"].to_numpy()),
            {c: regs[c].to_numpy() for c in REGISTER_COLUMNS},
        )


_MONTH_CONTEXT: MonthContext | None = None  # set by write_meter_data for the month workers (inherited by fork)


def write_meter_data(
    context: MonthContext, months: list[date], workers: int, on_month: Callable[[date, dict], None]
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Write every month (in parallel on ``workers`` forked processes when there are more than
    one); ``on_month`` hears of each month as it completes, in order. Returns the daily aggregates
    of what billing saw (interval registers: total, PEAK, SHOULDER, OFF_PEAK, the largest PEAK half
    hour), the truth of the basic registers (their reads are taken from it), and the counts."""
    global _MONTH_CONTEXT
    _MONTH_CONTEXT = context
    interval = context.regs["interval_length"] > 0
    days = context.days
    pool = None
    results: Iterator[dict]
    if workers > 1 and "fork" in mp.get_all_start_methods():
        # the workers share the world copy-on-write
        pool = mp.get_context("fork").Pool(workers, initializer=terminable_worker)
        results = pool.imap(_generate_month, months)
    else:
        results = map(_generate_month, months)
    billed_daily = np.zeros((int(interval.sum()), len(days), BILLED_COLUMNS), dtype=np.float32)
    true_daily = np.zeros((int((~interval).sum()), len(days)), dtype=np.float32)
    counts = {"nem12_files": 0, "nem12_days": 0}
    failed = True
    try:
        for m_start, res in zip(months, results):
            d0, d1 = res["days"]
            billed_daily[:, d0:d1] = res["billed"]
            true_daily[:, d0:d1] = res["true"]
            counts["nem12_files"] += res["files"]
            counts["nem12_days"] += res["ndays"]
            on_month(m_start, res)
            del res
        failed = False
    finally:
        if pool is not None:
            if failed:
                pool.terminate()  # do not wait for the months still queued
            else:
                pool.close()
            pool.join()
        _MONTH_CONTEXT = None
    return billed_daily, true_daily, counts


def _generate_month(m_start: date) -> dict:
    """One month of meter data: truth Parquet, NEM12 files, and the daily aggregates billing needs."""
    ctx = _MONTH_CONTEXT
    assert ctx is not None, "write_meter_data sets the month context before the workers start"
    config, out, days, rg = ctx.config, ctx.out, ctx.days, ctx.regs
    m_end = min(date(m_start.year + (m_start.month == 12), m_start.month % 12 + 1, 1), config.as_at)
    d0 = int((np.datetime64(m_start) - days[0]).astype(int))
    d1 = int((np.datetime64(m_end) - days[0]).astype(int))
    mdays = days[d0:d1]
    interval_all = rg["interval_length"] > 0
    int_pos = np.cumsum(interval_all) - 1  # register -> row among interval registers
    basic_pos = np.cumsum(~interval_all) - 1
    billed = np.zeros((int(interval_all.sum()), len(mdays), BILLED_COLUMNS), dtype=np.float32)
    true = np.zeros((int((~interval_all).sum()), len(mdays)), dtype=np.float32)
    day_masks = tou_masks()[((mdays.astype(np.int64) + 3) % 7 >= 5).astype(int)]  # by weekday/weekend
    files = ndays = 0
    truth_writer: pq.ParquetWriter | None = None
    for batch, (c0, c1) in enumerate(ctx.chunks):
        sl = slice(c0, c1)
        chunk = {k: v[sl] for k, v in rg.items()}
        r = np.random.default_rng([config.seed, m_start.year, m_start.month, c0])
        v30 = _true_half_hours(ctx, r, c0, c1, d0, d1)
        interval = interval_all[sl]
        basic_rows = np.flatnonzero(~interval)
        true[basic_pos[c0 + basic_rows]] = v30[basic_rows].sum(axis=2)
        sub30 = _deliver(r, v30, interval, mdays, m_start, config)
        int_rows = np.flatnonzero(interval)
        billed[int_pos[c0 + int_rows]] = _billed_days(sub30, v30, interval, day_masks)[int_rows]
        truth = _truth_table(chunk, mdays, v30)
        if truth_writer is None:
            truth_writer = pq.ParquetWriter(
                _mkdir(out / "truth") / f"{m_start:%Y-%m}.parquet",
                truth.schema,
                compression="zstd",
                compression_level=1,
                write_statistics=["meter_register_id", "read_date"],
            )
        truth_writer.write_table(truth)
        del truth
        # Each chunk of registers is delivered in its own files, so a month never sits in memory whole.
        f, nd = _write_nem12_batch(
            out / "nem12" / f"{m_start:%Y-%m}", m_start, m_end, batch, chunk, sub30, mdays, config.seed
        )
        files, ndays = files + f, ndays + nd
    if truth_writer is not None:
        truth_writer.close()
    return {"days": (d0, d1), "billed": billed, "true": true, "files": files, "ndays": ndays}


def _true_half_hours(ctx: MonthContext, r: np.random.Generator, c0: int, c1: int, d0: int, d1: int) -> np.ndarray:
    """Registers c0..c1-1 over days d0..d1-1 from the load model, (registers, days, 48). A supply
    point with no account on a day draws almost nothing."""
    v30 = ctx.model.half_hourly(ctx.model_state, r, np.arange(c0, c1), ctx.regs["kind"][c0:c1], d0, d1)
    vacant = np.nonzero(~ctx.occupied[c0:c1, d0:d1])
    v30[vacant] = np.round(v30[vacant] * 0.05, 3)
    return v30


def _billed_days(sub30: dict, v30: np.ndarray, interval: np.ndarray, day_masks: np.ndarray) -> np.ndarray:
    """What billing saw per register-day (BILLED_COLUMNS: total, PEAK, SHOULDER, OFF_PEAK, the
    largest PEAK half hour): delivered values where present, the truth otherwise (later
    revisions). The NEM12 files only carry present days, so the delivered array takes the truth
    in place. ``day_masks``: per day, the time-of-use classes' half hours."""
    delivered = sub30["delivered"]
    late = np.nonzero(~sub30["present"] & interval[:, None])
    delivered[late] = v30[late]
    out = np.empty((*delivered.shape[:2], BILLED_COLUMNS), dtype=np.float32)
    out[:, :, 0] = delivered.sum(axis=2)
    out[:, :, 1:4] = np.einsum("rdi,dci->rdc", delivered, day_masks)
    out[:, :, 4] = (delivered * day_masks[None, :, 0]).max(axis=2)  # demand
    return out


def register_chunks(utility_index: np.ndarray, size: int = REGISTER_CHUNK) -> list[tuple[int, int]]:
    """[start, end) row ranges of about ``size`` registers that never split a supply point (its
    solar export is netted against its import register, so both are generated together)."""
    n = len(utility_index)
    starts = np.flatnonzero(np.r_[True, utility_index[1:] != utility_index[:-1]]) if n else np.array([0])
    bounds = [0]
    while bounds[-1] + size < n:
        bounds.append(
            int(starts[np.searchsorted(starts, bounds[-1] + size)]) if (starts > bounds[-1] + size - 1).any() else n
        )
    bounds = sorted(set(bounds) | {n})
    return list(itertools.pairwise(bounds))


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


QUALITY_FLAGS = np.array(["S14", "F14", "E52", "V", "A"])  # delivered quality by code
S14, F14, E52, V_DAY, ACTUAL = range(5)


def _deliver(
    r: np.random.Generator,
    v30: np.ndarray,
    interval: np.ndarray,
    mdays: np.ndarray,
    m_start: date,
    config: GeneratorConfig,
) -> dict:
    """What the meter data provider delivers: substitutions, estimates, V days, gaps and lag.
    ``quality`` holds codes into QUALITY_FLAGS; only the changed register-days are touched."""
    R, D, _ = v30.shape
    u = r.random((R, D))
    quality = np.searchsorted(np.array([0.004, 0.007, 0.013, 0.018]), u, side="right").astype(np.int8)
    values = v30.copy()
    # Substitutes: the like day a week earlier (or later) in the month, as MDPs do.
    like = np.where(np.arange(D) >= 7, np.arange(D) - 7, np.minimum(np.arange(D) + 7, D - 1))
    sr, sd = np.nonzero(quality <= E52)
    values[sr, sd] = v30[sr, like[sd]]
    cut = r.integers(8, 40, size=(R, D))
    vr, vd = np.nonzero(quality == V_DAY)
    later = np.arange(48)[None, :] >= cut[vr, vd][:, None]
    values[vr, vd] = np.where(later, np.round(v30[vr, vd].mean(axis=1, keepdims=True), 3), v30[vr, vd])
    present = np.ones((R, D), dtype=bool)
    # A few comms faults: 2-8 consecutive days never delivered.
    fault = r.random(size=(R,)) < 0.01
    fstart = r.integers(0, max(D - 8, 1), R)
    flen = r.integers(2, 9, R)
    dayidx = np.arange(D)[None, :]
    present &= ~(fault[:, None] & (dayidx >= fstart[:, None]) & (dayidx < (fstart + flen)[:, None]))
    # Lag: at the run date the last days of the final month are not yet delivered for many meters.
    if date(m_start.year + (m_start.month == 12), m_start.month % 12 + 1, 1) >= config.as_at:
        lag = np.where(r.random(R) < 0.3, r.integers(1, 6, R), 0)
        present &= dayidx < (D - lag)[:, None]
    present &= interval[:, None]
    return {"delivered": values, "truth30": v30, "quality": quality, "present": present, "cut": cut}


def _truth_table(chunk: dict, mdays: np.ndarray, v30: np.ndarray) -> pa.Table:
    R, D, _ = v30.shape
    offsets = np.arange(0, R * D * 48 + 1, 48, dtype=np.int32)
    return pa.table(
        {
            "meter_register_id": pa.array(np.repeat(chunk["id"], D), pa.int32()),
            "suffix": pa.array(np.repeat(chunk["suffix"], D)),
            "read_date": pa.array(np.tile(mdays, R)),
            "interval_length": pa.array(np.full(R * D, 30, dtype=np.int16)),
            "values": pa.ListArray.from_arrays(pa.array(offsets), pa.array(v30.astype(np.float32).reshape(-1))),
        }
    )


def _write_nem12_batch(
    folder: Path, m_start: date, m_end: date, batch: int, chunk: dict, sub: dict, mdays: np.ndarray, seed: int
) -> tuple[int, int]:
    """A batch of registers as delivered: one file per meter data provider, plus a revision file
    re-delivering some estimated days as actuals. Vectorised over the register-days of a file."""
    lengths = chunk["interval_length"]
    mdp = chunk["mdp"]
    files = days_written = 0
    created = f"{m_end:%Y%m%d}0300"  # delivered early the next day
    D = len(mdays)
    for mdp_name in sorted(set(mdp[lengths > 0].tolist())):
        items = np.flatnonzero((lengths > 0) & (mdp == mdp_name))
        wh = any(n[3] == mdp_name and n[4] for n in NETWORKS)
        for revision in (False, True):
            present = sub["present"][items]
            if revision:
                # Re-deliver a fifth of the estimated days as actual data (later file wins).
                present = present & (sub["quality"][items] == E52) & ((np.arange(D)[None, :] + items[:, None]) % 5 == 0)
            per_item = present.sum(axis=1)
            keep = per_item > 0
            if not keep.any():
                continue
            items_k, counts = items[keep], per_item[keep]
            ii, dd = np.nonzero(present[keep])  # register-major, days ascending: file order
            reg = items_k[ii]
            row_len = lengths[reg]
            q = np.full(len(reg), ACTUAL, dtype=np.int8) if revision else sub["quality"][reg, dd]
            source = sub["truth30"] if revision else sub["delivered"]
            firsts = np.concatenate([[0], np.cumsum(counts)[:-1]])
            blocks = [
                RegisterBlock(
                    chunk["nmi"][i],
                    chunk["nmi_config"][i],
                    str(chunk["register_id"][i]),
                    chunk["suffix"][i],
                    chunk["serial"][i],
                    "Wh" if wh else "kWh",
                    int(lengths[i]),
                    int(f),
                    int(c),
                )
                for i, f, c in zip(items_k, firsts, counts)
            ]
            values, row_index = {}, np.zeros(len(reg), dtype=np.int64)
            for length in np.unique(row_len):
                rows = np.flatnonzero(row_len == length)
                parts = 30 // int(length)
                r = np.random.default_rng(
                    [seed, m_start.year, m_start.month, batch, int(revision), int(length), sum(map(ord, mdp_name))]
                )
                native = load.split_intervals(r, source[reg[rows], dd[rows]], parts)
                values[int(length)] = np.round(native * 1000) if wh else native
                row_index[rows] = np.arange(len(rows))
            events = {}
            for k in np.flatnonzero(q == V_DAY):
                n_int = 1440 // int(row_len[k])
                c = int(sub["cut"][reg[k], dd[k]]) * (30 // int(row_len[k]))
                events[int(k)] = [(1, c, "A", ""), (c + 1, n_int, "S14", "76")]
            tag = "R" if revision else ""
            name = f"NEM12#{m_start:%Y%m}{batch:03d}{mdp_name[:6]}{tag}#{mdp_name}#{RETAILER}.csv"
            stamp = created if not revision else created[:8] + "2300"
            write_nem12(
                folder / name,
                created=stamp,
                from_participant=mdp_name,
                to_participant=RETAILER,
                blocks=blocks,
                dates=mdays[dd],
                values=values,
                row_index=row_index,
                quality=QUALITY_FLAGS[q],
                events=events,
                decimals=0 if wh else 3,
            )
            files += 1
            days_written += len(reg)
    return files, days_written
