"""Accuracy backtest: unbilled consumption vs the generator's ground truth, and two baselines.

    python bench/accuracy.py --accounts N --seed S [--load-model rich|simple|alt] [--json] [--home DIR [--reuse]]

Generates a retailer with 16 months of history (so "the same period last year" is billed data),
materialises the interval history and every asset for its last month, then compares per account x
supply point x register x month of the unbilled window. Prints the table; with --json the last
line is {"portfolio_error_pct": {"ours", "adu", "last_year"}, "cells": [...],
"median_register_error_pct", "median_basic_register_error_pct",
"median_estimated_interval_day_error_pct", ...} (signed errors in %, medians absolute).

The truth window is the generator's own (truth/billing.parquet: what it billed), so a day the
pipeline leaves out of its unbilled window is an error; a register-day without a truth row stops
the run; interval days we estimated are scored apart from the days with meter data; the truth's
dollars are priced from its own half-hours (time of use).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.resources import local_resources
from bua_assets.runner import backfill_interval_history
from bua_synth.backtest import (
    baselines,
    compare,
    estimated_interval_days,
    month_dollar_accuracy,
    truth_by_row,
    truth_days,
    truth_window,
)
from bua_synth.cli import load_model

HISTORY_MONTHS = 16


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--as-at", default="2026-11-01")
    p.add_argument("--json", action="store_true")
    p.add_argument("--home", help="keep outputs here (default: a temporary folder, removed after)")
    p.add_argument("--reuse", action="store_true", help="reuse the retailer and lake already under --home")
    p.add_argument(
        "--load-model",
        default="rich",
        help="the synthetic world's consumption process: rich, simple, alt (the held-out world, not to tune "
        "on) or another world as package.module:Name (bua-synth generate --load-model)",
    )
    args = p.parse_args()
    home = Path(args.home or tempfile.mkdtemp(prefix="bua-accuracy-"))
    retailer, as_at = home / "retailer", date.fromisoformat(args.as_at)
    manifest = retailer / "manifest.json"
    recorded = json.loads(manifest.read_text()) if manifest.exists() else {}
    config = recorded.get("config", {})
    same_world = (
        config.get("accounts") == args.accounts
        and config.get("seed") == args.seed
        # A manifest from before the model was recorded was the rich world.
        and recorded.get("load_model", "rich") == load_model(args.load_model).name
    )
    if not (args.reuse and same_world):
        t = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bua_synth.cli",
                "generate",
                "--accounts",
                str(args.accounts),
                "--seed",
                str(args.seed),
                "--as-at",
                as_at.isoformat(),
                "--history-months",
                str(HISTORY_MONTHS),
                "--out",
                str(retailer),
                "--core-url",
                f"sqlite:///{retailer / 'core.db'}",
                "--load-model",
                args.load_model,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        shutil.rmtree(home / "lake", ignore_errors=True)
        print(f"generated {args.accounts} accounts in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    partition = f"{as_at.year - (as_at.month == 1)}-{(as_at.month - 2) % 12 + 1:02d}-01"
    resources = local_resources(f"sqlite:///{retailer / 'core.db'}", str(retailer / "nem12"), home)
    t = time.perf_counter()
    with dg.instance_for_test() as instance:
        backfill_interval_history(partition, instance, resources)
        result = dg.materialize(ALL_ASSETS, instance=instance, resources=resources, partition_key=partition)
        assert result.success
    print(f"assets for {partition} in {time.perf_counter() - t:.0f} s", file=sys.stderr)

    lake = Lake(str(home / "lake"))
    read = lambda asset, ds: lake.read(asset, partition, ds).to_pandas()  # noqa: E731
    registers = read("utility_profiles", "registers")
    core = {t: read("core_tables", t) for t in ("Invoice", "InvoiceLineItem", "GasHeatingValue")}
    # The unbilled days come from the generator's own billing truth, not the pipeline's window.
    billing = pd.read_parquet(retailer / "truth" / "billing.parquet")
    days = truth_days(
        retailer / "truth",
        truth_window(billing, registers, as_at - timedelta(days=1)),
        registers,
        core["GasHeatingValue"],
    )
    truth = truth_by_row(days)
    base = baselines(days, registers, core["Invoice"], core["InvoiceLineItem"])
    consumption = read("unbilled_consumption", "unbilled_consumption")
    estimated = estimated_interval_days(read("nem12_estimates", "estimated_reads"), registers, days)
    out = compare(consumption, truth, base, registers, read("utility_profiles", "utility_profile_summary"), estimated)
    dollars = month_dollar_accuracy(read, truth)
    out = {
        "accounts": args.accounts,
        "seed": args.seed,
        "load_model": args.load_model,
        "partition": partition,
        **out,
        "dollars": dollars,
    }
    print_table(out)
    if args.json:
        print(json.dumps(out))
    if not args.home:
        shutil.rmtree(home, ignore_errors=True)
    return 0


def print_table(out: dict) -> None:
    w = sys.stderr.write
    w(
        f"\nunbilled consumption vs ground truth: {out['accounts']} accounts, seed {out['seed']}, {out['load_model']} world, {out['partition']}\n"
    )
    w(f"signed error %            {'ours':>9} {'ADU':>9} {'last yr':>9} {'truth kWh':>14}\n")
    p = out["portfolio_error_pct"]
    w(
        f"{'portfolio (imports)':<25} {p['ours']:>9.2f} {p['adu']:>9.2f} {p['last_year']:>9.2f} "
        f"{out['portfolio_truth_kwh']:>14,.0f}\n"
    )
    for c in out["cells"]:
        w(
            f"{c['state'] + ' ' + c['fuel']:<25} {c['ours']:>9.2f} {c['adu']:>9.2f} {c['last_year']:>9.2f} "
            f"{c['truth_kwh']:>14,.0f}\n"
        )
    for c in out["meter_types"]:
        w(f"{c['meter_type']:<25} {c['ours']:>9.2f} {c['adu']:>9.2f} {c['last_year']:>9.2f} {c['truth_kwh']:>14,.0f}\n")
    w(
        f"median |error| per interval register with >= 28 days history: {out['median_register_error_pct']}% "
        f"({out['registers_compared']} registers)\n"
    )
    w(
        f"median |error| per accumulation (basic) register: {out['median_basic_register_error_pct']}% "
        f"(gas {out['median_basic_gas_register_error_pct']}%, electricity {out['median_basic_electricity_register_error_pct']}%;"
        f" {out['basic_registers_compared']} registers)\n"
    )
    if "median_estimated_interval_day_error_pct" in out:
        w(
            f"interval days we estimated: median |error| per register {out['median_estimated_interval_day_error_pct']}% "
            f"(per single day {out['median_estimated_interval_single_day_error_pct']}%), total "
            f"{out['estimated_interval_error_pct']}% over {out['estimated_interval_days']} register-days; "
            f"days with meter data: {out['metered_interval_error_pct']}%\n"
        )
    d = out["dollars"]
    w(
        f"\naccrual $ (ours vs the truth priced by the same engine): portfolio {d['portfolio_dollar_error_pct']:+.2f}% "
        f"of ${d['truth_dollars']:,.2f}\n"
    )
    for c in d["cells"]:
        w(f"  {c['state'] + ' ' + c['fuel']:<22} {c['dollar_error_pct']:+7.2f}%  of ${c['truth_dollars']:,.2f}\n")
    k = d["corrected_accounts"]
    if k["dollar_error_pct"] is not None:
        w(
            f"  {'corrected accounts':<22} {k['dollar_error_pct']:+7.2f}%  of ${k['truth_dollars']:,.2f} "
            f"({k['accounts']} accounts with a plan replaced after billing)\n"
        )


if __name__ == "__main__":
    sys.exit(main())
