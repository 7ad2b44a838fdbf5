"""Named SQL transforms in sql/, run by DuckDB over Arrow tables."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


@cache
def sql_text(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


def run_sql(name: str, tables: dict[str, pa.Table], params: dict | None = None, *, threads: int = 2) -> pa.Table:
    """Run sql/<name>.sql with the given Arrow tables registered as views; parameters are bound."""
    con = duckdb.connect(config={"threads": threads})
    try:
        for view, table in tables.items():
            con.register(view, table)
        return con.sql(sql_text(name), params=params or {}).to_arrow_table()
    finally:
        con.close()
