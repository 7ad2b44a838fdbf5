"""Named SQL transforms in sql/, run by DuckDB over Arrow tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


@cache
def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@contextmanager
def _connection(tables: dict, config: dict) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with ``tables`` registered as views, closed afterwards."""
    con = duckdb.connect(config=config)
    try:
        for view, table in tables.items():
            con.register(view, table)
        yield con
    finally:
        con.close()


def run_sql(name: str, tables: dict[str, pa.Table], params: dict | None = None, *, threads: int = 2) -> pa.Table:
    """Run sql/<name>.sql with the given Arrow tables registered as views; parameters are bound."""
    with _connection(tables, {"threads": threads}) as con:
        return con.sql(sql_text(name), params=params or {}).to_arrow_table()


@contextmanager
def stream_sql(name: str, tables: dict, params: dict | None = None, *, threads: int = 2,
               memory_limit: str = "2GB", spill_dir: str | None = None,
               batch_rows: int = 100_000) -> Iterator[pa.RecordBatchReader]:
    """Run sql/<name>.sql and stream the result in record batches.

    ``tables`` may hold Arrow tables or pyarrow datasets (scanned lazily), so inputs larger than
    memory work; DuckDB spills to ``spill_dir`` past ``memory_limit``.
    """
    config = {"threads": threads, "memory_limit": memory_limit}
    if spill_dir:
        config["temp_directory"] = spill_dir
    with _connection(tables, config) as con:
        yield con.sql(sql_text(name), params=params or {}).to_arrow_reader(batch_rows)
