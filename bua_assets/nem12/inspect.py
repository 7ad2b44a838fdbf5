"""Per NMI and suffix summary of a NEM12 file (the `bua-assets nem12 inspect` command)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from bua_assets.nem12.reader import Nem12Issue, read_nem12, unit_factor


def inspect_file(path: Path) -> tuple[list[dict], list[Nem12Issue]]:
    files = read_nem12(path)
    issues = [i for f in files for i in f.issues]
    tables = [f.days for f in files if f.days.num_rows]
    if not tables:
        return [], issues
    days = pa.concat_tables(tables)
    uoms = sorted(set(days["uom"].to_pylist()))
    factors = pa.table({"uom": uoms, "kwh_factor": [unit_factor(u)[1] if unit_factor(u)[0] == "kWh" else None
                                                     for u in uoms]})
    con = duckdb.connect()
    con.register("days", days)
    con.register("factors", factors)
    rows = con.sql("""
        WITH per_day AS (
            SELECT nmi, suffix, d.uom, interval_length, read_date, list_sum("values") * f.kwh_factor AS kwh,
                   interval_quality
            FROM days d JOIN factors f USING (uom)
        ),
        quality AS (
            SELECT nmi, suffix, left(q, 1) AS flag, count(*) AS n
            FROM (SELECT nmi, suffix, unnest(interval_quality) AS q FROM per_day) GROUP BY ALL
        )
        SELECT p.nmi, p.suffix, any_value(p.uom) AS uom, any_value(p.interval_length) AS interval_length,
               strftime(min(read_date), '%Y-%m-%d') AS first_date, strftime(max(read_date), '%Y-%m-%d') AS last_date,
               count(DISTINCT read_date) AS days, round(sum(kwh), 6) AS total_kwh,
               (SELECT map_from_entries(list(struct_pack(k := flag, v := n) ORDER BY flag))
                  FROM quality q WHERE q.nmi = p.nmi AND q.suffix = p.suffix) AS quality_counts
        FROM per_day p GROUP BY p.nmi, p.suffix ORDER BY p.nmi, p.suffix
    """).fetchall()
    keys = ["nmi", "suffix", "uom", "interval_length", "first_date", "last_date", "days", "total_kwh", "quality_counts"]
    out = []
    for r in rows:
        item = dict(zip(keys, r))
        item["quality_counts"] = {k: int(v) for k, v in dict(item["quality_counts"] or {}).items()}
        item["days"] = int(item["days"])
        out.append(item)
    return out, issues
