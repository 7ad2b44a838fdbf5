"""Benchmark: generate a retailer (timed apart), then materialise every asset for its last month.

    python bench/run.py --accounts N [--json] [--home DIR [--reuse] [--only ASSET ...]]

Prints per-asset wall time and rows, total time and peak RSS; with --json the last line is
{"accounts": N, "total_s": ..., "peak_rss_mb": ..., "generate_s": ..., "assets": {name: {"s": ..., "rows": ...}}}.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bua_assets.definitions import ALL_ASSETS  # noqa: E402
from bua_assets.resources import local_resources  # noqa: E402
from bua_assets.runner import backfill_interval_history  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--accounts", type=int, required=True)
    p.add_argument("--as-at", default="2026-11-01")
    p.add_argument("--json", action="store_true")
    p.add_argument("--home", help="keep outputs here (default: a temporary folder, removed after)")
    p.add_argument("--reuse", action="store_true", help="reuse a retailer already generated under --home")
    p.add_argument("--only", nargs="*", help="materialise only these assets (upstream must exist in --home)")
    args = p.parse_args()
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
        subprocess.run([sys.executable, "-m", "bua_assets.cli", "generate", "--accounts", str(args.accounts),
                        "--seed", "7", "--as-at", as_at.isoformat(), "--history-months", "13", "--out", str(retailer),
                        "--core-url", f"sqlite:///{retailer / 'core.db'}"], check=True, stdout=subprocess.DEVNULL)
    generate_s = None if reuse else time.perf_counter() - t0
    gen_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    partition = f"{as_at.year - (as_at.month == 1)}-{(as_at.month - 2) % 12 + 1:02d}-01"
    resources = local_resources(f"sqlite:///{retailer / 'core.db'}", str(retailer / "nem12"), home)
    assets = {}
    with dg.instance_for_test() as instance:
        t = time.perf_counter()
        backfilled = backfill_interval_history(partition, instance, resources)
        history_s = time.perf_counter() - t
        print(f"interval history: {len(backfilled)} months in {history_s:.1f} s", file=sys.stderr)
        t_all = time.perf_counter()
        for asset in ALL_ASSETS:  # one at a time, in graph order, so each is timed alone
            key = asset.key.to_user_string()
            if args.only and key not in args.only:
                continue
            t = time.perf_counter()
            result = dg.materialize([asset], instance=instance, resources=resources, partition_key=partition,
                                    selection=[key])
            s = time.perf_counter() - t
            (event,) = result.get_asset_materialization_events()
            rows = event.event_specific_data.materialization.metadata["rows"].value
            assets[key] = {"s": round(s, 2), "rows": int(rows)}
            print(f"{key:<20} {s:8.2f} s {rows:>12,} rows", file=sys.stderr)
        total = time.perf_counter() - t_all
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"accounts": args.accounts, "total_s": round(total, 2), "peak_rss_mb": round(peak, 1),
           "generate_s": generate_s and round(generate_s, 1),
           "history_backfill_s": round(history_s, 1), "history_months_backfilled": len(backfilled), "generate_peak_rss_mb": round(gen_rss, 1), "partition": partition,
           "assets": assets}
    print(f"generate {generate_s or 0:.1f} s; assets {total:.2f} s; peak RSS {peak:.0f} MB", file=sys.stderr)
    if args.json:
        print(json.dumps(out))
    if not args.home:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
