"""Accrual invoicing assets (DESIGN §5.5, §5.8): the priced accrual invoice and its ILI check."""

import base64
import json
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.assets.blocking import stop_on_blocking_failures
from bua_assets.assets.core import core_tables
from bua_assets.assets.estimation import (
    horizon_interval_reads,
    nem12_estimates,
    unbilled_consumption,
    unbilled_window,
)
from bua_assets.assets.heavy import HEAVY
from bua_assets.assets.lake_reads import billed_half_hours, read_core_frames
from bua_assets.assets.metadata import table_metadata
from bua_assets.assets.profiles import macro_profiles, utility_profiles
from bua_assets.assets.teams import team
from bua_assets.assets.true_up import accrual_true_up
from bua_assets.assets.writing import write_month
from bua_assets.billing.chart import accrual_chart
from bua_assets.billing.checks import IMPLAUSIBLE_FACTOR, ili_findings
from bua_assets.billing.degraded import ACCEPT_TAG, Acceptance, MonthQuality, gate, judge_month
from bua_assets.billing.errors import errors_table, normalise, relative_sources
from bua_assets.billing.export import ExportFile
from bua_assets.billing.glance import glance_display, money, month_at_a_glance, percent
from bua_assets.billing.history import largest_bill
from bua_assets.billing.line_items import accrual_invoice
from bua_assets.billing.money import round_cents
from bua_assets.billing.outputs import (
    account_attributes,
    line_item_monthly,
    month_account_summary,
    open_during,
    site_attributes,
    state_fuel_totals,
)
from bua_assets.billing.outputs import accrual_summary as finance_summary
from bua_assets.billing.reconciliation import unreconciled_supply_points
from bua_assets.billing.rehearsal import (
    NO_SNAPSHOT,
    SnapshotRun,
    export_snapshot,
    manifest_name,
    parse_created,
    promote,
    promoted_manifest,
    should_promote,
    snapshot_folder,
)
from bua_assets.datasets import (
    ACCOUNT_EXCEPTIONS,
    ACCRUAL_SUMMARY,
    BUA_ACCOUNT_SUMMARY,
    ERROR_SOURCES,
    ERRORS,
    ESTIMATE_COVERAGE,
    INTERVAL_FILES,
    INTERVAL_QUARANTINE,
    INVOICE_LINE_ITEM_MONTHLY,
    INVOICE_LINE_ITEMS,
    MAX_DEMAND,
    PRICING_EXCEPTIONS,
    UNBILLED_CONSUMPTION,
    UNBILLED_MONTHS,
)
from bua_assets.estimation.consumption import TimeOfUse
from bua_assets.estimation.window import DEFAULT_HORIZON_MONTHS
from bua_assets.months import AccrualMonth, first_of_month_before
from bua_assets.ops.earl import time_zone_named
from bua_assets.ops.rds import snapshot_name
from bua_assets.ops.runs import CheckOutcome, check_counts, counts_text
from bua_assets.partitions import month_check, monthly_partitions, months_window
from bua_assets.resources import (
    AnalystCatalogResource,
    ExportResource,
    LakeResource,
    MeterDataResource,
    RdsCoreResource,
)
from bua_assets.run_records import core_snapshot_config
from bua_assets.run_sensors import run_check_outcomes


class IliExceptionsConfig(dg.Config):
    implausible_factor: float = (
        IMPLAUSIBLE_FACTOR  # WARN when a month's net exceeds this x the account's largest past bill
    )


@dg.asset(
    partitions_def=monthly_partitions,
    # the billed days' interval data and load profiles re-rate corrections onto time of use
    deps=[core_tables, unbilled_window, unbilled_consumption, horizon_interval_reads, utility_profiles, macro_profiles],
    kinds={"parquet", "pandas"},
    **team("billing"),
    op_tags=HEAVY,
    check_specs=[
        month_check(
            "ili_exceptions",
            asset="invoice_line_items",
            blocking=True,
            description="ERROR: missing tariff or charge version, a plan item the engine cannot price "
            "(unpriced_charge), negative usage, "
            "duplicate lines, windows beyond the horizon; WARN: amounts "
            "implausible against the account's own bills, zero rates",
        )
    ],
    description="The accrual invoice: every account's unbilled supply days and consumption priced at its own "
    "plan (ex-GST with GST beside, discounts with the pay-on-time propensity).",
)
def invoice_line_items(context: dg.AssetExecutionContext, config: IliExceptionsConfig, lake: LakeResource):
    store, key = lake.lake(), context.partition_key
    core = read_core_frames(
        store,
        key,
        "AccountPlan",
        "Plan",
        "PlanTimeOfUse",
        "PlanRate",
        "PlanDiscount",
        "Account",
        "JournalAccountSegment",
    )
    invoices = store.read("core_tables", key, "Invoice", columns=["id", "status", "is_credit", "issue_date"])
    line_items = store.read(
        "core_tables",
        key,
        "InvoiceLineItem",
        columns=[
            "invoice_id",
            "account_id",
            "utility_id",
            "period_start",
            "period_end",
            "plan_item_type_name",
            "time_class_name",
            "quantity",
            "uom",
            "rate",
            "net_amount",
            "discount_net",
        ],
    )
    horizon_start = first_of_month_before(AccrualMonth.from_key(key).run_date, DEFAULT_HORIZON_MONTHS)
    invoice = accrual_invoice(
        UNBILLED_MONTHS.read(store, key).to_pandas(),
        UNBILLED_CONSUMPTION.read(store, key).to_pandas(),
        core["AccountPlan"],
        core["PlanRate"],
        core["PlanDiscount"],
        core["Account"],
        invoices.to_pandas(),
        line_items,
        horizon_start,
        core["JournalAccountSegment"],
        MAX_DEMAND.read(store, key).to_pandas(),
        TimeOfUse.from_tables(core["Plan"], core["PlanTimeOfUse"], core["PlanRate"]),
        billed_half_hours(store, key, DEFAULT_HORIZON_MONTHS),
    )
    out, exceptions = invoice.lines, invoice.exceptions
    written = write_month(
        store, key, {INVOICE_LINE_ITEMS: out, PRICING_EXCEPTIONS: exceptions.astype({"line_id": "Int64"})}
    )
    yield dg.MaterializeResult(
        metadata={
            **written,
            "accounts": int(out["account_id"].nunique()),
            "net_amount": round_cents(float(out["net_amount"].sum())),
            "discount_net_propensity": round_cents(float(out["discount_net_propensity"].sum())),
            "gst": round_cents(float(out["gst"].sum())),
            "exceptions": len(exceptions),
        }
    )
    check = ili_exceptions(out, exceptions, largest_bill(invoices, line_items), config, horizon_start)
    yield check
    stop_on_blocking_failures("invoice_line_items", [check])


def ili_exceptions(
    lines: pd.DataFrame, exceptions: pd.DataFrame, largest_bill: pd.Series, config: IliExceptionsConfig, horizon_start
) -> dg.AssetCheckResult:
    """The ili_exceptions check from checks.ili_findings."""
    findings = ili_findings(lines, exceptions, largest_bill, horizon_start, config.implausible_factor)
    counts = findings.counts
    return dg.AssetCheckResult(
        check_name="ili_exceptions",
        passed=not any(counts.values()),
        severity=dg.AssetCheckSeverity.ERROR if findings.has_error else dg.AssetCheckSeverity.WARN,
        description=", ".join(f"{k}: {n}" for k, n in counts.items() if n) or "no exceptions",
        metadata={
            "exceptions": table_metadata(
                pd.DataFrame(
                    {
                        "code": list(counts),
                        "severity": [findings.severity(k) for k in counts],
                        "rows": list(counts.values()),
                    }
                ),
                {"rows": "int"},
            ),
            "counts": dg.MetadataValue.json(counts),
            "failing_rows": dg.MetadataValue.json(findings.failing_rows()),
            "lines_checked": len(lines),
            "net_amount_checked": round_cents(float(np.sum(lines["net_amount"]))),
        },
    )


def _attributes(store, key) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per account: fuel, state, segment; per supply point: its own state and fuel), read once."""
    c = read_core_frames(
        store, key, "Account", "JournalAccountSegment", "ServiceType", "AccountUtility", "Utility", "Jurisdiction"
    )
    sites = site_attributes(c["Utility"], c["Jurisdiction"], c["ServiceType"])
    return account_attributes(
        c["Account"], c["JournalAccountSegment"], c["ServiceType"], c["AccountUtility"], sites
    ), sites


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[invoice_line_items],
    kinds={"parquet", "pandas"},
    **team("billing"),
    description="InvoiceLineItemMonthly: one row per account x supply point x year_mnth x line item key.",
)
def invoice_line_item_monthly(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    monthly = line_item_monthly(INVOICE_LINE_ITEMS.read(store, key).to_pandas())
    return dg.MaterializeResult(
        metadata={
            **write_month(store, key, {INVOICE_LINE_ITEM_MONTHLY: monthly}),
            "net_amount": round_cents(float(monthly["net_amount"].sum())),
        }
    )


def supply_point_exceptions(store, key) -> pd.DataFrame:
    """account_id, utility_id (NaN when the exception names the account only) of every exception
    of the month (window, consumption, pricing)."""
    frames = []
    for dataset in ACCOUNT_EXCEPTIONS:
        frame = dataset.read(store, key).to_pandas()
        frames.append(frame.reindex(columns=["account_id", "utility_id"]))
    return pd.concat(frames, ignore_index=True)


def account_exceptions(store, key) -> pd.DataFrame:
    """account_id, code of every account-level exception of the month (window, consumption, pricing)."""
    return pd.concat(
        [d.read(store, key).to_pandas()[["account_id", "code"]] for d in ACCOUNT_EXCEPTIONS],
        ignore_index=True,
    )


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[core_tables, unbilled_window, unbilled_consumption, invoice_line_items],
    kinds={"parquet", "pandas"},
    **team("billing"),
    description="BUAAccountSummary: one row per account with unbilled days or open in the month and fully billed (fuel, state, segment, billed-through, "
    "window, bill status, quantities, amounts, discounts, share estimated, exception flags).",
)
def bua_account_summary(context: dg.AssetExecutionContext, lake: LakeResource) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    accounts = read_core_frames(store, key, "Account")["Account"]
    summary = month_account_summary(
        INVOICE_LINE_ITEMS.read(store, key).to_pandas(),
        UNBILLED_MONTHS.read(store, key).to_pandas(),
        accounts,
        _attributes(store, key)[0],
        UNBILLED_CONSUMPTION.read(store, key).to_pandas(),
        account_exceptions(store, key),
        store.read("core_tables", key, "Invoice", columns=["id", "status", "is_credit"]),
        store.read("core_tables", key, "InvoiceLineItem", columns=["invoice_id", "account_id", "period_end"]),
        *AccrualMonth.from_key(key).span,
    )
    return dg.MaterializeResult(
        metadata={
            **write_month(store, key, {BUA_ACCOUNT_SUMMARY: summary}),
            "accounts_with_exceptions": int(summary["has_exceptions"].sum()),
            "accounts_fully_billed": int((summary["bill_status"] == "BILLED").sum()),
            "net_amount": round_cents(float(summary["net_amount"].sum())),
        }
    )


# The chart puts the previous month's accrual beside this month's: a self-dependency one month back
# (absent for the first partition, which the asset handles).
previous_accrual = dg.AssetDep("accrual_summary", partition_mapping=months_window(-1, -1))


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[
        core_tables,
        unbilled_window,
        unbilled_consumption,
        invoice_line_items,
        invoice_line_item_monthly,
        bua_account_summary,
        previous_accrual,
    ],
    kinds={"parquet", "pandas"},
    **team("billing"),
    check_specs=[
        month_check(
            "reconciliation",
            asset="accrual_summary",
            description="line items, monthly table, account summary and finance summary "
            "agree to the cent; every account open in CORE or in the window is in the account "
            "summary or the exceptions; every supply point with unbilled days is priced or in the "
            "exceptions. Blocking: a month that does not reconcile is not exported",
            blocking=True,
        )
    ],
    description="The month's accrual for finance (DESIGN §5.7): net ex-GST and net less expected discounts by "
    "state x fuel x unbilled month. Pick the partition (2026-10-01 is the October accrual, run on "
    "1 November): month_at_a_glance heads the metadata (this month's accrual, last month's and "
    "the movement by state x fuel, in dollars), then the chart (Show Markdown; last month's "
    "accrual marked beside each bar); by_state_fuel has net and net less discounts to the cent "
    "with distinct accounts. Its reconciliation check ties the four net totals together.",
)
def accrual_summary(context: dg.AssetExecutionContext, lake: LakeResource):
    store, key = lake.lake(), context.partition_key
    lines = INVOICE_LINE_ITEMS.read(store, key).to_pandas()
    attributes, sites = _attributes(store, key)
    summary = finance_summary(lines, attributes, sites)
    month = AccrualMonth.from_key(key)
    previous_key = month.previous.key
    previous = (
        ACCRUAL_SUMMARY.read(store, previous_key).to_pandas() if ACCRUAL_SUMMARY.exists(store, previous_key) else None
    )
    png = accrual_chart(summary, previous, key)
    written = write_month(store, key, {ACCRUAL_SUMMARY: summary}, files={"accrual_summary.png": png})
    by_cell = state_fuel_totals(lines, attributes, sites)
    glance = month_at_a_glance(summary, previous)
    yield dg.MaterializeResult(
        metadata={
            # First, so they head the asset's metadata in the UI: what finance opens the asset for.
            # A table renders inline in the UI (markdown hides behind Show Markdown).
            "month_at_a_glance": table_metadata(glance_display(glance, month.label, month.previous.label), {}),
            "accrual": dg.MetadataValue.text(f"${money(float(glance['accrual'].iloc[-1]))}"),
            "movement": dg.MetadataValue.text(
                f"${money(float(glance['movement'].iloc[-1]))} ({percent(float(glance['movement_pct'].iloc[-1]))})"
            ),
            "chart": dg.MetadataValue.md(
                f"## Accrual {month} by state x fuel x unbilled month\n\n"
                f"![accrual by state x fuel x month](data:image/png;base64,"
                f"{base64.b64encode(png).decode()})"
            ),
            **written,
            "net_amount": round_cents(float(summary["net_amount"].sum())),
            "net_amount_less_discount": round_cents(float(summary["net_amount_less_discount"].sum())),
            "by_state_fuel": table_metadata(
                by_cell, {"net_amount": "float", "net_amount_less_discount": "float", "accounts": "int"}
            ),
            "accounts": int(lines["account_id"].nunique()),
            "chart_path": store.file_uri("accrual_summary", key, "accrual_summary.png"),
            "previous_month_present": previous is not None,
        }
    )
    check = reconcile(store, key, lines, summary)
    yield check
    stop_on_blocking_failures("accrual_summary", [check])


def reconcile(store, key, lines: pd.DataFrame, summary: pd.DataFrame) -> dg.AssetCheckResult:
    monthly = INVOICE_LINE_ITEM_MONTHLY.read(store, key).to_pandas()
    accounts = BUA_ACCOUNT_SUMMARY.read(store, key).to_pandas()
    totals = {
        name: round_cents(float(frame["net_amount"].sum()))
        for name, frame in (
            ("invoice_line_items", lines),
            ("invoice_line_item_monthly", monthly),
            ("bua_account_summary", accounts),
            ("accrual_summary", summary),
        )
    }
    window = UNBILLED_MONTHS.read(store, key).to_pandas()
    excepted = set(account_exceptions(store, key)["account_id"].dropna().astype(int))
    open_accounts = open_during(
        store.read("core_tables", key, "Account", columns=["id", "open_date", "close_date"]).to_pandas(),
        *AccrualMonth.from_key(key).span,
    )
    # Counted against CORE itself: an account open in the month that any step lost fails the check.
    expected = set(open_accounts.astype(int)) | set(window["account_id"].astype(int))
    missing = sorted(expected - set(accounts["account_id"].astype(int)) - excepted)
    unpriced = unreconciled_supply_points(window, lines, supply_point_exceptions(store, key))
    agree = len(set(totals.values())) == 1
    return dg.AssetCheckResult(
        check_name="reconciliation",
        passed=agree and not missing and unpriced.empty,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("totals agree to the cent" if agree else f"totals differ: {totals}")
        + (
            f"; {len(missing)} accounts open in CORE in neither the summary nor the exceptions (e.g. {missing[:10]})"
            if missing
            else ""
        )
        + (
            f"; {len(unpriced)} supply points with unbilled days neither priced nor in the exceptions "
            f"(e.g. account/utility {[tuple(r) for r in unpriced.head(10).itertuples(index=False)]})"
            if len(unpriced)
            else ""
        ),
        metadata={
            "net_amount_by_output": table_metadata(
                pd.DataFrame({"output": list(totals), "net_amount": list(totals.values())}), {"net_amount": "float"}
            ),
            "net_amount_totals": dg.MetadataValue.json(totals),
            "accounts_in_window": int(window["account_id"].nunique()),
            "accounts_open_in_core": len(open_accounts),
            "accounts_excepted": len(excepted),
            "accounts_in_summary": int(accounts["account_id"].nunique()),
            "accounts_missing": dg.MetadataValue.json(missing[:50]),
            "supply_points_in_window": int(len(window[["account_id", "utility_id"]].drop_duplicates())),
            "supply_points_unpriced": dg.MetadataValue.json(
                [{"account_id": int(a), "utility_id": int(u)} for a, u in unpriced.head(50).itertuples(index=False)]
            ),
        },
    )


# The checks errors reads from the instance: every check of every asset before it (the checks run
# with their assets; tests/test_asset_graph.py fails when a check is added and not listed here).
CHECKED = (
    ("core_tables", "schema_drift"),
    ("core_tables", "consistency"),
    ("interval_reads", "meter_data_deliveries"),
    ("segment_profiles", "profile_validation"),
    ("invoice_line_items", "ili_exceptions"),
    ("accrual_summary", "reconciliation"),
    ("accrual_true_up", "true_up_bias"),
)


# errors reads every exception dataset of the month, and the checks' results from the instance
# (accrual_summary's reconciliation is the last of them: it runs after it).
@dg.asset(
    partitions_def=monthly_partitions,
    deps=[d.asset for d in ERROR_SOURCES] + [accrual_summary, accrual_true_up],
    kinds={"parquet"},
    **team("billing"),
    description="Every quarantined input row, exception and failed check of the month in one table (the legacy "
    "DumpErrors), exported beside the CSVs.",
)
def errors(
    context: dg.AssetExecutionContext, lake: LakeResource, meter_data: MeterDataResource
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    roots = [meter_data.location] + ([] if "://" in meter_data.location else [str(Path(meter_data.location).resolve())])
    parts = [
        normalise(d.label, relative_sources(d.read(store, key).to_pandas(), *roots))
        for d in ERROR_SOURCES
        if d.exists(store, key)
    ]
    parts.append(failed_checks(context.instance, key))
    table = errors_table(parts)
    written = write_month(store, key, {ERRORS: table})
    counts = table.groupby(["source", "code"]).size()
    return dg.MaterializeResult(
        metadata={
            **written,
            "by_source_and_code": dg.MetadataValue.json({f"{s}:{c}": int(n) for (s, c), n in counts.items()}),
        }
    )


def failed_checks(instance: dg.DagsterInstance, partition: str) -> pd.DataFrame:
    """The latest evaluation of each check for this month, when it did not pass."""
    rows = []
    for asset, name in CHECKED:
        check_key = dg.AssetCheckKey(dg.AssetKey(asset), name)
        for record in instance.event_log_storage.get_asset_check_execution_history(check_key, limit=20):
            run = instance.get_run_by_id(record.run_id)
            if run is None or run.tags.get("dagster/partition") != partition or record.event is None:
                continue
            evaluation = record.event.asset_check_evaluation
            if evaluation is not None and not evaluation.passed:
                rows.append(
                    {
                        "severity": evaluation.severity.value,
                        "code": f"check_failed:{name}",
                        "reason": evaluation.description or "",
                        "asset": asset,
                    }
                )  # no run id: reruns compare equal
            break  # the latest evaluation for the month decides
    return normalise("asset_checks", pd.DataFrame(rows))


EXPORTS = (
    ("invoice_line_item_monthly", "BUA_InvoiceLineItemMonthly"),
    ("bua_account_summary", "BUA_AccountSummary"),
    ("accrual_summary", "BUA_AccrualSummary"),
    ("errors", "BUA_Errors"),
    ("accrual_true_up", "BUA_AccrualTrueUp"),
)


class BuaExportConfig(dg.Config):
    # auto: promote a real month-end snapshot's export (not a rehearsal); always / never for this run.
    # A degraded month is promoted only with the run tag bua/accept_degraded (billing/degraded.py).
    promote: str = "auto"


# The month's verdict reads its meter data deliveries against last month's, and how much of its
# interval data is estimated (billing/degraded.py).
month_deliveries = dg.AssetDep("interval_reads", partition_mapping=months_window(-1, 0))


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[
        invoice_line_item_monthly,
        bua_account_summary,
        accrual_summary,
        errors,
        accrual_true_up,
        month_deliveries,
        nem12_estimates,
    ],
    kinds={"csv", "s3"},
    **team("billing"),
    check_specs=[
        month_check(
            "publishable",
            asset="bua_export",
            description="the month is not degraded: every meter data provider delivered (at least "
            "BUA_MIN_DELIVERY_SHARE of last month's register-days, most of them not quarantined) and at most "
            "BUA_MAX_ESTIMATED_SHARE of the month's unbilled interval register-days are estimated. WARN when it "
            "is: the export is written for review but not promoted without run tag bua/accept_degraded=REASON "
            "or bua-assets promote --accept-degraded REASON",
        )
    ],
    description="The month's CSVs to `<export base>/export/csv/<run_date>/<snapshot>/` (each snapshot's run kept "
    "apart), then, for the official run (the latest month-end snapshot, or run config promote), "
    "copied to `<integration base>/ADH/OUTBOUND/BUA/`; the month's earlier files are removed first "
    "and a manifest (files, rows, SHA-256) is written last, so a reader never sees a partial "
    "export. A degraded month (a provider missing, short or mostly quarantined; too much estimated) "
    "is held back until accepted with a reason. Once promoted (rds mode 'restore'), the month's RDS "
    "instances and KMS copies of other snapshots are deleted (one month, one official snapshot). The "
    "manifest names the snapshot and CORE's release. With BUA_GLUE_DATABASE the month's lake datasets are "
    "registered for Athena.",
)
def bua_export(
    context: dg.AssetExecutionContext,
    config: BuaExportConfig,
    lake: LakeResource,
    export: ExportResource,
    catalog: AnalystCatalogResource,
    meter_data: MeterDataResource,
    rds: RdsCoreResource,
) -> dg.MaterializeResult:
    store, key = lake.lake(), context.partition_key
    month = AccrualMonth.from_key(key)
    files, lake_tables = [], []
    for asset, stem in EXPORTS:
        # Read at a pinned version, recorded in the manifest: which lake version fed this export.
        version = store.version(asset, asset)
        frame = store.read(asset, key, asset, version=version).to_pandas()
        files.append(ExportFile(f"{stem}_{month.compact}.csv", frame.to_csv(index=False).encode(), len(frame)))
        lake_tables.append(
            {"table": f"{asset}/{asset}", "version": version}
        )  # relative to BUA_LAKE: same bytes anywhere
    export_target, integration_target = export.targets()
    quality = month_quality(store, month, meter_data.min_delivery_share, export.max_estimated_share)
    # Each run's export under its snapshot; the official one promoted (bua_assets/billing/rehearsal.py),
    # a degraded month only when the run carries an acceptance (billing/degraded.py).
    run = snapshot_run(context)
    written = export_snapshot(files, month, run, export_target, quality, lake_tables)
    acceptance = Acceptance.given(
        context.run.tags.get(ACCEPT_TAG), by=f"run {context.run.run_id}", via=f"run tag {ACCEPT_TAG}"
    )
    promoted, reason = gate(
        *should_promote(
            run,
            config.promote,
            month.run_date,
            time_zone_named(export.time_zone),
            promoted_manifest(integration_target, month),
        ),
        quality,
        acceptance,
        month,
        run.snapshot,
    )
    delivered = (
        promote(export_target, integration_target, month, run.snapshot, acceptance, by=f"run {context.run.run_id}")
        if promoted
        else []
    )
    (context.log.warning if quality.degraded else context.log.info)(f"export of snapshot {run.snapshot}: {reason}")
    # One month, one official snapshot: the month's instances and copies of other snapshots go.
    retired = (
        rds.retire_superseded(key, run.snapshot) if promoted and rds.enabled and run.snapshot != NO_SNAPSHOT else []
    )
    for line in retired:
        (context.log.info if line.startswith("deleted") else context.log.warning)(line)
    body = json.loads(export_target.get(manifest_name(snapshot_folder(month, run.snapshot), month)))
    with store.partition_writer("bua_export", key) as writer:
        writer.write(
            "manifest",
            pa.Table.from_pylist([f | {"snapshot": run.snapshot, "promoted": promoted} for f in body["files"]]),
        )
    glue_tables = register_for_analysts(context, store, catalog, key)
    if not quality.degraded:
        said = "; ".join(("not degraded", *quality.notes))
    else:
        said = f"degraded, promoted on an acceptance: {reason}" if promoted else reason
    publishable = dg.AssetCheckResult(
        check_name="publishable",
        passed=not quality.degraded,
        severity=dg.AssetCheckSeverity.WARN,
        description=said,
        metadata=quality_metadata(quality),
    )
    # What the run's checks said (every other check of a month's run is evaluated before its export), and this one.
    checks = [
        *run_check_outcomes(context.instance, context.run.run_id),
        CheckOutcome("bua_export", "publishable", not quality.degraded, "WARN", said),
    ]
    return dg.MaterializeResult(
        metadata={
            "rows": sum(f.rows for f in files),
            "path": (delivered or written)[-1],
            "snapshot": run.snapshot,
            "core_release": run.core_release,
            "promotion": reason,
            "promoted": promoted,
            "degraded": dg.MetadataValue.json(list(quality.reasons)),
            "accepted_degraded": dg.MetadataValue.json(acceptance.record())
            if acceptance and promoted and quality.degraded
            else dg.MetadataValue.null(),
            "run_checks": counts_text(check_counts(checks)),
            "export_paths": dg.MetadataValue.json(written),
            "integration_paths": dg.MetadataValue.json(delivered),
            "files": dg.MetadataValue.json({f["name"]: f["rows"] for f in body["files"]}),
            "glue_tables": dg.MetadataValue.json(glue_tables),
            "retired_rds": dg.MetadataValue.json(retired),
        },
        check_results=[publishable],
    )


def month_quality(store, month: AccrualMonth, min_delivery_share: float, max_estimated_share: float) -> MonthQuality:
    """The month's verdict (billing/degraded.py) from interval_reads' file logs and quarantine and
    nem12_estimates' coverage."""
    key, previous = month.key, month.previous.key
    return judge_month(
        month,
        INTERVAL_FILES.read(store, key),
        INTERVAL_FILES.read(store, previous) if INTERVAL_FILES.exists(store, previous) else None,
        INTERVAL_QUARANTINE.read(store, key),
        ESTIMATE_COVERAGE.read(store, key).to_pandas() if ESTIMATE_COVERAGE.exists(store, key) else None,
        min_delivery_share=min_delivery_share,
        max_estimated_share=max_estimated_share,
    )


def quality_metadata(quality: MonthQuality) -> dict:
    providers = quality.providers.assign(share=lambda f: f["share"].astype(float))
    providers["quarantined_share"] = providers["quarantined_share"].astype(float)
    ints = ("files", "register_days", "previous_files", "previous_register_days", "files_rejected")
    return {
        "reasons": dg.MetadataValue.json(list(quality.reasons)),
        "notes": dg.MetadataValue.json(list(quality.notes)),
        "estimated_share": quality.estimated_share,
        "max_estimated_share": quality.max_estimated_share,
        "providers": table_metadata(
            providers.astype({"degraded": str}),
            {c: "int" for c in (*ints, "delivered", "quarantined")} | {"share": "float", "quarantined_share": "float"},
        ),
    }


def register_for_analysts(context, store, catalog: AnalystCatalogResource, key: str) -> list[str]:
    """The month's lake datasets as Glue tables (bua_assets/ops/catalog.py), when a database is set."""
    if not catalog.database:
        return []
    from bua_assets.ops.catalog import register_month

    registered = register_month(store, catalog.client(), catalog.database, AccrualMonth.from_key(key).label)
    context.log.info(f"{len(registered)} lake datasets registered in Glue database {catalog.database}")
    return [r.table for r in registered]


def snapshot_run(context: dg.AssetExecutionContext) -> SnapshotRun:
    """The run's snapshot (the EARL sensor's tags, else core_snapshot's run config) and whether the
    operator marked it a rehearsal (run tag bua/rehearsal=true)."""
    tags = context.run.tags
    configured = core_snapshot_config(context.run)
    snapshot = tags.get("bua/snapshot") or configured.get("snapshot_identifier") or NO_SNAPSHOT
    return SnapshotRun(
        snapshot,
        parse_created(tags.get("bua/snapshot_created")),
        tags.get("bua/rehearsal", "").strip().lower() in ("1", "true", "yes"),
        restored_release(context.instance, context.partition_key, snapshot),
    )


def restored_release(instance: dg.DagsterInstance, partition: str, snapshot: str) -> str | None:
    """CORE's release as core_snapshot recorded it when it restored ``snapshot`` for the month (its
    latest such materialisation); None when no restore of that snapshot is recorded."""
    if snapshot == NO_SNAPSHOT:
        return None
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("core_snapshot"), asset_partitions=[partition]), limit=20
    ).records
    for record in records:  # newest first
        meta = record.asset_materialization.metadata if record.asset_materialization else {}
        restored = meta.get("rds_snapshot")
        if restored is not None and snapshot_name(str(restored.value)) == snapshot_name(snapshot):
            return str(meta["core_release"].value) if "core_release" in meta else None
    return None
