"""CORE snapshot and extraction assets, with the schema-drift check."""

import dagster as dg

from bua_assets.assets.blocking import stop_on_blocking_failures
from bua_assets.assets.teams import team
from bua_assets.core import schema
from bua_assets.core.consistency import (
    FINDING_COLUMNS,
    FUTURE_HORIZON_DAYS,
    ConsistencyConfig,
    columns_needed,
    consistency_findings,
)
from bua_assets.core.consistency import summary as consistency_summary
from bua_assets.core.database import CoreDatabase
from bua_assets.core.extract import extract_core
from bua_assets.datasets import METER_REGISTER_TABLES
from bua_assets.months import AccrualMonth
from bua_assets.ops.anonymise import CORE_COLUMNS, AnonymisingWriter
from bua_assets.ops.rds import SOURCE_RELEASE, UNKNOWN_RELEASE
from bua_assets.partitions import month_check, monthly_partitions
from bua_assets.progress import progress_logger
from bua_assets.resources import AnonymiseResource, CoreDatabaseResource, LakeResource, RdsCoreResource
from bua_assets.run_records import core_snapshot_config


class CoreSnapshotConfig(dg.Config):
    """The EARL snapshot this month's run was started for (set by earl_snapshot_sensor)."""

    snapshot_identifier: str = ""
    snapshot_arn: str = ""
    source_account: str = ""


def core_database(core_db: CoreDatabaseResource, rds: RdsCoreResource, partition: str, snapshot: str) -> CoreDatabase:
    """The month's CORE: the RDS instance restored from the run's snapshot in production, else the
    configured database."""
    return CoreDatabase(rds.core_url(partition, snapshot)) if rds.enabled else core_db.database()


def requested_snapshot(config: CoreSnapshotConfig) -> str:
    return config.snapshot_arn or config.snapshot_identifier


def run_snapshot(context: dg.AssetExecutionContext) -> str:
    """The snapshot core_snapshot restored in this run (its run config; a re-execution keeps it), else
    the EARL sensor's run tag: the instance the month's other CORE reads go to."""
    configured = core_snapshot_config(context.run)
    snapshot = (
        configured.get("snapshot_arn")
        or configured.get("snapshot_identifier")
        or context.run.tags.get("bua/snapshot", "")
    )
    if not snapshot:
        raise dg.Failure(
            "RDS restore mode: this run names no snapshot (core_snapshot.config.snapshot_identifier or run tag "
            "bua/snapshot), so there is no restored instance to read CORE from"
        )
    return snapshot


@dg.asset(
    partitions_def=monthly_partitions,
    kinds={"mysql", "sqlite"},
    **team("core"),
    description="Where the month starts. The partition key is the accrual month (2026-10-01: October's accrual, "
    "from the snapshot taken at midnight on 1 November). Opens the month's CORE snapshot and checks it answers and holds the CORE tables. In "
    "production (rds mode 'restore') it first restores the EARL snapshot into its own RDS "
    "instance for the month (`bua-core-YYYYMM-<hash of the snapshot>`), or reuses it on a re-run on the same snapshot, "
    "and records CORE's release from the snapshot's core:release tag.",
)
def core_snapshot(
    context: dg.AssetExecutionContext, config: CoreSnapshotConfig, core_db: CoreDatabaseResource, rds: RdsCoreResource
) -> dg.MaterializeResult:
    restored: dict = {}
    snapshot = requested_snapshot(config)
    if rds.enabled:
        if not config.snapshot_identifier:
            raise dg.Failure(
                "RDS restore mode needs the month's snapshot (earl_snapshot_sensor sets "
                "core_snapshot.config.snapshot_identifier)"
            )
        r = rds.restore(snapshot, context.partition_key)
        for step in r.steps:
            context.log.info(step)
        if r.core_release == UNKNOWN_RELEASE:
            context.log.warning(f"snapshot {snapshot} carries no {SOURCE_RELEASE} tag: CORE release unknown")
        restored = {
            "rds_instance": r.instance_identifier,
            "rds_endpoint": f"{r.host}:{r.port}",
            "rds_reused": r.reused,
            "rds_snapshot": snapshot,
            "core_release": r.core_release,
        }
    db = core_database(core_db, rds, context.partition_key, snapshot)
    missing = sorted(set(schema.core_tables()) - set(db.observed_schema()))
    if missing:
        raise dg.Failure(f"CORE snapshot {db.url.redacted()} lacks tables: {', '.join(missing)}")
    counts = db.row_counts(list(schema.core_tables()))
    empty = [t for t in ("Account", "Utility", "MeterRegister", "Plan", "PlanRate") if not counts[t]]
    if empty:
        raise dg.Failure(f"CORE snapshot {db.url.redacted()} has no rows in: {', '.join(empty)}")
    return dg.MaterializeResult(
        metadata={
            "rows": sum(counts.values()),  # everything the snapshot holds across the CORE tables
            "path": db.url.redacted(),
            "engine": db.engine,
            "run_date": str(AccrualMonth.from_key(context.partition_key).run_date),
            "rows_by_table": dg.MetadataValue.json(counts),
            "accounts": counts["Account"],
            "snapshot_identifier": config.snapshot_identifier or "(none: the configured CORE database)",
            **restored,
        }
    )


class CoreTablesConfig(dg.Config):
    # a billed period (invoice or line item) reaching further than this past the snapshot is suspect
    future_horizon_days: int = FUTURE_HORIZON_DAYS


SHOWN_FINDINGS = 200  # rows of the consistency table in the check's metadata (the counts cover all)


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[core_snapshot],
    kinds={"parquet"},
    **team("core"),
    check_specs=[
        month_check(
            "schema_drift",
            asset="core_tables",
            blocking=True,
            description="CORE columns and types against sql/core/schema.sql",
        ),
        month_check(
            "consistency",
            asset="core_tables",
            blocking=True,
            description="ERROR: duplicate or null keys, rates or discounts repeated (PlanRate, "
            "PlanDiscount), references to missing "
            "accounts, supply points, plans or invoices, empty required "
            "tables, inverted account/tenancy/charge version periods; WARN "
            "(excepted downstream): inverted or far-future billed periods",
        ),
    ],
    description="The CORE tables the month needs, as of its run date: one Parquet dataset per table.",
)
def core_tables(
    context: dg.AssetExecutionContext,
    config: CoreTablesConfig,
    core_db: CoreDatabaseResource,
    rds: RdsCoreResource,
    lake: LakeResource,
    anonymise: AnonymiseResource,
):
    store, key = lake.lake(), context.partition_key
    run_date = AccrualMonth.from_key(key).run_date
    db = core_database(core_db, rds, key, run_snapshot(context) if rds.enabled else "")
    anonymiser = anonymise.anonymiser()
    with store.partition_writer("core_tables", key) as writer:
        target = AnonymisingWriter(writer, anonymiser, CORE_COLUMNS) if anonymiser else writer
        result = extract_core(
            db, target, run_date, progress=progress_logger(context.log, "core_tables: tables extracted")
        )
        if result.value_errors:
            # Report the drift first (a drifted column is often why a value fails), then stop with
            # every bad table named; the partition's staging is discarded, nothing half-written stays.
            yield drift_check(result.drift)
            raise dg.Failure(
                description="CORE values that cannot be read: " + "; ".join(str(e) for e in result.value_errors),
                metadata={
                    "value_errors": dg.MetadataValue.json([str(e) for e in result.value_errors]),
                    "schema_drift": dg.MetadataValue.json([str(f) for f in result.drift if f.blocking]),
                },
            )
    total = sum(result.rows.values())
    findings = consistency_findings(
        {
            t: store.read("core_tables", key, t, columns=cols).to_pandas(date_as_object=False)
            for t, cols in columns_needed().items()
        },
        run_date,
        ConsistencyConfig(config.future_horizon_days),
    )
    yield dg.MaterializeResult(
        metadata={
            "rows": total,
            "path": store.uri("core_tables", key),
            "rows_by_table": dg.MetadataValue.json(result.rows),
            "anonymised": anonymiser is not None,
            "excluded_as_at_run_date": dg.MetadataValue.json({k: v for k, v in result.excluded_as_at.items() if v}),
        }
    )
    checks = [drift_check(result.drift), consistency_check(findings)]
    yield from checks
    stop_on_blocking_failures("core_tables", checks)


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[core_snapshot],
    kinds={"parquet"},
    **team("core"),
    description="The CORE tables that say which register a NEM12 file's data belongs to and its profile segment "
    "(Utility, Meter, MeterRegister and their details, as of the month's run date): all a history month needs "
    "from CORE, so the go-live backfill of the profile window does not extract the whole of CORE for each month. "
    "Fails on a value that cannot be read or a blocking schema drift in these tables (core_tables' "
    "schema_drift check reports the month's drift in full).",
)
def meter_registers(
    context: dg.AssetExecutionContext,
    core_db: CoreDatabaseResource,
    rds: RdsCoreResource,
    lake: LakeResource,
    anonymise: AnonymiseResource,
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    db = core_database(core_db, rds, key, run_snapshot(context) if rds.enabled else "")
    anonymiser = anonymise.anonymiser()
    with store.partition_writer("meter_registers", key) as writer:
        target = AnonymisingWriter(writer, anonymiser, CORE_COLUMNS) if anonymiser else writer
        result = extract_core(db, target, AccrualMonth.from_key(key).run_date, only=set(METER_REGISTER_TABLES))
        problems = [str(e) for e in result.value_errors] + [str(f) for f in result.drift if f.blocking]
        if problems:
            raise dg.Failure(description="CORE's register tables cannot be read: " + "; ".join(problems))
    return dg.MaterializeResult(
        metadata={
            "rows": sum(result.rows.values()),
            "path": store.uri("meter_registers", key),
            "rows_by_table": dg.MetadataValue.json(result.rows),
            "anonymised": anonymiser is not None,
        }
    )


def drift_check(drift: list[schema.DriftFinding]) -> dg.AssetCheckResult:
    blocking = [f for f in drift if f.blocking]
    return dg.AssetCheckResult(
        check_name="schema_drift",
        passed=not blocking,
        severity=dg.AssetCheckSeverity.ERROR,
        description="; ".join(str(f) for f in blocking)
        or "CORE schema matches the contract"
        + "".join(
            f"; {f.table}.{f.column} absent (optional: read as NULL)"
            for f in drift
            if f.problem == "missing_column" and not f.blocking
        ),
        metadata={"findings": dg.MetadataValue.json([f.__dict__ for f in drift]), "blocking_findings": len(blocking)},
    )


def consistency_check(findings) -> dg.AssetCheckResult:
    errors = int((findings["severity"] == "ERROR").sum())
    counts = findings.groupby(["severity", "table", "column", "problem"]).size()
    return dg.AssetCheckResult(
        check_name="consistency",
        passed=findings.empty,
        severity=dg.AssetCheckSeverity.ERROR if errors else dg.AssetCheckSeverity.WARN,
        description=consistency_summary(findings),
        metadata={
            "findings": dg.MetadataValue.table(
                records=[dg.TableRecord(r) for r in findings.head(SHOWN_FINDINGS).to_dict("records")],
                schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in FINDING_COLUMNS]),
            ),
            "counts": dg.MetadataValue.json({" ".join(k): int(n) for k, n in counts.items()}),
            "error_findings": errors,
            "warn_findings": len(findings) - errors,
        },
    )
