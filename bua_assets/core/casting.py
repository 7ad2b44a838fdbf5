"""Values from a database driver -> Arrow arrays of the contract's types (sql/core/schema.sql),
vectorised; a value that does not read raises :class:`CoreValueError` naming table, column,
the rows' ids and the values, never Arrow's own error."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from bua_assets.core.schema import Table


class CoreValueError(ValueError):
    """A CORE value that cannot be read as its contract type: names table, column, rows and values."""

    def __init__(self, table: str, column: str, expected: str, keys: list[str], values: list, total: int):
        self.table, self.column, self.expected = table, column, expected
        self.keys, self.values, self.total = keys, values, total
        shown = ", ".join(f"{k} = {v!r}" for k, v in zip(keys, values))
        more = f" (and {total - len(keys)} more)" if total > len(keys) else ""
        super().__init__(f"{table}.{column}: {total} value(s) are not a valid {expected}: {shown}{more}")


class CoreTextError(CoreValueError):
    """Text CORE holds that is not UTF-8 (SQLite stores any bytes as TEXT): names table, column and
    rows, and where in each value the bad byte is. The text itself is not shown: it may be a
    customer's name, which an anonymised environment must never print."""

    def __init__(self, table: str, column: str, keys: list[str], problems: list[str], total: int):
        super().__init__(table, column, "UTF-8 text", keys, problems, total)
        shown = ", ".join(f"{k} ({p})" for k, p in zip(keys, problems))
        more = f" (and {total - len(keys)} more)" if total > len(keys) else ""
        self.args = (f"{table}.{column}: {total} value(s) are not valid UTF-8: {shown}{more}",)


def undecodable(raw: bytes) -> str | None:
    """Where ``raw`` stops being UTF-8 ("byte 0xc3 at offset 1: invalid continuation byte"), or None."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = " ".join(f"0x{b:02x}" for b in raw[exc.start : exc.end])
        return f"byte{'s' if exc.end - exc.start > 1 else ''} {bad} at offset {exc.start}: {exc.reason}"
    return None


# Text a cast can read, per contract base type (MySQL zero dates and impossible dates fail strptime).
_NUMBER_TEXT = {
    "INT": r"^\s*[+-]?\d+\s*$",
    "BIGINT": r"^\s*[+-]?\d+\s*$",
    "TINYINT": r"^\s*[+-]?\d+\s*$",
    "DECIMAL": r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$",
    "DOUBLE": r"(?i)^\s*[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)\s*$",
}
SHOWN_BAD_VALUES = 5


def subset(spec: Table, columns: Sequence[str] | None) -> Table:
    """The contract table restricted to ``columns`` (in contract order); all of it if None."""
    if columns is None:
        return spec
    return Table(spec.name, tuple(c for c in spec.columns if c.name in set(columns)))


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
    keys = (
        [f"id {v}" for v in pc.take(ids, rows).to_pylist()]
        if ids is not None
        else [f"row {v}" for v in rows.to_pylist()]
    )
    raise CoreValueError(table, col.name, col.sql_type, keys, pc.take(text, rows).to_pylist(), total)


def typed_batch(spec: Table, columns: list[tuple]) -> pa.RecordBatch:
    """Text values from the driver → Arrow arrays of the contract's types (vectorised casts)."""
    texts = [pa.array(values, pa.string()) for values in columns]
    return typed(spec, texts)


def cast_batch(spec: Table, batch: pa.RecordBatch) -> pa.RecordBatch:
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
    return typed(spec, texts)


def typed(spec: Table, texts: list[pa.Array]) -> pa.RecordBatch:
    """One array per contract column (text, or already typed) -> a batch of the contract's schema;
    the id column is read first so a bad value elsewhere names its row's id."""
    names = [c.name for c in spec.columns]
    ids = None
    if "id" in names:
        ids = typed_column(spec.name, spec.columns[names.index("id")], texts[names.index("id")], None)
    arrays = [ids if c.name == "id" else typed_column(spec.name, c, t, ids) for c, t in zip(spec.columns, texts)]
    return pa.RecordBatch.from_arrays(arrays, schema=spec.arrow_schema)
