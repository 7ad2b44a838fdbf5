"""bua-synth: the development tooling's command line.

bua-synth demo [--accounts N] [--month YYYY-MM] [--home DIR] [--json]
bua-synth generate --accounts N --seed S --as-at YYYY-MM-DD --history-months K [--core-url URL] [--out DIR]
    [--load-model rich|simple|alt|package.module:Name]

``demo`` generates a synthetic retailer in a home (if none fits) and runs the product's month on it
with the product's own pieces (local instance, quiet runs, the month at a glance)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from bua_assets.billing.glance import glance_text, read_month_at_a_glance
from bua_assets.cli import _event_log_file, _latest_complete_month, _log
from bua_assets.months import AccrualMonth, first_of_month_before


def demo_month_problem(month: str, today: date, existing: dict | None, accounts: int) -> str | None:
    """Why ``demo --month`` cannot run this month (None: it can), decided before anything is generated.

    ``existing``: the config of the retailer already in the home (its manifest), if any; it is
    reused when it has ``accounts`` accounts and reaches past the month, so the month must lie
    inside its data."""
    from bua_assets.partitions import FIRST_MONTH

    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        return f"--month {month!r} is not a month: use YYYY-MM, e.g. {_latest_complete_month(today)}"
    if first < date.fromisoformat(FIRST_MONTH):
        return f"--month {month} is before the first partition ({AccrualMonth.from_key(FIRST_MONTH)}): there is no such month to run"
    latest = _latest_complete_month(today)
    if month > latest:
        return f"--month {month} has not ended yet (today is {today}): the latest complete month is {latest}"
    if existing and existing.get("accounts") == accounts and existing["as_at"] > first.isoformat():
        as_at = date.fromisoformat(existing["as_at"])
        data_from = first_of_month_before(as_at, int(existing.get("history_months", 13)))
        if first < data_from:
            return (
                f"--month {month} is outside the retailer already in this home (data from {data_from:%Y-%m} to "
                f"{first_of_month_before(as_at, 1):%Y-%m}): choose a month in it, or another --home for a new "
                f"retailer"
            )
    return None


LOAD_MODELS = ("rich", "simple", "alt")


def load_model(spec: str):
    """The synthetic world's load model (generate --load-model): one of LOAD_MODELS, or any other
    world as ``package.module:Name`` (a class, or a factory, returning an object with the
    bua_synth.load.LoadModel methods), so a world written elsewhere plugs in without changing us."""
    if spec in LOAD_MODELS:
        from bua_synth.alt import AltLoad
        from bua_synth.load import SimpleLoad
        from bua_synth.rich import RichLoad

        return {"rich": RichLoad, "simple": SimpleLoad, "alt": AltLoad}[spec]()
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{spec!r}: expected one of {', '.join(LOAD_MODELS)} or package.module:Name")
    import importlib

    try:
        model = getattr(importlib.import_module(module_name), attr)()
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"{spec!r}: cannot load it ({exc})") from exc
    missing = [m for m in ("prepare", "half_hourly", "gas_network_daily") if not callable(getattr(model, m, None))]
    if missing or not isinstance(getattr(model, "name", None), str):
        raise ValueError(f"{spec!r} is not a load model: it needs a name and {', '.join(missing) or 'the methods'}")
    return model


def _load_model_arg(spec: str) -> str:
    """argparse type: the spec if it loads (a clear usage error otherwise)."""
    try:
        load_model(spec)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return spec


def cmd_generate(args) -> int:
    from bua_assets.settings import defaults
    from bua_synth.generator import GeneratorConfig, generate

    out = Path(args.out or defaults().home / "retailer")
    core_url = args.core_url or f"sqlite:///{(out / 'core.db').resolve()}"
    config = GeneratorConfig(args.accounts, args.seed, date.fromisoformat(args.as_at), args.history_months)
    manifest = generate(config, out, core_url, progress=_log, load_model=load_model(args.load_model))
    print(json.dumps(manifest["counts"] | {"seconds": manifest["seconds"], "out": str(out)}))
    return 0


def cmd_demo(args) -> int:

    from bua_assets.settings import use_home
    from bua_synth.generator import GeneratorConfig, generate

    d = use_home(args.home)  # before the definitions load: they read BUA_HOME
    month = args.month or _latest_complete_month()
    retailer = d.home / "retailer"
    manifest_path = retailer / "manifest.json"
    existing = json.loads(manifest_path.read_text())["config"] if manifest_path.exists() else None
    problem = demo_month_problem(month, date.today(), existing, args.accounts)
    if problem:
        _log(f"error: {problem}")
        return 2
    accrual = AccrualMonth.from_key(month)
    partition, as_at = accrual.key, accrual.run_date
    wanted = {"accounts": args.accounts, "as_at": as_at.isoformat()}
    if not existing or existing.get("accounts") != wanted["accounts"] or existing.get("as_at") < wanted["as_at"]:
        _log(f"generating a synthetic retailer: {args.accounts} accounts, as at {as_at} -> {retailer}")
        generate(GeneratorConfig(args.accounts, 7, as_at, 13), retailer, d.core_url, progress=_log)
    else:
        _log(f"using the synthetic retailer in {retailer}")

    from bua_assets.definitions import build_resources
    from bua_assets.local_instance import local_instance
    from bua_assets.run_records import metadata_values
    from bua_assets.runner import HistoryBeforeFirstPartition, HistoryFailed, run_month

    instance = local_instance()  # created and migrated once, even with other first runs at once
    resources = build_resources()
    event_log = _event_log_file(d.home, "demo", partition)
    _log(f"Dagster's event log: {event_log} (Dagster instance: {d.dagster_home})")
    t0 = time.perf_counter()
    try:
        result = run_month(partition, instance, resources, event_log=event_log, progress=_log)
    except HistoryBeforeFirstPartition as exc:
        _log(f"error: {exc}")
        return 1
    except HistoryFailed as exc:
        _log(f"error: the interval history for {accrual} failed: {exc}; see {event_log}")
        return 1
    assets: dict[str, dict] = {}
    checks: dict[str, str] = {}
    exports: list[str] = []
    for event in result.get_asset_materialization_events():
        mat = event.step_materialization_data.materialization
        name = mat.asset_key.to_user_string()
        meta = metadata_values(mat)
        assets[name] = {"rows": int(meta.get("rows", 0)), "path": str(meta.get("path", ""))}
        exports += list(meta.get("export_paths", [])) + list(meta.get("integration_paths", []))
        _log(f"  {name}: {meta.get('rows')} rows -> {meta.get('path')}")
    for check in result.get_asset_check_evaluations():
        state = "passed" if check.passed else f"failed ({check.severity.value})"
        checks[f"{check.asset_key.to_user_string()}.{check.check_name}"] = state
        _log(f"  check {check.asset_key.to_user_string()}.{check.check_name}: {state}")
    summary: dict[str, object] = {"partition": partition, "assets": assets, "checks": checks, "exports": exports}
    ui = "./dev ui" if d.home == Path(".bua_home").resolve() else f"BUA_HOME={d.home} ./dev ui"
    _log(f"done in {time.perf_counter() - t0:.1f}s; open the UI with: {ui}")
    glance = read_month_at_a_glance(resources["lake"].lake(), partition)
    if glance is not None:
        summary["accrual"] = json.loads(glance.to_json(orient="records"))  # NaN -> null
    if args.json:
        print(json.dumps(summary))
        return 0 if result.success else 1
    print(json.dumps(summary, indent=2))
    if glance is not None:  # what finance looks for first, last on the terminal
        print(f"\nAccrual (ex-GST, less expected discounts) {accrual.label} against {accrual.previous.label}:")
        print(glance_text(glance, accrual.label, accrual.previous.label))
    else:
        print("\nNo accrual for the month: see the failed checks above.")
    return 0 if result.success else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bua-synth", description="Synthetic retailers and the demo month")
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
    gen.add_argument(
        "--load-model",
        type=_load_model_arg,
        default="rich",
        help="the consumption process: rich (default), simple (the original), alt (the held-out world), "
        "or another world as package.module:Name (a bua_synth.load.LoadModel)",
    )
    gen.set_defaults(func=cmd_generate)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
