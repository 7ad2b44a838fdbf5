"""The CORE table contract, parsed from sql/core/schema.sql (the one place the schema is written).

Used for: the SQLite DDL of the embedded default, the Arrow types extraction casts to (so
Parquet from MySQL and from SQLite is identical), and the schema-drift check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import cache

import pyarrow as pa

from bua_assets.sql import SQL_DIR  # the repo's sql/ or the wheel's copy

SCHEMA_FILE = SQL_DIR / "core" / "schema.sql"

_TABLE = re.compile(r"CREATE TABLE (\w+) \((.*?)\n\)[^;]*;", re.S)
# A column line; "-- optional: why" after it marks a column a snapshot may lack (read as NULL).
_COLUMN = re.compile(r"^\s*(\w+) ([A-Z]+(?:\(\d+(?:,\d+)?\))?)( NOT NULL| NULL)?,?(\s*--\s*(optional)\b.*)?$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # as in schema.sql, e.g. DECIMAL(14,2)
    nullable: bool
    optional: bool = False  # a snapshot without it is read with NULLs (an older CORE release)

    @property
    def base_type(self) -> str:
        return self.sql_type.split("(")[0]

    @property
    def arrow_type(self) -> pa.DataType:
        base = self.base_type
        if base == "DECIMAL":
            precision, scale = map(int, self.sql_type[8:-1].split(","))
            return pa.decimal128(precision, scale)
        return {
            "INT": pa.int32(),
            "BIGINT": pa.int64(),
            "TINYINT": pa.int8(),
            "VARCHAR": pa.string(),
            "DATE": pa.date32(),
            "DATETIME": pa.timestamp("s"),
            "DOUBLE": pa.float64(),
        }[base]

    @property
    def sqlite_type(self) -> str:
        return {"VARCHAR": "TEXT", "DATE": "TEXT", "DATETIME": "TEXT", "DECIMAL": "NUMERIC", "DOUBLE": "REAL"}.get(
            self.base_type, "INTEGER"
        )


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, c.nullable) for c in self.columns])

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


@cache
def core_tables() -> dict[str, Table]:
    text = SCHEMA_FILE.read_text()
    tables: dict[str, Table] = {}
    for name, body in _TABLE.findall(text):
        columns = []
        for line in body.strip().splitlines():
            line = line.strip()
            if not line or line.startswith(("PRIMARY KEY", "KEY ", "UNIQUE", "INDEX", "--")):
                continue
            m = _COLUMN.match(line)
            if not m:
                raise ValueError(f"{SCHEMA_FILE.name}: cannot parse column line in {name}: {line!r}")
            nullable = (m.group(3) or " NULL").strip() != "NOT NULL"
            columns.append(Column(m.group(1), m.group(2), nullable, optional=bool(m.group(5)) and nullable))
        tables[name] = Table(name, tuple(columns))
    if not tables:
        raise ValueError(f"no CREATE TABLE statements found in {SCHEMA_FILE}")
    return tables


def mysql_ddl() -> str:
    return SCHEMA_FILE.read_text()


def sqlite_ddl() -> list[str]:
    statements = []
    for t in core_tables().values():
        cols = [f'"{c.name}" {c.sqlite_type}{"" if c.nullable else " NOT NULL"}' for c in t.columns]
        statements.append(f'CREATE TABLE "{t.name}" ({", ".join(cols)}, PRIMARY KEY ("id"))')
    return statements


def check_identifier(name: str) -> str:
    """Table and column names are interpolated into SQL; only plain identifiers are allowed."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a valid SQL identifier: {name!r}")
    return name


# How the snapshot's own type names map onto the contract's, for the drift check.
_OBSERVED_ALIASES = {
    "INTEGER": "INT",
    "MEDIUMINT": "INT",
    "SMALLINT": "INT",
    "INT": "INT",
    "BIGINT": "BIGINT",
    "TINYINT": "TINYINT",
    "BOOL": "TINYINT",
    "BOOLEAN": "TINYINT",
    "VARCHAR": "VARCHAR",
    "CHAR": "VARCHAR",
    "TEXT": "VARCHAR",
    "DATE": "DATE",
    "DATETIME": "DATETIME",
    "TIMESTAMP": "DATETIME",
    "DECIMAL": "DECIMAL",
    "NUMERIC": "DECIMAL",
    "DOUBLE": "DOUBLE",
    "REAL": "DOUBLE",
    "FLOAT": "DOUBLE",
}


@dataclass(frozen=True)
class DriftFinding:
    table: str
    column: str | None
    problem: str  # missing_table | missing_column | type_changed | new_column
    expected: str | None
    found: str | None
    blocking: bool
    hint: str | None = None  # what to do, for a blocking finding

    def __str__(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        said = f"{where}: {self.problem} (expected {self.expected}, found {self.found})"
        return f"{said}: {self.hint}" if self.hint else said


def _hint(finding: DriftFinding, new_columns: list[DriftFinding]) -> str | None:
    """What an operator does about a blocking finding; a missing column with a new column beside it
    is most often a rename."""
    if not finding.blocking:
        return None
    contract = f"the contract (sql/{SCHEMA_FILE.parent.name}/{SCHEMA_FILE.name})"
    if finding.problem == "missing_table":
        return f"restore the table in the snapshot, or remove it from {contract}"
    if finding.problem == "type_changed":
        return f"convert the column back in CORE, or change its type in {contract}"
    if finding.problem == "missing_column":
        renamed = [n.column for n in new_columns if n.table == finding.table]
        if renamed:
            return (
                f"renamed to {' or '.join(str(c) for c in renamed)}? restore the name in CORE or rename it in "
                f"{contract}"
            )
        return f"restore the column in the snapshot, or mark it optional in {contract}"
    return None


def schema_drift(observed: dict[str, dict[str, str]], *, sqlite: bool = False) -> list[DriftFinding]:
    """Compare the snapshot's tables {table: {column: type}} with the contract.

    Missing tables/columns and changed types block, except a column the contract marks optional
    (read as NULL, reported); new columns are reported but harmless (extraction selects the
    contract's columns by name). SQLite types are affinities only, so
    for the embedded database only names and affinities are compared.
    """
    findings: list[DriftFinding] = []
    for table in core_tables().values():
        cols = observed.get(table.name)
        if cols is None:
            findings.append(DriftFinding(table.name, None, "missing_table", "table", None, True))
            continue
        lower = {k.lower(): v for k, v in cols.items()}
        for c in table.columns:
            found = lower.get(c.name.lower())
            if found is None:
                # an optional column (added to the contract later) is read as NULL: reported, not blocking
                findings.append(DriftFinding(table.name, c.name, "missing_column", c.sql_type, None, not c.optional))
                continue
            if sqlite:
                ok = found.upper() == c.sqlite_type
            else:
                ok = _normalise_mysql_type(found) == _normalise_mysql_type(c.sql_type)
            if not ok:
                findings.append(DriftFinding(table.name, c.name, "type_changed", c.sql_type, found, True))
        known = {c.name.lower() for c in table.columns}
        for name, typ in cols.items():
            if name.lower() not in known:
                findings.append(DriftFinding(table.name, name, "new_column", None, typ, False))
    new_columns = [f for f in findings if f.problem == "new_column"]
    return [replace(f, hint=_hint(f, new_columns)) for f in findings]


def _normalise_mysql_type(sql_type: str) -> str:
    t = sql_type.strip().upper().replace(" UNSIGNED", "")
    base, _, args = t.partition("(")
    base = _OBSERVED_ALIASES.get(base, base)
    if base == "DECIMAL":
        return f"DECIMAL({args.rstrip(')').replace(' ', '')})"
    if base == "VARCHAR":
        return "VARCHAR"  # widening a text column is not drift that matters to the BUA
    return base
