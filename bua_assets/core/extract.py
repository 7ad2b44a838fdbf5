"""Extract the CORE tables a month needs into the lake, as of the month's run date.

Rows that did not exist at the run date (invoices issued, reads taken, versions created on or
after it) are left out, so a month re-extracted from a later snapshot sees what its own
snapshot saw. The filters run in Arrow on the typed batches; the SQL holds no values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.core.casting import CoreValueError
from bua_assets.core.database import CoreDatabase
from bua_assets.core.engines import CoreReadError
from bua_assets.core.schema import DriftFinding, core_tables, schema_drift
from bua_assets.lake import DatasetWriter

# table -> column that dates a row's creation (rows on or after the run date are excluded)
AS_AT_COLUMN = {
    "Account": "open_date",
    "AccountUtility": "start_date",
    "AccountPlan": "created_at",
    "Invoice": "issue_date",
    "BasicRead": "read_date",
    "GasNetworkDailyVolume": "gas_date",
    "GasHeatingValue": "month",
}
OBSERVED_SCHEMA = pa.schema([("table_name", pa.string()), ("column_name", pa.string()), ("column_type", pa.string())])


@dataclass
class ExtractResult:
    rows: dict[str, int] = field(default_factory=dict)
    excluded_as_at: dict[str, int] = field(default_factory=dict)
    drift: list[DriftFinding] = field(default_factory=list)
    # values that do not read as their contract type (one per table: its first bad column), or a
    # table the database could not stream; the month cannot use these tables
    value_errors: list[CoreValueError | CoreReadError] = field(default_factory=list)


def extract_core(
    db: CoreDatabase,
    writer: DatasetWriter,
    run_date: date,
    *,
    chunk_rows: int = 200_000,
    only: Collection[str] | None = None,
    progress: Callable[[int, int, str], None] = lambda *_: None,
) -> ExtractResult:
    """Every CORE table of the contract, or ``only`` those (the drift then covers those alone)."""
    result = ExtractResult()
    observed = db.observed_schema()
    result.drift = [f for f in schema_drift(observed, sqlite=db.engine == "sqlite") if only is None or f.table in only]
    writer.write(
        "_observed_schema",
        pa.table(
            [
                pa.array([t for t, cols in observed.items() for _ in cols]),
                pa.array([c for cols in observed.values() for c in cols]),
                pa.array([str(v) for cols in observed.values() for v in cols.values()]),
            ],
            schema=OBSERVED_SCHEMA,
        ),
    )
    issued_invoices: list[pa.Array] = []
    tables = _contract_tables(only)
    for done, (name, spec) in enumerate(tables.items(), start=1):
        present = {c.lower() for c in observed.get(name, {})}
        available = [c for c in spec.column_names if c.lower() in present]
        kept = excluded = 0
        held: list[pa.RecordBatch] = []  # AccountPlan: statuses are restored over the whole table
        try:
            for batch in db.stream_table(name, columns=available, chunk_rows=chunk_rows) if available else ():
                batch = _complete(batch, spec.arrow_schema)
                mask = _as_at_mask(name, batch, run_date, issued_invoices)
                if mask is not None:
                    excluded += batch.num_rows - pc.sum(mask).as_py() if batch.num_rows else 0
                    batch = batch.filter(mask)
                if name == "Invoice":
                    issued_invoices.append(batch.column("id"))
                if name == "AccountPlan":
                    held.append(batch)
                else:
                    writer.write_batch(name, batch)
                kept += batch.num_rows
            if held:
                for batch in approved_as_at(pa.Table.from_batches(held)).to_batches():
                    writer.write_batch(name, batch)
        except (CoreValueError, CoreReadError) as exc:
            # Go on with the other tables, so one extraction names every bad table (and the drift).
            result.value_errors.append(exc)
        writer.ensure(name, spec.arrow_schema)
        result.rows[name] = kept
        result.excluded_as_at[name] = excluded
        progress(done, len(tables), f"{name}: {kept:,} rows")
    return result


def _contract_tables(only: Collection[str] | None) -> dict:
    """The contract's tables in extraction order (Invoice before its line items), or ``only`` those."""
    tables = core_tables()
    if only is None:
        return tables
    if unknown := set(only) - set(tables):
        raise ValueError(f"not CORE tables of the contract: {', '.join(sorted(unknown))}")
    return {name: spec for name, spec in tables.items() if name in only}


def approved_as_at(plans: pa.Table) -> pa.Table:
    """AccountPlan as its own snapshot showed it: a version CORE now calls REPLACED whose
    replacement was created on or after the run date (so is not among ``plans``, already cut to
    the run date) was still APPROVED then. Without this a month re-run from a later database would
    find no approved version for a period whose plan was replaced after the month (a backdated
    replacement) and leave it unpriced. A replacement is a later-created version of the same
    account and supply point whose period overlaps."""
    if not plans.num_rows:
        return plans
    import pandas as pd

    p = plans.select(["id", "account_id", "utility_id", "start_date", "end_date", "status", "created_at"]).to_pandas()
    far = pd.Timestamp("2999-12-31")
    p["start"] = pd.to_datetime(p["start_date"])
    p["end"] = pd.to_datetime(p["end_date"]).fillna(far)
    replaced = p[p["status"] == "REPLACED"]
    pairs = replaced.merge(p, on=["account_id", "utility_id"], suffixes=("", "_by"))
    pairs = pairs[
        (pairs["id_by"] != pairs["id"])
        & (pairs["created_at_by"] >= pairs["created_at"])
        & (pairs["start_by"] <= pairs["end"])
        & (pairs["end_by"] >= pairs["start"])
    ]
    restored = replaced.loc[~replaced["id"].isin(pairs["id"]), "id"]
    if restored.empty:
        return plans
    status = pc.if_else(
        pc.is_in(plans["id"], value_set=pa.array(restored.to_numpy(), plans["id"].type)),
        pa.scalar("APPROVED", plans["status"].type),
        plans["status"],
    )
    return plans.set_column(plans.schema.get_field_index("status"), plans.schema.field("status"), status)


def _complete(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """Missing columns (schema drift) become typed nulls; the drift check blocks the month."""
    names = batch.schema.names
    arrays = [
        batch.column(names.index(f.name)) if f.name in names else pa.nulls(batch.num_rows, f.type) for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=pa.schema([f.with_nullable(True) for f in schema]))


def _as_at_mask(name: str, batch: pa.RecordBatch, run_date: date, issued_invoices: list[pa.Array]):
    if name == "InvoiceLineItem":
        ids = pa.chunked_array(issued_invoices, pa.int32()) if issued_invoices else pa.array([], pa.int32())
        return pc.fill_null(pc.is_in(batch.column("invoice_id"), value_set=ids.combine_chunks()), False)
    column = AS_AT_COLUMN.get(name)
    if column is None:
        return None
    values = batch.column(column)
    bound = (
        pa.scalar(datetime.combine(run_date, datetime.min.time()), pa.timestamp("s"))
        if pa.types.is_timestamp(values.type)
        else pa.scalar(run_date, pa.date32())
    )
    return pc.fill_null(pc.less(values, bound), False)
