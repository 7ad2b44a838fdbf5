"""Ingest a month's NEM12 deliveries: read every file, convert units, keep the latest delivery of
each register-day, and account for everything else in a quarantine table with a reason (the
folder's entries that cannot be read too, and deliveries whose creation time cannot be ranked)."""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bua_assets.nem12.folder import Unread
from bua_assets.nem12.nmi import normalise_column
from bua_assets.nem12.reader import (
    DAY_SCHEMA,
    DEFAULT_MAX_DEMAND_KW,
    ENERGY_UNITS,
    REACTIVE_UNITS,
    Nem12Header,
    open_nem12,
)
from bua_assets.sql import connect, engine_config, register, run_sql, sql_text

QUARANTINE_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("line", pa.int32()),
        ("severity", pa.string()),
        ("code", pa.string()),
        ("reason", pa.string()),
        ("nmi", pa.string()),
        ("suffix", pa.string()),
        ("read_date", pa.string()),
        # The 1-based interval of the day a bad value is in (value checks only), as text: a nullable
        # integer would reach BUA_Errors' detail as a float ("17.0") through pandas.
        ("interval", pa.string()),
    ]
)
REJECTION_COLUMNS = ["rejection", "rejection_reason", "rejection_interval"]
NEM_TIME = timezone(timedelta(hours=10))  # NEM12 times are market time, UTC+10 all year
# How far past the run a header's creation time may be before it is called impossible: an hour for
# a provider writing daylight-saving local time (AEDT is NEM time + 1 h), and clocks minutes apart.
CREATED_GRACE = timedelta(hours=2)
CHUNK_DAYS = 20_000  # register-days per reader chunk (and staged file): what a worker holds at once
# What sql/transform/interval_reads.sql returns for a loaded register-day (one schema for every file).
INTERVAL_READS_SCHEMA = pa.schema(
    [
        ("nmi", pa.string()),
        ("suffix", pa.string()),
        ("register_id", pa.string()),
        ("meter_serial", pa.string()),
        ("uom", pa.string()),
        ("source_uom", pa.string()),
        ("interval_length", pa.int16()),
        ("read_date", pa.date32()),
        ("values", pa.list_(pa.float64())),
        ("quality_method", pa.string()),
        ("interval_quality", pa.list_(pa.string())),
        ("reason_code", pa.string()),
        ("source_file", pa.string()),
        ("line", pa.int32()),
        ("file_created", pa.string()),
    ]
)  # set by the SQL on rows not loaded
# Each register's peak demand over the month's loaded days: next month judges its days against it.
REGISTER_PEAKS_SCHEMA = pa.schema(
    [("nmi", pa.string()), ("suffix", pa.string()), ("peak_kw", pa.float64()), ("days", pa.int64())]
)
DEFAULT_PEAK_RATIO = 20.0  # a register-day more than this many times the register's other peaks ...
DEFAULT_PEAK_FLOOR_KW = 50.0  # ... taken as at least this: nothing under 1 MW is judged implausible
FILES_SCHEMA = pa.schema(
    [
        ("source_file", pa.string()),
        ("created", pa.string()),
        ("from_participant", pa.string()),
        ("register_days", pa.int64()),
        ("issues", pa.int64()),
        ("rejected", pa.bool_()),
    ]
)


@dataclass
class IngestSummary:
    interval_reads: int  # register-days loaded
    registers: int
    quarantine: pa.Table
    files: pa.Table
    register_peaks: pa.Table  # REGISTER_PEAKS_SCHEMA


def _units() -> pa.Table:
    rows = [(k.upper(), "kWh", v) for k, v in ENERGY_UNITS.items()] + [
        (k.upper(), "kVArh", v) for k, v in REACTIVE_UNITS.items()
    ]
    return pa.table(
        {"uom": [r[0] for r in rows], "canonical_uom": [r[1] for r in rows], "factor": [r[2] for r in rows]}
    )


def created_refusal(header: Nem12Header, as_at: datetime) -> tuple[str, str] | None:
    """(code, reason) when a delivery's 100-header creation time cannot rank it against the other
    deliveries (the latest wins a register-day): ``bad_created`` when it is not a DateTime12 (or
    14), ``created_in_future`` when it is later than ``as_at`` (the run) by more than
    :data:`CREATED_GRACE`: such a file would supersede every real delivery of its register-days.
    None when the time is usable. The run's time, not the month's run date, is the bound:
    deliveries of a month are created after its run date as a matter of course (the last day's
    data the next day, late revisions weeks later)."""
    text = header.created.strip()
    fmt = {12: "%Y%m%d%H%M", 14: "%Y%m%d%H%M%S"}.get(len(text)) if text.isdigit() else None
    try:
        created = datetime.strptime(text, fmt) if fmt else None
    except ValueError:
        created = None
    if created is None:
        return "bad_created", (
            f"100 header creation time '{header.created}' is not a date and time (YYYYMMDDhhmm): the delivery "
            "cannot be ranked against the others; not loaded"
        )
    now = as_at.astimezone(NEM_TIME).replace(tzinfo=None)
    if created > now + CREATED_GRACE:
        return "created_in_future", (
            f"100 header creation time {created:%Y-%m-%d %H:%M} is after this run ({now:%Y-%m-%d %H:%M} NEM time): "
            "as the latest delivery it would supersede every other delivery of its register-days; not loaded"
        )
    return None


def _stage_file(
    job: tuple[int, Path, str | None, Path, int, float | None, datetime],
) -> tuple[list[tuple], list[tuple]]:
    """Read one delivered file (every member of a zip) chunk by chunk into staged Parquet files
    named by file, member and chunk number; returns its issues and file-log rows. A stream
    found rejected at its end (e.g. no 900 record), or whose creation time cannot rank it
    (:func:`created_refusal`, found at its first chunk), leaves nothing staged."""
    n, path, source, staged, chunk_days, max_demand_kw, as_at = job
    issues: list[tuple] = []
    files: list[tuple] = []
    for k, f in enumerate(open_nem12(path, source=source, chunk_days=chunk_days, max_demand_kw=max_demand_kw)):
        written, register_days = [], 0
        refusal = None
        chunks = f.chunks()
        for c, chunk in enumerate(chunks):  # the header is known once a chunk arrives
            if c == 0 and f.header is not None and (refusal := created_refusal(f.header, as_at)):
                chunks.close()
                break
            if chunk.num_rows:
                assert f.header is not None  # a chunk with rows comes after the 100 record
                days = chunk.append_column("file_created", pa.array([f.header.created] * chunk.num_rows, pa.string()))
                days = days.append_column("peak", _row_peaks(days["values"]))
                # the 11-character NMI (with its checksum digit) keyed as CORE keys it, before ranking
                at = days.schema.get_field_index("nmi")
                days = days.set_column(at, days.schema.field(at), normalise_column(days["nmi"]))
                written.append(staged / f"{n:06d}-{k:03d}-{c:06d}.parquet")
                pq.write_table(days, written[-1], compression="lz4")  # read back once: speed over size
                register_days += chunk.num_rows
        if refusal is None and f.header is not None and not f.rejected:  # also when no chunk came (no 300s)
            refusal = created_refusal(f.header, as_at)
        if f.rejected or refusal:
            for p in written:
                p.unlink()
            register_days = 0
        created = f.header.created if f.header else ""
        file_issues = (
            [(f.name, None, "file_rejected", *refusal, None, None, None, None)]
            if refusal
            else [
                (
                    i.file,
                    i.line,
                    i.severity,
                    i.code,
                    i.reason,
                    i.nmi,
                    i.suffix,
                    i.read_date,
                    None if i.interval is None else str(i.interval),
                )
                for i in f.issues
            ]
        )
        issues += file_issues
        files.append(
            (
                f.name,
                created,
                f.sender,
                register_days,
                len(file_issues),
                f.rejected or refusal is not None,
            )
        )
    return issues, files


def _row_peaks(values: pa.ChunkedArray) -> pa.Array:
    """Each register-day's largest interval value (file unit; NaN when it has none), one vectorised
    reduction while the chunk is in hand, so judging peaks never reads the interval lists again."""
    lists = values.combine_chunks()
    flat = lists.flatten().to_numpy(zero_copy_only=False)  # blanks as NaN, skipped by fmax
    offsets = lists.offsets.to_numpy()[:-1] - lists.offsets[0].as_py()
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    peaks = np.full(len(lists), np.nan)
    has = lengths > 0
    if has.any():
        peaks[has] = np.fmax.reduceat(flat, offsets[has])
    return pa.array(peaks, pa.float64())


@contextmanager
def _pool(workers: int) -> Iterator:
    """Worker processes for reading files (the reader is Python-bound between Arrow calls); one
    worker runs in this process."""
    if workers <= 1:
        yield _InProcess()
        return
    # spawn, not fork: the calling process may hold threads (Dagster, DuckDB, Arrow pools).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        yield pool


class _InProcess:
    @staticmethod
    def map(fn, items):
        return map(fn, items)


def ingest_month(
    files_in: Sequence[Path | tuple[Path, str]],
    month_start: date,
    next_month: date,
    write: Callable[[str, pa.Table], None],
    workdir: Path,
    *,
    memory_limit: str | None = None,
    workers: int | None = None,
    chunk_days: int = CHUNK_DAYS,
    max_demand_kw: float | None = DEFAULT_MAX_DEMAND_KW,
    previous_peaks: pa.Table | None = None,
    lake_nmi: Callable[[pa.Array], pa.Array] | None = None,
    peak_ratio: float = DEFAULT_PEAK_RATIO,
    peak_floor_kw: float = DEFAULT_PEAK_FLOOR_KW,
    unread: Sequence[Unread] = (),
    as_at: datetime | None = None,
    progress: Callable[[int, int, int | str], None] = lambda *_: None,
) -> IngestSummary:
    """Load a month's NEM12 files, streaming: every file is read chunk by chunk and staged as
    Parquet in ``workdir`` (``workers`` processes side by side, default: the CPUs DuckDB may
    use), a narrow SQL ranking finds the register-days a later delivery supersedes, and each
    staged file is then loaded against it, in file order. Accepted register-days go to
    ``write("interval_reads", batch)`` as they come; the quarantine and the file log are small
    and returned. Memory is bounded by a reader chunk per worker, not by a file or the month.

    ``files_in``: local paths, or (local path, source name) pairs when fetched from elsewhere.
    ``max_demand_kw``: the ceiling no register can reach (the impossible); a register-day with an
    interval beyond it (for its interval length) is quarantined, as are non-finite values and
    blanks in actual intervals (see :mod:`bua_assets.nem12.reader`). Below it, a register-day is
    judged against the register itself (sql/transform/interval_reads_peaks.sql): more than
    ``peak_ratio`` times its peak on its other days and in ``previous_peaks`` (last month's
    ``register_peaks``, whose NMIs are as the lake keys them: ``lake_nmi`` maps ours to those when
    the lake is anonymised), and than ``peak_floor_kw``, it is ``implausible_peak``. A register-day
    repeated inside one file is a ``duplicate_record``: the later line wins.
    ``unread``: the month folder's entries that are not files to read (nem12.folder), each a
    ``file_rejected`` quarantine row and a rejected file-log row with its code and reason.
    ``as_at``: the run's time (default: now); a delivery created after it is not loaded
    (:func:`created_refusal`).
    """
    as_at = as_at or datetime.now(UTC)
    staged = Path(workdir) / "raw_days"
    staged.mkdir(parents=True, exist_ok=True)
    workers = max(1, workers or engine_config()["threads"])
    jobs = [
        (n, *(item if isinstance(item, tuple) else (item, None)), staged, chunk_days, max_demand_kw, as_at)
        for n, item in enumerate(files_in)
    ]
    issues = [(u.source, None, "file_rejected", u.code, u.reason, None, None, None, None) for u in unread]
    files = [(u.source, "", None, 0, 1, True) for u in unread]
    with _pool(workers if len(jobs) > 1 else 1) as pool:
        for done, (file_issues, file_rows) in enumerate(pool.map(_stage_file, jobs), start=1):  # in file order
            issues += file_issues
            files += file_rows
            progress(done, len(jobs), "files read and staged")
    if not any(staged.iterdir()):
        staged_schema = DAY_SCHEMA.append(pa.field("file_created", pa.string())).append(pa.field("peak", pa.float64()))
        pq.write_table(staged_schema.empty_table(), staged / "empty.parquet")
    loaded, registers, rejected_rows = 0, set(), []
    staged_files = sorted(staged.glob("*.parquet"))
    engine: dict[str, Any] = {"spill_dir": str(workdir), **({"memory_limit": memory_limit} if memory_limit else {})}
    superseded = run_sql("transform/interval_reads_superseded", {"raw_days": staged_files}, **engine)
    peaks = run_sql(
        "transform/interval_reads_peaks",
        {
            "raw_days": staged_files,
            "superseded": superseded,
            "units": _units(),
            "previous_peaks": REGISTER_PEAKS_SCHEMA.empty_table() if previous_peaks is None else previous_peaks,
            "nmi_keys": _nmi_keys(staged_files, lake_nmi, engine) if previous_peaks is not None else _NO_KEYS,
        },
        {"month_start": month_start, "next_month": next_month, "ratio": peak_ratio, "floor_kw": peak_floor_kw},
        **engine,
    )
    implausible = _implausible_days(peaks)
    # The dataset exists with its schema even when nothing is accepted.
    write("interval_reads", pa.schema(INTERVAL_READS_SCHEMA).empty_table())
    local = threading.local()

    def load(path: Path) -> pa.Table:
        # A connection per thread (a view name is per connection); one thread each, the
        # threads themselves are the parallelism.
        if not hasattr(local, "con"):
            local.con = connect(engine_config(1, **engine))
            register(local.con, "superseded", superseded)
            register(local.con, "implausible", implausible)
            register(local.con, "units", _units())
            connections.append(local.con)
        register(local.con, "raw_days", [path])
        return local.con.sql(
            sql_text("transform/interval_reads"), params={"month_start": month_start, "next_month": next_month}
        ).to_arrow_table()

    connections: list = []
    try:
        with ThreadPoolExecutor(workers) as threads:
            # Staged files are loaded side by side but written in file order, so memory holds a
            # few files' rows and the output (hence the lake's bytes) is the same on every run.
            for n, table in enumerate(threads.map(load, staged_files)):
                rejected = pc.is_valid(table["rejection"])
                accepted = table.filter(pc.invert(rejected)).drop_columns(REJECTION_COLUMNS)
                if accepted.num_rows:
                    write("interval_reads", accepted.cast(INTERVAL_READS_SCHEMA))
                    loaded += accepted.num_rows
                    registers.update(
                        pc.binary_join_element_wise(accepted["nmi"], accepted["suffix"], "/").unique().to_pylist()
                    )
                rejected_rows += (
                    table.filter(rejected)
                    .select(
                        [
                            "source_file",
                            "line",
                            "rejection",
                            "rejection_reason",
                            "nmi",
                            "suffix",
                            "read_date",
                            "rejection_interval",
                        ]
                    )
                    .to_pylist()
                )
                progress(n + 1, len(staged_files), loaded)
    finally:
        for con in connections:
            con.close()
    quarantine_rows = issues + [
        (
            r["source_file"],
            r["line"],
            "record_quarantined",
            r["rejection"],
            r["rejection_reason"],
            r["nmi"],
            r["suffix"],
            r["read_date"].strftime("%Y%m%d"),
            r["rejection_interval"],
        )
        for r in rejected_rows
    ]
    quarantine = pa.Table.from_pylist(
        [dict(zip(QUARANTINE_SCHEMA.names, r)) for r in quarantine_rows], schema=QUARANTINE_SCHEMA
    )
    return IngestSummary(
        loaded,
        len(registers),
        quarantine,
        pa.Table.from_pylist([dict(zip(FILES_SCHEMA.names, r)) for r in files], schema=FILES_SCHEMA),
        peaks.filter(pc.greater(peaks["days"], 0)).select(REGISTER_PEAKS_SCHEMA.names).cast(REGISTER_PEAKS_SCHEMA),
    )


_NO_KEYS = pa.table({"nmi": pa.array([], pa.string()), "lake_nmi": pa.array([], pa.string())})


def _nmi_keys(staged_files: list[Path], lake_nmi: Callable[[pa.Array], pa.Array] | None, engine: dict) -> pa.Table:
    """The month's NMIs as the lake keys them (anonymised), to meet last month's peaks; none needed
    when the lake keeps them as they are."""
    if lake_nmi is None:
        return _NO_KEYS
    with connect(engine_config(**engine)) as con:
        register(con, "raw_days", staged_files)
        nmis = con.sql("SELECT DISTINCT nmi FROM raw_days WHERE nmi IS NOT NULL").to_arrow_table()["nmi"]
    return pa.table({"nmi": nmis, "lake_nmi": lake_nmi(nmis.combine_chunks())})


def _implausible_days(peaks: pa.Table) -> pa.Table:
    """The register-days interval_reads_peaks judged implausible: (source_file, line, reason)."""
    flagged = pc.list_flatten(peaks["implausible"].combine_chunks()) if peaks.num_rows else None
    schema = pa.schema([("source_file", pa.string()), ("line", pa.int32()), ("reason", pa.string())])
    if flagged is None or not len(flagged):
        return schema.empty_table()
    return pa.Table.from_arrays([flagged.field(n) for n in schema.names], names=schema.names).cast(schema)
