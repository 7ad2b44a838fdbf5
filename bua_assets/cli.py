"""bua-assets: the command line (the synthetic retailer's generate and demo are bua-synth's).

bua-assets nem12 inspect FILE [--json]
bua-assets query "SQL" [--month YYYY-MM] [--format table|csv|parquet] [--output PATH] [--lake DIR|s3://...]
bua-assets promote --month YYYY-MM [--snapshot ID] [--accept-degraded REASON] [--list]
bua-assets housekeeping [--dry-run]
bua-assets period --from YYYY-MM-01 --to YYYY-MM-DD [--rerun] [--home DIR] [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime
from pathlib import Path

from bua_assets.datasets import ACCRUAL_SUMMARY, BUA_ACCOUNT_SUMMARY
from bua_assets.months import AccrualMonth


def _latest_complete_month(today: date | None = None) -> str:
    return AccrualMonth.containing(today or date.today()).previous.label


def period_problem(start: str, end: str, today: date) -> str | None:
    """Why ``period --from start --to end`` cannot run (None: it can), decided before anything runs:
    dates, whole months, within the partitions and only months that have ended (as ``demo``)."""
    from bua_assets.billing.period import period_partitions
    from bua_assets.partitions import FIRST_MONTH

    latest = _latest_complete_month(today)
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        return f"--from {start!r} / --to {end!r}: use dates YYYY-MM-DD (e.g. --from {latest}-01)"
    try:
        keys = period_partitions(first, last)
    except ValueError as exc:
        return str(exc)
    if keys[0] < FIRST_MONTH:
        return (
            f"--from {start} is before the first partition ({AccrualMonth.from_key(FIRST_MONTH)}): "
            f"there is no such month to run"
        )
    if AccrualMonth.from_key(keys[-1]).label > latest:
        return (
            f"--to {end} is in a month that has not ended yet (today is {today}): the latest complete month is {latest}"
        )
    return None


def _log(msg: str) -> None:
    print(f"[bua] {msg}", file=sys.stderr, flush=True)


def _event_log_file(home: Path, command: str, partition: str) -> Path:
    """Where a CLI run's Dagster event log goes: one file per command, month and start time."""
    return home / "logs" / f"{command}-{partition[:7]}-{datetime.now():%Y%m%dT%H%M%S}.log"


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
        print(
            f"{s['nmi']:<11} {s['suffix']:<6} {s['uom']:<6} {s['interval_length']:>3} {s['first_date']:<10} "
            f"{s['last_date']:<10} {s['days']:>5} {total:>14}  {q}"
        )
    return 0


# --- operations (issue 16): analyst queries, promotion, multi-month periods ---------------------
def _lake_for(args):
    from bua_assets.definitions import build_resources
    from bua_assets.resources import LakeResource

    lake = build_resources()["lake"].process_config_and_initialize()  # BUA_LAKE, as the assets write it
    if args.lake:
        lake = LakeResource(base=args.lake, endpoint_url=lake.endpoint_url, region_name=lake.region_name)
    return lake.lake()


def cmd_query(args) -> int:
    from bua_assets.analyst import describe_views, run_query, write_result

    lake = _lake_for(args)
    try:
        table = (
            describe_views(lake, args.month)
            if args.sql.strip().lower() == "views"
            else run_query(lake, args.sql, args.month)
        )
        text = write_result(table, args.format, args.output)
    except (ValueError, LookupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - DuckDB's own message names the view or column
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if text is not None:
        sys.stdout.write(text)
    else:
        _log(f"{table.num_rows} rows -> {args.output}")
    return 0


def _export_targets():
    """The export and integration bases: bua_export's own resource (BUA_EXPORT_BASE, ...)."""
    from bua_assets.definitions import build_resources

    return build_resources()["export"].process_config_and_initialize().targets()


def cmd_preflight(args) -> int:
    """Exit 0 when every probe passes, 1 naming each that does not (bua_assets/preflight_job.py)."""
    import re

    from bua_assets.definitions import build_resources
    from bua_assets.preflight_job import preflight_findings

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        print(f"bua-assets preflight: --month {args.month!r} is not YYYY-MM", file=sys.stderr)
        return 2
    names = ("core_db", "rds", "lake", "meter_data", "export", "earl_queue", "notify", "eks")
    resources = build_resources()
    findings = preflight_findings(args.month, **{n: resources[n] for n in names})
    if args.json:
        print(
            json.dumps({"month": args.month, "ok": all(f.ok for f in findings), "checks": [vars(f) for f in findings]})
        )
    else:
        for f in findings:
            print(f)
    return 0 if all(f.ok for f in findings) else 1


def cmd_promote(args) -> int:
    from zoneinfo import ZoneInfo

    from bua_assets.analyst import month_partition
    from bua_assets.billing.rehearsal import (
        export_listing,
        exported_snapshots,
        latest_month_end_export,
        promoted_manifest,
        run_date_folder,
    )
    from bua_assets.settings import time_zone_name

    try:
        month = AccrualMonth.from_key(month_partition(args.month))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    accepted = getattr(args, "accept_degraded", None)
    if accepted is not None and not accepted.strip():
        print("error: --accept-degraded needs the reason the degraded month is published", file=sys.stderr)
        return 2
    export, integration = _export_targets()
    snapshots = exported_snapshots(export, month)
    official = (promoted_manifest(integration, month) or {}).get("snapshot")
    if args.list or not snapshots:
        for line in export_listing(snapshots, official):
            print(line)
        if not snapshots:
            print(f"no exports for {month} under {export.uri(run_date_folder(month))}", file=sys.stderr)
            return 1
        return 0
    snapshot = args.snapshot
    if not snapshot:  # the latest real month-end snapshot
        chosen = latest_month_end_export(snapshots, month, ZoneInfo(time_zone_name()))
        if chosen is None:
            print(
                f"error: no month-end snapshot exported for {month}; name one with --snapshot "
                f"({', '.join(m['snapshot'] for m in snapshots)})",
                file=sys.stderr,
            )
            return 2
        snapshot = chosen["snapshot"]
    return _promote_and_report(export, integration, month, snapshot, official, accepted)


def _promote_and_report(export, integration, month: AccrualMonth, snapshot: str, official, accepted) -> int:
    """Promote, say what happened (stderr) and print the JSON record (stdout); exit code."""
    import getpass

    from bua_assets.billing.degraded import Acceptance
    from bua_assets.billing.rehearsal import DegradedExport, promote, promoted_manifest

    try:
        operator = getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        operator = "unknown"
    acceptance = Acceptance.given(accepted, by=operator, via="bua-assets promote --accept-degraded")
    try:
        paths = promote(export, integration, month, snapshot, acceptance, by=operator)
    except DegradedExport as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    promoted = promoted_manifest(integration, month) or {}
    recorded = promoted.get("accepted_degraded")
    if acceptance is not None and recorded is None:
        _log(f"{snapshot} for {month} is not degraded: --accept-degraded was not needed and is not recorded")
    _log(
        f"promoted {snapshot} for {month} (was {official or 'none'}): {paths[-1]}"
        + (f"; degraded month accepted by {recorded['by']}: {recorded['reason']!r}" if recorded else "")
    )
    retired = _retire_superseded(month, snapshot)
    print(
        json.dumps(
            {
                "month": month.label,
                "snapshot": snapshot,
                "previous": official,
                "integration": paths,
                "accepted_degraded": recorded,
                "retired_rds": retired,
            }
        )
    )
    return 0


def _retire_superseded(month: AccrualMonth, snapshot: str) -> list[str]:
    """After a promotion: the month's RDS instances and copies of other snapshots deleted (rds mode restore)."""
    from bua_assets.billing.rehearsal import NO_SNAPSHOT
    from bua_assets.definitions import build_resources

    rds = build_resources()["rds"].process_config_and_initialize()
    if not rds.enabled or snapshot == NO_SNAPSHOT:
        return []
    retired = rds.retire_superseded(month.key, snapshot)
    for line in retired:
        _log(line if line.startswith("deleted") else f"warning: {line}")
    return retired


def cmd_housekeeping(args) -> int:
    """Expired bua-managed RDS instances and copies deleted (or, with --dry-run, listed); each month's
    official snapshot's kept. Exit 1 when one could not be deleted."""
    from bua_assets.definitions import build_resources
    from bua_assets.jobs import housekeeping

    resources = build_resources()
    rds = resources["rds"].process_config_and_initialize()
    if not rds.enabled:
        _log("BUA_RDS_MODE is not restore: no RDS instances or copies to look after")
        return 0
    done = housekeeping(rds, resources["export"].process_config_and_initialize(), dry_run=args.dry_run)
    for line in done:
        print(line)
    if not done:
        _log(f"nothing past the retention (BUA_RDS_RETENTION_DAYS={rds.retention_days:g} days)")
    return 1 if any(line.startswith("could not") for line in done) else 0


def _run_period_months(keys, args, lake, instance, resources) -> bool:
    """One run of each monthly partition not yet in the lake (all with --rerun); False at the first failure."""
    from bua_assets.runner import HistoryBeforeFirstPartition, HistoryFailed, run_month

    for key in keys:
        month = AccrualMonth.from_key(key)
        if ACCRUAL_SUMMARY.exists(lake, key) and not args.rerun:
            _log(f"{month}: already in the lake ({lake.uri('accrual_summary', key)}), not re-run")
            continue
        event_log = _event_log_file(Path(os.environ["BUA_HOME"]), "period", key)
        _log(f"{month}: materialising its interval history, then the month (Dagster's event log: {event_log})")
        tags = {"bua/period": f"{args.start}..{args.end}"}
        try:
            result = run_month(key, instance, resources, event_log=event_log, tags=tags, progress=_log)
        except HistoryBeforeFirstPartition as exc:
            print(f"error: {exc}", file=sys.stderr)
            return False
        except HistoryFailed as exc:
            print(
                f"error: the interval history for {month} failed: {exc}; fix it and run the period again",
                file=sys.stderr,
            )
            return False
        if not result.success:
            print(
                f"error: the run for {month} failed (run {result.run_id}); fix it and run the period again",
                file=sys.stderr,
            )
            return False
    return True


def cmd_period(args) -> int:

    from bua_assets.billing.period import combine_period, period_partitions
    from bua_assets.local_instance import local_instance
    from bua_assets.settings import use_home

    problem = period_problem(args.start, args.end, date.today())
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    keys = period_partitions(date.fromisoformat(args.start), date.fromisoformat(args.end))
    use_home(args.home, keep_dagster_home=True)  # before the definitions load: they read BUA_HOME
    from bua_assets.definitions import build_resources

    # EnvVars resolved now: the history backfill also calls the resources outside a run
    resources = {name: r.process_config_and_initialize() for name, r in build_resources().items()}
    lake = _lake_for(argparse.Namespace(lake=None))
    with local_instance() as instance:
        if not _run_period_months(keys, args, lake, instance, resources):
            return 1
    months = {
        k: (
            ACCRUAL_SUMMARY.read(lake, k).to_pandas(),
            BUA_ACCOUNT_SUMMARY.read(lake, k).to_pandas(),
        )
        for k in keys
    }
    by_month, combined = combine_period(months)
    import pyarrow as pa

    from bua_assets.analyst import format_table, write_result

    if args.output:
        write_result(pa.Table.from_pandas(combined, preserve_index=False), args.format, args.output)
        stem = Path(args.output)
        write_result(
            pa.Table.from_pandas(by_month, preserve_index=False),
            args.format,
            str(stem.with_name(f"{stem.stem}_by_month{stem.suffix}")),
        )
    print(f"Accrual {args.start} to {args.end} ({len(keys)} months), by month:")
    print(format_table(pa.Table.from_pandas(by_month, preserve_index=False)))
    print("Combined:")
    print(format_table(pa.Table.from_pandas(combined, preserve_index=False)))
    return 0


def _add_operations_commands(sub) -> None:
    q = sub.add_parser("query", help="SQL (DuckDB) over the lake's datasets as named views; 'views' lists them")
    q.add_argument("sql", help="a query, e.g. \"select * from accrual_summary\", or 'views'")
    q.add_argument("--month", help="YYYY-MM: only that month's partition in every view")
    q.add_argument("--format", default="table", choices=["table", "csv", "parquet"])
    q.add_argument("--output", help="write to this file (needed for parquet)")
    q.add_argument("--lake", help="the lake (default BUA_LAKE, else BUA_HOME/lake)")
    q.set_defaults(func=cmd_query)

    pr = sub.add_parser("promote", help="make one snapshot's export of a month the official one (integration prefix)")
    pr.add_argument("--month", required=True, help="YYYY-MM")
    pr.add_argument("--snapshot", help="the snapshot identifier (default: the latest month-end snapshot exported)")
    pr.add_argument(
        "--accept-degraded",
        metavar="REASON",
        help="promote a degraded month's export anyway, recording this reason, who and when",
    )
    pr.add_argument("--list", action="store_true", help="list the month's exported snapshots (* = official)")
    pr.set_defaults(func=cmd_promote)

    pf = sub.add_parser("preflight", help="check every part a month's run needs answers, before running it")
    pf.add_argument("--month", required=True, help="YYYY-MM, the accrual month about to run")
    pf.add_argument("--json", action="store_true", help="one JSON object on stdout")
    pf.set_defaults(func=cmd_preflight)

    hk = sub.add_parser(
        "housekeeping",
        help="delete bua-managed RDS instances and snapshot copies older than BUA_RDS_RETENTION_DAYS "
        "(each month's official snapshot's kept)",
    )
    hk.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    hk.set_defaults(func=cmd_housekeeping)

    pe = sub.add_parser("period", help="accrue a period of whole months: each monthly partition, totals combined")
    pe.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD, a first of the month")
    pe.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD, a last day of a month")
    pe.add_argument("--rerun", action="store_true", help="re-run months already in the lake")
    pe.add_argument("--home", help="as for demo (default ./.bua_home)")
    pe.add_argument("--format", default="csv", choices=["table", "csv", "parquet"])
    pe.add_argument("--output", help="write the combined totals here (and <name>_by_month beside it)")
    pe.set_defaults(func=cmd_period)


# --- end operations -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bua-assets", description="Bottom-up accrued revenue on Dagster")
    sub = p.add_subparsers(dest="command", required=True)

    nem12 = sub.add_parser("nem12", help="NEM12 tools").add_subparsers(dest="nem12_command", required=True)
    ins = nem12.add_parser("inspect", help="summarise a NEM12 file (plain or .zip)")
    ins.add_argument("file")
    ins.add_argument("--json", action="store_true")
    ins.set_defaults(func=cmd_nem12_inspect)

    _add_operations_commands(sub)

    args = p.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
