"""Analyst access to the lake: its datasets as named DuckDB views, and (in production) as Glue
tables that Athena and other SQL tools read.

Every dataset of the lake (a Delta table ``<base>/<asset>/<dataset>/``) becomes the view
``<asset>.<dataset>`` (a DuckDB schema per asset), and a dataset named like its asset is also
the top-level view ``<asset>`` (``accrual_summary``, ``bua_account_summary``, ...). Every view has
a ``partition`` column (the month key, ``YYYY-MM-DD``); with a month only that partition is in
it. Only the files the tables' current versions name are read (never a folder glob, which would
also find replaced months and uncommitted files). No Dagster here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from bua_assets.compute import duckdb_settings
from bua_assets.lake import Lake
from bua_assets.months import AccrualMonth

FORMATS = ("table", "csv", "parquet")


@dataclass(frozen=True)
class DatasetFiles:
    asset: str
    dataset: str
    files: dict[str, str]  # partition key -> path on the lake's filesystem

    @property
    def view(self) -> str:
        return f"{self.asset}.{self.dataset}"


def lake_datasets(lake: Lake, month: str | None = None) -> list[DatasetFiles]:
    """Every dataset in the lake with its Parquet file per partition (only ``month``'s with one),
    as the tables' current versions name them."""
    partition = month_partition(month) if month else None
    found = []
    for asset in lake.assets():
        for dataset in lake.tables(asset):
            files = {}
            for key, paths in lake.partitions(asset, dataset).items():
                if partition is not None and key != partition:
                    continue
                if len(paths) != 1:
                    raise ValueError(
                        f"{lake.table_uri(asset, dataset)} holds {len(paths)} files for {key}; "
                        "the lake writes one per month (was the table written by another tool?)"
                    )
                files[key] = paths[0]
            if files:
                found.append(DatasetFiles(asset, dataset, files))
    return found


def month_partition(month: str) -> str:
    """``YYYY-MM`` (or a partition key ``YYYY-MM-01``) -> the partition key; a clear error otherwise."""
    try:
        return AccrualMonth.from_key(month).key
    except ValueError:
        raise ValueError(f"--month must be YYYY-MM (got {month!r})") from None


def read_dataset(lake: Lake, files: DatasetFiles) -> pa.Table:
    """All partitions of one dataset in one Arrow table with a ``partition`` column. Partitions
    written at different times may differ slightly (a column added, an all-null column typed
    null): their schemas are unified, a column missing from a partition is null there."""
    tables = []
    for partition, path in files.files.items():
        t = pq.read_table(path, filesystem=lake.filesystem)
        tables.append(t.append_column("partition", pa.array([partition] * t.num_rows, pa.string())))
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive")


def connect(lake: Lake, month: str | None = None) -> tuple[duckdb.DuckDBPyConnection, list[DatasetFiles]]:
    """An in-memory DuckDB connection with every dataset of the lake as a view (see the module doc).
    Datasets are scanned lazily: only those a query names are read."""
    datasets = lake_datasets(lake, month)
    con = duckdb.connect(config=duckdb_settings())
    top_level = set()
    for d in datasets:
        arrow_name = f"_arrow_{d.asset}__{d.dataset}"
        con.register(arrow_name, _lazy_dataset(lake, d))
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{d.asset}"')
        con.execute(f'CREATE VIEW "{d.asset}"."{d.dataset}" AS SELECT * FROM "{arrow_name}"')
        if d.dataset.lower() == d.asset.lower() and d.asset not in top_level:
            con.execute(f'CREATE VIEW "{d.asset}" AS SELECT * FROM "{arrow_name}"')
            top_level.add(d.asset)
    return con, datasets


def _lazy_dataset(lake: Lake, files: DatasetFiles):
    """A pyarrow dataset over the files (read on demand), or the unified table when the
    partitions' schemas differ and a single dataset cannot describe them."""
    schemas = [pq.read_schema(p, filesystem=lake.filesystem) for p in files.files.values()]
    if all(s.equals(schemas[0]) for s in schemas[1:]):
        parts = ds.dataset(
            list(files.files.values()),
            filesystem=lake.filesystem,
            format="parquet",
            partitioning=ds.HivePartitioning(pa.schema([("partition", pa.string())])),
            partition_base_dir=_common_parent(list(files.files.values())),
        )
        return parts
    return read_dataset(lake, files)


def _common_parent(paths: list[str]) -> str:
    """The table's folder: its files sit at ``<table>/partition=<key>/<file>.parquet``."""
    return paths[0].rsplit("/", 2)[0]


def run_query(lake: Lake, sql: str, month: str | None = None) -> pa.Table:
    con, datasets = connect(lake, month)
    try:
        if not datasets:
            where = f" for {month}" if month else ""
            raise LookupError(f"no datasets in the lake{where} ({lake.root}): materialise the month first")
        relation = con.sql(sql)
        return relation.to_arrow_table() if relation is not None else pa.table({})  # a statement with no result
    finally:
        con.close()


def describe_views(lake: Lake, month: str | None = None) -> pa.Table:
    """One row per view: name, partitions, rows (from the Parquet footers) and columns."""
    rows = []
    for d in lake_datasets(lake, month):
        schema = pq.read_schema(next(iter(d.files.values())), filesystem=lake.filesystem)
        n = sum(pq.ParquetFile(p, filesystem=lake.filesystem).metadata.num_rows for p in d.files.values())
        rows.append(
            {
                "view": d.view,
                "partitions": ",".join(AccrualMonth.from_key(k).label for k in d.files),
                "rows": n,
                "columns": ", ".join([*schema.names, "partition"]),
            }
        )
    return pa.Table.from_pylist(
        rows,
        schema=pa.schema(
            [("view", pa.string()), ("partitions", pa.string()), ("rows", pa.int64()), ("columns", pa.string())]
        ),
    )


def write_result(table: pa.Table, fmt: str, output: str | None) -> str | None:
    """Write the result as a table (text), CSV or Parquet; to ``output`` or, for text and CSV,
    return it for stdout. Parquet needs an output path."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    if fmt == "parquet":
        if not output:
            raise ValueError("--format parquet needs --output PATH")
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, output, compression="zstd")
        return None
    if fmt == "csv":
        import pyarrow.csv as pacsv

        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        text = sink.getvalue().to_pybytes().decode()
    else:
        text = format_table(table)
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(text)
        return None
    return text


def format_table(table: pa.Table, max_rows: int = 200) -> str:
    """A plain aligned text table (the first ``max_rows`` rows, and how many there were)."""
    names = table.column_names
    shown = table.slice(0, max_rows).to_pylist()
    cells = [[_cell(r[n]) for n in names] for r in shown]
    widths = [max([len(n)] + [len(c[i]) for c in cells]) for i, n in enumerate(names)]
    lines = ["  ".join(n.ljust(w) for n, w in zip(names, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells]
    more = f" (first {max_rows} shown)" if table.num_rows > max_rows else ""
    lines.append(f"({table.num_rows} rows{more})")
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    return "NULL" if value is None else str(value)
