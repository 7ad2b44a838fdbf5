"""Interval meter data: the month's NEM12 deliveries into the lake."""

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc

from bua_assets.assets.heavy import HEAVY
from bua_assets.assets.teams import team
from bua_assets.datasets import INTERVAL_FILES, REGISTER_PEAKS
from bua_assets.months import AccrualMonth
from bua_assets.nem12.deliveries import delivery_shortfalls, describe_shortfalls
from bua_assets.nem12.ingest import FILES_SCHEMA, ingest_month
from bua_assets.ops.anonymise import NEM12_COLUMNS, AnonymisingWriter
from bua_assets.partitions import month_check, monthly_partitions, months_window
from bua_assets.progress import progress_logger
from bua_assets.resources import AnonymiseResource, LakeResource, MeterDataResource

# The deliveries check compares each provider with last month's file log: a declared read of the
# previous month (one that does not exist yet is read as no deliveries).
previous_deliveries = dg.AssetDep("interval_reads", partition_mapping=months_window(-1, -1))


@dg.asset(
    partitions_def=monthly_partitions,
    kinds={"parquet", "duckdb"},
    **team("meter_data"),
    op_tags=HEAVY,
    deps=[previous_deliveries],
    check_specs=[
        month_check(
            "meter_data_deliveries",
            asset="interval_reads",
            description="every meter data provider delivered at least min_delivery_share "
            "of last month's register-days (WARN naming the provider)",
        )
    ],
    description="Register-days of interval data for the month (kWh per interval, quality per interval), "
    "latest delivery wins; everything not loaded (bad values, peaks implausible for the register, "
    "duplicate records, superseded deliveries, format errors) is in the quarantine dataset with a "
    "reason, as are deliveries created after the run and entries of the month's folder that cannot be "
    "read. register_peaks: each register's peak kW, judged against by next month.",
)
def interval_reads(
    context: dg.AssetExecutionContext, meter_data: MeterDataResource, lake: LakeResource, anonymise: AnonymiseResource
):
    key = context.partition_key
    month = AccrualMonth.from_key(key)
    entries = meter_data.month_entries(month.label)
    files = entries.files
    if not files:
        context.log.warning(f"no NEM12 files for {month} at {meter_data.location}")
    for u in entries.unread:
        context.log.warning(f"not read: {u.source}: {u.code}: {u.reason}")
    store = lake.lake()
    anonymiser = anonymise.anonymiser()
    # Last month's peak per register, when recorded: a register-day is judged against it too.
    previous = month.previous
    previous_peaks = REGISTER_PEAKS.read(store, previous.key) if REGISTER_PEAKS.exists(store, previous.key) else None
    with (
        store.partition_writer("interval_reads", key) as writer,
        tempfile.TemporaryDirectory(prefix="bua-nem12-") as work,
    ):
        write = (
            AnonymisingWriter(
                writer,
                anonymiser,
                {"interval_reads": NEM12_COLUMNS, "quarantine": NEM12_COLUMNS, "register_peaks": NEM12_COLUMNS},
            )
            if anonymiser
            else writer
        )
        summary = ingest_month(
            files,
            month.start,
            month.run_date,
            write.write,
            Path(work),
            max_demand_kw=meter_data.max_demand_kw,
            previous_peaks=previous_peaks,
            lake_nmi=(lambda nmis: anonymiser.column("nmi", nmis)) if anonymiser else None,
            peak_ratio=meter_data.peak_ratio,
            peak_floor_kw=meter_data.peak_floor_kw,
            unread=entries.unread,
            as_at=datetime.now(UTC),
            progress=progress_logger(context.log, "interval_reads"),
        )
        write.write("quarantine", summary.quarantine)
        writer.write("files", summary.files)
        write.write("register_peaks", summary.register_peaks)
    by_code = summary.quarantine.group_by("code").aggregate([("code", "count")]).to_pylist()
    yield dg.MaterializeResult(
        metadata={
            "rows": summary.interval_reads,
            "path": store.uri("interval_reads", key, "interval_reads"),
            "files": len(files),
            "entries_not_read": len(entries.unread),
            "files_rejected": int(pc.sum(summary.files["rejected"]).as_py() or 0),
            "registers": summary.registers,
            "quarantined": summary.quarantine.num_rows,
            "quarantine_by_code": dg.MetadataValue.json({r["code"]: r["code_count"] for r in by_code}),
        }
    )
    # Last month's file log of this same asset, when it was materialised (a declared read that does
    # not wait: a month never waits for the month before; without it there is no baseline).
    has_previous = INTERVAL_FILES.exists(store, previous.key)
    before = INTERVAL_FILES.read(store, previous.key) if has_previous else FILES_SCHEMA.empty_table()
    table = delivery_shortfalls(summary.files, before, meter_data.min_delivery_share)
    short = table[table["status"].isin(["missing", "below"])]
    yield dg.AssetCheckResult(
        check_name="meter_data_deliveries",
        passed=short.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=describe_shortfalls(table, meter_data.min_delivery_share)
        if has_previous
        else f"no file log for {previous} (interval_reads not materialised): nothing to compare deliveries against",
        metadata={
            "previous_month": previous.label,
            "min_delivery_share": meter_data.min_delivery_share,
            "short_providers": dg.MetadataValue.json(short["provider"].tolist()),
            "providers": dg.MetadataValue.json(json.loads(table.to_json(orient="records"))),
        },
    )
