"""Connections to the CORE database: the embedded SQLite default, or MySQL (an RDS snapshot).

URLs: ``sqlite:///path/to/core.db`` or ``mysql+pymysql://user:password@host:3306/database``.
Reads stream in chunks (a server-side cursor on MySQL) and come back as Arrow record batches
typed to the contract in sql/core/schema.sql, so both engines give identical Parquet.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.core.schema import Table, check_identifier, core_tables, sqlite_ddl


@dataclass(frozen=True)
class CoreUrl:
    engine: str  # sqlite | mysql
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = ""

    @classmethod
    def parse(cls, url: str) -> CoreUrl:
        u = urlparse(url)
        if u.scheme == "sqlite":
            path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else u.path
            if not path:
                raise ValueError("sqlite URL needs a path: sqlite:///path/to/core.db")
            return cls("sqlite", path=path if url.startswith("sqlite:////") or path.startswith("/") else path)
        if u.scheme in ("mysql", "mysql+pymysql", "mariadb"):
            database = u.path.lstrip("/")
            if not database:
                raise ValueError("MySQL URL needs a database: mysql+pymysql://user:pw@host:3306/database")
            return cls("mysql", host=u.hostname or "127.0.0.1", port=u.port or 3306,
                       user=unquote(u.username or "root"), password=unquote(u.password or ""),
                       database=check_identifier(database))
        raise ValueError(f"unsupported CORE database URL scheme {u.scheme!r} (use sqlite:/// or mysql+pymysql://)")

    def redacted(self) -> str:
        """For logs and metadata: never the password."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.path}"
        return f"mysql+pymysql://{self.user}:***@{self.host}:{self.port}/{self.database}"


class CoreDatabase:
    def __init__(self, url: str, *, connect_timeout: int = 10):
        self.url = CoreUrl.parse(url)
        self.connect_timeout = connect_timeout

    @property
    def engine(self) -> str:
        return self.url.engine

    @property
    def paramstyle(self) -> str:
        return "%s" if self.engine == "mysql" else "?"

    @contextmanager
    def connect(self, *, database: bool = True, raw: bool = False, local_infile: bool = False):
        """A DB-API connection. ``raw`` returns every value as text (no per-value conversion in Python)."""
        if self.engine == "sqlite":
            conn = sqlite3.connect(self.url.path)
            try:
                yield conn
            finally:
                conn.close()
            return
        import pymysql

        kwargs = dict(host=self.url.host, port=self.url.port, user=self.url.user, password=self.url.password,
                      connect_timeout=self.connect_timeout, charset="utf8mb4", autocommit=False)
        if database:
            kwargs["database"] = self.url.database
        if raw:  # keep pymysql's encoders for parameters, drop its per-value decoders
            from pymysql.converters import conversions

            kwargs["conv"] = {k: v for k, v in conversions.items() if not isinstance(k, int)}
        if local_infile:
            kwargs["local_infile"] = True
        conn = pymysql.connect(**kwargs)
        try:
            yield conn
        finally:
            conn.close()

    # -- schema -----------------------------------------------------------------------------
    def create_database(self, *, drop_existing: bool = False) -> None:
        """Create the CORE schema (and, on MySQL, the database itself)."""
        if self.engine == "sqlite":
            path = Path(self.url.path)
            if drop_existing and path.exists():
                path.unlink()
            path.parent.mkdir(parents=True, exist_ok=True)
            with self.connect() as conn:
                for statement in sqlite_ddl():
                    conn.execute(statement)
                conn.commit()
            return
        from bua_assets.core.schema import mysql_ddl

        with self.connect(database=False) as conn, conn.cursor() as cur:
            if drop_existing:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.url.database}`")
            cur.execute(f"CREATE DATABASE IF NOT EXISTS `{self.url.database}` CHARACTER SET utf8mb4")
            cur.execute(f"USE `{self.url.database}`")
            for statement in _split_sql(mysql_ddl()):
                cur.execute(statement)
            conn.commit()

    def drop_database(self) -> None:
        if self.engine == "sqlite":
            Path(self.url.path).unlink(missing_ok=True)
            return
        with self.connect(database=False) as conn, conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{self.url.database}`")

    def observed_schema(self) -> dict[str, dict[str, str]]:
        """{table: {column: declared type}} as the database itself reports it."""
        out: dict[str, dict[str, str]] = {}
        with self.connect() as conn:
            if self.engine == "sqlite":
                names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
                for name in names:
                    out[name] = {r[1]: r[2] for r in conn.execute(f'PRAGMA table_info("{check_identifier(name)}")')}
                return out
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT table_name, column_name, column_type FROM information_schema.columns "
                    "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
                    (self.url.database,),
                )
                for table, column, typ in cur.fetchall():
                    out.setdefault(table, {})[column] = typ.decode() if isinstance(typ, bytes) else typ
        return out

    def row_counts(self, tables: Sequence[str]) -> dict[str, int]:
        with self.connect() as conn:
            cur = conn.cursor()
            counts = {}
            for t in tables:
                cur.execute(f"SELECT COUNT(*) FROM {self._quote(t)}")
                counts[t] = int(cur.fetchone()[0])
            return counts

    def _quote(self, name: str) -> str:
        check_identifier(name)
        return f"`{name}`" if self.engine == "mysql" else f'"{name}"'

    # -- writes (the generator) ---------------------------------------------------------------
    def insert_arrow(self, table: str, data: pa.Table, *, chunk_rows: int = 20_000, bulk: bool = False) -> None:
        """Bulk insert an Arrow table whose columns are named as in the contract.

        ``bulk`` (the generator filling a freshly created database): on SQLite, no rollback journal
        and no fsync, in one transaction; if the process dies the database is simply generated again.
        """
        spec = core_tables()[table]
        cols = [c for c in spec.column_names if c in data.column_names]
        missing = set(spec.column_names) - set(cols)
        if missing:
            raise ValueError(f"{table}: insert is missing columns {sorted(missing)}")
        if self.engine == "mysql":
            return self._load_data_mysql(table, data.select(cols))
        placeholders = ", ".join([self.paramstyle] * len(cols))
        sql = f"INSERT INTO {self._quote(table)} ({', '.join(self._quote(c) for c in cols)}) VALUES ({placeholders})"
        with self.connect() as conn:
            if bulk:
                conn.execute("PRAGMA journal_mode=OFF")
                conn.execute("PRAGMA synchronous=OFF")
            cur = conn.cursor()
            if bulk:
                cur.execute("BEGIN")
            for batch in data.select(cols).to_batches(max_chunksize=chunk_rows if not bulk else 200_000):
                columns = [_to_python(batch.column(i)) for i in range(batch.num_columns)]
                cur.executemany(sql, zip(*columns))
            conn.commit()

    def _load_data_mysql(self, table: str, data: pa.Table) -> None:
        """MySQL bulk load: Arrow writes a CSV, the server reads it with LOAD DATA LOCAL INFILE."""
        import os
        import tempfile

        import pyarrow.csv as pacsv

        cols = data.column_names
        # Arrow writes dates as YYYY-MM-DD, timestamps as YYYY-MM-DD HH:MM:SS, decimals exactly;
        # a null is an empty field, which NULLIF turns back into NULL.
        fd, path = tempfile.mkstemp(suffix=".csv")
        os.close(fd)
        try:
            pacsv.write_csv(data, path, pacsv.WriteOptions(include_header=False, quoting_style="all_valid"))
            variables = ", ".join(f"@v{i}" for i in range(len(cols)))
            sets = ", ".join(f"{self._quote(c)} = NULLIF(@v{i}, '')" for i, c in enumerate(cols))
            sql = (f"LOAD DATA LOCAL INFILE %s INTO TABLE {self._quote(table)} CHARACTER SET utf8mb4 "
                   f"FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\n' "
                   f"({variables}) SET {sets}")
            with self.connect(local_infile=True) as conn, conn.cursor() as cur:
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

    # -- reads (extraction) ---------------------------------------------------------------
    def stream_table(self, table: str, *, columns: Sequence[str] | None = None,
                     chunk_rows: int = 200_000) -> Iterator[pa.RecordBatch]:
        """Stream a whole CORE table as record batches typed to the contract, in id order.

        MySQL: connectorx reads the unbuffered result set straight into Arrow (about 8x pymysql,
        which decodes every value in Python). SQLite: the standard driver, cast in Arrow.
        The SQL holds only contract identifiers; there are no values to bind.
        """
        if self.engine != "mysql":
            yield from self.stream_table_dbapi(table, columns=columns, chunk_rows=chunk_rows)
            return
        import connectorx as cx

        spec = _subset(core_tables()[table], columns)
        # Dates come as text and are parsed (and checked) in Arrow: a MySQL zero date or an impossible
        # date ('2023-02-30' under ALLOW_INVALID_DATES) then names its row instead of failing in the driver.
        select = ", ".join(f"CAST({self._quote(c.name)} AS CHAR) AS {self._quote(c.name)}"
                           if c.base_type in ("DATE", "DATETIME") else self._quote(c.name) for c in spec.columns)
        sql = f"SELECT {select} FROM {self._quote(table)} ORDER BY `id`"
        u = self.url
        from urllib.parse import quote

        url = f"mysql://{quote(u.user, safe='')}:{quote(u.password, safe='')}@{u.host}:{u.port}/{u.database}"
        try:
            reader = cx.read_sql(url, sql, return_type="arrow_stream", batch_size=chunk_rows)
            batches = iter(reader)
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                if batch.num_rows:
                    yield _cast_batch(spec, batch)
        except CoreValueError:
            raise
        except BaseException as exc:  # connectorx raises Rust panics as BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
                raise
            raise CoreReadError(f"{table}: MySQL read failed ({type(exc).__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''})") from None

    def stream_table_dbapi(self, table: str, *, columns: Sequence[str] | None = None,
                           chunk_rows: int = 100_000) -> Iterator[pa.RecordBatch]:
        """The same stream through the DB-API driver (SSCursor on MySQL): the reference path."""
        spec = _subset(core_tables()[table], columns)
        if self.engine == "sqlite":
            select = ", ".join(f'CAST("{c}" AS TEXT)' for c in spec.column_names)
        else:
            select = ", ".join(f"`{c}`" for c in spec.column_names)
        sql = f"SELECT {select} FROM {self._quote(table)} ORDER BY {self._quote('id')}"
        with self.connect(raw=True) as conn:
            if self.engine == "mysql":
                import pymysql.cursors

                cur = conn.cursor(pymysql.cursors.SSCursor)
            else:
                cur = conn.cursor()
            cur.execute(sql)
            while True:
                rows = cur.fetchmany(chunk_rows)
                if not rows:
                    break
                yield typed_batch(spec, list(zip(*rows)))
            cur.close()


def _subset(spec: Table, columns: Sequence[str] | None) -> Table:
    if columns is None:
        return spec
    return Table(spec.name, tuple(c for c in spec.columns if c.name in set(columns)))


def _cast_batch(spec: Table, batch: pa.RecordBatch) -> pa.RecordBatch:
    """connectorx's typed batch -> the contract's types. Text (dates, or a column drifted to
    VARCHAR) is parsed and checked like the SQLite path; other types cast."""
    texts = []
    for col, arr in zip(spec.columns, batch.columns):
        if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
            texts.append(arr.cast(pa.string()))
        else:
            try:
                texts.append(arr.cast(col.arrow_type))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                texts.append(arr.cast(pa.string()))  # e.g. a value beyond the DECIMAL's precision: name it
    return _typed(spec, texts)


class CoreReadError(RuntimeError):
    """The database could not stream a table (the message names it; no driver traceback)."""


class CoreValueError(ValueError):
    """A CORE value that cannot be read as its contract type: names table, column, rows and values."""

    def __init__(self, table: str, column: str, expected: str, keys: list[str], values: list, total: int):
        self.table, self.column, self.expected = table, column, expected
        self.keys, self.values, self.total = keys, values, total
        shown = ", ".join(f"{k} = {v!r}" for k, v in zip(keys, values))
        more = f" (and {total - len(keys)} more)" if total > len(keys) else ""
        super().__init__(f"{table}.{column}: {total} value(s) are not a valid {expected}: {shown}{more}")


# Text a cast can read, per contract base type (MySQL zero dates and impossible dates fail strptime).
_NUMBER_TEXT = {
    "INT": r"^\s*[+-]?\d+\s*$", "BIGINT": r"^\s*[+-]?\d+\s*$", "TINYINT": r"^\s*[+-]?\d+\s*$",
    "DECIMAL": r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$",
    "DOUBLE": r"(?i)^\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)\s*$",
}
SHOWN_BAD_VALUES = 5


def typed_column(table: str, col, text: pa.Array, ids: pa.Array | None) -> pa.Array:
    """Text from the driver -> the contract's Arrow type, vectorised; a value that does not read
    raises CoreValueError naming table, column, the rows' ids and the values (never Arrow's own error)."""
    target = col.arrow_type
    if text.type == target:
        return text
    if pa.types.is_timestamp(target) or pa.types.is_date32(target):
        fmt = "%Y-%m-%d %H:%M:%S" if pa.types.is_timestamp(target) else "%Y-%m-%d"
        text = text.cast(pa.string())
        written = text if pa.types.is_timestamp(target) else pc.utf8_slice_codeunits(text, 0, 10)
        stamps = pc.strptime(written, format=fmt, unit="s", error_is_null=True)
        # strptime rolls an impossible day over ('2023-02-30' -> 2 March): it must print back as written
        same = pc.fill_null(pc.equal(pc.strftime(stamps, format=fmt), written), False)
        parsed = stamps if pa.types.is_timestamp(target) else stamps.cast(pa.date32())
        _raise_bad(table, col, text, ids, pc.and_(pc.invert(same), pc.is_valid(text)))
        return parsed
    elif pa.types.is_string(target):
        return text.cast(target)
    else:
        readable = pc.fill_null(pc.match_substring_regex(text, _NUMBER_TEXT[col.base_type]), True)
        if pc.all(readable).as_py() is not False:
            try:
                return text.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:  # e.g. beyond the DECIMAL's precision
                readable = _castable(text, target)
                if pc.all(readable).as_py() is not False:
                    raise CoreValueError(table, col.name, col.sql_type, [], [], len(text)) from exc
        _raise_bad(table, col, text, ids, pc.invert(readable))
    raise AssertionError("unreachable: every contract type is handled above")


def _castable(text: pa.Array, target: pa.DataType) -> pa.Array:
    """Per value whether it casts (only called on a batch that already failed, to name the rows)."""
    out = []
    for i in range(len(text)):
        try:
            text.slice(i, 1).cast(target)
            out.append(True)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.append(False)
    return pa.array(out)


def _raise_bad(table: str, col, text: pa.Array, ids: pa.Array | None, bad: pa.Array) -> None:
    total = pc.sum(pc.cast(bad, pa.int64())).as_py() or 0
    if not total:
        return
    rows = pc.indices_nonzero(bad).slice(0, SHOWN_BAD_VALUES)
    keys = [f"id {v}" for v in pc.take(ids, rows).to_pylist()] if ids is not None else \
        [f"row {v}" for v in rows.to_pylist()]
    raise CoreValueError(table, col.name, col.sql_type, keys, pc.take(text, rows).to_pylist(), total)


def typed_batch(spec: Table, columns: list[tuple]) -> pa.RecordBatch:
    """Text values from the driver → Arrow arrays of the contract's types (vectorised casts)."""
    texts = [pa.array(values, pa.string()) for values in columns]
    return _typed(spec, texts)


def _typed(spec: Table, texts: list[pa.Array]) -> pa.RecordBatch:
    names = [c.name for c in spec.columns]
    ids = None
    if "id" in names:
        ids = typed_column(spec.name, spec.columns[names.index("id")], texts[names.index("id")], None)
    arrays = [ids if c.name == "id" else typed_column(spec.name, c, t, ids) for c, t in zip(spec.columns, texts)]
    return pa.RecordBatch.from_arrays(arrays, schema=spec.arrow_schema)


def _to_python(arr: pa.Array) -> list:
    """Values for the SQLite driver: dates, timestamps and decimals as text, cast in Arrow."""
    if pa.types.is_date32(arr.type) or pa.types.is_timestamp(arr.type) or pa.types.is_decimal(arr.type):
        # date -> YYYY-MM-DD, timestamp[s] -> YYYY-MM-DD HH:MM:SS, decimal -> str(Decimal)
        return arr.cast(pa.string()).to_pylist()
    return arr.to_pylist()


def _split_sql(script: str) -> list[str]:
    lines = [ln for ln in script.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
