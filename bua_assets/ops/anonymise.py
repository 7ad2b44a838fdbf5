"""The anonymised test environment (the legacy ANSTEAD): account numbers, NMIs/MIRNs, meter
serials and customer names replaced by keyed hashes (HMAC-SHA256), the same everywhere, so
CORE tables and NEM12 data still join and no original identifier reaches any output.
"""

from __future__ import annotations

import hashlib
import hmac

import pyarrow as pa
import pyarrow.compute as pc

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # NMI-safe: no I or O

# column -> kind, per CORE table; NEM12-derived tables use the same kinds
CORE_COLUMNS = {
    "Account": {"account_number": "account", "customer_name": "name"},
    "Utility": {"identifier": "nmi"},
    "Meter": {"serial": "serial"},
}
NEM12_COLUMNS = {"nmi": "nmi", "meter_serial": "serial"}


class Anonymiser:
    def __init__(self, key: str):
        if not key:
            raise ValueError("an anonymisation key is required")
        self._key = key.encode()

    def _digest(self, kind: str, value: str) -> bytes:
        return hmac.new(self._key, f"{kind}:{value}".encode(), hashlib.sha256).digest()

    def one(self, kind: str, value: str) -> str:
        d = self._digest(kind, value)
        if kind == "account":
            return f"{int.from_bytes(d[:8], 'big') % 10**10:010d}"
        if kind == "name":
            return f"Customer {d[:4].hex().upper()}"
        n = int.from_bytes(d[:12], "big")
        chars = []
        for _ in range(len(value) if kind == "nmi" else 8):
            n, r = divmod(n, len(ALPHABET))
            chars.append(ALPHABET[r])
        return "".join(chars)  # an NMI keeps its length (10 or 11 characters)

    def column(self, kind: str, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Replace every value of a string column; each distinct value is hashed once."""
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        distinct = pc.unique(values).drop_null()
        mapped = pa.array([self.one(kind, v) for v in distinct.to_pylist()], pa.string())
        return mapped.take(pc.index_in(values, value_set=distinct))

    def table(self, table: pa.Table | pa.RecordBatch, columns: dict[str, str]) -> pa.Table | pa.RecordBatch:
        for name, kind in columns.items():
            if name in table.column_names:
                i = table.column_names.index(name)
                table = table.set_column(i, table.schema.field(i), self.column(kind, table.column(i)))
        return table


class AnonymisingWriter:
    """Wraps a PartitionWriter: CORE tables are anonymised on their way into the lake."""

    def __init__(self, writer, anonymiser: Anonymiser, columns_by_dataset: dict[str, dict[str, str]]):
        self._writer, self._anon, self._columns = writer, anonymiser, columns_by_dataset

    def write(self, dataset: str, table: pa.Table) -> None:
        self._writer.write(dataset, self._anon.table(table, self._columns.get(dataset, {})))

    def write_batch(self, dataset: str, batch: pa.RecordBatch) -> None:
        self.write(dataset, pa.Table.from_batches([batch]))

    def ensure(self, dataset: str, schema: pa.Schema) -> None:
        self._writer.ensure(dataset, schema)  # an empty dataset has no values to anonymise

    def __getattr__(self, name):
        return getattr(self._writer, name)
