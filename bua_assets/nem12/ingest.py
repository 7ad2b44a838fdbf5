"""Ingest a month's NEM12 deliveries: read every file, convert units, keep the latest delivery of
each register-day, and account for everything else in a quarantine table with a reason."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bua_assets.nem12.reader import DAY_SCHEMA, ENERGY_UNITS, REACTIVE_UNITS, open_nem12
from bua_assets.sql import register, run_sql, sql_connection, sql_text

QUARANTINE_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("line", pa.int32()), ("severity", pa.string()), ("code", pa.string()),
    ("reason", pa.string()), ("nmi", pa.string()), ("suffix", pa.string()), ("read_date", pa.string()),
])
REJECTION_COLUMNS = ["rejection", "rejection_reason"]
# What sql/transform/interval_reads.sql returns for a loaded register-day (one schema for every file).
INTERVAL_READS_SCHEMA = pa.schema([
    ("nmi", pa.string()), ("suffix", pa.string()), ("register_id", pa.string()), ("meter_serial", pa.string()),
    ("uom", pa.string()), ("source_uom", pa.string()), ("interval_length", pa.int16()), ("read_date", pa.date32()),
    ("values", pa.list_(pa.float64())), ("quality_method", pa.string()), ("interval_quality", pa.list_(pa.string())),
    ("reason_code", pa.string()), ("source_file", pa.string()), ("line", pa.int32()), ("file_created", pa.string()),
])  # set by the SQL on rows not loaded
FILES_SCHEMA = pa.schema([
    ("source_file", pa.string()), ("created", pa.string()), ("from_participant", pa.string()),
    ("register_days", pa.int64()), ("issues", pa.int64()), ("rejected", pa.bool_()),
])


@dataclass
class IngestSummary:
    interval_reads: int  # register-days loaded
    registers: int
    quarantine: pa.Table
    files: pa.Table


def _units() -> pa.Table:
    rows = [(k.upper(), "kWh", v) for k, v in ENERGY_UNITS.items()] + \
           [(k.upper(), "kVArh", v) for k, v in REACTIVE_UNITS.items()]
    return pa.table({"uom": [r[0] for r in rows], "canonical_uom": [r[1] for r in rows],
                     "factor": [r[2] for r in rows]})


def ingest_month(files_in: list[Path | tuple[Path, str]], month_start: date, next_month: date,
                 write: Callable[[str, pa.Table], None], workdir: Path, *, memory_limit: str | None = None,
                 progress: Callable[[int, int, int], None] = lambda *_: None) -> IngestSummary:
    """Load a month's NEM12 files, streaming: each file is read and staged as Parquet in
    ``workdir``, then one SQL pass keeps the latest delivery of each register-day. Accepted
    register-days go to ``write("interval_reads", batch)`` as they come; the quarantine and the
    file log are small and returned. Memory is bounded by the largest file, not the month.

    ``files_in``: local paths, or (local path, source name) pairs when fetched from elsewhere.
    """
    staged = Path(workdir) / "raw_days"
    staged.mkdir(parents=True, exist_ok=True)
    issues, files = [], []
    for n, item in enumerate(files_in):
        path, source = item if isinstance(item, tuple) else (item, None)
        for k, f in enumerate(open_nem12(path, source=source)):
            written, register_days = [], 0
            for c, chunk in enumerate(f.chunks()):  # the header is known once a chunk arrives
                if chunk.num_rows:
                    days = chunk.append_column("file_created", pa.array([f.header.created] * chunk.num_rows, pa.string()))
                    written.append(staged / f"{n:06d}-{k:03d}-{c:06d}.parquet")
                    pq.write_table(days, written[-1])
                    register_days += chunk.num_rows
            if f.rejected:  # found at the end (e.g. no 900 record): nothing from the file is loaded
                for p in written:
                    p.unlink()
                register_days = 0
            created = f.header.created if f.header else ""
            issues += [(i.file, i.line, i.severity, i.code, i.reason, i.nmi, i.suffix, i.read_date) for i in f.issues]
            files.append((f.name, created, f.header.from_participant if f.header else None, register_days,
                          len(f.issues), f.rejected))
    if not any(staged.iterdir()):
        pq.write_table(DAY_SCHEMA.append(pa.field("file_created", pa.string())).empty_table(), staged / "empty.parquet")
    loaded, registers, rejected_rows = 0, set(), []
    staged_files = sorted(staged.glob("*.parquet"))
    engine = {"spill_dir": str(workdir), **({"memory_limit": memory_limit} if memory_limit else {})}
    superseded = run_sql("transform/interval_reads_superseded", {"raw_days": staged_files}, **engine)
    # The dataset exists with its schema even when nothing is accepted.
    write("interval_reads", pa.schema(INTERVAL_READS_SCHEMA).empty_table())
    with sql_connection({"superseded": superseded, "units": _units()}, **engine) as con:
        # One staged file at a time, in file order: memory holds one file's rows, and the
        # output order (hence the lake's bytes) is the same on every run.
        for n, path in enumerate(staged_files):
            register(con, "raw_days", [path])
            table = con.sql(sql_text("transform/interval_reads"),
                            params={"month_start": month_start, "next_month": next_month}).to_arrow_table()
            rejected = pc.is_valid(table["rejection"])
            accepted = table.filter(pc.invert(rejected)).drop_columns(REJECTION_COLUMNS)
            if accepted.num_rows:
                write("interval_reads", accepted.cast(INTERVAL_READS_SCHEMA))
                loaded += accepted.num_rows
                registers.update(pc.binary_join_element_wise(accepted["nmi"], accepted["suffix"], "/").unique().to_pylist())
            rejected_rows += table.filter(rejected).select(
                ["source_file", "line", "rejection", "rejection_reason", "nmi", "suffix", "read_date"]).to_pylist()
            progress(n + 1, len(staged_files), loaded)
    quarantine_rows = issues + [
        (r["source_file"], r["line"], "record_quarantined", r["rejection"], r["rejection_reason"], r["nmi"],
         r["suffix"], r["read_date"].strftime("%Y%m%d")) for r in rejected_rows
    ]
    quarantine = pa.Table.from_pylist(
        [dict(zip(QUARANTINE_SCHEMA.names, r)) for r in quarantine_rows], schema=QUARANTINE_SCHEMA)
    return IngestSummary(loaded, len(registers), quarantine, pa.Table.from_pylist(
        [dict(zip(FILES_SCHEMA.names, r)) for r in files], schema=FILES_SCHEMA))
