"""The lake's datasets, declared once: which asset writes each, its name, what kind of data it holds
and, where the domain fixes one, its Arrow schema. Producers and consumers name a dataset through
its declaration (``UNBILLED_MONTHS.read(store, key)``) rather than repeating (asset, dataset)
strings, and the graph-wide registries (what ``errors`` collects, what flags an account) are
derived from the declarations, so a new step declares its datasets here and nowhere else.

Pure: no Dagster. A CORE table is a dataset of ``core_tables`` named after the table; those are
read through ``lake_reads.read_core_frames`` and not declared one by one."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from bua_assets.estimation.registers import CORE_INPUTS
from bua_assets.lake import Lake
from bua_assets.nem12.ingest import FILES_SCHEMA, QUARANTINE_SCHEMA


class Kind(StrEnum):
    OUTPUT = "output"  # what the step is for: read downstream, exported or shown
    EXCEPTIONS = "exceptions"  # rows the step could not handle, each with a code and a reason
    QUARANTINE = "quarantine"  # input rows refused at the door, each with a code and a reason
    INTERNAL = "internal"  # intermediate state another step (or a later month) reads


@dataclass(frozen=True)
class Dataset:
    asset: str
    name: str
    kind: Kind = Kind.INTERNAL
    schema: pa.Schema | None = None
    in_errors: bool = False  # collected into the month's errors table (the legacy DumpErrors)
    flags_accounts: bool = False  # its rows name accounts the account summary flags as exceptions

    def __post_init__(self) -> None:
        if (self.in_errors or self.flags_accounts) and self.kind not in (Kind.EXCEPTIONS, Kind.QUARANTINE):
            raise ValueError(f"{self.label}: only exceptions or quarantine datasets feed errors")

    @property
    def label(self) -> str:
        return f"{self.asset}.{self.name}"

    def read(
        self, lake: Lake, partition: str, columns: list[str] | None = None, version: int | None = None
    ) -> pa.Table:
        return lake.read(self.asset, partition, self.name, columns=columns, version=version)

    def exists(self, lake: Lake, partition: str) -> bool:
        return lake.exists(self.asset, partition, self.name)

    def uri(self, lake: Lake, partition: str) -> str:
        return lake.uri(self.asset, partition, self.name)


# In graph order: ERROR_SOURCES keeps this order, and the errors table its sources' order.
INTERVAL_READS = Dataset("interval_reads", "interval_reads", Kind.OUTPUT)
INTERVAL_QUARANTINE = Dataset("interval_reads", "quarantine", Kind.QUARANTINE, QUARANTINE_SCHEMA, in_errors=True)
INTERVAL_FILES = Dataset("interval_reads", "files", schema=FILES_SCHEMA)  # the ingest file log
REGISTER_PEAKS = Dataset("interval_reads", "register_peaks")

# CORE's register tables, extracted alone by meter_registers: what interval data is matched to.
METER_REGISTER_TABLES = {table: Dataset("meter_registers", table) for table in CORE_INPUTS.values()}

REGISTER_DAYS = Dataset("interval_statistics", "register_days")
REGISTER_STATS = Dataset("interval_statistics", "register_stats")
REGISTER_TOTALS = Dataset("interval_statistics", "register_totals")
MONTH_SEGMENT_SUMS = Dataset("interval_statistics", "segment_sums")
UNMATCHED_INTERVAL_DAYS = Dataset("interval_statistics", "unmatched")
METER_DATA_EXCEPTIONS = Dataset("interval_statistics", "meter_data_exceptions", Kind.EXCEPTIONS, in_errors=True)

REGISTERS = Dataset("utility_profiles", "registers")
SEGMENT_SUMS = Dataset("utility_profiles", "segment_sums")
UTILITY_PROFILE_SUMMARY = Dataset("utility_profiles", "utility_profile_summary", Kind.OUTPUT)
PROFILE_HISTORY_MONTHS = Dataset("utility_profiles", "history_months")

SEGMENT_PROFILE = Dataset("segment_profiles", "segment_profile", Kind.OUTPUT)

DAILY_SHAPE = Dataset("macro_profiles", "daily_shape", Kind.OUTPUT)
INTRADAY_SHAPE = Dataset("macro_profiles", "intraday_shape", Kind.OUTPUT)
DAILY_BEFORE_WINDOW = Dataset("macro_profiles", "daily_before_window")

UNBILLED_MONTHS = Dataset("unbilled_window", "unbilled_months", Kind.OUTPUT)
WINDOW_EXCEPTIONS = Dataset("unbilled_window", "exceptions", Kind.EXCEPTIONS, in_errors=True, flags_accounts=True)

MICRO_SCALARS = Dataset("micro_scalars", "micro_scalars", Kind.OUTPUT)
READ_INTERVALS = Dataset("micro_scalars", "read_intervals")
MICRO_SCALAR_EXCEPTIONS = Dataset("micro_scalars", "exceptions", Kind.EXCEPTIONS, in_errors=True)

BASIC_READS = Dataset("basic_reads", "basic_reads", Kind.OUTPUT)
BASIC_READ_EXCEPTIONS = Dataset("basic_reads", "exceptions", Kind.EXCEPTIONS, in_errors=True)

ESTIMATED_READS = Dataset("nem12_estimates", "estimated_reads", Kind.OUTPUT)
ESTIMATE_EXCEPTIONS = Dataset("nem12_estimates", "exceptions", Kind.EXCEPTIONS, in_errors=True)
ESTIMATE_COVERAGE = Dataset("nem12_estimates", "coverage")

UNBILLED_CONSUMPTION = Dataset("unbilled_consumption", "unbilled_consumption", Kind.OUTPUT)
CONSUMPTION_EXCEPTIONS = Dataset(
    "unbilled_consumption", "exceptions", Kind.EXCEPTIONS, in_errors=True, flags_accounts=True
)
MAX_DEMAND = Dataset("unbilled_consumption", "max_demand")
ACCRUED_REGISTER_DAYS = Dataset("unbilled_consumption", "register_days")  # what the true-up compares

INVOICE_LINE_ITEMS = Dataset("invoice_line_items", "invoice_line_items", Kind.OUTPUT)
PRICING_EXCEPTIONS = Dataset("invoice_line_items", "exceptions", Kind.EXCEPTIONS, in_errors=True, flags_accounts=True)

ACCRUAL_TRUE_UP = Dataset("accrual_true_up", "accrual_true_up", Kind.OUTPUT)
TRUE_UP_BY_MONTH = Dataset("accrual_true_up", "months", Kind.OUTPUT)
TRUE_UP_MISSES = Dataset("accrual_true_up", "misses", Kind.OUTPUT)
TRUE_UP_EXCEPTIONS = Dataset("accrual_true_up", "exceptions", Kind.EXCEPTIONS, in_errors=True)

INVOICE_LINE_ITEM_MONTHLY = Dataset("invoice_line_item_monthly", "invoice_line_item_monthly", Kind.OUTPUT)
BUA_ACCOUNT_SUMMARY = Dataset("bua_account_summary", "bua_account_summary", Kind.OUTPUT)
ACCRUAL_SUMMARY = Dataset("accrual_summary", "accrual_summary", Kind.OUTPUT)
ERRORS = Dataset("errors", "errors", Kind.OUTPUT)

DATASETS: tuple[Dataset, ...] = (
    *(v for v in dict(globals()).values() if isinstance(v, Dataset)),
    *METER_REGISTER_TABLES.values(),
)

# What the errors asset collects, in graph order.
ERROR_SOURCES: tuple[Dataset, ...] = tuple(d for d in DATASETS if d.in_errors)
# The exceptions whose accounts the account summary flags (window, consumption, pricing).
ACCOUNT_EXCEPTIONS: tuple[Dataset, ...] = tuple(d for d in DATASETS if d.flags_accounts)
