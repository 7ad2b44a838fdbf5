"""Ingest a month's NEM12 deliveries: read every file, convert units, keep the latest delivery of
each register-day, and account for everything else in a quarantine table with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.nem12.reader import ENERGY_UNITS, REACTIVE_UNITS, read_nem12
from bua_assets.sql import run_sql

QUARANTINE_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("line", pa.int32()), ("severity", pa.string()), ("code", pa.string()),
    ("reason", pa.string()), ("nmi", pa.string()), ("suffix", pa.string()), ("read_date", pa.string()),
])
FILES_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("created", pa.string()), ("from_participant", pa.string()),
    ("register_days", pa.int64()), ("issues", pa.int64()), ("rejected", pa.bool_()),
])


@dataclass
class IngestResult:
    interval_reads: pa.Table
    quarantine: pa.Table
    files: pa.Table


def _units() -> pa.Table:
    rows = [(k.upper(), "kWh", v) for k, v in ENERGY_UNITS.items()] + \
           [(k.upper(), "kVArh", v) for k, v in REACTIVE_UNITS.items()]
    return pa.table({"uom": [r[0] for r in rows], "canonical_uom": [r[1] for r in rows],
                     "factor": [r[2] for r in rows]})


def ingest_month(files_in: list[Path | tuple[Path, str]], month_start: date, next_month: date) -> IngestResult:
    """``files_in``: local paths, or (local path, source name) pairs when the files were fetched from elsewhere."""
    days, issues, files = [], [], []
    for item in files_in:
        path, source = item if isinstance(item, tuple) else (item, None)
        for f in read_nem12(path, source=source):
            created = f.header.created if f.header else ""
            if f.days.num_rows:
                days.append(f.days.append_column("file_created", pa.array([created] * f.days.num_rows, pa.string())))
            issues += [(i.file, i.line, i.severity, i.code, i.reason, i.nmi, i.suffix, i.read_date) for i in f.issues]
            files.append((f.name, created, f.header.from_participant if f.header else None, f.days.num_rows,
                          len(f.issues), f.rejected))
    if days:
        raw = pa.concat_tables(days)
    else:
        from bua_assets.nem12.reader import DAY_SCHEMA

        raw = DAY_SCHEMA.append(pa.field("file_created", pa.string())).empty_table()
    result = run_sql("transform/interval_reads", {"raw_days": raw, "units": _units()},
                     {"month_start": month_start, "next_month": next_month})
    rejected = pc.is_valid(result["rejection"])
    accepted = result.filter(pc.invert(rejected)).drop_columns(["rejection", "rejection_reason"])
    dropped = result.filter(rejected)
    quarantine_rows = issues + [
        (r["source_file"], r["line"], "record_quarantined", r["rejection"], r["rejection_reason"], r["nmi"],
         r["suffix"], r["read_date"].strftime("%Y%m%d"))
        for r in dropped.select(["source_file", "line", "rejection", "rejection_reason", "nmi", "suffix",
                                 "read_date"]).to_pylist()
    ]
    quarantine = pa.Table.from_pylist(
        [dict(zip(QUARANTINE_SCHEMA.names, r)) for r in quarantine_rows], schema=QUARANTINE_SCHEMA)
    return IngestResult(accepted, quarantine, pa.Table.from_pylist(
        [dict(zip(FILES_SCHEMA.names, r)) for r in files], schema=FILES_SCHEMA))
