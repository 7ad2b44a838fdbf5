"""The lake reads the assets share: a month's CORE tables, registers, macro profiles, micro
scalars, basic reads and interval statistics, and the profile window they are read over. Reads
only (no rules): each asset passes what it reads to its domain function."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.billing.rerating import HalfHours, supply_point_half_hours
from bua_assets.datasets import (
    DAILY_BEFORE_WINDOW,
    DAILY_SHAPE,
    INTRADAY_SHAPE,
    METER_REGISTER_TABLES,
    MICRO_SCALARS,
    REGISTER_DAYS,
    REGISTERS,
)
from bua_assets.estimation import profiles as prof
from bua_assets.estimation.intervals import READ_COLUMNS
from bua_assets.estimation.registers import profiled_registers
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth
from bua_assets.settings import profile_history_months

HISTORY_MONTHS = profile_history_months()  # BUA_PROFILE_HISTORY_MONTHS: 12 by default, up to 36
RECENT_MONTHS = 3  # months of register-day totals behind the recent index and each register's level


def profile_window(key: str) -> prof.Window:
    month = AccrualMonth.from_key(key)  # HISTORY_MONTHS months ending with the partition's own
    return prof.Window(month.shifted(1 - HISTORY_MONTHS).start, month.end)


# What a history month's backfill materialises (bua_assets.runner.HISTORY_ASSETS), as findings say it.
HISTORY_BACKFILL = "core_snapshot, meter_registers, interval_reads and interval_statistics"


def history_partitions(key: str, months: int = HISTORY_MONTHS) -> list[str]:
    """The partitions before ``key`` whose interval data its profiles read: the profile window is
    ``months`` months ending with the partition's own, so ``months - 1`` months before it."""
    return [m.key for m in AccrualMonth.from_key(key).history(months - 1)]


def history_months(key: str, months: int = HISTORY_MONTHS) -> list[str]:
    """The partition keys of the ``months`` months ending with ``key``'s own (by default the profile
    window), oldest first."""
    return [*history_partitions(key, months), key]


def read_core(store: Lake, key: str, *tables: str) -> dict[str, pa.Table]:
    return {t: store.read("core_tables", key, t) for t in tables}


def read_core_frames(store: Lake, key: str, *tables: str) -> dict[str, pd.DataFrame]:
    return {t: table.to_pandas() for t, table in read_core(store, key, *tables).items()}


def registers_of(store: Lake, key: str) -> pd.DataFrame:
    return REGISTERS.read(store, key).to_pandas()


def macro_of(store: Lake, key: str) -> prof.MacroProfiles:
    return prof.macro_from_tables(
        DAILY_SHAPE.read(store, key),
        INTRADAY_SHAPE.read(store, key),
        profile_window(key),
        DAILY_BEFORE_WINDOW.read(store, key) if DAILY_BEFORE_WINDOW.exists(store, key) else None,
    )


def micro_scalars_of(store: Lake, key: str) -> pd.DataFrame:
    """The month's micro scalars, by register_id."""
    return MICRO_SCALARS.read(store, key).to_pandas().set_index("register_id")


def registers_for(store: Lake, key: str, window: prof.Window) -> tuple[pd.DataFrame, list[str], pd.DataFrame]:
    """registers.profiled_registers of the month's CORE register tables (meter_registers) over ``window``."""
    core = {table: dataset.read(store, key) for table, dataset in METER_REGISTER_TABLES.items()}
    return profiled_registers(core, window.start, window.end)


def basic_reads_of(store: Lake, key: str) -> pd.DataFrame:
    """The month's CORE accumulation reads (baseline.baseline_reads chooses the baselines)."""
    return store.read(
        "core_tables", key, "BasicRead", columns=["id", "meter_register_id", "read_date", "reading", "read_type"]
    ).to_pandas()


def recent_register_days(store: Lake, key: str, columns: list[str]) -> Iterator[pa.Table]:
    """The months' register-day totals (interval_statistics), newest month first."""
    for m in reversed(history_months(key)):
        if REGISTER_DAYS.exists(store, m):
            yield REGISTER_DAYS.read(store, m, columns=columns)


def metered_days(store: Lake, year_mnths) -> pd.DataFrame:
    """The register-days with meter data in the given months (interval_statistics)."""
    keys = sorted(pd.Timestamp(m).strftime("%Y-%m-%d") for m in year_mnths)
    tables = [
        REGISTER_DAYS.read(store, k, columns=["register_id", "read_date"])
        for k in keys
        if REGISTER_DAYS.exists(store, k)
    ]
    if not tables:
        return pd.DataFrame({"register_id": pd.Series(dtype="int32"), "read_date": pd.Series(dtype="datetime64[s]")})
    return pa.concat_tables(tables).to_pandas(date_as_object=False)


def recent_actual_days(store: Lake, key: str) -> pd.DataFrame:
    """The fully actual register-days (register_id, read_date, kwh) of the month and the
    RECENT_MONTHS - 1 before it (interval_statistics, within the horizon the asset depends on)."""
    tables = [
        REGISTER_DAYS.read(store, k, columns=["register_id", "read_date", "kwh", "actual_half_hours"])
        for k in history_months(key, RECENT_MONTHS)
        if REGISTER_DAYS.exists(store, k)
    ]
    if not tables:
        return pd.DataFrame(
            {
                "register_id": pd.Series(dtype="int64"),
                "read_date": pd.Series(dtype="datetime64[s]"),
                "kwh": pd.Series(dtype=float),
            }
        )
    t = pa.concat_tables(tables)
    t = t.filter(pc.equal(t["actual_half_hours"], 48)).select(["register_id", "read_date", "kwh"])
    return t.to_pandas(date_as_object=False).astype({"register_id": "int64"})


def billed_half_hours(store: Lake, key: str, horizon_months: int) -> HalfHours:
    """The ``HalfHours`` of billed days for re-rating (billing.rerating): the interval data of the
    months asked for (within the ``horizon_months`` to ``key``), read for the supply points asked
    for only, with the month's registers and load profiles."""
    registers, macro = registers_of(store, key), macro_of(store, key)
    month = pd.Timestamp(key)
    earliest = month - pd.DateOffset(months=horizon_months - 1)
    latest = month + pd.offsets.MonthEnd(0)

    def half_hours(requests: pd.DataFrame, stream: str):
        mine = registers[registers["utility_id"].isin(requests["utility_id"]) & (registers["stream_type"] == stream)]
        nmis_of = mine.groupby("utility_id")["nmi"].agg(lambda n: sorted(set(map(str, n))))
        first, last = pd.to_datetime(requests["first"]), pd.to_datetime(requests["last"])
        # the months the asset declares (the horizon to its own month): none beyond them exist yet
        months = pd.period_range(max(first.min(), earliest), min(last.max(), latest), freq="M")
        tables = []
        for m in months:
            # only the supply points whose days reach into this month
            here = requests["utility_id"][((first <= m.end_time) & (last >= m.start_time)).to_numpy()]
            nmis = sorted({n for u in here.unique() for n in nmis_of.get(u, [])})
            if nmis:
                tables.append(
                    store.read_matching(
                        "interval_reads",
                        f"{m.start_time:%Y-%m-%d}",
                        "interval_reads",
                        "nmi",
                        pa.array(nmis, pa.string()),
                        READ_COLUMNS,
                    )
                )
        tables = [t for t in tables if t.num_rows]
        data = pa.concat_tables(tables) if tables else pa.table({c: pa.array([], pa.null()) for c in READ_COLUMNS})
        return supply_point_half_hours(registers, data, macro, requests, stream)

    return half_hours


def with_file_and_line(store: Lake, key: str, days: pa.Table | None) -> pa.Table | None:
    """``days`` (nmi, suffix, read_date, ...: a few register-days of the month's interval_reads)
    with the file and line each came from, read for those NMIs only (the month's pass does not
    carry them)."""
    if days is None or not days.num_rows or "source_file" in days.column_names:
        return days
    located = store.read_matching(
        "interval_reads",
        key,
        "interval_reads",
        "nmi",
        pc.unique(days["nmi"]),
        ["nmi", "suffix", "read_date", "source_file", "line"],
    )
    return days.join(located, ["nmi", "suffix", "read_date"], join_type="left outer").sort_by(
        [("nmi", "ascending"), ("suffix", "ascending"), ("read_date", "ascending")]
    )
