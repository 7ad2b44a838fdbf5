"""The deterministic synthetic retailer: CORE tables, NEM12 files and the ground truth.

    generate(GeneratorConfig(accounts=1000, seed=7, as_at=date(2026, 11, 1), history_months=13), ...)

Output layout under ``out``:
    nem12/<YYYY-MM>/NEM12#<id>#<MDP>#BUARETAIL.csv   what meter data providers delivered: per MDP and
                                                      batch of 4,000 registers, plus revision (R) files
    truth/<YYYY-MM>.parquet                           true consumption per register-day (kept apart)
    manifest.json                                     the arguments and counts
The CORE tables go to the database URL (embedded SQLite by default).

The world starts at a billing-system cut-over: everything before the first history day was
billed by a migration invoice (prefix MIG), so unbilled windows are well defined.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bua_assets.billing.charges import (
    BILL_DAYS,
    CREDIT_CHARGES,
    DEMAND_CHARGES,
    OPTIONAL_CHARGES,
    PERCENT_OF_BILL_CHARGES,
    USAGE_DISCOUNT_CHARGES,
    daily_rates,
)
from bua_assets.billing.money import gst, round_cents
from bua_assets.core.database import CoreDatabase
from bua_assets.core.schema import core_tables
from bua_assets.months import first_of_month_before
from bua_assets.nem12.writer import RegisterBlock, write_nem12
from bua_synth import load
from bua_synth.load import LoadModel
from bua_synth.rich import RichLoad
from bua_synth.world import (
    JURISDICTIONS,
    NETWORKS,
    RETAILER,
    STATE_SHARE,
    TIME_CLASSES,
    TNIS,
    build_tariffs,
    reference_tables,
    tou_masks,
)

BILLED_COLUMNS = 5  # per interval register-day: total, PEAK, SHOULDER, OFF_PEAK, largest PEAK half hour
REGISTER_CHUNK = 4000  # registers generated together: bounds memory whatever the account count
NMI_PREFIX = {"NSW": "41", "VIC": "61", "QLD": "31", "SA": "20", "ACT": "70", "TAS": "80"}
MIRN_PREFIX = {"NSW": "52", "VIC": "53", "QLD": "54", "SA": "55", "ACT": "52"}
SURNAMES = [
    "Nguyen",
    "Smith",
    "Williams",
    "Brown",
    "Jones",
    "Wilson",
    "Taylor",
    "Martin",
    "Anderson",
    "Thompson",
    "White",
    "Walker",
    "Harris",
    "Lee",
    "Ryan",
    "Kelly",
    "King",
    "Chen",
    "Singh",
    "Patel",
    "Murphy",
    "Roberts",
]


@dataclass(frozen=True)
class GeneratorConfig:
    accounts: int = 1000
    seed: int = 7
    as_at: date = date(2026, 11, 1)  # the run date: first day after the last month of data
    history_months: int = 13

    @property
    def start(self) -> date:
        return first_of_month_before(self.as_at, self.history_months)

    @property
    def end(self) -> date:
        return self.as_at - timedelta(days=1)


def month_starts(start: date, end: date) -> list[date]:
    out, d = [], date(start.year, start.month, 1)
    while d <= end:
        out.append(d)
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return out


def generate(
    config: GeneratorConfig,
    out: Path,
    core_url: str,
    *,
    progress: Callable[[str], None] = lambda _: None,
    workers: int | None = None,
    load_model: LoadModel | None = None,
) -> dict:
    """``workers``: processes generating months in parallel (default: BUA_GENERATOR_WORKERS, else
    up to 2 by CPU count). Every month and chunk of registers has its own seed, so the output does
    not depend on the number of workers. ``load_model``: the consumption process (default the rich
    one, synth/rich.py; synth/load.py's SimpleLoad is the original world): any other world can be
    plugged in to check the estimator on behaviour it was not designed on."""
    t0 = time.perf_counter()
    out = Path(out)
    rng = np.random.default_rng(config.seed)
    world = build_world(rng, config)
    progress(
        f"world: {len(world['accounts'])} accounts, {len(world['registers'])} registers "
        f"({time.perf_counter() - t0:.0f} s)"
    )

    days = np.arange(np.datetime64(config.start), np.datetime64(config.as_at), dtype="datetime64[D]")
    regs = world["registers"]
    interval = regs["interval_length"].to_numpy() > 0
    model = load_model or RichLoad()
    model_state = model.prepare(config.seed, regs, days)
    global _MONTH_CONTEXT
    _MONTH_CONTEXT = {
        "config": config,
        "out": out,
        "days": days,
        "occupied": world["occupied"],
        "model": model,
        "model_state": model_state,
        "chunks": register_chunks(regs["utility_index"].to_numpy()),
        "regs": {
            c: regs[c].to_numpy()
            for c in (
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
        },
    }
    months = month_starts(config.start, config.end)
    if workers is None:
        workers = int(os.environ.get("BUA_GENERATOR_WORKERS", 0)) or min(2, os.cpu_count() or 1)
    workers = max(1, min(workers, len(months)))
    if workers > 1 and threading.active_count() > 1:
        # The pool forks (workers share the world copy-on-write); forking a process that runs
        # other threads (a test's moto server, Dagster's) can leave a child holding a lock
        # forever. The output does not depend on the worker count, so work alone instead.
        workers = 1
    pool = None
    results: Iterator[dict]
    if workers > 1 and "fork" in mp.get_all_start_methods():
        # the workers share the world copy-on-write
        pool = mp.get_context("fork").Pool(workers, initializer=_terminable_worker)
        results = pool.imap(_generate_month, months)
    else:
        results = map(_generate_month, months)
    # Daily aggregates of what billing saw (interval registers: total, PEAK, SHOULDER, OFF_PEAK,
    # the largest PEAK half hour) and the truth (basic registers: reads are taken from it).
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
            progress(
                f"{m_start:%Y-%m}: {res['ndays']} register-days in {res['files']} NEM12 files "
                f"({time.perf_counter() - t0:.0f} s)"
            )
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

    daily = [billed_daily, true_daily]
    del billed_daily, true_daily  # build_core_tables holds the only references and frees them early
    tables = build_core_tables(
        world,
        config,
        days,
        daily.pop(0),
        daily.pop(0),
        rng,
        workers,
        gas_network_daily=lambda state, network, customers: model.gas_network_daily(
            model_state, config.seed, state, network, customers
        ),
    )
    progress(f"CORE tables built ({time.perf_counter() - t0:.0f} s)")
    _write_billing_truth(out / "truth" / "billing.parquet", tables["Invoice"], tables["AccountUtility"])
    db = CoreDatabase(core_url)
    db.create_database(drop_existing=True)
    rows = 0
    for name in core_tables():
        frame = tables.pop(name)
        counts[f"rows_{name}"] = len(frame)
        rows += len(frame)
        db.insert_arrow(name, _arrow(name, frame), bulk=True)
        del frame
    manifest = {
        "config": {**asdict(config), "as_at": config.as_at.isoformat()},
        "core_url": db.url.redacted(),
        "load_model": model.name,
        "counts": counts,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    progress(f"CORE written: {rows} rows in {len(core_tables())} tables ({manifest['seconds']:.0f} s)")
    return manifest


def _write_billing_truth(path: Path, invoices: pd.DataFrame, tenancies: pd.DataFrame) -> None:
    """What the generator billed, kept with the truth: per account x supply point its tenancy and
    the last day covered by an issued, unreversed invoice (None: never billed). An accuracy
    backtest takes the unbilled days from here, not from the pipeline it is checking."""
    reversed_ids = invoices.loc[(invoices["is_credit"] == 1) & (invoices["status"] == "ISSUED"), "reverses_invoice_id"]
    good = invoices[
        (invoices["status"] == "ISSUED") & (invoices["is_credit"] == 0) & ~invoices["id"].isin(reversed_ids)
    ]
    billed = pd.to_datetime(good["period_end"]).groupby(good["account_id"]).max()
    frame = pd.DataFrame(
        {
            "account_id": tenancies["account_id"].to_numpy(),
            "utility_id": tenancies["utility_id"].to_numpy(),
            "open_date": pd.to_datetime(tenancies["start_date"]).to_numpy().astype("datetime64[D]"),
            "close_date": pd.to_datetime(tenancies["end_date"]).to_numpy().astype("datetime64[D]"),
            "billed_through": billed.reindex(tenancies["account_id"].to_numpy()).to_numpy().astype("datetime64[D]"),
        }
    )
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), _mkdir(path.parent) / path.name)


_MONTH_CONTEXT: dict | None = None  # set by generate for the month workers (inherited by fork)


def _generate_month(m_start: date) -> dict:
    """One month of meter data: truth Parquet, NEM12 files, and the daily aggregates billing needs."""
    ctx = _MONTH_CONTEXT
    assert ctx is not None, "generate() sets the month context before the workers start"
    config, out, days, rg = ctx["config"], ctx["out"], ctx["days"], ctx["regs"]
    m_end = min(date(m_start.year + (m_start.month == 12), m_start.month % 12 + 1, 1), config.as_at)
    d0 = int((np.datetime64(m_start) - days[0]).astype(int))
    d1 = int((np.datetime64(m_end) - days[0]).astype(int))
    mdays = days[d0:d1]
    interval_all = rg["interval_length"] > 0
    int_pos = np.cumsum(interval_all) - 1  # register -> row among interval registers
    basic_pos = np.cumsum(~interval_all) - 1
    billed = np.zeros((int(interval_all.sum()), len(mdays), BILLED_COLUMNS), dtype=np.float32)
    true = np.zeros((int((~interval_all).sum()), len(mdays)), dtype=np.float32)
    masks = tou_masks()
    weekend = ((mdays.astype(np.int64) + 3) % 7 >= 5).astype(int)
    files = ndays = 0
    truth_writer: pq.ParquetWriter | None = None
    for batch, (c0, c1) in enumerate(ctx["chunks"]):
        sl = slice(c0, c1)
        chunk = {k: v[sl] for k, v in rg.items()}
        r = np.random.default_rng([config.seed, m_start.year, m_start.month, c0])
        v30 = ctx["model"].half_hourly(ctx["model_state"], r, np.arange(c0, c1), chunk["kind"], d0, d1)
        # Occupancy: a supply point with no account on a day draws almost nothing.
        vacant = np.nonzero(~ctx["occupied"][sl, d0:d1])
        v30[vacant] = np.round(v30[vacant] * 0.05, 3)
        interval = interval_all[sl]
        basic_rows = np.flatnonzero(~interval)
        true[basic_pos[c0 + basic_rows]] = v30[basic_rows].sum(axis=2)
        sub30 = _deliver(r, v30, interval, mdays, m_start, config)
        # Billing saw delivered values where present, the truth otherwise (later revisions). The
        # NEM12 files only carry present days, so the delivered array can take the truth in place.
        delivered = sub30["delivered"]
        late = np.nonzero(~sub30["present"] & interval[:, None])
        delivered[late] = v30[late]
        int_rows = np.flatnonzero(interval)
        tgt = int_pos[c0 + int_rows]
        billed[tgt, :, 0] = delivered.sum(axis=2)[int_rows]
        billed[tgt, :, 1:4] = np.einsum("rdi,dci->rdc", delivered, masks[weekend])[int_rows]
        billed[tgt, :, 4] = (delivered * masks[weekend][None, :, 0])[int_rows].max(axis=2)  # demand
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
    return list(zip(bounds[:-1], bounds[1:]))


def _mkdir(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def _arrow(name: str, frame: pd.DataFrame) -> pa.Table:
    spec = core_tables()[name]
    arrays = []
    for col in spec.columns:
        s = frame[col.name]
        t = col.arrow_type
        if pa.types.is_decimal(t):
            arr = _decimal_array(s, t)
        elif pa.types.is_timestamp(t):
            arr = pa.array(pd.to_datetime(s)).cast(pa.timestamp("s")).cast(t)
        elif pa.types.is_date32(t) and pd.api.types.is_datetime64_any_dtype(s.dtype):
            arr = pa.array(s.to_numpy().astype("datetime64[D]"), pa.date32(), from_pandas=True)
        elif pa.types.is_date32(t):
            try:  # date objects (and None) straight into Arrow
                arr = pa.array(s.to_numpy(dtype=object), pa.date32(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = pa.array(pd.to_datetime(s).dt.date, pa.date32())
        else:
            arr = pa.array(s.where(s.notna(), None), t, from_pandas=True)
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=spec.arrow_schema)


def _decimal_array(s: pd.Series, t: pa.Decimal128Type) -> pa.Array:
    """Floats -> decimals at the column's scale, as f"{round(v, scale):.{scale}f}" would (the rounded
    value's unscaled integer rint(v * 10^scale)), built from the 128-bit integers directly."""
    v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    null = np.isnan(v)
    k = np.rint(np.round(np.where(null, 0.0, v), t.scale) * 10.0**t.scale).astype(np.int64)
    words = np.empty((len(k), 2), dtype=np.int64)
    words[:, 0] = k
    words[:, 1] = k >> 63  # sign extension to 128 bits (little endian)
    validity = pa.array(~null).buffers()[1] if null.any() else None
    return pa.Array.from_buffers(
        pa.decimal128(t.precision, t.scale), len(k), [validity, pa.py_buffer(words)], null_count=int(null.sum())
    )


# --------------------------------------------------------------------------------------------
# The population
# --------------------------------------------------------------------------------------------


def build_world(rng: np.random.Generator, config: GeneratorConfig) -> dict:
    n = config.accounts
    states = np.array(list(STATE_SHARE))
    state = rng.choice(states, size=n, p=np.array(list(STATE_SHARE.values())))
    gas = (rng.random(n) < 0.24) & (state != "TAS")
    segment = rng.choice(3, size=n, p=[0.85, 0.12, 0.03])  # RESIDENTIAL, SME, C&I
    business = segment > 0
    start, end = config.start, config.end
    history_days = (end - start).days + 1

    # Networks
    net_ids = np.empty(n, dtype=np.int64)
    for s in states:
        for fuel_is_gas in (False, True):
            mask = (state == s) & (gas == fuel_is_gas)
            options = [i + 1 for i, nw in enumerate(NETWORKS) if nw[1] == s and (nw[2] == "GAS") == fuel_is_gas]
            if mask.any():
                net_ids[mask] = rng.choice(options, size=mask.sum())
    mdp = np.array([NETWORKS[i - 1][3] or "" for i in net_ids])

    # Meters: VIC is all smart; elsewhere a mix of smart, manually read interval and basic.
    u = rng.random(n)
    meter_type = np.where(u < 0.62, "COMMS4", np.where(u < 0.67, "MRIM", "BASIC"))
    meter_type = np.where((state == "VIC") | (segment == 2), np.where(u < 0.95, "COMMS4", "MRIM"), meter_type)
    meter_type = np.where(gas, "BASIC", meter_type)
    interval_meter = meter_type != "BASIC"
    u = rng.random(n)
    interval_length = np.where(interval_meter, np.where(u < 0.05, 5, np.where(u < 0.11, 15, 30)), 0)
    interval_length = np.where(meter_type == "MRIM", 30, interval_length)

    controlled = ~gas & ~business & np.isin(state, ["NSW", "QLD"]) & (rng.random(n) < 0.3)
    solar = ~gas & interval_meter & (rng.random(n) < np.where(business, 0.08, 0.24))

    # Accounts: tenancies. 4% of supply points change hands during the history (move-out and
    # move-in), 2% close with no successor, 12% of accounts are new customers.
    u = rng.random(n)
    move = u < 0.04
    closes = (u >= 0.04) & (u < 0.06)
    new_customer = (u >= 0.06) & (u < 0.18)
    # Offsets are drawn from ranges that stay valid for a one-month history too.
    open_offset = np.where(new_customer, rng.integers(0, max(history_days - 20, 1), n), -rng.integers(60, 3000, n))
    open_date = np.array([start + timedelta(days=int(o)) for o in open_offset])
    earliest_close = min(30, history_days // 2)
    close_offset = rng.integers(earliest_close, max(history_days - 5, earliest_close + 1), n)
    close_offset = np.maximum(close_offset, np.where(new_customer, open_offset + 30, 0))
    close_offset = np.minimum(close_offset, history_days - 2)
    close_date = np.array(
        [start + timedelta(days=int(c)) if (mv or cl) else None for c, mv, cl in zip(close_offset, move, closes)],
        dtype=object,
    )

    freq = np.where(
        gas,
        rng.choice(["BIMONTHLY", "QUARTERLY"], n),
        np.where(
            interval_meter, rng.choice(["MONTHLY", "BIMONTHLY", "QUARTERLY"], n, p=[0.45, 0.15, 0.40]), "QUARTERLY"
        ),
    )
    scale = np.where(
        segment == 0,
        rng.lognormal(np.log(14), 0.45, n),
        np.where(segment == 1, rng.lognormal(np.log(70), 0.6, n), rng.lognormal(np.log(900), 0.5, n)),
    )
    gas_scale = np.where(business, rng.lognormal(np.log(9), 0.6, n), rng.lognormal(np.log(1.9), 0.45, n))  # m3/day

    accounts = pd.DataFrame(
        {
            "utility_index": np.arange(n),
            "state": state,
            "gas": gas,
            "segment": segment,
            "open_date": open_date,
            "close_date": close_date,
            "bill_frequency": freq,
            "bill_cycle_day": rng.integers(1, 29, n),
            "pay_on_time_propensity": np.round(rng.beta(6, 2, n), 4),
            "late": rng.random(n) < 0.06,
        }
    )
    # Successors of moved-out tenancies: a new account on the same supply point the day after.
    succ = accounts[move].copy()
    succ["open_date"] = [c + timedelta(days=1) for c in succ["close_date"]]
    succ["close_date"] = None
    succ["pay_on_time_propensity"] = np.round(rng.beta(6, 2, len(succ)), 4)
    succ["late"] = rng.random(len(succ)) < 0.06
    accounts = pd.concat([accounts, succ], ignore_index=True)
    accounts["id"] = np.arange(1, len(accounts) + 1)
    accounts["account_number"] = [f"{3000000000 + 7919 * i:010d}" for i in accounts["id"]]
    accounts["customer_name"] = [f"{SURNAMES[i % len(SURNAMES)]} {chr(65 + (i * 7) % 26)}." for i in accounts["id"]]

    utilities = pd.DataFrame(
        {
            "id": np.arange(1, n + 1),
            "state": state,
            "gas": gas,
            "segment": segment,
            "network_id": net_ids,
            "mdp": mdp,
            "meter_type": meter_type,
            "interval_length": interval_length,
            "identifier": [
                (MIRN_PREFIX.get(s, "52") if g else NMI_PREFIX[s]) + f"{(i * 104729) % 10**8:08d}"
                for i, (s, g) in enumerate(zip(state, gas), start=1)
            ],
            "serial": [f"{'G' if g else 'M'}{(i * 7907) % 10**7:07d}" for i, g in enumerate(gas, start=1)],
            "pcf": np.where(gas, np.round(rng.uniform(1.0, 1.03, n), 5), np.nan),
        }
    )

    # Registers (one row each): kind drives the load model.
    rows = []
    interval_controlled = 0  # every third interval controlled-load register, from the first, is not flagged
    winter = np.array([load.SEASON[s][0] for s in state]) * rng.uniform(0.6, 1.4, n)
    summer = np.array([load.SEASON[s][1] for s in state]) * rng.uniform(0.6, 1.4, n)
    for i in range(n):
        base = dict(
            utility_index=i,
            state=state[i],
            interval_length=int(interval_length[i]),
            winter_w=winter[i],
            summer_w=summer[i],
            digits=5 if rng.random() < 0.7 else 6,
        )
        if gas[i]:
            rows.append(
                {
                    **base,
                    "suffix": "G1",
                    "register_id": "1",
                    "kind": load.GAS,
                    "scale": gas_scale[i],
                    "uom": "M3",
                    "time_class": "ANYTIME",
                    "direction": "I",
                    "controlled": 0,
                }
            )
            continue
        basic = not interval_meter[i]
        rows.append(
            {
                **base,
                "suffix": "11" if basic else "E1",
                "register_id": "1",
                "kind": load.BUS if business[i] else load.RES,
                "scale": scale[i],
                "uom": "KWH",
                "time_class": "ANYTIME",
                "direction": "I",
                "controlled": 0,
            }
        )
        if controlled[i]:
            # Some interval meters' E2 channel is not flagged controlled load in the market data: the
            # legacy profile rules put it in PRIMARY although its suffix says controlled load.
            rows.append(
                {
                    **base,
                    "suffix": "41" if basic else "E2",
                    "register_id": "2",
                    "kind": load.CONTROLLED,
                    "scale": rng.lognormal(np.log(5.5), 0.35),
                    "uom": "KWH",
                    "time_class": "CONTROLLED_LOAD",
                    "direction": "I",
                    "controlled": 1,
                    "market_controlled": 0 if not basic and interval_controlled % 3 == 0 else 1,
                }
            )
            interval_controlled += not basic
        if solar[i]:
            rows.append(
                {
                    **base,
                    "suffix": "B1",
                    "register_id": "3",
                    "kind": load.SOLAR,
                    "scale": rng.lognormal(np.log(9 if not business[i] else 40), 0.35),
                    "uom": "KWH",
                    "time_class": "SOLAR",
                    "direction": "E",
                    "controlled": 0,
                }
            )
    registers = pd.DataFrame(rows)
    registers["id"] = np.arange(1, len(registers) + 1)
    ui = registers["utility_index"].to_numpy()
    registers["nmi"] = utilities["identifier"].to_numpy()[ui]
    registers["mdp"] = utilities["mdp"].to_numpy()[ui]
    registers["serial"] = utilities["serial"].to_numpy()[ui]
    # NMI configuration: the suffixes of the supply point's registers (rows are grouped by supply point).
    starts = np.flatnonzero(np.r_[True, ui[1:] != ui[:-1]])
    suffixes = registers["suffix"].tolist()
    configs = ["".join(suffixes[s:e]) for s, e in zip(starts, np.r_[starts[1:], len(ui)])]
    registers["nmi_config"] = np.repeat(np.array(configs, dtype=object), np.diff(np.r_[starts, len(ui)]))

    # Occupancy per supply point per day: vacant between a move-out and the successor, or after a close.
    days = (config.as_at - start).days
    occupied = np.zeros((n, days), dtype=bool)
    for a in accounts.itertuples():
        lo = max((a.open_date - start).days, 0)
        hi = days if a.close_date is None else min((a.close_date - start).days + 1, days)
        if hi > lo:
            occupied[a.utility_index, lo:hi] = True
    reg_occupied = occupied[registers["utility_index"].to_numpy()]
    return {
        "accounts": accounts,
        "utilities": utilities,
        "registers": registers,
        "occupied": reg_occupied,
        "tariffs": build_tariffs(rng, start - timedelta(days=400), config.as_at),
    }


# --------------------------------------------------------------------------------------------
# Meter data as delivered
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# CORE tables and the billing history
# --------------------------------------------------------------------------------------------


def _add_months(d: date, k: int, day: int) -> date:
    y, m = d.year, d.month + k
    while m > 12:
        y, m = y + 1, m - 12
    return date(y, m, min(day, 28))


def _bill_periods(a, start: date, end: date) -> list[tuple[date, date]]:
    """Billing periods of one account: cycle ends every 1, 2 or 3 months on its cycle day."""
    step = BILL_STEP[a.bill_frequency]
    first = max(a.open_date, start)
    last = end if a.close_date is None else min(a.close_date, end)
    periods, s = [], first
    k = (a.id % step) + 1
    cycle_end = _add_months(date(first.year, first.month, 1), k - 1, a.bill_cycle_day)
    while cycle_end < s + timedelta(days=14):
        cycle_end = _add_months(cycle_end, step, a.bill_cycle_day)
    while s <= last:
        e = min(cycle_end, last) if a.close_date is not None else cycle_end
        if e > end:
            break
        periods.append((s, e))
        s = e + timedelta(days=1)
        cycle_end = _add_months(cycle_end, step, a.bill_cycle_day)
    return periods


BILLING_PARTS = 8  # small parts: a worker holds one part's rows as Python objects at a time
_BILL_PART: Callable | None = None  # set by _Billing.run for the billing workers (inherited by fork)


def _terminable_worker() -> None:
    """Pool initializer: the default SIGTERM action in the worker. Pool.terminate() stops idle
    workers with SIGTERM; a process started with SIGTERM ignored (nohup-style launchers, some CI
    runners) passes that on through fork, and a worker waiting on the task queue's lock then
    never exits: the parent waited on it forever (seen as the generator's intermittent hang)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _bill_part_entry(part: int):
    assert _BILL_PART is not None, "_Billing.run sets the part function before the workers start"
    return _BILL_PART(part)


INVOICE_COLUMNS = [
    "id",
    "invoice_number",
    "account_id",
    "issue_date",
    "due_date",
    "period_start",
    "period_end",
    "status",
    "is_credit",
    "reverses_invoice_id",
    "total_net",
    "total_gst",
]
LINE_COLUMNS = [
    "id",
    "invoice_id",
    "account_id",
    "utility_id",
    "period_start",
    "period_end",
    "plan_item_type_name",
    "time_class_name",
    "quantity",
    "uom",
    "rate",
    "net_amount",
    "discount_net",
    "is_credit",
]


def _bill_frames(invoices: list, lines: list, reads: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Row lists -> column frames (dates as datetime64[D]: compact to pass between processes)."""

    def frame(rows: list, columns: list[str], dates: set[str]) -> pd.DataFrame:
        cols: list[Sequence[Any]] = list(zip(*rows)) if rows else [[] for _ in columns]
        return pd.DataFrame(
            {
                c: np.array(v, dtype="datetime64[D]")
                if c in dates
                else (np.array(v, dtype=np.float64) if c == "reverses_invoice_id" else list(v))
                for c, v in zip(columns, cols)
            }
        )

    inv = frame(invoices, INVOICE_COLUMNS, {"issue_date", "due_date", "period_start", "period_end"})
    inv["reverses_invoice_id"] = inv["reverses_invoice_id"].astype(np.float64)
    ln = frame(lines, LINE_COLUMNS, {"period_start", "period_end"})
    rd = frame(reads, ["register_index", "read_date", "reading", "read_type"], {"read_date"})
    return inv, ln, rd


def build_core_tables(
    world: dict,
    config: GeneratorConfig,
    days: np.ndarray,
    billed_daily: np.ndarray,
    true_daily: np.ndarray,
    rng: np.random.Generator,
    workers: int = 1,
    *,
    gas_network_daily: Callable[[str, int, int], np.ndarray],
) -> dict[str, pd.DataFrame]:
    """Every CORE table of the world. ``rng`` draws, in this order: plan choices, the basic
    registers' first readings, billed plans found wrong; billing has its own seed per part.
    ``billed_daily`` and ``true_daily`` are released once billing has read them."""
    accounts, utilities, registers, tariffs = (
        world["accounts"],
        world["utilities"],
        world["registers"],
        world["tariffs"],
    )
    t = reference_tables()
    t.update(_supply_point_tables(accounts, utilities, registers))
    t["AccountUtility"] = pd.DataFrame(
        {
            "id": accounts["id"],
            "account_id": accounts["id"],
            "utility_id": accounts["utility_index"] + 1,
            "start_date": accounts["open_date"],
            "end_date": accounts["close_date"],
        }
    )
    catalogue = _PlanCatalogue.of(tariffs.plans)
    charge_versions = _assign_plans(accounts, utilities, registers, catalogue, config, rng)
    t["Plan"], t["PlanRate"], t["PlanTimeOfUse"], t["PlanDiscount"] = (
        tariffs.plans,
        tariffs.rates,
        tariffs.time_of_use,
        tariffs.discounts,
    )
    heating_values = _heating_values(config)
    billing = _Billing(
        config,
        accounts,
        utilities,
        registers,
        charge_versions.plan_of_account,
        _Pricer.of(tariffs),
        heating_values,
        _first_readings(registers, rng),
        billed_daily,
        true_daily,
    )
    del billed_daily, true_daily  # billing holds the only references and frees them when done
    invoices, lines, reads = billing.run(workers)
    del billing
    _replace_wrong_plans(charge_versions, catalogue, config, rng)
    t["AccountPlan"] = pd.DataFrame(
        charge_versions.rows,
        columns=[
            "id",
            "account_id",
            "utility_id",
            "plan_id",
            "start_date",
            "end_date",
            "status",
            "created_at",
            "include_in_supplementary",
        ],
    )
    t["Invoice"] = invoices
    t["InvoiceLineItem"] = lines
    t["BasicRead"] = pd.DataFrame(
        {
            "id": np.arange(1, len(reads) + 1),
            "meter_register_id": registers["id"].to_numpy()[reads["register_index"].to_numpy(dtype=np.int64)],
            "read_date": reads["read_date"],
            "reading": reads["reading"],
            "read_type": reads["read_type"],
            "quality": np.where(reads["read_type"] == "ACTUAL", "A", "E"),
        }
    )
    t["Account"] = _account_table(accounts, invoices, config.start)
    t["GasHeatingValue"], t["GasNetworkDailyVolume"] = _gas_tables(
        utilities, registers, days, heating_values, gas_network_daily
    )
    return t


_J_ID = {s: i + 1 for i, s in enumerate(JURISDICTIONS)}  # jurisdiction id by state
_INSTALLED = date(2015, 1, 1)  # every meter, register and supply point dates from here
BILL_STEP = {"MONTHLY": 1, "BIMONTHLY": 2, "QUARTERLY": 3}  # months per billing period


def _supply_point_tables(
    accounts: pd.DataFrame, utilities: pd.DataFrame, registers: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Utility, UtilityDetail, Meter, MeterRegister and MeterRegisterDetail."""
    t = {}
    t["Utility"] = pd.DataFrame(
        {
            "id": utilities["id"],
            "identifier": utilities["identifier"],
            "service_type_id": np.where(utilities["gas"], 2, 1),
            "cust_class_code": np.where(utilities["segment"] > 0, "BUSINESS", "RESIDENTIAL"),
            "utility_network_id": utilities["network_id"],
            "jurisdiction_id": utilities["state"].map(_J_ID),
            "meter_data_provider": utilities["mdp"].replace("", None),
        }
    )
    t["UtilityDetail"] = _utility_detail(accounts, utilities)
    t["Meter"] = pd.DataFrame(
        {
            "id": utilities["id"],
            "utility_id": utilities["id"],
            "serial": utilities["serial"],
            "meter_installation_type": utilities["meter_type"],
            "pressure_correction_factor": utilities["pcf"],
            "start_date": _INSTALLED,
            "end_date": None,
        }
    )
    t["MeterRegister"] = pd.DataFrame(
        {
            "id": registers["id"],
            "meter_id": registers["utility_index"] + 1,
            "register_id": registers["register_id"],
            "suffix_id": registers["suffix"],
            "direction_indicator": registers["direction"],
            # a world without a controlled-load register has no market flag column at all
            "controlled_load": registers.get("market_controlled", pd.Series(np.nan, index=registers.index))
            .fillna(registers["controlled"])
            .astype(int),
            "time_class": registers["time_class"],
            "uom": registers["uom"],
            "dial_digits": registers["digits"],
            "interval_length": registers["interval_length"].where(registers["interval_length"] > 0, None),
        }
    )
    t["MeterRegisterDetail"] = pd.DataFrame(
        {
            "id": registers["id"],
            "meter_register_id": registers["id"],
            "status": "C",
            "start_date": _INSTALLED,
            "end_date": None,
        }
    )
    return t


def _utility_detail(accounts: pd.DataFrame, utilities: pd.DataFrame) -> pd.DataFrame:
    """Supply point status: active (A) from installation; de-energised (D) the day after the last
    tenancy closed, when none is left open."""
    closes: dict[int, list] = {}
    for ui, cd in zip(accounts["utility_index"], accounts["close_date"]):
        closes.setdefault(ui, []).append(cd)
    detail_rows: list[tuple] = []
    for u in utilities.itertuples():
        cds = closes.get(u.Index, [None])
        lc = None if any(c is None for c in cds) else max(cds)  # no open tenancy left: de-energised
        detail_rows.append(
            (len(detail_rows) + 1, u.id, "A", 1 + u.Index % len(TNIS), _INSTALLED, lc if lc is not None else None)
        )
        if lc is not None:
            detail_rows.append((len(detail_rows) + 1, u.id, "D", 1 + u.Index % len(TNIS), lc + timedelta(days=1), None))
    return pd.DataFrame(
        detail_rows, columns=["id", "utility_id", "utility_status", "utility_tni_id", "start_date", "end_date"]
    )


@dataclass(frozen=True)
class _PlanCatalogue:
    """The plans by what they are for: each (fuel, state, customer type, pricing model) has one
    plan per variant, SAVER and FLEX; a plan's sibling is the other variant."""

    key: dict[int, tuple]  # plan id -> (service type, jurisdiction, customer type, pricing model)
    variant: dict[int, str]
    index: dict[tuple, int]  # (*key, variant) -> plan id
    sibling: dict[int, int]

    @classmethod
    def of(cls, plans: pd.DataFrame) -> _PlanCatalogue:
        key = {
            p.id: (p.service_type_id, p.jurisdiction_id, p.customer_type, p.pricing_model) for p in plans.itertuples()
        }
        variant = {p.id: p.plan_code.rsplit("-", 1)[-1] for p in plans.itertuples()}
        index = {(*key[pid], variant[pid]): pid for pid in key}
        sibling = {pid: index[(*k, "FLEX" if variant[pid] == "SAVER" else "SAVER")] for pid, k in key.items()}
        return cls(key, variant, index, sibling)

    def pick(self, u, controlled_load: bool, tou: bool, variant: str) -> int:
        """The plan for supply point ``u`` (a utilities row)."""
        fuel = 2 if u.gas else 1
        ctype = "BUSINESS" if u.segment > 0 else "RESIDENTIAL"
        model = (
            "SINGLE_RATE"
            if u.gas
            else ("TIME_OF_USE" if tou else "SINGLE_RATE") + ("_CONT_LOAD" if controlled_load else "")
        )
        return int(self.index[(fuel, _J_ID[u.state], ctype, model, variant)])


@dataclass
class _ChargeVersions:
    """AccountPlan rows as they are built, each account's billed versions and the accounts whose
    billed plan will be found wrong."""

    rows: list[list]
    plan_of_account: dict[int, list[tuple[date, date | None, int]]]
    supplementary_accounts: set[int]


def _assign_plans(
    accounts: pd.DataFrame,
    utilities: pd.DataFrame,
    registers: pd.DataFrame,
    catalogue: _PlanCatalogue,
    config: GeneratorConfig,
    rng: np.random.Generator,
) -> _ChargeVersions:
    """Each account's charge versions: a plan (40% of electricity interval meters on time of use,
    half SAVER), 5% switching variant in the history, 1% with a DRAFT version besides, 2% to be
    found wrong after billing (see :func:`_replace_wrong_plans`)."""
    start, as_at = config.start, config.as_at
    has_cl = registers.groupby("utility_index")["controlled"].max()
    has_cl = has_cl.reindex(range(len(utilities)), fill_value=0).to_numpy()
    util_rows = list(utilities.itertuples())
    ap_rows: list[list] = []
    plan_of_account: dict[int, list[tuple[date, date | None, int]]] = {}
    supplementary_accounts = set()
    for a in accounts.itertuples():
        u = util_rows[a.utility_index]
        tou = u.meter_type != "BASIC" and not u.gas and rng.random() < 0.4
        variant = "SAVER" if rng.random() < 0.5 else "FLEX"
        p1 = catalogue.pick(u, has_cl[a.utility_index], tou, variant)
        s0 = a.open_date
        created = datetime.combine(max(s0, start - timedelta(days=1)), datetime.min.time())
        versions = [(s0, a.close_date, p1)]
        if rng.random() < 0.05 and a.close_date is None and (config.end - start).days > 120:  # a plan switch
            sw = start + timedelta(days=int(rng.integers(60, (config.end - start).days - 30)))
            if sw > s0 + timedelta(days=30):
                p2 = catalogue.pick(u, has_cl[a.utility_index], tou, "FLEX" if variant == "SAVER" else "SAVER")
                versions = [(s0, sw - timedelta(days=1), p1), (sw, None, p2)]
        for vs, ve, pid in versions:
            ap_rows.append(
                [
                    len(ap_rows) + 1,
                    a.id,
                    a.utility_index + 1,
                    pid,
                    vs,
                    ve,
                    "APPROVED",
                    max(created, datetime.combine(min(vs, as_at - timedelta(days=1)), datetime.min.time())),
                    0,
                ]
            )
        plan_of_account[a.id] = versions
        if rng.random() < 0.01:
            ap_rows.append(
                [
                    len(ap_rows) + 1,
                    a.id,
                    a.utility_index + 1,
                    p1,
                    s0,
                    a.close_date,
                    "DRAFT",
                    datetime.combine(as_at - timedelta(days=3), datetime.min.time()),
                    0,
                ]
            )
        if rng.random() < 0.02 and len(versions) == 1:
            supplementary_accounts.add(a.id)
    return _ChargeVersions(ap_rows, plan_of_account, supplementary_accounts)


def _replace_wrong_plans(
    versions: _ChargeVersions, catalogue: _PlanCatalogue, config: GeneratorConfig, rng: np.random.Generator
) -> None:
    """Charge versions replaced after billing: the billed plan was wrong; a new APPROVED version
    (the sibling plan) is flagged for supplementary processing, the billed one becomes REPLACED.
    Half of them are a backdated product change instead: the billed plan stays up to a day inside
    the billed history and the other plan applies from it, so the correction re-rates part of a
    billed period (usage, discounts and feed-in with it)."""
    start, as_at = config.start, config.as_at
    ap_rows, sibling_plan = versions.rows, catalogue.sibling
    for row in list(ap_rows):
        if row[1] in versions.supplementary_accounts and row[6] == "APPROVED":
            row[6] = "REPLACED"
            # Found after the last bill (issued the day before the run at the latest): the billed
            # version was in force at every issue date. The draw keeps each seed's world as it was.
            rng.integers(2, 20)
            created = datetime.combine(as_at - timedelta(days=1), datetime.min.time())
            lo, hi = max(row[4], start) + timedelta(days=30), min(row[5] or as_at, as_at) - timedelta(days=45)
            switch = lo + timedelta(days=int(rng.integers(0, max(1, (hi - lo).days)))) if hi > lo else None
            if switch is not None and rng.random() < 0.5:
                ap_rows.append(
                    [
                        len(ap_rows) + 1,
                        row[1],
                        row[2],
                        row[3],
                        row[4],
                        switch - timedelta(days=1),
                        "APPROVED",
                        created,
                        0,
                    ]
                )
                ap_rows.append(
                    [len(ap_rows) + 1, row[1], row[2], sibling_plan[row[3]], switch, row[5], "APPROVED", created, 1]
                )
            else:
                ap_rows.append(
                    [len(ap_rows) + 1, row[1], row[2], sibling_plan[row[3]], row[4], row[5], "APPROVED", created, 1]
                )


@dataclass(frozen=True)
class _Pricer:
    """The generator's own billing engine, line by line: the same step-block rule as
    billing/tariff.py's vectorised ``price`` (block k takes what is left above the earlier blocks,
    up to its daily volume x days; a negative quantity goes to block 1), but rates looked up by
    (plan, financial year) with the plan's first year's rates before it."""

    rate_map: dict[tuple, list]  # (plan, fy, charge, class) -> sorted [(block_order, daily volume, price)]
    first_fy: dict[int, int]
    discount: dict[int, Any]  # plan -> PlanDiscount row (a named tuple: method, rate, amount, ...)
    model: dict[int, str]  # plan -> pricing model
    optional: dict[int, list[tuple[str, str, str]]]  # plan -> its optional items (charge, class, basis)
    tou_feed_in: set[int]  # plans whose feed-in is rated by time-of-use class

    @classmethod
    def of(cls, tariffs) -> _Pricer:
        rates = daily_rates(tariffs.rates)  # a monthly fee at its daily equivalent, as the engine prices it
        rates["fy"] = pd.to_datetime(rates["effective_from"]).dt.year
        rate_map: dict[tuple, list] = {}
        for r in rates.itertuples():
            rate_map.setdefault((int(r.plan_id), int(r.fy), r.charge_type, r.time_class), []).append(
                (
                    int(r.block_order),
                    None if pd.isna(r.block_daily_volume) else float(r.block_daily_volume),
                    float(r.unit_price),
                )
            )
        rate_map = {k: sorted(v) for k, v in rate_map.items()}
        first_fy: dict[int, int] = {}
        for plan_id, fy, _, _ in rate_map:
            first_fy[plan_id] = min(fy, first_fy.get(plan_id, fy))
        disc = {d.plan_id: d for d in tariffs.discounts.itertuples()}
        optional: dict[int, list[tuple[str, str, str]]] = {}
        extra = rates[rates["charge_type"].isin(OPTIONAL_CHARGES)]
        for plan_id, charge, cls_, basis in (
            extra[["plan_id", "charge_type", "time_class", "basis"]].drop_duplicates().itertuples(index=False)
        ):
            optional.setdefault(int(plan_id), []).append((charge, cls_, basis))
        tou_feed_in = {int(p) for p, _, c, tc in rate_map if c == "FEED_IN" and tc in TIME_CLASSES}
        return cls(
            rate_map,
            first_fy,
            disc,
            dict(zip(tariffs.plans["id"], tariffs.plans["pricing_model"])),
            optional,
            tou_feed_in,
        )

    def price(self, plan: int, fy: int, charge: str, cls: str, qty: float, ndays: int) -> list[tuple]:
        """[(quantity, rate, amount)] for one charge, with step blocks pro-rated by days."""
        tiers = self.rate_map.get((plan, fy, charge, cls)) or self.rate_map.get(
            (plan, self.first_fy[plan], charge, cls), []
        )
        out: list[tuple] = []
        left = float(qty)
        per_kw = charge in DEMAND_CHARGES  # kW x rate x days; blocks in kW
        for order, volume, unit in tiers:
            q = left if volume is None else min(left, volume * (1 if per_kw else ndays))
            if q > 0 or (not out and order == 1):
                out.append((round(q, 3), unit, round_cents(round(q, 3) * unit * (ndays if per_kw else 1))))
            left -= q
            if left <= 1e-9:
                break
        return out

    def discount_of(self, plan: int, charge: str, amount: float, ndays: int, bill_days: float) -> float:
        """The plan's discount on one priced amount, by the engine's rules (charges.py): a
        percentage of the bill or of usage on the charges each applies to; a fixed amount per
        bill accrued by day on the supply line."""
        d = self.discount.get(plan)
        if d is None:
            return 0.0
        if d.method == "fixedAmount":
            return round_cents(float(d.amount) * ndays / bill_days) if charge == "DAILY_RETAIL" else 0.0
        applies = PERCENT_OF_BILL_CHARGES if d.method == "percentOfBill" else USAGE_DISCOUNT_CHARGES
        return round_cents(amount * d.rate) if charge in applies else 0.0


def _heating_values(config: GeneratorConfig) -> dict[tuple[int, date], float]:
    """Gas heating value (MJ/m3) per network and month of the history."""
    return {
        (nw, m): round(38.2 + 0.6 * np.sin(2 * np.pi * (m.month - 1) / 12) + 0.1 * (nw % 3), 4)
        for nw in range(1, len(NETWORKS) + 1)
        for m in month_starts(config.start, config.end)
    }


def _first_readings(registers: pd.DataFrame, rng: np.random.Generator) -> dict[int, float]:
    """Each register's reading the day before the history (basic meters are read from it): 10%
    near the top of the dial, so some roll over."""
    dials = 10 ** registers["digits"].to_numpy(dtype=np.int64)
    r0 = np.where(rng.random(len(dials)) < 0.9, rng.integers(0, dials), dials - rng.integers(50, 400, len(dials)))
    return dict(enumerate(r0.astype(np.float64).tolist()))


class _Billing:
    """Invoices, line items and basic meter reads. The supply points fall into BILLING_PARTS parts
    by index, each billed with its own seed (in parallel when there are workers), so the result
    does not depend on the worker count."""

    def __init__(
        self,
        config: GeneratorConfig,
        accounts: pd.DataFrame,
        utilities: pd.DataFrame,
        registers: pd.DataFrame,
        plan_of_account: dict,
        pricer: _Pricer,
        heating_values: dict[tuple[int, date], float],
        reading0: dict[int, float],
        billed_daily: np.ndarray,
        true_daily: np.ndarray,
    ):
        self.config, self.accounts, self.pricer, self.hv = config, accounts, pricer, heating_values
        self.plan_of_account, self.reading0 = plan_of_account, reading0
        self.util_rows = list(utilities.itertuples())
        # billed_daily holds the interval registers, true_daily the basic ones (in register order).
        self.billed_daily, self.true_daily = billed_daily, true_daily
        interval_reg = (registers["interval_length"] > 0).to_numpy()
        self.reg_pos = np.where(interval_reg, np.cumsum(interval_reg) - 1, np.cumsum(~interval_reg) - 1)
        self.day0 = np.datetime64(config.start)
        # Registers are grouped by supply point (rows of one supply point are contiguous).
        ui = registers["utility_index"].to_numpy()
        bounds = np.r_[np.flatnonzero(np.r_[True, ui[1:] != ui[:-1]]), len(ui)]
        self.regs_of_util = {int(ui[b0]): np.arange(b0, b1) for b0, b1 in zip(bounds[:-1], bounds[1:])}
        self.reg_basic = (registers["interval_length"] == 0).to_numpy()
        self.reg_suffix, self.reg_digits = registers["suffix"].tolist(), registers["digits"].tolist()
        self.reg_util = registers["utility_index"].to_numpy()
        self.part_of_account = accounts["utility_index"].to_numpy() % BILLING_PARTS

    def run(self, workers: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """(invoices, line items, reads) of every part, ids running on from part to part. Frees
        the daily arrays."""
        global _BILL_PART
        _BILL_PART = self.bill_part
        try:
            if workers > 1 and "fork" in mp.get_all_start_methods():
                pool = mp.get_context("fork").Pool(min(workers, BILLING_PARTS), initializer=_terminable_worker)
                try:
                    parts = pool.map(_bill_part_entry, range(BILLING_PARTS), chunksize=1)
                    pool.close()  # the workers finish on the pool's sentinels, no signal needed
                except BaseException:
                    pool.terminate()  # SIGTERM, at its default action in the workers (_terminable_worker)
                    raise
                finally:
                    pool.join()
            else:
                parts = [self.bill_part(k) for k in range(BILLING_PARTS)]
        finally:
            _BILL_PART = None
        self.billed_daily = self.true_daily = np.empty((0, 0))  # free them
        return _join_parts(parts)

    def true_to(self, reg: int, k: int) -> float:
        """True consumption of a basic register over the first k days (float64, summed in order)."""
        return float(np.cumsum(self.true_daily[self.reg_pos[reg], :k], dtype=np.float64)[-1]) if k else 0.0

    def cs_billed(self, reg: int) -> np.ndarray:
        """Cumulative billed sums of one interval register: (days + 1, 4), float64."""
        out = np.zeros((self.billed_daily.shape[1] + 1, 4))
        np.cumsum(self.billed_daily[self.reg_pos[reg], :, :4], axis=0, dtype=np.float64, out=out[1:])
        return out

    def peak_demand(self, regs: np.ndarray, i0: int, i1: int) -> float | None:
        """The largest PEAK half hour of days i0..i1-1 in kW, over the import registers ``regs``
        (one import register per site in this world, so the largest is the coincident one); None
        when one of them is basic (no half hours to measure)."""
        if self.reg_basic[regs].any():
            return None
        pos = self.reg_pos[regs]
        return float(self.billed_daily[pos, i0:i1, 4].max()) * 2.0 if len(pos) and i1 > i0 else 0.0

    def bill_part(self, part: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
        """Bill the accounts of one part, in account order."""
        ledger = _PartLedger(self, np.random.default_rng([self.config.seed, 7919, part]))
        for reg in np.flatnonzero(self.reg_basic & (self.reg_util % BILLING_PARTS == part)):
            ledger.first_read(int(reg))
        for a in self.accounts[self.part_of_account == part].itertuples():
            self.bill_account(ledger, a)
        return _bill_frames(ledger.invoices, ledger.lines, ledger.reads)

    def bill_account(self, ledger: _PartLedger, a) -> None:
        """One account's migration invoice and bills (with reversals, re-issues and cancellations)."""
        start, as_at = self.config.start, self.config.as_at
        rng = ledger.rng
        regs = self.regs_of_util[a.utility_index]
        basic = regs[self.reg_basic[regs]]
        versions = self.plan_of_account[a.id]
        cs_of: dict[int, np.ndarray] = {}
        # A move-in is a special read: the new tenant's consumption starts from it.
        if a.open_date > start:
            move_in = a.open_date - timedelta(days=1)
            for reg in basic:
                if ledger.reads[ledger.last_read_at[reg]][1] != move_in:
                    ledger.take_read(reg, move_in, False)
        # Cut-over: a migration invoice for everything before the history starts.
        if a.open_date < start:
            ledger.invoice(
                a,
                a.open_date,
                start - timedelta(days=1),
                start - timedelta(days=1),
                self.migration_lines(a, versions[0][2]),
            )
            ledger.invoices[-1][1] = "MIG"
        periods = _bill_periods(a, start, self.config.end)
        for pi, (s, e) in enumerate(periods):
            delay = int(rng.integers(1, 5)) + (int(rng.integers(20, 45)) if a.late and pi == len(periods) - 1 else 0)
            issue = e + timedelta(days=delay)
            # Reads for basic registers at the period end (4% estimated). The read arrives even
            # when the bill is late, so a period can be read but not yet billed at the run date.
            basic_q = {reg: ledger.period_read(reg, e) for reg in basic}
            if issue >= as_at:
                break
            sub_lines = self.period_lines(a, s, e, regs, versions, basic_q, cs_of)
            inv = ledger.invoice(a, s, e, issue, sub_lines)
            # 2% reversed (credit note) and re-issued; 0.5% cancelled before sending and re-issued.
            u_rev = rng.random()
            if pi < len(periods) - 1 and u_rev < 0.02:
                ri = issue + timedelta(days=int(rng.integers(5, 25)))
                if ri < as_at:
                    ledger.invoice(a, s, e, ri, sub_lines, credit_of=inv)
                    ledger.invoice(a, s, e, ri, sub_lines)
            elif u_rev > 0.995:
                ledger.invoices[inv - 1][7] = "CANCELLED"
                ledger.invoice(a, s, e, issue + timedelta(days=2), sub_lines)

    def migration_lines(self, a, plan: int) -> list[list]:
        """Supply only (usage before the history is not known), split at 1 July and priced like
        any bill: that year's prices, the plan's discount on the bill."""
        start = self.config.start
        cuts = [
            a.open_date,
            *(date(y, 7, 1) for y in range(a.open_date.year, start.year + 1) if a.open_date < date(y, 7, 1) < start),
            start,
        ]
        mig = []
        for ss, ee1 in zip(cuts[:-1], cuts[1:]):
            nd = (ee1 - ss).days
            fy = ss.year if ss.month >= 7 else ss.year - 1
            for q, r, amt in self.pricer.price(plan, fy, "DAILY_RETAIL", "ANYTIME", nd, nd):
                dn = self.pricer.discount_of(plan, "DAILY_RETAIL", amt, nd, BILL_DAYS[a.bill_frequency])
                mig.append(
                    [
                        a.id,
                        a.utility_index + 1,
                        ss,
                        ee1 - timedelta(days=1),
                        "DAILY_RETAIL",
                        "ANYTIME",
                        q,
                        "DAY",
                        r,
                        amt,
                        dn,
                    ]
                )
        return mig

    def period_lines(
        self, a, s: date, e: date, regs: np.ndarray, versions: list, basic_q: dict, cs_of: dict[int, np.ndarray]
    ) -> list[list]:
        """The line items of one billing period, split at 1 July and at plan version boundaries;
        a basic register's usage is spread over the pieces by days."""
        cuts = sorted(
            {s, e + timedelta(days=1)}
            | {date(y, 7, 1) for y in range(s.year, e.year + 1) if s < date(y, 7, 1) <= e}
            | {vs for vs, _, _ in versions if s < vs <= e}
        )
        total_days = (e - s).days + 1
        sub_lines = []
        for ss, ee1 in zip(cuts[:-1], cuts[1:]):
            ee = ee1 - timedelta(days=1)
            nd = (ee - ss).days + 1
            fy = ss.year if ss.month >= 7 else ss.year - 1
            plan = next(p for vs, ve, p in versions if vs <= ss and (ve is None or ss <= ve))
            for charge, cls, qty, uom in self.charges(a, ss, ee, nd, total_days, regs, plan, basic_q, cs_of):
                for q, rate, amt in self.pricer.price(plan, fy, charge, cls, qty, nd):
                    if charge == "FEED_IN":
                        amt = -amt
                    dn = self.pricer.discount_of(plan, charge, amt, nd, BILL_DAYS[a.bill_frequency])
                    sub_lines.append([a.id, a.utility_index + 1, ss, ee, charge, cls, q, uom, rate, amt, dn])
        return sub_lines

    def charges(  # noqa: C901 - one branch per plan charge type, as the tariff lists them
        self,
        a,
        ss: date,
        ee: date,
        nd: int,
        total_days: int,
        regs: np.ndarray,
        plan: int,
        basic_q: dict,
        cs_of: dict[int, np.ndarray],
    ) -> list[tuple[str, str, float, str]]:
        """(charge type, time class, quantity, unit) of one piece of a period: the daily supply
        charge, then each register's usage by its suffix (gas in MJ, controlled load, feed-in,
        time-of-use classes on a time-of-use plan, else anytime)."""
        u = self.util_rows[a.utility_index]
        model = self.pricer.model[plan]
        i0 = int((np.datetime64(ss) - self.day0).astype(int))
        i1 = int((np.datetime64(ee) - self.day0).astype(int)) + 1
        charges = [("DAILY_RETAIL", "ANYTIME", float(nd), "DAY")]
        bought = 0.0
        for reg in regs:
            suffix = self.reg_suffix[reg]
            if self.reg_basic[reg]:
                q = basic_q[reg] * nd / total_days
                qs = {"ANYTIME": q}
            else:
                if reg not in cs_of:
                    cs_of[reg] = self.cs_billed(reg)
                agg = cs_of[reg][i1] - cs_of[reg][i0]
                qs = {"ANYTIME": agg[0], **{c: agg[1 + k] for k, c in enumerate(TIME_CLASSES)}}
            if suffix == "G1":
                mj = qs["ANYTIME"] * self.hv[(u.network_id, date(ee.year, ee.month, 1))] * u.pcf
                charges.append(("USAGE_RETAIL", "ANYTIME", mj, "MJ"))
            elif suffix in ("E2", "41"):
                charges.append(("CONTROLLED_LOAD", "CONTROLLED_LOAD", qs["ANYTIME"], "KWH"))
            elif suffix == "B1" and plan in self.pricer.tou_feed_in and not self.reg_basic[reg]:
                charges += [("FEED_IN", c, qs[c], "KWH") for c in TIME_CLASSES]
            elif suffix == "B1":
                charges.append(("FEED_IN", "SOLAR", qs["ANYTIME"], "KWH"))
            elif model.startswith("TIME_OF_USE") and not self.reg_basic[reg]:
                charges += [("USAGE_RETAIL", c, qs[c], "KWH") for c in TIME_CLASSES]
            else:
                charges.append(("USAGE_RETAIL", "ANYTIME", qs["ANYTIME"], "KWH"))
            if suffix not in ("G1", "B1"):
                bought += qs["ANYTIME"]
        # The plan's optional items: per day of supply, per kWh bought (general and controlled
        # load), or per kW of the part's largest PEAK half hour (demand).
        imports = np.array([r for r in regs if self.reg_suffix[r] not in ("G1", "B1")], dtype=np.int64)
        for charge, cls, basis in self.pricer.optional.get(plan, []):
            if basis == "DAY":
                charges.append((charge, cls, float(nd), "DAY"))
            elif basis == "DEMAND":
                kw = self.peak_demand(imports, i0, i1)
                if kw is not None:
                    charges.append((charge, cls, round(kw, 3), "KW"))
            else:
                charges.append((charge, cls, bought, "KWH"))
        return charges


class _PartLedger:
    """What one billing part writes: basic meter reads (and each register's last one), invoices
    and line items as row lists, with the part's own random stream."""

    def __init__(self, billing: _Billing, rng: np.random.Generator):
        self.billing, self.rng = billing, rng
        self.reads: list = []
        self.invoices: list = []
        self.lines: list = []
        self.last_reading: dict[int, float] = {}
        self.last_read_at: dict[int, int] = {}  # per register: its last row in reads

    def read_at(self, reg: int, d: date, est: bool, prev: float) -> float:
        """The register's reading at the end of ``d``; an estimated read gets the consumption since
        the previous read wrong by a typical 15% (never backwards)."""
        b = self.billing
        k = (d - b.config.start).days + 1
        dial = 10 ** b.reg_digits[reg]
        actual = float(np.floor(b.reading0[reg] + b.true_to(reg, k)) % dial)
        if not est:
            return actual
        used = (actual - prev) % dial
        return float(np.floor(prev + used * max(0.0, 1.0 + self.rng.normal(0, 0.15))) % dial)

    def first_read(self, reg: int) -> None:
        """The cut-over read, the day before the history starts."""
        self.last_reading[reg] = float(np.floor(self.billing.reading0[reg]) % 10 ** self.billing.reg_digits[reg])
        self.last_read_at[reg] = len(self.reads)
        self.reads.append((reg, self.billing.config.start - timedelta(days=1), self.last_reading[reg], "ACTUAL"))

    def take_read(self, reg: int, d: date, est: bool) -> float:
        """Read the register at the end of ``d`` and record it; returns the reading."""
        cur = self.read_at(reg, d, est, self.last_reading[reg])
        self.last_reading[reg] = cur
        self.last_read_at[reg] = len(self.reads)
        self.reads.append((reg, d, cur, "ESTIMATE" if est else "ACTUAL"))
        return cur

    def period_read(self, reg: int, e: date) -> float:
        """The read at a period end (4% estimated) and the usage since the previous read. An
        actual read below an over-estimate corrects it (negative usage); below an actual read it
        can only be the dial rolling over."""
        est = self.rng.random() < 0.04
        prev = self.last_reading[reg]
        prev_estimated = self.reads[self.last_read_at[reg]][3] == "ESTIMATE"
        cur = self.take_read(reg, e, est)
        dial = 10 ** self.billing.reg_digits[reg]
        correction = prev_estimated and cur < prev and prev - cur <= 0.2 * dial
        return cur - prev if correction else (cur - prev) % dial

    def invoice(self, a, s: date, e: date, issue: date, sub_lines: list, credit_of: int | None = None) -> int:
        """An ISSUED invoice (a credit note of ``credit_of`` if given) with its lines; its id."""
        inv_id = len(self.invoices) + 1
        sign = -1 if credit_of else 1
        net = round_cents(sum(line[9] for line in sub_lines) * sign)
        # No GST on a feed-in credit to a household (not registered for GST).
        gst_free = (
            0.0 if a.segment else round_cents(sum(line[9] for line in sub_lines if line[4] in CREDIT_CHARGES) * sign)
        )
        self.invoices.append(
            [
                inv_id,
                "INV",
                a.id,
                issue,
                issue + timedelta(days=14),
                s,
                e,
                "ISSUED",
                1 if credit_of else 0,
                credit_of,
                net,
                gst(net - gst_free),
            ]
        )
        for line in sub_lines:
            self.lines.append([len(self.lines) + 1, inv_id, *line, 1 if credit_of else 0])
        return inv_id


def _join_parts(parts: list) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The parts' (invoices, lines, reads) as one of each; ids run on from the previous part and
    invoice numbers are their prefix and id."""
    inv_frames, line_frames, read_frames = [], [], []
    n_inv = n_lines = 0
    for inv, ln, rd in parts:  # ids run on from the previous part
        inv["id"] += n_inv
        inv["reverses_invoice_id"] += n_inv
        ln["id"] += n_lines
        ln["invoice_id"] += n_inv
        n_inv, n_lines = n_inv + len(inv), n_lines + len(ln)
        inv_frames.append(inv)
        line_frames.append(ln)
        read_frames.append(rd)
    del parts[:]
    invoices = pd.concat(inv_frames, ignore_index=True)
    invoices["id"] = invoices["id"].astype(np.int64)  # a part with no bills (a tiny world) has untyped columns
    invoices["invoice_number"] = invoices["invoice_number"].astype(str) + invoices["id"].map("{:09d}".format)
    lines = pd.concat(line_frames, ignore_index=True).astype({"id": np.int64, "invoice_id": np.int64})
    reads = pd.concat(read_frames, ignore_index=True)
    return invoices, lines, reads


def _account_table(accounts: pd.DataFrame, invoices: pd.DataFrame, start: date) -> pd.DataFrame:
    """Account, with its next bill date: the end of the first period not yet billed."""
    segment_names = np.array([1, 2, 3])
    last_end = invoices[invoices.is_credit == 0].groupby("account_id")["period_end"].max()
    last_end = pd.Series([d.date() for d in last_end], index=last_end.index, dtype=object)
    step = accounts["bill_frequency"].map(BILL_STEP)
    nxt: list[date | None] = []
    for a, k in zip(accounts.itertuples(), step):
        le = last_end.get(a.id)
        if a.close_date is not None and le is not None and le >= a.close_date:
            nxt.append(None)
        else:
            base = le if le is not None else max(a.open_date, start)
            nxt.append(
                _add_months(base, k, a.bill_cycle_day) if le is not None else _add_months(base, 1, a.bill_cycle_day)
            )
    return pd.DataFrame(
        {
            "id": accounts["id"],
            "account_number": accounts["account_number"],
            "customer_name": accounts["customer_name"],
            "service_type_id": np.where(accounts["gas"], 2, 1),
            "journal_segment_id": segment_names[accounts["segment"]],
            "open_date": accounts["open_date"],
            "close_date": accounts["close_date"],
            "bill_frequency": accounts["bill_frequency"],
            "bill_cycle_day": accounts["bill_cycle_day"],
            "next_bill_date": nxt,
            "pay_on_time_propensity": accounts["pay_on_time_propensity"],
            # Businesses are registered for GST (their feed-in credits carry it); households are not.
            "gst_registered": (segment_names[accounts["segment"]] != 1).astype(int),
        }
    )


def _gas_tables(
    utilities: pd.DataFrame,
    registers: pd.DataFrame,
    days: np.ndarray,
    heating_values: dict[tuple[int, date], float],
    gas_network_daily: Callable[[str, int, int], np.ndarray],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GasHeatingValue per gas network and month; GasNetworkDailyVolume, the networks' daily
    volumes (the gas shape). Each network's volume comes from its own simulated population (the
    load model's): none of our customers' true consumption is in it."""
    gas_nets = [i + 1 for i, nw in enumerate(NETWORKS) if nw[2] == "GAS"]
    hv_months = sorted({m for _, m in heating_values})
    heating = pd.DataFrame(
        [
            (k + 1, nw, m, heating_values[(nw, m)])
            for k, (nw, m) in enumerate((nw, m) for nw in gas_nets for m in hv_months)
        ],
        columns=["id", "utility_network_id", "month", "heating_value"],
    )
    gas_regs = registers.index[registers["suffix"] == "G1"].to_numpy()
    net_of_reg = utilities["network_id"].to_numpy()[registers["utility_index"].to_numpy()]
    vol_rows = []
    for nw in gas_nets:
        ours = int((net_of_reg[gas_regs] == nw).sum())
        vol = np.round(gas_network_daily(NETWORKS[nw - 1][1], nw, 2500 * (1 + ours)), 1)
        vol_rows += [(nw, d, v) for d, v in zip(days.astype(object), vol)]
    volumes = pd.DataFrame(
        [(i + 1, *r) for i, r in enumerate(vol_rows)], columns=["id", "utility_network_id", "gas_date", "volume"]
    )
    return heating, volumes
