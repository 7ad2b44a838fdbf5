"""The deterministic synthetic retailer: CORE tables, NEM12 files and the ground truth.

    generate(GeneratorConfig(accounts=1000, seed=7, as_at=date(2026, 11, 1), history_months=13), ...)

Output layout under ``out``:
    nem12/<YYYY-MM>/NEM12#<id>#<MDP>#BUARETAIL.csv   what meter data providers delivered: per MDP and
                                                      batch of 4,000 registers, plus revision (R) files
    truth/<YYYY-MM>.parquet                           true consumption per register-day (kept apart)
    truth/billing.parquet                             what was billed: per tenancy, billed through
    manifest.json                                     the arguments and counts
The CORE tables go to the database URL (embedded SQLite by default).

The world starts at a billing-system cut-over: everything before the first history day was
billed by a migration invoice (prefix MIG), so unbilled windows are well defined.

This module runs the steps in order; each lives in its own module:
    population.py    build_world: supply points, meters, accounts (move-ins, move-outs), registers,
                     occupancy, tariffs (world.py)
    meter_data.py    per month: true half hours (the load model), NEM12 files as delivered, truth
    plans.py         the accounts' plan versions (AccountPlan), and the plans found wrong
    billing.py       bills, their line items and basic reads from what billing saw; billing truth
    core_tables.py   every CORE table, and writing them to the database
    config.py        GeneratorConfig and the month arithmetic
The world's one random Generator is drawn from in a fixed order (population, then plans, first
readings and wrong plans in build_core_tables); meter data and billing have their own seeds.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path

import numpy as np

from bua_synth.billing import write_billing_truth
from bua_synth.config import GeneratorConfig, month_starts
from bua_synth.core_tables import build_core_tables, write_core_tables
from bua_synth.load import LoadModel
from bua_synth.meter_data import MonthContext, write_meter_data
from bua_synth.pool import terminable_worker
from bua_synth.population import build_world
from bua_synth.rich import RichLoad

__all__ = ["GeneratorConfig", "build_world", "generate", "month_starts"]
_terminable_worker = terminable_worker  # its name here before the split (tests import it)


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
    model = load_model or RichLoad()
    model_state = model.prepare(config.seed, world["registers"], days)
    months = month_starts(config.start, config.end)
    workers = _worker_count(workers, len(months))

    def month_written(m_start: date, res: dict) -> None:
        progress(
            f"{m_start:%Y-%m}: {res['ndays']} register-days in {res['files']} NEM12 files "
            f"({time.perf_counter() - t0:.0f} s)"
        )

    billed_daily, true_daily, counts = write_meter_data(
        MonthContext.of(config, out, days, world, model, model_state), months, workers, month_written
    )
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
    write_billing_truth(out / "truth" / "billing.parquet", tables["Invoice"], tables["AccountUtility"])
    core_url_redacted, rows = write_core_tables(tables, core_url)
    counts.update({f"rows_{name}": n for name, n in rows.items()})
    manifest = {
        "config": {**asdict(config), "as_at": config.as_at.isoformat()},
        "core_url": core_url_redacted,
        "load_model": model.name,
        "counts": counts,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    progress(f"CORE written: {sum(rows.values())} rows in {len(rows)} tables ({manifest['seconds']:.0f} s)")
    return manifest


def _worker_count(workers: int | None, months: int) -> int:
    """The processes to use: ``workers`` (default BUA_GENERATOR_WORKERS, else up to 2 by CPU
    count), at most one per month, and one when this process runs other threads."""
    if workers is None:
        workers = int(os.environ.get("BUA_GENERATOR_WORKERS", 0)) or min(2, os.cpu_count() or 1)
    workers = max(1, min(workers, months))
    if workers > 1 and threading.active_count() > 1:
        # The pool forks (workers share the world copy-on-write); forking a process that runs
        # other threads (a test's moto server, Dagster's) can leave a child holding a lock
        # forever. The output does not depend on the worker count, so work alone instead.
        workers = 1
    return workers
