"""Connections to the CORE database: the embedded SQLite default, or MySQL (an RDS snapshot).

URLs: ``sqlite:///path/to/core.db`` or ``mysql+pymysql://user:password@host:3306/database``.
Reads stream in chunks (a server-side cursor on MySQL) and come back as Arrow record batches
typed to the contract in sql/core/schema.sql, so both engines give identical Parquet.

:class:`CoreDatabase` is the one object callers hold; the work is done by

- :mod:`bua_assets.core.url`: parsing and redacting the URL (:class:`CoreUrl`);
- :mod:`bua_assets.core.engines`: the SQLite and MySQL engines (connections, schema, reads);
- :mod:`bua_assets.core.casting`: driver values -> the contract's Arrow types (:class:`CoreValueError`);
- :mod:`bua_assets.core.load`: DDL and bulk loads (the generator's writes).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from bua_assets.core import load
from bua_assets.core.casting import SHOWN_BAD_VALUES, CoreValueError, typed_batch, typed_column
from bua_assets.core.engines import CoreDatabaseMissing, CoreReadError, engine_for
from bua_assets.core.url import CoreUrl

__all__ = [
    "SHOWN_BAD_VALUES",
    "CoreDatabase",
    "CoreDatabaseMissing",
    "CoreReadError",
    "CoreUrl",
    "CoreValueError",
    "typed_batch",
    "typed_column",
]


class CoreDatabase:
    def __init__(self, url: str, *, connect_timeout: int = 10):
        self.url = CoreUrl.parse(url)
        self.connect_timeout = connect_timeout
        self._engine = engine_for(self.url, connect_timeout=connect_timeout)

    @property
    def engine(self) -> str:
        return self._engine.name

    @property
    def paramstyle(self) -> str:
        return self._engine.paramstyle

    def connect(self, *, database: bool = True, raw: bool = False, local_infile: bool = False):
        """A DB-API connection (a context manager). ``raw`` returns every value as text (no
        per-value conversion in Python)."""
        return self._engine.connect(database=database, raw=raw, local_infile=local_infile)

    # -- schema and writes (the generator): bua_assets.core.load ------------------------------
    def create_database(self, *, drop_existing: bool = False) -> None:
        """Create the CORE schema (and, on MySQL, the database itself)."""
        load.create_database(self._engine, drop_existing=drop_existing)

    def drop_database(self) -> None:
        load.drop_database(self._engine)

    def insert_arrow(self, table: str, data: pa.Table, *, chunk_rows: int = 20_000, bulk: bool = False) -> None:
        """Bulk insert an Arrow table whose columns are named as in the contract (see
        :func:`bua_assets.core.load.insert_arrow`)."""
        load.insert_arrow(self._engine, table, data, chunk_rows=chunk_rows, bulk=bulk)

    # -- reads (extraction): the engine ----------------------------------------------------------
    def observed_schema(self) -> dict[str, dict[str, str]]:
        """{table: {column: declared type}} as the database itself reports it."""
        return self._engine.observed_schema()

    def row_counts(self, tables: Sequence[str]) -> dict[str, int]:
        with self.connect() as conn:
            cur = conn.cursor()
            counts = {}
            for t in tables:
                cur.execute(f"SELECT COUNT(*) FROM {self._engine.quote(t)}")
                counts[t] = int(cur.fetchone()[0])
            return counts

    def stream_table(
        self, table: str, *, columns: Sequence[str] | None = None, chunk_rows: int = 200_000
    ) -> Iterator[pa.RecordBatch]:
        """Stream a whole CORE table as record batches typed to the contract, in id order.

        MySQL: connectorx reads the unbuffered result set straight into Arrow (about 8x pymysql,
        which decodes every value in Python). SQLite: connectorx too, every value as text, cast in Arrow.
        The SQL holds only contract identifiers; there are no values to bind.
        """
        yield from self._engine.stream_table(table, columns=columns, chunk_rows=chunk_rows)

    def stream_table_dbapi(
        self, table: str, *, columns: Sequence[str] | None = None, chunk_rows: int = 100_000
    ) -> Iterator[pa.RecordBatch]:
        """The same stream through the DB-API driver (SSCursor on MySQL): the reference path."""
        yield from self._engine.stream_table_dbapi(table, columns=columns, chunk_rows=chunk_rows)
