"""accrual_true_up (issue 26): the earlier months' accruals against the bills issued since, on
CORE and the lake only (billing/true_up.py does the work)."""

import base64

import dagster as dg
import numpy as np
import pandas as pd
import pyarrow as pa

from bua_assets.assets.core import core_tables
from bua_assets.assets.estimation import horizon_statistics
from bua_assets.assets.lake_reads import macro_of, micro_scalars_of, read_core_frames, registers_of
from bua_assets.assets.metadata import table_metadata
from bua_assets.assets.profiles import macro_profiles, micro_scalars, utility_profiles
from bua_assets.assets.teams import team
from bua_assets.assets.writing import write_month
from bua_assets.billing.outputs import site_attributes
from bua_assets.billing.true_up import (
    TrueUp,
    accrued_days,
    apportion,
    bias_chart,
    effective_bills,
    flagged_cells,
    interval_weights,
    profile_weights,
    true_up,
    usable_bills,
)
from bua_assets.datasets import (
    ACCRUAL_TRUE_UP,
    ACCRUED_REGISTER_DAYS,
    INVOICE_LINE_ITEMS,
    TRUE_UP_BY_MONTH,
    TRUE_UP_EXCEPTIONS,
    TRUE_UP_MISSES,
)
from bua_assets.estimation.micro_scalars import base_share
from bua_assets.estimation.scalars import register_weights
from bua_assets.estimation.window import DEFAULT_HORIZON_MONTHS
from bua_assets.months import AccrualMonth
from bua_assets.partitions import month_check, monthly_partitions, months_window
from bua_assets.resources import LakeResource
from bua_assets.settings import true_up_months

TRUE_UP_MONTHS = true_up_months()  # BUA_TRUE_UP_MONTHS: the window the graph declares
# The earlier months' accruals: their register-days and priced lines.
earlier_consumption = dg.AssetDep("unbilled_consumption", partition_mapping=months_window(-TRUE_UP_MONTHS, -1))
earlier_line_items = dg.AssetDep("invoice_line_items", partition_mapping=months_window(-TRUE_UP_MONTHS, -1))


ACCRUAL_LINE_COLUMNS = [
    "account_id",
    "utility_id",
    "year_mnth",
    "plan_item_type_name",
    "ili_state",
    "quantity",
    "net_amount",
]


class AccrualTrueUpConfig(dg.Config):
    months: int = TRUE_UP_MONTHS  # earlier accruals compared (1 to BUA_TRUE_UP_MONTHS)
    bias_threshold_pct: float = 5.0  # WARN when a cell's quantity or dollar bias is beyond this, either way
    min_days: int = 60  # ... over at least this many trued-up days (a handful of days says little)


@dg.asset(
    partitions_def=monthly_partitions,
    deps=[
        core_tables,
        utility_profiles,
        micro_scalars,
        macro_profiles,
        horizon_statistics,
        earlier_consumption,
        earlier_line_items,
    ],
    kinds={"parquet", "pandas"},
    **team("billing"),
    check_specs=[
        month_check(
            "true_up_bias",
            asset="accrual_true_up",
            description="WARN when a state x fuel x meter kind x estimation method cell of an earlier "
            "month's accrual is off the bills issued since by more than bias_threshold_pct (5%) in "
            "quantity or dollars, over at least min_days trued-up days",
        )
    ],
    description="The accrual true-up (issue 26): each of the previous BUA_TRUE_UP_MONTHS (6) months' "
    "accruals against the bills issued since for the same days (a bill apportioned to its days by "
    "the meter data, a basic register's profile, else flat), per accrual month x state x fuel x meter "
    "kind x how the day was estimated: quantity and dollar bias (accrued - billed, % of billed), mean "
    "absolute error per account, the share of the accrual trued up; the largest account misses "
    "(misses); a chart of bias per month. CORE and the lake only: it runs on a real retailer's data.",
)
def accrual_true_up(context: dg.AssetExecutionContext, config: AccrualTrueUpConfig, lake: LakeResource):
    if not 1 <= config.months <= TRUE_UP_MONTHS:
        raise dg.Failure(
            f"months must be 1 to {TRUE_UP_MONTHS} (BUA_TRUE_UP_MONTHS: the window the asset graph declares), "
            f"got {config.months}"
        )
    store, key = lake.lake(), context.partition_key
    month = AccrualMonth.from_key(key)
    result, billed, absent, exceptions = true_up_of(store, key, config.months)
    accrued = result.days
    png = bias_chart(result.months, key)
    cells, months_table, misses = result.cells, result.months, result.misses
    written = write_month(
        store,
        key,
        {
            ACCRUAL_TRUE_UP: dated(cells),
            TRUE_UP_BY_MONTH: dated(months_table),
            TRUE_UP_MISSES: dated(misses),
            TRUE_UP_EXCEPTIONS: exceptions.astype({"charge": str}),
        },
        files={"accrual_true_up.png": png},
    )
    flagged = flagged_cells(cells, config.bias_threshold_pct, config.min_days)
    figures = {
        "accrued_days": "int",
        "days_trued_up": "int",
        "days_of_whole_bills": "int",
        "accounts": "int",
        **{c: "float" for c in ("quantity_bias_pct", "dollar_bias_pct", "mae_pct", "trued_up_share")},
        **{c: "float" for c in ("accrued_quantity", "accrued_quantity_trued_up", "billed_quantity")},
        **{c: "float" for c in ("accrued_dollars_trued_up", "billed_dollars")},
    }
    imports = months_table[months_table["flow"] == "import"]
    yield dg.MaterializeResult(
        metadata={
            "chart": dg.MetadataValue.md(
                f"## Accrual true-up as at {month}\n\n"
                f"![quantity bias per accrual month](data:image/png;base64,{base64.b64encode(png).decode()})"
            ),
            "by_month": table_metadata(dated(imports), figures),
            "cells": table_metadata(dated(cells), figures),
            "largest_misses": table_metadata(
                dated(misses),
                {"days": "int", "account_id": "int", "utility_id": "int"}
                | {
                    c: "float"
                    for c in (
                        "accrued_quantity",
                        "billed_quantity",
                        "accrued_dollars",
                        "billed_dollars",
                        "quantity_miss",
                        "dollar_miss",
                    )
                },
            ),
            "months_compared": dg.MetadataValue.json(sorted({str(m.date()) for m in accrued["accrual_month"]})),
            "months_not_in_lake": dg.MetadataValue.json(absent),
            "apportioned_by": dg.MetadataValue.json(billed_share_by_basis(billed)),
            "rows": len(cells),  # the cells table, as every asset reports its main dataset's rows
            "days_trued_up": int(cells["days_trued_up"].sum()),
            "bills_set_aside": len(exceptions),
            **written,
            "chart_path": f"{store.uri('accrual_true_up', key)}/accrual_true_up.png",
        }
    )
    yield dg.AssetCheckResult(
        check_name="true_up_bias",
        passed=flagged.empty,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"{len(flagged)} cell(s) biased beyond {config.bias_threshold_pct}% over at least {config.min_days} "
            f"trued-up days: "
            + "; ".join(
                f"{r.accrual_month:%Y-%m} {r.state} {r.fuel} {r.meter_kind} {r.method} {r.flow}: "
                f"quantity {r.quantity_bias_pct:+.1f}%, dollars {r.dollar_bias_pct:+.1f}%"
                for r in flagged.head(10).itertuples()
            )
            if len(flagged)
            else f"every cell within {config.bias_threshold_pct}% (cells over {config.min_days} trued-up days)"
        ),
        metadata={
            "flagged": table_metadata(dated(flagged), figures),
            "bias_threshold_pct": config.bias_threshold_pct,
            "min_days": config.min_days,
        },
    )


def true_up_of(store, key: str, months: int) -> tuple[TrueUp, pd.DataFrame, list[str], pd.DataFrame]:
    """(the true-up of the ``months`` accruals before ``key`` against the bills in ``key``'s CORE,
    the bills' days as apportioned, the months compared that have no accrual in the lake, the
    bills set aside: true_up.usable_bills' exceptions)."""
    month = AccrualMonth.from_key(key)
    earlier = [month.shifted(-n).key for n in range(months, 0, -1)]
    register_day_parts, line_parts, absent = [], [], []
    for m in earlier:
        # both looked up (and so both recorded as read: tests/test_asset_graph.py), not short-circuited
        accrued_here = ACCRUED_REGISTER_DAYS.exists(store, m)
        priced_here = INVOICE_LINE_ITEMS.exists(store, m)
        if accrued_here and priced_here:
            stamp = pd.Timestamp(m)
            register_day_parts.append(ACCRUED_REGISTER_DAYS.read(store, m).to_pandas().assign(accrual_month=stamp))
            line_parts.append(
                INVOICE_LINE_ITEMS.read(store, m, columns=ACCRUAL_LINE_COLUMNS).to_pandas().assign(accrual_month=stamp)
            )
        else:
            absent.append(m)  # not accrued here yet, or written before register_days were kept
    core = read_core_frames(store, key, "Utility", "Jurisdiction", "ServiceType")
    sites = site_attributes(core["Utility"], core["Jurisdiction"], core["ServiceType"])
    registers = registers_of(store, key)
    scalars = micro_scalars_of(store, key)
    macro = macro_of(store, key)
    invoices = store.read(
        "core_tables",
        key,
        "Invoice",
        columns=["id", "account_id", "issue_date", "status", "is_credit", "reverses_invoice_id"],
    ).to_pandas()
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
            "quantity",
            "net_amount",
        ],
    ).to_pandas()
    if register_day_parts:
        days = pd.concat(register_day_parts, ignore_index=True)
        accrual_lines = pd.concat(line_parts, ignore_index=True)
    else:
        days = pd.DataFrame(
            columns=[
                "accrual_month",
                "account_id",
                "utility_id",
                "register_id",
                "date",
                "read_kind",
                "stream_type",
                "quantity",
                "method",
            ]
        )
        accrual_lines = pd.DataFrame(
            columns=[
                "accrual_month",
                "account_id",
                "utility_id",
                "year_mnth",
                "plan_item_type_name",
                "ili_state",
                "quantity",
                "net_amount",
            ]
        )
    accrued = accrued_days(days, accrual_lines, sites)
    # only the bills of supply points with accrued days: InvoiceLineItem is CORE's largest table
    line_items = line_items[line_items["utility_id"].isin(accrued["utility_id"].unique())]
    bills, exceptions = usable_bills(effective_bills(invoices, line_items))
    billed = apportion(
        bills, metered_weights(store, key, bills, registers), basic_weights(bills, registers, scalars, macro)
    )
    result = true_up(accrued, billed)
    return result, billed, absent, exceptions


def dated(frame: pd.DataFrame) -> pd.DataFrame:
    """Date columns as ISO text (tables in the UI and the CSV read the same)."""
    out = frame.copy()
    for c in ("accrual_month", "first_day", "last_day"):
        if c in out:
            out[c] = pd.to_datetime(out[c]).dt.strftime("%Y-%m-%d")
    return out


def billed_share_by_basis(billed: pd.DataFrame) -> dict:
    """The share of the billed quantity apportioned by meter data, profile or flat."""
    total = float(billed["billed_quantity"].abs().sum())
    by = billed.groupby("basis")["billed_quantity"].apply(lambda q: float(q.abs().sum()))
    return {b: round(v / total, 4) if total else 0.0 for b, v in by.items()}


def metered_weights(store, key: str, bills: pd.DataFrame, registers: pd.DataFrame) -> pd.DataFrame:
    """The bills' days of meter data (interval_statistics' register_days, within the horizon the
    asset declares), read for the supply points' interval registers only."""
    interval = registers[(registers["read_kind"] == "INTERVAL") & registers["utility_id"].isin(bills["utility_id"])]
    empty = pd.DataFrame({"register_id": [], "read_date": [], "kwh": []})
    if bills.empty or interval.empty:
        return interval_weights(empty, registers)
    earliest = max(
        pd.Timestamp(pd.to_datetime(bills["period_start"]).min()).to_period("M"),
        pd.Period(AccrualMonth.from_key(key).shifted(1 - DEFAULT_HORIZON_MONTHS).key, "M"),
    )
    latest = min(pd.Timestamp(pd.to_datetime(bills["period_end"]).max()).to_period("M"), pd.Period(key, "M"))
    ids = pa.array(interval["register_id"].astype("int64").unique())
    tables = [
        store.read_matching(
            "interval_statistics",
            f"{m.start_time:%Y-%m-%d}",
            "register_days",
            "register_id",
            ids,
            ["register_id", "read_date", "kwh"],
        )
        for m in pd.period_range(earliest, latest, freq="M")
    ]
    tables = [t for t in tables if t.num_rows]
    metered = pa.concat_tables(tables).to_pandas() if tables else empty
    return interval_weights(metered, registers)


def basic_weights(bills: pd.DataFrame, registers: pd.DataFrame, scalars: pd.DataFrame, macro) -> pd.DataFrame:
    """The bills' days weighted by each basic register's expected use: its micro scalar (1 when it
    has none: the shape alone) x its macro profile's daily weight with its own base share, the
    weights the accrual spreads and estimates with (scalars.register_weights)."""
    from bua_assets.billing.true_up import bill_days

    key_of = pd.Series(macro.key_index(registers["profile_key"]), index=registers["register_id"].to_numpy())
    key_of = key_of[~key_of.index.duplicated()]
    share = base_share(scalars)
    level = scalars["scalar"] if "scalar" in scalars else pd.Series(dtype=float)

    def weigh(register_ids: np.ndarray, dates: np.ndarray) -> np.ndarray:
        keys = key_of.reindex(register_ids).fillna(-1).to_numpy(dtype=np.int64)
        known = keys >= 0
        w = np.full(len(register_ids), np.nan)
        w[known] = register_weights(
            macro,
            keys[known],
            share.reindex(register_ids[known]).fillna(0.0).to_numpy(dtype=float),
            dates[known],
        )
        return w * level.reindex(register_ids).fillna(1.0).to_numpy(dtype=float)

    return profile_weights(bill_days(bills), registers, weigh)
