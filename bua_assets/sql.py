"""Named SQL transforms in sql/, run by DuckDB over Arrow tables."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from bua_assets.compute import duckdb_settings

# The repo's sql/ (a source checkout or an editable install), else the copy a wheel ships as
# bua_assets/_sql (pyproject.toml maps one onto the other).
_PACKAGED = Path(__file__).resolve().parent / "_sql"
SQL_DIR = _PACKAGED if _PACKAGED.is_dir() else Path(__file__).resolve().parents[1] / "sql"


@cache
def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def connect(config: dict) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for a step: its progress bar off (it writes straight to the terminal,
    past the run's logging; steps report progress through their logs)."""
    con = duckdb.connect(config=config)
    con.execute("SET enable_progress_bar = false")
    return con


@contextmanager
def _connection(tables: dict, config: dict) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection with ``tables`` registered as views, closed afterwards. A table may be
    an Arrow table or dataset, or a list of Parquet file paths (scanned by DuckDB itself, in
    file order, so results without ORDER BY come out in the same order every run)."""
    con = connect(config)
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


def engine_config(threads: int | None = None, memory_limit: str | None = None, spill_dir: str | None = None) -> dict:
    """DuckDB settings: explicit arguments, else what the process may use (bua_assets.compute:
    BUA_DUCKDB_* overrides, else the pod's cgroup limits, else the machine)."""
    settings = duckdb_settings()
    return {
        "threads": threads or settings["threads"],
        "memory_limit": memory_limit or settings["memory_limit"],
        "temp_directory": spill_dir or settings["temp_directory"],
    }


def run_sql(
    name: str,
    tables: dict,
    params: dict | None = None,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    spill_dir: str | None = None,
) -> pa.Table:
    """Run sql/<name>.sql with the given Arrow tables registered as views; parameters are bound."""
    with _connection(tables, engine_config(threads, memory_limit, spill_dir)) as con:
        return con.sql(sql_text(name), params=params or {}).to_arrow_table()
