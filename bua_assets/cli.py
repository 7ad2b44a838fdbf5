"""bua-assets: the command line.

    bua-assets demo [--accounts N] [--month YYYY-MM] [--home DIR] [--json]
    bua-assets generate --accounts N --seed S --as-at YYYY-MM-DD --history-months K [--core-url URL] [--out DIR]
    bua-assets nem12 inspect FILE [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import date
from pathlib import Path


def _latest_complete_month(today: date | None = None) -> str:
    today = today or date.today()
    y, m = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{y:04d}-{m:02d}"


def _log(msg: str) -> None:
    print(f"[bua] {msg}", file=sys.stderr, flush=True)


def cmd_generate(args) -> int:
    from bua_assets.settings import defaults
    from bua_assets.synth.generator import GeneratorConfig, generate

    out = Path(args.out or defaults().home / "retailer")
    core_url = args.core_url or f"sqlite:///{(out / 'core.db').resolve()}"
    config = GeneratorConfig(args.accounts, args.seed, date.fromisoformat(args.as_at), args.history_months)
    manifest = generate(config, out, core_url, progress=_log)
    print(json.dumps(manifest["counts"] | {"seconds": manifest["seconds"], "out": str(out)}))
    return 0


def cmd_demo(args) -> int:
    import dagster as dg

    from bua_assets.settings import defaults
    from bua_assets.synth.generator import GeneratorConfig, generate

    d = defaults(args.home)
    os.environ["BUA_HOME"] = str(d.home)
    month = args.month or _latest_complete_month()
    partition = f"{month}-01"
    retailer = d.home / "retailer"
    manifest_path = retailer / "manifest.json"
    first = date.fromisoformat(partition)
    as_at = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    wanted = {"accounts": args.accounts, "as_at": as_at.isoformat()}
    existing = json.loads(manifest_path.read_text())["config"] if manifest_path.exists() else None
    if not existing or existing.get("accounts") != wanted["accounts"] or existing.get("as_at") < wanted["as_at"]:
        _log(f"generating a synthetic retailer: {args.accounts} accounts, as at {as_at} -> {retailer}")
        generate(GeneratorConfig(args.accounts, 7, as_at, 13), retailer, d.core_url, progress=_log)
    else:
        _log(f"using the synthetic retailer in {retailer}")

    d.dagster_home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(d.dagster_home)
    from bua_assets.definitions import ALL_ASSETS, build_resources
    from bua_assets.runner import backfill_interval_history

    instance = dg.DagsterInstance.get()
    resources = build_resources()
    t0 = time.perf_counter()
    backfill_interval_history(partition, instance, resources, progress=_log)
    _log(f"materialising {len(ALL_ASSETS)} assets for partition {partition} (Dagster instance: {d.dagster_home})")
    result = dg.materialize(ALL_ASSETS, instance=instance, resources=resources, partition_key=partition,
                            raise_on_error=False)
    summary = {"partition": partition, "assets": {}, "checks": {}, "exports": []}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        name = mat.asset_key.to_user_string()
        meta = {k: v.value for k, v in mat.metadata.items()}
        summary["assets"][name] = {"rows": int(meta.get("rows", 0)), "path": str(meta.get("path", ""))}
        summary["exports"] += list(meta.get("export_paths", [])) + list(meta.get("integration_paths", []))
        _log(f"  {name}: {meta.get('rows')} rows -> {meta.get('path')}")
    for check in result.get_asset_check_evaluations():
        state = "passed" if check.passed else f"failed ({check.severity.value})"
        summary["checks"][f"{check.asset_key.to_user_string()}.{check.check_name}"] = state
        _log(f"  check {check.asset_key.to_user_string()}.{check.check_name}: {state}")
    ui = "./dev ui" if d.home == Path(".bua_home").resolve() else f"BUA_HOME={d.home} ./dev ui"
    _log(f"done in {time.perf_counter() - t0:.1f}s; open the UI with: {ui}")
    if args.json:
        print(json.dumps(summary))
    else:
        print(json.dumps(summary, indent=2))
    return 0 if result.success else 1


def cmd_nem12_inspect(args) -> int:
    from bua_assets.nem12.inspect import inspect_file

    summary, issues = inspect_file(Path(args.file))
    for issue in issues:
        print(f"{issue.severity}: {issue}", file=sys.stderr)
    if args.json:
        print(json.dumps(summary))
        return 0 if summary or not issues else 1
    if not summary:
        print("no readable data")
        return 1
    header = f"{'NMI':<11} {'suffix':<6} {'uom':<6} {'len':>3} {'first':<10} {'last':<10} {'days':>5} {'total kWh':>14}  quality"
    print(header)
    for s in summary:
        total = "" if s["total_kwh"] is None else f"{s['total_kwh']:.3f}"
        q = " ".join(f"{k}:{v}" for k, v in sorted(s["quality_counts"].items()))
        print(f"{s['nmi']:<11} {s['suffix']:<6} {s['uom']:<6} {s['interval_length']:>3} {s['first_date']:<10} "
              f"{s['last_date']:<10} {s['days']:>5} {total:>14}  {q}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bua-assets", description="Bottom-up accrued revenue on Dagster")
    sub = p.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run every asset for a month on the embedded default")
    demo.add_argument("--accounts", type=int, default=500)
    demo.add_argument("--month", help="YYYY-MM (default: the latest complete month)")
    demo.add_argument("--home", help="folder for the retailer, lake and Dagster instance (default ./.bua_home)")
    demo.add_argument("--json", action="store_true", help="last line of stdout is one JSON object")
    demo.set_defaults(func=cmd_demo)

    gen = sub.add_parser("generate", help="generate the synthetic retailer")
    gen.add_argument("--accounts", type=int, required=True)
    gen.add_argument("--seed", type=int, default=7)
    gen.add_argument("--as-at", required=True, help="run date YYYY-MM-DD: first day after the last month of data")
    gen.add_argument("--history-months", type=int, default=13)
    gen.add_argument("--core-url", help="sqlite:///path or mysql+pymysql://user:pw@host:3306/db")
    gen.add_argument("--out", help="folder for NEM12 files, truth and manifest")
    gen.set_defaults(func=cmd_generate)

    nem12 = sub.add_parser("nem12", help="NEM12 tools").add_subparsers(dest="nem12_command", required=True)
    ins = nem12.add_parser("inspect", help="summarise a NEM12 file (plain or .zip)")
    ins.add_argument("file")
    ins.add_argument("--json", action="store_true")
    ins.set_defaults(func=cmd_nem12_inspect)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
