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
    """A DuckDB connection with ``tables`` registered as views, closed afterwards. A table may be
    an Arrow table or dataset, or a list of Parquet file paths (scanned by DuckDB itself, in
    file order, so results without ORDER BY come out in the same order every run)."""
    con = duckdb.connect(config=config)
    try:
        for view, table in tables.items():
            register(con, view, table)
        yield con
    finally:
        con.close()


def register(con: duckdb.DuckDBPyConnection, view: str, table) -> None:
    """(Re)bind ``view`` to an Arrow table or dataset, or to a list of Parquet files."""
    if isinstance(table, list):
        con.read_parquet([str(p) for p in table]).create_view(view, replace=True)
    else:
        con.register(view, table)


def run_sql(name: str, tables: dict, params: dict | None = None, *, threads: int = 2,
            memory_limit: str | None = None, spill_dir: str | None = None) -> pa.Table:
    """Run sql/<name>.sql with the given Arrow tables registered as views; parameters are bound."""
    config = {"threads": threads, **({"memory_limit": memory_limit} if memory_limit else {}),
              **({"temp_directory": spill_dir} if spill_dir else {})}
    with _connection(tables, config) as con:
        return con.sql(sql_text(name), params=params or {}).to_arrow_table()


@contextmanager
def sql_connection(tables: dict, *, threads: int = 2, memory_limit: str | None = None,
                   spill_dir: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for running several named transforms (``con.sql(sql_text(name), params=...)``)."""
    config = {"threads": threads, **({"memory_limit": memory_limit} if memory_limit else {}),
              **({"temp_directory": spill_dir} if spill_dir else {})}
    with _connection(tables, config) as con:
        yield con


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
