"""Estimation assets (DESIGN §5.1, §5.2, §5.4): the unbilled window, estimated basic reads, NEM12
estimates and unbilled consumption."""

import tempfile
from pathlib import Path

import dagster as dg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.assets.core import core_tables
from bua_assets.assets.heavy import HEAVY
from bua_assets.assets.lake_reads import (
    basic_reads_of,
    macro_of,
    metered_days,
    micro_scalars_of,
    read_core_frames,
    recent_actual_days,
    registers_of,
)
from bua_assets.assets.metadata import table_metadata
from bua_assets.assets.profiles import macro_profiles, micro_scalars, utility_profiles
from bua_assets.assets.teams import team
from bua_assets.assets.writing import write_month
from bua_assets.datasets import (
    ACCRUED_REGISTER_DAYS,
    BASIC_READ_EXCEPTIONS,
    BASIC_READS,
    CONSUMPTION_EXCEPTIONS,
    ESTIMATED_READS,
    INTERVAL_READS,
    MAX_DEMAND,
    READ_INTERVALS,
    UNBILLED_CONSUMPTION,
    UNBILLED_MONTHS,
    WINDOW_EXCEPTIONS,
)
from bua_assets.estimation.basic_estimates import estimated_month_end_reads
from bua_assets.estimation.estimate_files import estimate_files, estimated_reads
from bua_assets.estimation.intervals import READ_COLUMNS
from bua_assets.estimation.missing_days import (
    estimate_missing_days,
    estimation_coverage,
    missing_register_days,
    unbilled_interval_days,
)
from bua_assets.estimation.unbilled import unbilled_consumption as compute_unbilled_consumption
from bua_assets.estimation.window import DEFAULT_HORIZON_MONTHS, FUTURE_HORIZON_DAYS
from bua_assets.estimation.window import unbilled_window as compute_unbilled_window
from bua_assets.months import AccrualMonth
from bua_assets.partitions import monthly_partitions, months_window
from bua_assets.progress import progress_logger
from bua_assets.resources import EksNodegroupResource, LakeResource, MeterDataResource


class UnbilledWindowConfig(dg.Config):
    horizon_months: int = DEFAULT_HORIZON_MONTHS  # older unbilled days become exceptions
    # a billed line item reaching further than this past the snapshot makes its supply point an exception
    future_horizon_days: int = FUTURE_HORIZON_DAYS


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[core_tables],
    kinds={"parquet", "duckdb"},
    **team("estimation"),
    description="Unbilled days per account x supply point x calendar month (billed coverage net of "
    "credits, tenancy, lookback horizon) with NOT_DUE / OVERDUE; older days are exceptions.",
)
def unbilled_window(
    context: dg.AssetExecutionContext, config: UnbilledWindowConfig, lake: LakeResource
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    if not 0 < config.horizon_months <= DEFAULT_HORIZON_MONTHS:
        # The graph declares DEFAULT_HORIZON_MONTHS of interval data upstream of the consumption
        # (HORIZON_WINDOW): a longer horizon would read months the asset graph does not show.
        raise dg.Failure(
            f"horizon_months must be 1 to {DEFAULT_HORIZON_MONTHS} (the interval window the asset "
            f"graph declares), got {config.horizon_months}"
        )
    read = lambda table, cols: store.read("core_tables", key, table, columns=cols)  # noqa: E731
    month = AccrualMonth.from_key(key)
    window = compute_unbilled_window(
        read("AccountUtility", ["id", "account_id", "utility_id", "start_date", "end_date"]),
        read("Account", ["id", "open_date", "close_date", "next_bill_date"]),
        read("Invoice", ["id", "status", "is_credit", "issue_date", "reverses_invoice_id"]),
        read("InvoiceLineItem", ["id", "invoice_id", "account_id", "utility_id", "period_start", "period_end"]),
        month_end=month.end,
        run_date=month.run_date,
        horizon_months=config.horizon_months,
        future_horizon_days=config.future_horizon_days,
    )
    written = write_month(store, key, {UNBILLED_MONTHS: window.months, WINDOW_EXCEPTIONS: window.exceptions})
    months = window.months
    status = {
        r["bill_status"]: r["account_id_count_distinct"]
        for r in months.group_by("bill_status").aggregate([("account_id", "count_distinct")]).to_pylist()
    }
    return dg.MaterializeResult(
        metadata={
            **written,
            "accounts": len(pc.unique(months["account_id"])),
            "unbilled_days": int(pc.sum(months["unbilled_days"]).as_py() or 0),
            "accounts_not_due": status.get("NOT_DUE", 0),
            "accounts_overdue": status.get("OVERDUE", 0),
            "exceptions": window.exceptions.num_rows,
            "horizon_months": config.horizon_months,
        }
    )


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[utility_profiles, micro_scalars, macro_profiles, core_tables],
    kinds={"parquet", "pandas"},
    **team("estimation"),
    description="An estimated month-end read (BUA_ESTIMATE) for every accumulation register: last read + "
    "micro scalar x macro profile to month end, wrapping at the dial; gas in m3 and MJ.",
)
def basic_reads(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    reads, exceptions = estimated_month_end_reads(
        registers_of(store, key),
        micro_scalars_of(store, key),
        macro_of(store, key),
        basic_reads_of(store, key),
        AccrualMonth.from_key(key).end,
        store.read("core_tables", key, "GasHeatingValue").to_pandas(),
    )
    written = write_month(
        store, key, {BASIC_READS: reads, BASIC_READ_EXCEPTIONS: exceptions.astype({"register_id": "int64"})}
    )
    return dg.MaterializeResult(
        metadata={
            **written,
            "rolled_over": int(reads["rolled_over"].sum()),
            "estimated_kwh": float(reads.loc[reads["uom"] == "KWH", "estimate"].sum()),
            "estimated_mj": float(np.nansum(reads["estimate_mj"])),
            "exceptions": len(exceptions),
        }
    )


# Unbilled days reach back to the lookback horizon: the months of interval data they may need.
HORIZON_WINDOW = months_window(-(DEFAULT_HORIZON_MONTHS - 1))
horizon_statistics = dg.AssetDep("interval_statistics", partition_mapping=HORIZON_WINDOW)
horizon_interval_reads = dg.AssetDep("interval_reads", partition_mapping=HORIZON_WINDOW)


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[unbilled_window, micro_scalars, macro_profiles, utility_profiles, horizon_statistics],
    kinds={"parquet", "csv"},
    **team("estimation"),
    description="Estimated intervals for every unbilled interval register-day without meter data, written as "
    "NEM12 files (quality E57) under the month's folder, read back by our reader and loaded as "
    "the estimated_reads dataset; coverage: per month, the unbilled interval register-days, with and "
    "without meter data.",
)
def nem12_estimates(
    context: dg.AssetExecutionContext, lake: LakeResource, meter_data: MeterDataResource
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    registers = registers_of(store, key)
    interval = registers[registers["read_kind"] == "INTERVAL"]
    months = UNBILLED_MONTHS.read(store, key).to_pandas()
    days = unbilled_interval_days(months, interval)
    missing = missing_register_days(months, interval, metered_days(store, months["year_mnth"].unique()), days)
    estimates = estimate_missing_days(
        missing, interval, micro_scalars_of(store, key)["scalar"], recent_actual_days(store, key), macro_of(store, key)
    )
    with (
        store.partition_writer("nem12_estimates", key) as writer,
        tempfile.TemporaryDirectory(prefix="bua-est-") as tmp,
    ):
        files = estimate_files(
            estimates.days, estimates.half_hours, AccrualMonth.from_key(key), meter_data.participant_id, Path(tmp)
        )
        for f in files:
            if f.issues:
                raise dg.Failure(f"our own estimate file {f.name} does not read back cleanly: {f.issues[:3]}")
            writer.write_file(f"nem12/{f.name}", f.path.read_bytes())
        estimated = estimated_reads(files)
        writer.write("estimated_reads", estimated)
        writer.write("exceptions", pa.Table.from_pandas(estimates.not_estimated, preserve_index=False))
        # how much of each month's unbilled interval data is ours, not the meter's (billing/degraded.py)
        coverage = estimation_coverage(days, missing, estimates.not_estimated)
        writer.write("coverage", pa.Table.from_pandas(coverage, preserve_index=False))
    own = estimates.own_level
    month = coverage[coverage["month"] == AccrualMonth.from_key(key).start]
    return dg.MaterializeResult(
        metadata={
            "rows": estimated.num_rows,
            "path": store.uri("nem12_estimates", key),
            "files": dg.MetadataValue.json([f.name for f in files]),
            "registers": len(np.unique(estimates.days["register_id"])),
            "estimated_kwh": float(estimates.half_hours.sum()),
            "not_estimated": len(estimates.not_estimated),
            "register_days_own_level": int(own.sum()),
            "register_days_segment_scalar": int((~own).sum()),
            # the month's unbilled interval register-days without meter data (estimated or not)
            "estimated_share": float(month["estimated_share"].iloc[0]) if len(month) else 0.0,
            "coverage": table_metadata(
                coverage.astype({"month": str}),
                {c: "int" for c in ("register_days", "metered", "estimated", "not_estimated")}
                | {"estimated_share": "float"},
            ),
        }
    )


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[
        core_tables,
        unbilled_window,
        utility_profiles,
        micro_scalars,
        macro_profiles,
        nem12_estimates,
        horizon_interval_reads,
    ],
    kinds={"parquet", "pandas"},
    **team("estimation"),
    op_tags=HEAVY,
    description="Unbilled quantity per account x supply point x register x calendar month x time class "
    "(plan TOU windows for interval data; E2 controlled load; B1 export, by TOU class where the plan's "
    "feed-in is; gas in MJ), with the actual and estimated shares; the maximum demand (kW) of plans "
    "with a demand charge (max_demand); every register-day and how it was estimated (register_days); "
    "what cannot be quantified is in exceptions with the reason.",
)
def unbilled_consumption(
    context: dg.AssetExecutionContext, lake: LakeResource, eks: EksNodegroupResource
) -> dg.MaterializeResult:
    with eks.scaled_up(context.log, holder=f"unbilled_consumption:{context.partition_key}"):
        return _unbilled_consumption(context, lake)


def _unbilled_consumption(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    months = UNBILLED_MONTHS.read(store, key).to_pandas()
    core = read_core_frames(store, key, "AccountPlan", "Plan", "PlanTimeOfUse", "PlanRate", "GasHeatingValue")

    def actual_batches(month_key: str):
        return (
            store.iter_batches("interval_reads", month_key, "interval_reads", columns=READ_COLUMNS)
            if INTERVAL_READS.exists(store, month_key)
            else iter(())
        )

    out, exc, max_demand, register_days = compute_unbilled_consumption(
        months,
        registers_of(store, key),
        core["AccountPlan"],
        core["Plan"],
        core["PlanTimeOfUse"],
        core["PlanRate"],
        core["GasHeatingValue"],
        macro_of(store, key),
        micro_scalars_of(store, key),
        READ_INTERVALS.read(store, key).to_pandas(),
        ESTIMATED_READS.read(store, key),
        actual_batches,
        progress_logger(context.log, "unbilled_consumption: unbilled months quantified", every_s=0),
    )
    written = write_month(
        store,
        key,
        {
            UNBILLED_CONSUMPTION: out,
            CONSUMPTION_EXCEPTIONS: exc.astype({"register_id": "Int64"}),
            MAX_DEMAND: max_demand,
            # every accrued register-day and how it was quantified: what accrual_true_up compares with later bills
            ACCRUED_REGISTER_DAYS: register_days,
        },
    )
    by_fuel = out.groupby(["fuel", "uom"])["quantity"].sum().round(1)
    return dg.MaterializeResult(
        metadata={
            **written,
            "accounts": int(out["account_id"].nunique()),
            "quantity_by_fuel": dg.MetadataValue.json({f"{f} ({u})": float(q) for (f, u), q in by_fuel.items()}),
            "estimated_share": float(
                (out["estimated_quantity"].abs().sum() / max(out["quantity"].abs().sum(), 1e-9)).round(4)
            ),
            "exceptions": len(exc),
            "max_demand_rows": len(max_demand),
        }
    )
