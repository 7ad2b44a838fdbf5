"""Estimation assets (DESIGN §5.1, §5.2, §5.4): the unbilled window, estimated basic reads, NEM12
estimates and unbilled consumption."""

import tempfile
from dataclasses import asdict
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
from bua_assets.assets.writing import commit_month_shards, stage_month_shard, write_month
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
from bua_assets.estimation.shards import Shard, shard_count, shard_inputs, shard_reads
from bua_assets.estimation.unbilled import unbilled_consumption as compute_unbilled_consumption
from bua_assets.estimation.window import DEFAULT_HORIZON_MONTHS, FUTURE_HORIZON_DAYS
from bua_assets.estimation.window import unbilled_window as compute_unbilled_window
from bua_assets.lake import Lake, StagedFile
from bua_assets.months import AccrualMonth
from bua_assets.partitions import monthly_partitions, months_window
from bua_assets.progress import progress_logger
from bua_assets.resources import EksNodegroupResource, LakeResource, MeterDataResource
from bua_assets.settings import accounts_per_shard


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


# What each shard reads; as graph-asset inputs they carry no value (Nothing), only the dependency.
UNBILLED_CONSUMPTION_DEPS = {
    "core_tables": dg.AssetIn(dagster_type=dg.Nothing),
    "unbilled_window": dg.AssetIn(dagster_type=dg.Nothing),
    "utility_profiles": dg.AssetIn(dagster_type=dg.Nothing),
    "micro_scalars": dg.AssetIn(dagster_type=dg.Nothing),
    "macro_profiles": dg.AssetIn(dagster_type=dg.Nothing),
    "nem12_estimates": dg.AssetIn(dagster_type=dg.Nothing),
    "interval_reads": dg.AssetIn(partition_mapping=HORIZON_WINDOW, dagster_type=dg.Nothing),
}
SHARD_PLAN = "plan"  # the staging note of the shard count


def _shard_batch(context: dg.OpExecutionContext) -> str:
    """The staging folder of a run's shards: the root run's, so a re-execution of the failed
    shards finds the plan and the notes of the shards that had succeeded."""
    return context.run.root_run_id or context.run_id


def _shard_name(index: int) -> str:
    return f"shard_{index:05d}"  # zero-padded: the shards' files are read in shard order


@dg.op(
    # one input per dependency: Dagster fans a list of the graph's inputs into one op input only
    # when none of them is itself a fan-in (the horizon's months of interval_reads are)
    ins={name: dg.In(dg.Nothing) for name in UNBILLED_CONSUMPTION_DEPS},
    out=dg.DynamicOut(dg.Nothing),
    description="How many account shards the month takes (BUA_SHARD_ACCOUNTS accounts each): one "
    "dynamic output per shard, carrying nothing but its mapping key.",
)
def plan_unbilled_shards(context: dg.OpExecutionContext, lake: LakeResource):
    store, key = lake.lake(), context.partition_key
    accounts = len(pc.unique(UNBILLED_MONTHS.read(store, key, columns=["account_id"])["account_id"]))
    count = shard_count(accounts, accounts_per_shard())
    # On k8s each op is its own pod and no IO manager is shared: the plan goes through the lake.
    store.put_staging(UNBILLED_CONSUMPTION.asset, key, _shard_batch(context), SHARD_PLAN, {"shards": count})
    context.log.info(f"unbilled_consumption: {accounts:,} accounts in {count} shard(s)")
    for index in range(count):
        yield dg.DynamicOutput(None, mapping_key=_shard_name(index))


@dg.op(ins={"planned": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), tags=HEAVY)
def unbilled_consumption_shard(context: dg.OpExecutionContext, lake: LakeResource, eks: EksNodegroupResource) -> None:
    """One shard's unbilled consumption, written to the lake but not committed; its files and
    figures are left in the staging note named like the shard."""
    name = context.get_mapping_key() or _shard_name(0)
    store, key, batch = lake.lake(), context.partition_key, _shard_batch(context)
    count = store.staging(UNBILLED_CONSUMPTION.asset, key, batch)[SHARD_PLAN]["shards"]
    shard = Shard(int(name.removeprefix("shard_")), count)
    with eks.scaled_up(context.log, holder=f"unbilled_consumption:{key}:{name}"):
        note = _unbilled_consumption_shard(context, store, key, shard, name)
    store.put_staging(UNBILLED_CONSUMPTION.asset, key, batch, name, note)


def _unbilled_consumption_shard(context: dg.OpExecutionContext, store: Lake, key: str, shard: Shard, name: str) -> dict:
    core = read_core_frames(store, key, "AccountPlan", "Plan", "PlanTimeOfUse", "PlanRate", "GasHeatingValue")
    inputs = shard_inputs(
        shard,
        UNBILLED_MONTHS.read(store, key).to_pandas(),
        registers_of(store, key),
        core["AccountPlan"],
        micro_scalars_of(store, key),
        READ_INTERVALS.read(store, key).to_pandas(),
        ESTIMATED_READS.read(store, key),
    )

    def actual_batches(month_key: str):
        return (
            store.iter_batches("interval_reads", month_key, "interval_reads", columns=READ_COLUMNS)
            if INTERVAL_READS.exists(store, month_key)
            else iter(())
        )

    out, exc, max_demand, register_days = compute_unbilled_consumption(
        inputs.unbilled_months,
        inputs.registers,
        inputs.account_plans,
        core["Plan"],
        core["PlanTimeOfUse"],
        core["PlanRate"],
        core["GasHeatingValue"],
        macro_of(store, key),
        inputs.scalar_table,
        inputs.read_intervals,
        inputs.estimated,
        shard_reads(shard, inputs, actual_batches),
        progress_logger(context.log, f"unbilled_consumption ({shard}): unbilled months quantified", every_s=0),
    )
    staged = stage_month_shard(
        store,
        key,
        {
            UNBILLED_CONSUMPTION: out,
            CONSUMPTION_EXCEPTIONS: exc.astype({"register_id": "Int64"}),
            MAX_DEMAND: max_demand,
            # every accrued register-day and how it was quantified: what accrual_true_up compares with later bills
            ACCRUED_REGISTER_DAYS: register_days,
        },
        name,
    )
    # The asset's figures, as sums the commit adds up over the shards (accounts are in one shard each).
    by_fuel = out.groupby(["fuel", "uom"])["quantity"].sum()
    return {
        "files": [asdict(f) for f in staged],
        "accounts": int(out["account_id"].nunique()),
        "quantity_by_fuel": [[f, u, float(q)] for (f, u), q in by_fuel.items()],
        "estimated_abs": float(out["estimated_quantity"].abs().sum()),
        "quantity_abs": float(out["quantity"].abs().sum()),
    }


@dg.op(ins={"shards": dg.In(dg.Nothing)})
def commit_unbilled_consumption(context: dg.OpExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    """Every shard's files made the month in one Delta commit per dataset (a reader sees the old
    month or the new one whole), with the asset's metadata over all shards."""
    store, key, batch = lake.lake(), context.partition_key, _shard_batch(context)
    notes = store.staging(UNBILLED_CONSUMPTION.asset, key, batch)
    names = [_shard_name(i) for i in range(notes[SHARD_PLAN]["shards"])]
    missing = [n for n in names if n not in notes]
    if missing:
        raise dg.Failure(f"unbilled_consumption {key}: no files from {', '.join(missing)} (batch {batch})")
    shards = [notes[n] for n in names]
    staged = [StagedFile(**f) for note in shards for f in note["files"]]
    written = commit_month_shards(store, key, UNBILLED_CONSUMPTION, staged, batch)
    store.drop_staging(UNBILLED_CONSUMPTION.asset, key, batch)
    rows = {d.name: sum(f.rows for f in staged if f.dataset == d.name) for d in (CONSUMPTION_EXCEPTIONS, MAX_DEMAND)}
    by_fuel: dict[tuple[str, str], float] = {}
    for note in shards:
        for fuel, uom, quantity in note["quantity_by_fuel"]:
            by_fuel[(fuel, uom)] = by_fuel.get((fuel, uom), 0.0) + quantity
    estimated_abs = sum(note["estimated_abs"] for note in shards)
    quantity_abs = sum(note["quantity_abs"] for note in shards)
    return dg.MaterializeResult(
        metadata={
            **written,
            "accounts": sum(note["accounts"] for note in shards),
            "quantity_by_fuel": dg.MetadataValue.json(
                {f"{f} ({u})": float(np.round(q, 1)) for (f, u), q in sorted(by_fuel.items())}
            ),
            "estimated_share": float(np.round(estimated_abs / max(quantity_abs, 1e-9), 4)),
            "exceptions": rows[CONSUMPTION_EXCEPTIONS.name],
            "max_demand_rows": rows[MAX_DEMAND.name],
        }
    )


@dg.graph_asset(
    partitions_def=monthly_partitions,
    ins=UNBILLED_CONSUMPTION_DEPS,
    kinds={"parquet", "pandas"},
    **team("estimation"),
    description="Unbilled quantity per account x supply point x register x calendar month x time class "
    "(plan TOU windows for interval data; E2 controlled load; B1 export, by TOU class where the plan's "
    "feed-in is; gas in MJ), with the actual and estimated shares; the maximum demand (kW) of plans "
    "with a demand charge (max_demand); every register-day and how it was estimated (register_days); "
    "what cannot be quantified is in exceptions with the reason. Computed in account shards "
    "(BUA_SHARD_ACCOUNTS accounts each; each shard its own step, a pod on Kubernetes) and committed "
    "as one month.",
)
def unbilled_consumption(
    core_tables, unbilled_window, utility_profiles, micro_scalars, macro_profiles, nem12_estimates, interval_reads
):
    shards = plan_unbilled_shards(
        core_tables=core_tables,
        unbilled_window=unbilled_window,
        utility_profiles=utility_profiles,
        micro_scalars=micro_scalars,
        macro_profiles=macro_profiles,
        nem12_estimates=nem12_estimates,
        interval_reads=interval_reads,
    )
    return commit_unbilled_consumption(shards=shards.map(lambda planned: unbilled_consumption_shard(planned)).collect())
