"""Benchmark: generate a retailer (timed apart), then materialise every asset for its last month.

    python bench/run.py --accounts N [--json] [--home DIR [--reuse] [--only ASSET ...]] [--threads N]

Prints per-asset wall time and rows, total time and peak RSS; with --json the last line is
{"accounts": N, "total_s": ..., "peak_rss_mb": ..., "generate_s": ..., "history_backfill_s": ...,
 "assets": {name: {"s": ..., "rows": ..., "peak_rss_mb": ...}}} (peak_rss_mb of the process over
every asset; per asset, the high-water mark since the asset started).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bua_assets.definitions import ALL_ASSETS
from bua_assets.resources import local_resources
from bua_assets.run_records import metadata_values
from bua_assets.runner import backfill_interval_history


def reset_peak_rss() -> None:
    """Reset the kernel's high-water mark of this process's RSS (Linux), so each asset's peak is its own."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--as-at", default="2026-11-01")
    p.add_argument("--json", action="store_true")
    p.add_argument("--home", help="keep outputs here (default: a temporary folder, removed after)")
    p.add_argument("--reuse", action="store_true", help="reuse a retailer already generated under --home")
    p.add_argument("--only", nargs="*", help="materialise only these assets (upstream must exist in --home)")
    p.add_argument("--threads", type=int, help="threads for DuckDB and Arrow (default: what the machine or pod allows)")
    args = p.parse_args()
    if args.threads:
        os.environ["BUA_DUCKDB_THREADS"] = str(args.threads)
        pa.set_cpu_count(args.threads)
    home = Path(args.home or tempfile.mkdtemp(prefix="bua-bench-"))
    as_at = date.fromisoformat(args.as_at)
    retailer = home / "retailer"
    # Generation runs in a child process so the assets' peak RSS below is theirs alone.
    t0 = time.perf_counter()
    manifest = retailer / "manifest.json"
    reuse = args.reuse and manifest.exists() and json.loads(manifest.read_text())["config"]["accounts"] == args.accounts
    if reuse:
        print(f"reusing the retailer in {retailer}", file=sys.stderr)
    else:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bua_synth.cli",
                "generate",
                "--accounts",
                str(args.accounts),
                "--seed",
                "7",
                "--as-at",
                as_at.isoformat(),
                "--history-months",
                "13",
                "--out",
                str(retailer),
                "--core-url",
                f"sqlite:///{retailer / 'core.db'}",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    generate_s = None if reuse else time.perf_counter() - t0
    gen_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    partition = f"{as_at.year - (as_at.month == 1)}-{(as_at.month - 2) % 12 + 1:02d}-01"
    resources = local_resources(f"sqlite:///{retailer / 'core.db'}", str(retailer / "nem12"), home)
    assets = {}
    with dg.instance_for_test() as instance:
        reset_peak_rss()
        t = time.perf_counter()
        backfilled = backfill_interval_history(
            partition, instance, resources, progress=lambda m: print(m, file=sys.stderr)
        )
        history_s = time.perf_counter() - t
        history_rss = peak_rss_mb()
        print(f"interval history: {len(backfilled)} months in {history_s:.1f} s", file=sys.stderr)
        t_all = time.perf_counter()
        for asset in ALL_ASSETS:  # one at a time, in graph order, so each is timed alone
            key = asset.key.to_user_string()
            if args.only and key not in args.only:
                continue
            reset_peak_rss()
            t = time.perf_counter()
            result = dg.materialize(
                [asset], instance=instance, resources=resources, partition_key=partition, selection=[key]
            )
            s = time.perf_counter() - t
            (event,) = result.get_asset_materialization_events()
            rows = metadata_values(event.step_materialization_data.materialization)["rows"]
            rss = peak_rss_mb()
            assets[key] = {"s": round(s, 2), "rows": int(rows), "peak_rss_mb": rss}
            print(f"{key:<26} {s:8.2f} s {rows:>12,} rows {rss:>8,.0f} MB", file=sys.stderr)
        total = time.perf_counter() - t_all
    # The month's peak: the largest asset's (the history backfill before it is reported apart).
    peak = max((a["peak_rss_mb"] for a in assets.values()), default=0.0)
    out = {
        "accounts": args.accounts,
        "total_s": round(total, 2),
        "peak_rss_mb": round(peak, 1),
        "generate_s": generate_s and round(generate_s, 1),
        "history_backfill_s": round(history_s, 1),
        "history_backfill_peak_rss_mb": history_rss,
        "history_months_backfilled": len(backfilled),
        "generate_peak_rss_mb": round(gen_rss, 1),
        "partition": partition,
        "assets": assets,
    }
    print(f"generate {generate_s or 0:.1f} s; assets {total:.2f} s; peak RSS {peak:.0f} MB", file=sys.stderr)
    if args.json:
        print(json.dumps(out))
    if not args.home:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
