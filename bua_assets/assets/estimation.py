"""Estimation assets (DESIGN §5.1, §5.2, §5.4): the unbilled window, estimated basic reads, NEM12
estimates and unbilled consumption."""


import itertools
import tempfile
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.assets.core import core_tables
from bua_assets.assets.heavy import HEAVY
from bua_assets.assets.profiles import (
    basic_reads_of,
    macro_of,
    macro_profiles,
    micro_scalars,
    read_core_frames,
    registers_of,
    utility_profiles,
)
from bua_assets.assets.teams import team
from bua_assets.estimation.basic import month_end_reads
from bua_assets.estimation.consumption import (
    EXCEPTION_COLUMNS,
    SUMMARY_KEYS,
    TimeOfUse,
    quantify_month,
    register_days,
    summarise,
)
from bua_assets.estimation.estimates import (
    ESTIMATOR,
    daily_estimates,
    estimate_half_hours,
    recent_index,
    register_levels,
    write_estimate_file,
)
from bua_assets.estimation.scalars import register_weights
from bua_assets.estimation.window import DEFAULT_HORIZON_MONTHS, FUTURE_HORIZON_DAYS
from bua_assets.estimation.window import unbilled_window as compute_unbilled_window
from bua_assets.months import AccrualMonth
from bua_assets.nem12.reader import DAY_SCHEMA, read_nem12
from bua_assets.partitions import monthly_partitions, months_window
from bua_assets.progress import progress_logger
from bua_assets.resources import EksNodegroupResource, LakeResource, MeterDataResource


class UnbilledWindowConfig(dg.Config):
    horizon_months: int = DEFAULT_HORIZON_MONTHS  # older unbilled days become exceptions
    # a billed line item reaching further than this past the snapshot makes its supply point an exception
    future_horizon_days: int = FUTURE_HORIZON_DAYS


@dg.asset(partitions_def=monthly_partitions, deps=[core_tables], kinds={"parquet", "duckdb"}, **team("estimation"),
          description="Unbilled days per account x supply point x calendar month (billed coverage net of "
                      "credits, tenancy, lookback horizon) with NOT_DUE / OVERDUE; older days are exceptions.")
def unbilled_window(context: dg.AssetExecutionContext, config: UnbilledWindowConfig,
                    lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    if not 0 < config.horizon_months <= DEFAULT_HORIZON_MONTHS:
        # The graph declares DEFAULT_HORIZON_MONTHS of interval data upstream of the consumption
        # (HORIZON_WINDOW): a longer horizon would read months the asset graph does not show.
        raise dg.Failure(f"horizon_months must be 1 to {DEFAULT_HORIZON_MONTHS} (the interval window the asset "
                         f"graph declares), got {config.horizon_months}")
    read = lambda table, cols: store.read("core_tables", key, table, columns=cols)  # noqa: E731
    window = compute_unbilled_window(
        read("AccountUtility", ["id", "account_id", "utility_id", "start_date", "end_date"]),
        read("Account", ["id", "open_date", "close_date", "next_bill_date"]),
        read("Invoice", ["id", "status", "is_credit", "issue_date", "reverses_invoice_id"]),
        read("InvoiceLineItem", ["id", "invoice_id", "account_id", "utility_id", "period_start", "period_end"]),
        month_end=AccrualMonth.from_key(key).end, run_date=AccrualMonth.from_key(key).run_date, horizon_months=config.horizon_months,
        future_horizon_days=config.future_horizon_days)
    with store.partition_writer("unbilled_window", key) as writer:
        writer.write("unbilled_months", window.months)
        writer.write("exceptions", window.exceptions)
    months = window.months
    status = {r["bill_status"]: r["account_id_count_distinct"] for r in
              months.group_by("bill_status").aggregate([("account_id", "count_distinct")]).to_pylist()}
    return dg.MaterializeResult(metadata={
        "rows": months.num_rows, "path": store.uri("unbilled_window", key, "unbilled_months"),
        "accounts": len(pc.unique(months["account_id"])), "unbilled_days": int(pc.sum(months["unbilled_days"]).as_py() or 0),
        "accounts_not_due": status.get("NOT_DUE", 0), "accounts_overdue": status.get("OVERDUE", 0),
        "exceptions": window.exceptions.num_rows, "horizon_months": config.horizon_months,
    })


def _scalars(store, key) -> pd.DataFrame:
    return store.read("micro_scalars", key, "micro_scalars").to_pandas()


def _base_share(scalars: pd.DataFrame) -> pd.Series:
    """Each register's base share (scalars.weather_response); 0 (the segment's shape) when absent."""
    return scalars["base_share"].fillna(0.0) if "base_share" in scalars.columns else pd.Series(0.0, index=scalars.index)


@dg.asset(partitions_def=monthly_partitions, deps=[utility_profiles, micro_scalars, macro_profiles, core_tables],
          kinds={"parquet", "pandas"}, **team("estimation"),
          description="An estimated month-end read (BUA_ESTIMATE) for every accumulation register: last read + "
                      "micro scalar x macro profile to month end, wrapping at the dial; gas in m3 and MJ.")
def basic_reads(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    registers = registers_of(store, key)
    basic = registers[registers["read_kind"] == "BASIC"]
    macro = macro_of(store, key)
    scalars = _scalars(store, key).set_index("register_id")
    scalar, base_share = scalars["scalar"], _base_share(scalars)
    key_index = pd.Series(macro.key_index(registers["profile_key"]), index=registers["register_id"].to_numpy())

    def daily_estimate(register_ids, dates):
        return scalar.reindex(register_ids).to_numpy(dtype=float) * register_weights(
            macro, key_index.reindex(register_ids).to_numpy(dtype=np.int64),
            base_share.reindex(register_ids).fillna(0.0).to_numpy(dtype=float), dates)

    reads, exceptions = month_end_reads(
        basic[["register_id", "dial_digits", "fuel", "network_id", "pressure_correction_factor"]],
        basic_reads_of(store, key), daily_estimate, AccrualMonth.from_key(key).end,
        store.read("core_tables", key, "GasHeatingValue").to_pandas())
    with store.partition_writer("basic_reads", key) as writer:
        writer.write("basic_reads", pa.Table.from_pandas(reads, preserve_index=False))
        writer.write("exceptions", pa.Table.from_pandas(exceptions.astype({"register_id": "int64"}), preserve_index=False))
    return dg.MaterializeResult(metadata={
        "rows": len(reads), "path": store.uri("basic_reads", key, "basic_reads"),
        "rolled_over": int(reads["rolled_over"].sum()), "estimated_kwh": float(reads.loc[reads["uom"] == "KWH", "estimate"].sum()),
        "estimated_mj": float(np.nansum(reads["estimate_mj"])), "exceptions": len(exceptions),
    })


READ_COLUMNS = ["nmi", "suffix", "read_date", "interval_length", "values", "interval_quality", "quality_method"]
REGISTERS_PER_FILE = 5000


def metered_days(store, year_mnths) -> pd.DataFrame:
    """The register-days with meter data in the given months (interval_statistics)."""
    keys = sorted(pd.Timestamp(m).strftime("%Y-%m-%d") for m in year_mnths)
    tables = [store.read("interval_statistics", k, "register_days", columns=["register_id", "read_date"])
              for k in keys if store.exists("interval_statistics", k, "register_days")]
    if not tables:
        return pd.DataFrame({"register_id": pd.Series(dtype="int32"), "read_date": pd.Series(dtype="datetime64[s]")})
    return pa.concat_tables(tables).to_pandas(date_as_object=False)


RECENT_MONTHS = 3  # months of register-day totals behind the recent index and each register's level


def recent_actual_days(store, key) -> pd.DataFrame:
    """The fully actual register-days (register_id, read_date, kwh) of the month and the
    RECENT_MONTHS - 1 before it (interval_statistics, within the horizon the asset depends on)."""
    first = pd.Timestamp(key) - pd.DateOffset(months=RECENT_MONTHS - 1)
    keys = [m.strftime("%Y-%m-%d") for m in pd.date_range(first, pd.Timestamp(key), freq="MS")]
    tables = [store.read("interval_statistics", k, "register_days", columns=["register_id", "read_date", "kwh",
                                                                             "actual_half_hours"])
              for k in keys if store.exists("interval_statistics", k, "register_days")]
    if not tables:
        return pd.DataFrame({"register_id": pd.Series(dtype="int64"), "read_date": pd.Series(dtype="datetime64[s]"),
                             "kwh": pd.Series(dtype=float)})
    t = pa.concat_tables(tables)
    t = t.filter(pc.equal(t["actual_half_hours"], 48)).select(["register_id", "read_date", "kwh"])
    return t.to_pandas(date_as_object=False).astype({"register_id": "int64"})


# Unbilled days reach back to the lookback horizon: the months of interval data they may need.
HORIZON_WINDOW = months_window(-(DEFAULT_HORIZON_MONTHS - 1))
horizon_statistics = dg.AssetDep("interval_statistics", partition_mapping=HORIZON_WINDOW)
horizon_interval_reads = dg.AssetDep("interval_reads", partition_mapping=HORIZON_WINDOW)


@dg.asset(partitions_def=monthly_partitions, deps=[unbilled_window, micro_scalars, macro_profiles, utility_profiles,
                                                   horizon_statistics],
          kinds={"parquet", "csv"}, **team("estimation"),
          description="Estimated intervals for every unbilled interval register-day without meter data, written as "
                      "NEM12 files (quality E57) under the month's folder, read back by our reader and loaded as "
                      "the estimated_reads dataset.")
def nem12_estimates(context: dg.AssetExecutionContext, lake: LakeResource,
                    meter_data: MeterDataResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    registers = registers_of(store, key)
    interval = registers[registers["read_kind"] == "INTERVAL"]
    months = store.read("unbilled_window", key, "unbilled_months").to_pandas()
    days = register_days(months, interval[["register_id", "utility_id"]]).drop_duplicates(["register_id", "date"])
    have = metered_days(store, months["year_mnth"].unique())
    have = pd.DataFrame({"register_id": have["register_id"].astype("int64"), "_have": True,
                         "date": have["read_date"].to_numpy().astype("datetime64[s]")})
    days = days.assign(register_id=days["register_id"].astype("int64"),
                       date=days["date"].to_numpy().astype("datetime64[s]"))
    missing = days[days.merge(have, on=["register_id", "date"], how="left")["_have"].isna().to_numpy()]
    macro = macro_of(store, key)
    scalars = _scalars(store, key).set_index("register_id")["scalar"]
    missing = missing.merge(interval, on=["register_id", "utility_id"]).assign(
        scalar=lambda f: scalars.reindex(f["register_id"]).to_numpy(), key_index=lambda f: macro.key_index(f["profile_key"]))
    # Each register's own recent level on its segment's recent day index (estimates.daily_estimates).
    recent = recent_actual_days(store, key)
    key_of = pd.Series(macro.key_index(interval["profile_key"]), index=interval["register_id"].to_numpy())
    key_of = key_of[key_of >= 0]
    profiled = key_of[interval.set_index("register_id")["profile_register"].reindex(key_of.index)
                      .fillna(False).to_numpy(dtype=bool)]
    index = recent_index(recent, profiled)
    # The wider group a segment's thin days lean on: the same class and stream in every jurisdiction.
    group_of_key = pd.factorize(pd.Series(macro.keys).str.replace(r"^([^|]*)\|[^|]*\|", r"\1|*|", regex=True))[0]
    wider = (recent_index(recent, pd.Series(group_of_key[profiled.to_numpy()], index=profiled.index)), group_of_key)
    levels = register_levels(recent, index, key_of, macro, wider)
    missing = missing.sort_values(["nmi", "suffix", "date"]).reset_index(drop=True)
    daily, own = daily_estimates(missing["register_id"].to_numpy(), missing["key_index"].to_numpy(),
                                 missing["date"].to_numpy(dtype="datetime64[D]"), levels, index, macro,
                                 missing["scalar"].to_numpy(dtype=float), wider)
    ok = np.isfinite(daily) & (missing["key_index"] >= 0).to_numpy()
    no_scalar = missing[~ok]
    missing, daily, own = missing[ok].reset_index(drop=True), daily[ok], own[ok]
    dates = missing["date"].to_numpy(dtype="datetime64[D]")
    half_hours = estimate_half_hours(missing["key_index"].to_numpy(), missing["scalar"].to_numpy(), dates, macro, daily)
    month = AccrualMonth.from_key(key)
    created = f"{month.run_date:%Y%m%d}0100"
    read_back, files = [], []
    with store.partition_writer("nem12_estimates", key) as writer, tempfile.TemporaryDirectory(prefix="bua-est-") as tmp:
        regs = missing["register_id"].to_numpy()
        uniq = np.unique(regs)
        for n, first in enumerate(range(0, len(uniq), REGISTERS_PER_FILE)):
            rows = np.flatnonzero(np.isin(regs, uniq[first:first + REGISTERS_PER_FILE]))
            name = f"NEM12#{month.compact}EST{n:03d}#{ESTIMATOR}#{meter_data.participant_id}.csv"
            path = Path(tmp) / name
            write_estimate_file(path, missing.iloc[rows], half_hours[rows], created=created, to_participant=meter_data.participant_id)
            (parsed,) = read_nem12(path, source=name)
            if parsed.issues:
                raise dg.Failure(f"our own estimate file {name} does not read back cleanly: {parsed.issues[:3]}")
            read_back.append(parsed.days.select(READ_COLUMNS))
            writer.write_file(f"nem12/{name}", path.read_bytes())
            files.append(name)
        estimated = pa.concat_tables(read_back) if read_back else DAY_SCHEMA.empty_table().select(READ_COLUMNS)
        writer.write("estimated_reads", estimated)
        writer.write("exceptions", pa.Table.from_pandas(pd.DataFrame({
            "register_id": no_scalar["register_id"].astype("int64"), "date": no_scalar["date"].astype("datetime64[s]"),
            "code": "not_estimated", "reason": "no micro scalar or macro profile for the register: day not estimated"}),
            preserve_index=False))
    return dg.MaterializeResult(metadata={
        "rows": estimated.num_rows, "path": store.uri("nem12_estimates", key), "files": dg.MetadataValue.json(files),
        "registers": len(uniq), "estimated_kwh": float(half_hours.sum()), "not_estimated": len(no_scalar),
        "register_days_own_level": int(own.sum()), "register_days_segment_scalar": int((~own).sum()),
    })


@dg.asset(partitions_def=monthly_partitions,
          deps=[core_tables, unbilled_window, utility_profiles, micro_scalars, macro_profiles, nem12_estimates,
                horizon_interval_reads],
          kinds={"parquet", "pandas"}, **team("estimation"), op_tags=HEAVY,
          description="Unbilled quantity per account x supply point x register x calendar month x time class "
                      "(plan TOU windows for interval data; E2 controlled load; B1 export; gas in MJ), with the "
                      "actual and estimated shares; what cannot be quantified is in exceptions with the reason.")
def unbilled_consumption(context: dg.AssetExecutionContext, lake: LakeResource,
                         eks: EksNodegroupResource) -> dg.MaterializeResult:
    with eks.scaled_up(context.log):
        return _unbilled_consumption(context, lake)


def _unbilled_consumption(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    registers = registers_of(store, key)
    months = store.read("unbilled_window", key, "unbilled_months").to_pandas()
    core = read_core_frames(store, key, "AccountPlan", "Plan", "PlanTimeOfUse", "GasHeatingValue")
    macro = macro_of(store, key)
    scalar_table = _scalars(store, key).set_index("register_id")
    scalars, base_share = scalar_table["scalar"], _base_share(scalar_table)
    key_index = pd.Series(macro.key_index(registers["profile_key"]), index=registers["register_id"].to_numpy())
    estimated = store.read("nem12_estimates", key, "estimated_reads")
    intervals = store.read("micro_scalars", key, "read_intervals").to_pandas()
    tou = TimeOfUse.from_tables(core["Plan"], core["PlanTimeOfUse"])
    attrs = registers[["register_id", "utility_id", "nmi", "suffix", "read_kind", "stream_type"]]
    parts, exceptions = [], []
    report = progress_logger(context.log, "unbilled_consumption: unbilled months quantified", every_s=0)
    by_month = months.groupby("year_mnth", sort=True)
    for done, (year_mnth, month) in enumerate(by_month, start=1):
        # A month at a time (the output grain includes the month), so memory holds one month.
        days = register_days(month, attrs)
        month_key = pd.Timestamp(year_mnth).strftime("%Y-%m-%d")
        actual = store.iter_batches("interval_reads", month_key, "interval_reads", columns=READ_COLUMNS) \
            if store.exists("interval_reads", month_key, "interval_reads") else iter(())
        summary, month_exceptions = quantify_month(
            days, itertools.chain(actual, estimated.select(READ_COLUMNS).to_batches()), core["AccountPlan"], tou,
            intervals, scalars, macro, key_index, registers, core["GasHeatingValue"], base_share)
        parts.append(summary)
        exceptions += month_exceptions
        report(done, by_month.ngroups, f"{pd.Timestamp(year_mnth):%Y-%m}: {len(days):,} register-days")
    out = pd.concat(parts, ignore_index=True).sort_values(SUMMARY_KEYS, kind="stable").reset_index(drop=True) \
        if parts else summarise(pd.DataFrame(columns=SUMMARY_KEYS + ["quantity", "actual_quantity", "quantity_m3"])
                                .assign(date=pd.Series(dtype="datetime64[ns]")), registers)
    no_registers = months[~months["utility_id"].isin(registers["utility_id"])]
    exceptions.append(no_registers[["account_id", "utility_id", "year_mnth"]].assign(
        register_id=None, code="no_meter_registers", reason="the supply point has no meter register in CORE"))
    exc = pd.concat([e for e in exceptions if len(e)], ignore_index=True) if any(len(e) for e in exceptions) else \
        pd.DataFrame(columns=EXCEPTION_COLUMNS)
    exc = exc.groupby(["account_id", "utility_id", "register_id", "year_mnth", "code"], dropna=False)["reason"].first().reset_index()
    with store.partition_writer("unbilled_consumption", key) as writer:
        writer.write("unbilled_consumption", pa.Table.from_pandas(out, preserve_index=False))
        writer.write("exceptions", pa.Table.from_pandas(exc.astype({"register_id": "Int64"}), preserve_index=False))
    by_fuel = out.groupby(["fuel", "uom"])["quantity"].sum().round(1)
    return dg.MaterializeResult(metadata={
        "rows": len(out), "path": store.uri("unbilled_consumption", key, "unbilled_consumption"),
        "accounts": int(out["account_id"].nunique()), "quantity_by_fuel": dg.MetadataValue.json(
            {f"{f} ({u})": float(q) for (f, u), q in by_fuel.items()}),
        "estimated_share": float((out["estimated_quantity"].abs().sum() / max(out["quantity"].abs().sum(), 1e-9)).round(4)),
        "exceptions": len(exc),
    })
