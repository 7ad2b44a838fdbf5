"""Writing a CORE database (the generator and test fixtures): the contract's DDL and bulk
loads of Arrow tables, on either engine."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pyarrow as pa

from bua_assets.core.engines import CoreEngine, SqliteEngine
from bua_assets.core.schema import core_tables, mysql_ddl, sqlite_ddl


def create_database(engine: CoreEngine, *, drop_existing: bool = False) -> None:
    """Create the CORE schema (and, on MySQL, the database itself)."""
    if isinstance(engine, SqliteEngine):
        path = Path(engine.url.sqlite_path)
        if drop_existing and path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        with engine.connect(create=True) as conn:
            for statement in sqlite_ddl():
                conn.execute(statement)
            conn.commit()
        return
    with engine.connect(database=False) as conn, conn.cursor() as cur:
        if drop_existing:
            cur.execute(f"DROP DATABASE IF EXISTS `{engine.url.database}`")
        cur.execute(f"CREATE DATABASE IF NOT EXISTS `{engine.url.database}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{engine.url.database}`")
        for statement in split_sql(mysql_ddl()):
            cur.execute(statement)
        conn.commit()


def drop_database(engine: CoreEngine) -> None:
    if engine.name == "sqlite":
        Path(engine.url.sqlite_path).unlink(missing_ok=True)
        return
    with engine.connect(database=False) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{engine.url.database}`")


def insert_arrow(
    engine: CoreEngine, table: str, data: pa.Table, *, chunk_rows: int = 20_000, bulk: bool = False
) -> None:
    """Bulk insert an Arrow table whose columns are named as in the contract.

    ``bulk`` (the generator filling a freshly created database): on SQLite, no rollback journal
    and no fsync, in one transaction; if the process dies the database is simply generated again.
    """
    spec = core_tables()[table]
    cols = [c for c in spec.column_names if c in data.column_names]
    missing = set(spec.column_names) - set(cols)
    if missing:
        raise ValueError(f"{table}: insert is missing columns {sorted(missing)}")
    if engine.name == "mysql":
        return _load_data_mysql(engine, table, data.select(cols))
    _insert_sqlite(engine, table, data.select(cols), chunk_rows=chunk_rows, bulk=bulk)


def _insert_sqlite(engine: CoreEngine, table: str, data: pa.Table, *, chunk_rows: int, bulk: bool) -> None:
    cols = data.column_names
    placeholders = ", ".join([engine.paramstyle] * len(cols))
    sql = f"INSERT INTO {engine.quote(table)} ({', '.join(engine.quote(c) for c in cols)}) VALUES ({placeholders})"
    with engine.connect() as conn:
        if bulk:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
        cur = conn.cursor()
        if bulk:
            cur.execute("BEGIN")
        for batch in data.to_batches(max_chunksize=chunk_rows if not bulk else 200_000):
            columns = [_to_python(batch.column(i)) for i in range(batch.num_columns)]
            cur.executemany(sql, zip(*columns))
        conn.commit()


def _load_data_mysql(engine: CoreEngine, table: str, data: pa.Table) -> None:
    """MySQL bulk load: Arrow writes a CSV, the server reads it with LOAD DATA LOCAL INFILE."""
    import pyarrow.csv as pacsv

    cols = data.column_names
    # Arrow writes dates as YYYY-MM-DD, timestamps as YYYY-MM-DD HH:MM:SS, decimals exactly;
    # a null is an empty field, which NULLIF turns back into NULL.
    fd, path = tempfile.mkstemp(suffix=".csv")
    os.close(fd)
    try:
        pacsv.write_csv(data, path, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
        variables = ", ".join(f"@v{i}" for i in range(len(cols)))
        sets = ", ".join(f"{engine.quote(c)} = NULLIF(@v{i}, '')" for i, c in enumerate(cols))
        sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {engine.quote(table)} CHARACTER SET utf8mb4 "
            f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' "
            f"({variables}) SET {sets}"
        )
        with engine.connect(local_infile=True) as conn, conn.cursor() as cur:
            cur.execute(sql, (path,))
            # LOCAL loads turn errors (truncation, bad values) into warnings: refuse them.
            cur.execute("SHOW WARNINGS LIMIT 5")
            warnings = cur.fetchall()
            if warnings:
                conn.rollback()
                raise ValueError(f"loading {table} into MySQL gave warnings: {warnings}")
            conn.commit()
    finally:
        os.unlink(path)


def _to_python(arr: pa.Array) -> list:
    """Values for the SQLite driver: dates, timestamps and decimals as text, cast in Arrow."""
    if pa.types.is_date32(arr.type) or pa.types.is_timestamp(arr.type) or pa.types.is_decimal(arr.type):
        # date -> YYYY-MM-DD, timestamp[s] -> YYYY-MM-DD HH:MM:SS, decimal -> str(Decimal)
        return arr.cast(pa.string()).to_pylist()
    return arr.to_pylist()


def split_sql(script: str) -> list[str]:
    """A SQL script's statements (``--`` comment lines dropped, split at semicolons)."""
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
