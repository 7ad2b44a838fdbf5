"""Profile assets (DESIGN §5.3): utility, segment and macro profiles, micro scalars, and the
profile_validation check. Each asset reads the lake, calls the pure estimation modules and
writes its datasets."""

from collections.abc import Sequence

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.assets.blocking import stop_on_blocking_failures
from bua_assets.assets.core import core_tables, meter_registers
from bua_assets.assets.heavy import HEAVY
from bua_assets.assets.lake_reads import (
    HISTORY_BACKFILL,
    HISTORY_MONTHS,
    basic_reads_of,
    history_months,
    macro_of,
    profile_window,
    recent_register_days,
    registers_for,
    registers_of,
    with_file_and_line,
)
from bua_assets.assets.metadata import table_metadata
from bua_assets.assets.meter_data import interval_reads
from bua_assets.assets.teams import team
from bua_assets.assets.writing import write_month
from bua_assets.datasets import (
    MICRO_SCALAR_EXCEPTIONS,
    MICRO_SCALARS,
    MONTH_SEGMENT_SUMS,
    PROFILE_HISTORY_MONTHS,
    READ_INTERVALS,
    REGISTER_STATS,
    REGISTER_TOTALS,
    SEGMENT_PROFILE,
    SEGMENT_SUMS,
    UNMATCHED_INTERVAL_DAYS,
    UTILITY_PROFILE_SUMMARY,
)
from bua_assets.estimation import profiles as prof
from bua_assets.estimation.intervals import READ_COLUMNS
from bua_assets.estimation.micro_scalars import micro_scalars as compute_micro_scalars
from bua_assets.estimation.profile_checks import MAX_FILL_SHARE, MAX_INTERVAL_KWH, profile_findings
from bua_assets.months import AccrualMonth
from bua_assets.partitions import FIRST_MONTH, before_first_partition, month_check, monthly_partitions, months_window
from bua_assets.progress import progress_logger
from bua_assets.resources import EksNodegroupResource, LakeResource

# Each month's interval data is reduced once to additive statistics (interval_statistics); the
# 12-month profiles combine the statistics of the months up to and including the partition's.
statistics_history = dg.AssetDep("interval_statistics", partition_mapping=months_window(-(HISTORY_MONTHS - 1)))


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[interval_reads, meter_registers],
    kinds={"parquet", "numpy"},
    **team("profiles"),
    op_tags=HEAVY,
    description="The month's interval data reduced once to additive statistics (5/15-minute data as 30): "
    "register-day totals; per register x day type x half hour the sum, sum of squares and count "
    "of actual kWh; per segment x date x half hour the kWh of fully actual days and the registers "
    "behind it (registers and segments as of the month's CORE). The 12-month profiles add twelve "
    "of these, so a late NEM12 revision recomputes one month.",
)
def interval_statistics(
    context: dg.AssetExecutionContext, lake: LakeResource, eks: EksNodegroupResource
) -> dg.MaterializeResult:
    with eks.scaled_up(context.log, holder=f"interval_statistics:{context.partition_key}"):
        return _interval_statistics(context, lake)


def _interval_statistics(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    window = prof.Window(*AccrualMonth.from_key(key).span)
    _, segments, interval = registers_for(store, key, window)
    month_pass = prof.HistoryPass(interval, len(segments), window)
    batches = store.iter_batches("interval_reads", key, "interval_reads", columns=READ_COLUMNS)
    report = progress_logger(context.log, "interval_statistics")
    total = store.rows("interval_reads", key, "interval_reads")
    done = 0
    for batch in batches:
        month_pass.add(batch)
        done += batch.num_rows
        report(done, total, "register-days")
    history = month_pass.finish()
    history.unit_mismatch = with_file_and_line(store, key, history.unit_mismatch)
    tables = prof.month_statistics(interval, segments, history, window)
    with store.partition_writer("interval_statistics", key) as writer:
        for name, table in tables.items():
            writer.write(name, table)
    return dg.MaterializeResult(
        metadata={
            "rows": tables["register_days"].num_rows,
            "path": store.uri("interval_statistics", key),
            "registers_with_data": tables["register_totals"].num_rows,
            "segments": len(segments),
            "unmatched_register_days": int(pc.sum(tables["unmatched"]["register_days"]).as_py() or 0),
        }
    )


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[meter_registers, statistics_history],
    kinds={"parquet", "numpy"},
    **team("profiles"),
    description="Per interval register over the 12 months to month end, combined from the months' "
    "interval_statistics: UtilityProfile (day type x half hour statistics of actual data), "
    "UtilityProfileVariance (against its segment), UtilityProfileSummary (coverage, share "
    "estimated, ADU) and the raw segment sums the segment profiles start from.",
)
def utility_profiles(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    window = profile_window(key)
    registers, segments, interval = registers_for(store, key, window)
    combination = prof.MonthlyCombination(interval, segments, window)
    months = history_months(key)
    missing = [m for m in months if not REGISTER_STATS.exists(store, m)]
    for m in months:
        if m not in missing:
            combination.add(
                *(
                    d.read(store, m)
                    for d in (REGISTER_STATS, MONTH_SEGMENT_SUMS, REGISTER_TOTALS, UNMATCHED_INTERVAL_DAYS)
                )
            )
    if missing:
        context.log.warning(
            f"interval_statistics missing for {len(missing)} of {len(months)} history months: "
            f"{missing}; materialise {HISTORY_BACKFILL} for them (a backfill) "
            "for full profiles"
        )
    history = combination.finish()
    summary = prof.utility_profile_summary(interval, history, window)
    with store.partition_writer("utility_profiles", key) as writer:
        writer.write("registers", pa.Table.from_pandas(registers, preserve_index=False))
        writer.write(
            "utility_profile", pa.Table.from_pandas(prof.utility_profile(interval, history), preserve_index=False)
        )
        writer.write(
            "utility_profile_variance",
            pa.Table.from_pandas(prof.utility_profile_variance(interval, history), preserve_index=False),
        )
        writer.write("utility_profile_summary", pa.Table.from_pandas(summary, preserve_index=False))
        writer.write(
            "segment_sums", prof.dense_to_table(segments, window, history.segment_sum, history.segment_registers)
        )
        writer.write("unmatched_interval_data", history.unmatched)
        # Which months of the window had interval statistics: profile_validation names the gaps.
        writer.write("history_months", pa.table({"month": months, "present": [m not in missing for m in months]}))
    return dg.MaterializeResult(
        metadata={
            "rows": len(summary),
            "path": store.uri("utility_profiles", key),
            "window": f"{window.start} to {window.end}",
            "history_months_missing": dg.MetadataValue.json(missing),
            "interval_registers": len(interval),
            "profile_registers": int(interval["profile_register"].sum()),
            "segments": len(segments),
            "median_coverage": float(summary["coverage"].median()) if len(summary) else 0.0,
            "unmatched_register_days": int(sum(history.unmatched["register_days"].to_pylist())),
        }
    )


class SegmentProfilesConfig(dg.Config):
    min_registers: int = prof.DEFAULT_MIN_REGISTERS  # fewer registers behind a segment-day: filled
    max_fill_share: float = MAX_FILL_SHARE  # profile_validation warns when a segment is filled more than this
    max_interval_kwh: float = MAX_INTERVAL_KWH  # an average register-half-hour above this is absurd


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[utility_profiles],
    kinds={"parquet", "numpy"},
    **team("profiles"),
    check_specs=[
        month_check(
            "profile_validation",
            asset="segment_profiles",
            blocking=True,
            description="every segment covers every date and half hour of the window, "
            "values non-negative and plausible, fills within limits",
        )
    ],
    description="Average actual kWh per register, per segment (RES/BUS x jurisdiction x stream type) x "
    "date x half hour; entries from too few registers are filled from equivalent records, "
    "each fill recorded with its reason and source.",
)
def segment_profiles(context: dg.AssetExecutionContext, config: SegmentProfilesConfig, lake: LakeResource):
    store, key = lake.lake(), context.partition_key
    window = profile_window(key)
    names, sums, counts = prof.table_to_dense(SEGMENT_SUMS.read(store, key))
    result = prof.segment_profiles(names, sums, counts, window, config.min_registers)
    with store.partition_writer("segment_profiles", key) as writer:
        writer.write(
            "segment_profile", prof.dense_to_table(names, window, result.values, result.registers, result.status)
        )
        writer.write("fills", pa.Table.from_pandas(result.fills, preserve_index=False))
    yield dg.MaterializeResult(
        metadata={
            "rows": len(names) * window.days,
            "path": store.uri("segment_profiles", key),
            "segments": len(names),
            "filled_entries": int((result.status == "FILLED").sum()),
            "missing_entries": int((result.status == "MISSING").sum()),
        }
    )
    summary = UTILITY_PROFILE_SUMMARY.read(store, key).to_pandas()
    history = (
        PROFILE_HISTORY_MONTHS.read(store, key).to_pandas()
        if PROFILE_HISTORY_MONTHS.exists(store, key)
        else pd.DataFrame({"month": [], "present": []})
    )
    check = validate_profiles(result, summary, config, history["month"][~history["present"].astype(bool)].tolist())
    yield check
    stop_on_blocking_failures("segment_profiles", [check])


def validate_profiles(
    result: prof.SegmentProfiles,
    summary: pd.DataFrame,
    config: SegmentProfilesConfig,
    missing_history: Sequence[str] = (),
) -> dg.AssetCheckResult:
    """The profile_validation check from profile_checks.profile_findings. ``missing_history``:
    months of the window without interval statistics, said first."""
    found = profile_findings(result, summary, config.max_interval_kwh, config.max_fill_share, missing_history)
    errors, over, missing_history = found.errors, found.over_filled, found.missing_history
    severity = dg.AssetCheckSeverity.ERROR if len(errors) else dg.AssetCheckSeverity.WARN
    unreachable = [m for m in missing_history if before_first_partition(m)]
    reachable = [m for m in missing_history if not before_first_partition(m)]
    history_note = (
        f"profile history missing for {len(reachable)} months "
        f"({', '.join(m[:7] for m in reachable)}): no interval_statistics for them, "
        f"materialise {HISTORY_BACKFILL} for those months (a backfill), then "
        'redo this month from utility_profiles (Lineage filter key:"utility_profiles"+ -> '
        "Materialize all), not Re-execute From failure: utility_profiles was built without them; "
        if reachable
        else ""
    ) + (
        f"profile history missing for {len(unreachable)} months before the first partition "
        f"({FIRST_MONTH[:7]}, BUA_FIRST_MONTH): {', '.join(m[:7] for m in unreachable)} cannot be "
        f"materialised; if the retailer has NEM12 files for them, set BUA_FIRST_MONTH={unreachable[0][:7]} "
        "(or earlier), backfill them and redo this month from utility_profiles, else this month has "
        "fewer months of history than its profile window (BUA_PROFILE_HISTORY_MONTHS); "
        if unreachable
        else ""
    )
    return dg.AssetCheckResult(
        check_name="profile_validation",
        passed=found.passed,
        severity=severity,
        description=history_note
        + (f"{len(errors)} segments with missing, negative or absurd entries; " if len(errors) else "")
        + (
            f"{len(over)} segments filled over {config.max_fill_share:.0%} of days"
            if len(over)
            else "fills within limits"
        ),
        metadata={
            "segments": table_metadata(
                found.segments,
                {"missing_days": "int", "negative_days": "int", "absurd_days": "int", "fill_share": "float"},
            ),
            # a segment both in error and over-filled is listed once
            "failing_segments": dg.MetadataValue.json(
                list(dict.fromkeys(errors["segment"].tolist() + over["segment"].tolist()))
            ),
            "history_months_missing": dg.MetadataValue.json([m[:7] for m in missing_history]),
            "register_coverage": dg.MetadataValue.json(found.coverage_summary()),
            "lowest_coverage_registers": table_metadata(
                found.lowest_coverage, {"register_id": "int", "coverage": "float", "days_with_data": "int"}
            ),
        },
    )


class MacroProfilesConfig(dg.Config):
    min_registers: int = prof.DEFAULT_MIN_REGISTERS  # fewer registers behind a segment-day's typical day: wider group


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[segment_profiles, utility_profiles, core_tables, statistics_history],
    kinds={"parquet", "numpy"},
    **team("profiles"),
    description="Normalised shapes per segment: the daily weight (mean 1 over the window: the typical "
    "register's day, the median of each profile register's day over its own average day) and each "
    "day's intraday shares; gas daily shapes per network from GasNetworkDailyVolume, with the "
    "network's own days before the window (daily_before_window) for read intervals that old.",
)
def macro_profiles(
    context: dg.AssetExecutionContext, config: MacroProfilesConfig, lake: LakeResource
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    window = profile_window(key)
    table = SEGMENT_PROFILE.read(store, key)
    names, values, counts = prof.table_to_dense(table)
    status = np.array(table["status"].to_pylist()).reshape(counts.shape)
    gas = store.read("core_tables", key, "GasNetworkDailyVolume").to_pandas()
    profiles = prof.SegmentProfiles(names, values, counts, status, pd.DataFrame())
    summary = UTILITY_PROFILE_SUMMARY.read(store, key).to_pandas()
    typical = prof.typical_segment_weights(
        names,
        prof.profile_daily_weights(profiles),
        registers_of(store, key),
        summary.set_index("register_id")["average_daily_kwh"],
        recent_register_days(store, key, ["register_id", "read_date", "kwh", "actual_half_hours"]),
        window,
        config.min_registers,
    )
    macro = prof.macro_profiles(profiles, gas, window, typical)
    tables = prof.macro_to_tables(macro)
    with store.partition_writer("macro_profiles", key) as writer:
        for name, t in tables.items():
            writer.write(name, t)
    return dg.MaterializeResult(
        metadata={
            "rows": tables["daily_shape"].num_rows,
            "path": store.uri("macro_profiles", key),
            "segments": len(names),
            "gas_networks": len(macro.keys) - len(names),
            "gas_days_before_window": tables["daily_before_window"].num_rows,
        }
    )


class MicroScalarsConfig(dg.Config):
    interval_reference_days: int = 28  # most recent fully actual days of an interval register
    basic_reference_days: int = 60  # shortest span between actual reads, when history allows


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[utility_profiles, macro_profiles, core_tables, statistics_history],
    kinds={"parquet", "pandas"},
    **team("profiles"),
    description="Per register: actual consumption over a recent reference period / the macro profile over "
    "it (units per average day). No usable history: the segment's average, flagged. Read "
    "exceptions (meter exchange, duplicate reads) are listed.",
)
def micro_scalars(
    context: dg.AssetExecutionContext, config: MicroScalarsConfig, lake: LakeResource
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    result = compute_micro_scalars(
        registers_of(store, key),
        macro_of(store, key),
        store.read("core_tables", key, "AccountUtility", columns=["utility_id", "start_date", "end_date"]).to_pandas(),
        basic_reads_of(store, key),
        recent_register_days(store, key, ["register_id", "read_date", "kwh", "actual_half_hours"]),
        AccrualMonth.from_key(key).end,
        config.interval_reference_days,
        config.basic_reference_days,
    )
    scalars, exceptions = result.scalars, result.exceptions
    written = write_month(
        store,
        key,
        {
            MICRO_SCALARS: scalars,
            READ_INTERVALS: result.read_intervals,
            MICRO_SCALAR_EXCEPTIONS: exceptions.astype({"date": "datetime64[s]"}),
        },
    )
    methods = scalars["method"].value_counts().to_dict()
    return dg.MaterializeResult(
        metadata={
            **written,
            "own_history": int(methods.get("own_history", 0)),
            "segment_average": int(methods.get("segment_average", 0)),
            "premise_prior": int(methods.get("premise_prior", 0)),
            "no_scalar": int(methods.get("none", 0)),
            "exceptions": len(exceptions),
        }
    )
