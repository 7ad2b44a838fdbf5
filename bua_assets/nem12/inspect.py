"""Per NMI and suffix summary of a NEM12 file (the `bua-assets nem12 inspect` command).

The file is streamed: each chunk of register-days is reduced to small partial aggregates (per
register; distinct register-days; quality counts), which are combined at the end, so memory is
bounded by a chunk plus one narrow row per register-day.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from bua_assets.nem12.reader import Nem12Issue, open_nem12, unit_factor
from bua_assets.sql import engine_config

_KEYS = ["nmi", "suffix", "uom", "interval_length", "first_date", "last_date", "days", "total_kwh", "quality_counts"]


def inspect_file(path: Path, *, chunk_days: int = 20_000) -> tuple[list[dict], list[Nem12Issue]]:
    con = duckdb.connect(config=engine_config())  # bounded like every other DuckDB connection
    issues: list[Nem12Issue] = []
    registers, days, quality = [], [], []
    for stream in open_nem12(path, chunk_days=chunk_days):
        parts = [_partials(con, chunk) for chunk in stream.chunks() if chunk.num_rows]
        issues += stream.issues
        if stream.rejected:  # nothing from a rejected file counts, even chunks read before the verdict
            continue
        for r, d, q in parts:
            registers.append(r)
            days.append(d)
            quality.append(q)
    if not registers:
        return [], issues
    con.register("registers", pa.concat_tables(registers))
    con.register("register_days", pa.concat_tables(days))
    con.register("quality", pa.concat_tables(quality))
    rows = con.sql("""
        WITH q AS (SELECT nmi, suffix, flag, sum(n) AS n FROM quality GROUP BY ALL),
        d AS (SELECT nmi, suffix, count(DISTINCT read_date) AS days FROM register_days GROUP BY ALL)
        SELECT r.nmi, r.suffix, any_value(r.uom) AS uom, any_value(r.interval_length) AS interval_length,
               strftime(min(r.first_date), '%Y-%m-%d') AS first_date,
               strftime(max(r.last_date), '%Y-%m-%d') AS last_date,
               any_value(d.days) AS days, round(sum(r.kwh), 6) AS total_kwh,
               (SELECT map_from_entries(list(struct_pack(k := flag, v := n) ORDER BY flag))
                  FROM q WHERE q.nmi = r.nmi AND q.suffix = r.suffix) AS quality_counts
        FROM registers r JOIN d USING (nmi, suffix)
        GROUP BY r.nmi, r.suffix ORDER BY r.nmi, r.suffix
    """).fetchall()
    out = []
    for r in rows:
        item = dict(zip(_KEYS, r))
        item["quality_counts"] = {k: int(v) for k, v in dict(item["quality_counts"] or {}).items()}
        item["days"] = int(item["days"])
        out.append(item)
    return out, issues


def _partials(con: duckdb.DuckDBPyConnection, chunk: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    """One chunk's per-register aggregates, distinct (register, day) pairs and quality counts."""
    uoms = sorted(set(chunk["uom"].to_pylist()))
    factors = pa.table({"uom": uoms, "kwh_factor": [unit_factor(u)[1] if unit_factor(u)[0] == "kWh" else None
                                                     for u in uoms]})
    con.register("days", chunk)
    con.register("factors", factors)
    try:
        registers = con.sql("""
            SELECT nmi, suffix, any_value(d.uom) AS uom, any_value(interval_length) AS interval_length,
                   min(read_date) AS first_date, max(read_date) AS last_date,
                   sum(list_sum("values") * f.kwh_factor) AS kwh
            FROM days d JOIN factors f USING (uom) GROUP BY ALL
        """).to_arrow_table()
        register_days = con.sql("SELECT DISTINCT nmi, suffix, read_date FROM days").to_arrow_table()
        quality = con.sql("""
            SELECT nmi, suffix, left(q, 1) AS flag, count(*) AS n
            FROM (SELECT nmi, suffix, unnest(interval_quality) AS q FROM days) GROUP BY ALL
        """).to_arrow_table()
    finally:
        con.unregister("days")
        con.unregister("factors")
    return registers, register_days, quality
