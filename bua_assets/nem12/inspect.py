"""Per NMI and suffix summary of a NEM12 file (the `bua-assets nem12 inspect` command).

The file is streamed: each chunk of register-days is reduced to narrow rows (one per register-day
with its kWh and line; quality counts per register-day), combined at the end, so memory is
bounded by a chunk plus a few narrow rows per register-day. Combining them finds register-days
the file repeats: counted once (the later record, as the pipeline loads it) and reported.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from bua_assets.nem12.reader import DEFAULT_MAX_DEMAND_KW, Nem12Issue, open_nem12, unit_factor
from bua_assets.sql import connect, engine_config

_KEYS = ["nmi", "suffix", "uom", "interval_length", "first_date", "last_date", "days", "total_kwh", "quality_counts"]


def inspect_file(
    path: Path, *, chunk_days: int = 20_000, max_demand_kw: float | None = DEFAULT_MAX_DEMAND_KW
) -> tuple[list[dict], list[Nem12Issue]]:
    """Per register: unit, interval length, date range, days, kWh and quality counts; and the
    file's issues. A register-day repeated in one file (or zip member) is counted once, the later
    record in file order (as the pipeline loads it), and each earlier copy is a
    ``duplicate_record`` warning naming both lines. Values beyond ``max_demand_kw`` are quarantined
    as the pipeline does (its default limit)."""
    with connect(engine_config()) as con:  # bounded like every other DuckDB connection; closed after
        return _inspect(con, path, chunk_days, max_demand_kw)


def _inspect(
    con: duckdb.DuckDBPyConnection, path: Path, chunk_days: int, max_demand_kw: float | None
) -> tuple[list[dict], list[Nem12Issue]]:
    issues: list[Nem12Issue] = []
    days, quality, names = [], [], []
    for member, stream in enumerate(open_nem12(path, chunk_days=chunk_days, max_demand_kw=max_demand_kw)):
        names.append(stream.name)
        parts = [_partials(con, chunk, member) for chunk in stream.chunks() if chunk.num_rows]
        issues += stream.issues
        if stream.rejected:  # nothing from a rejected file counts, even chunks read before the verdict
            continue
        for d, q in parts:
            days.append(d)
            quality.append(q)
    if not days:
        return [], issues
    con.register("register_days", pa.concat_tables(days))
    con.register("quality", pa.concat_tables(quality))
    # The copies of a register-day within one member, in file order: all but the last are duplicates.
    con.execute("""
        CREATE TEMP TABLE ranked AS
        SELECT *, lead(line) OVER copies AS later_line, row_number() OVER copies AS copy
        FROM register_days
        WINDOW copies AS (PARTITION BY member, nmi, suffix, read_date ORDER BY line)
    """)
    for member, line, nmi, suffix, read_date, later in con.sql("""
            SELECT member, line, nmi, suffix, strftime(read_date, '%Y%m%d'), later_line FROM ranked
            WHERE later_line IS NOT NULL ORDER BY member, line""").fetchall():
        issues.append(
            Nem12Issue(
                names[member],
                line,
                "warning",
                "duplicate_record",
                f"register-day {nmi} {suffix} {read_date} repeated at line {later}: the later "
                "record is counted, this one is not",
                nmi=nmi,
                suffix=suffix,
                read_date=read_date,
            )
        )
    rows = con.sql("""
        WITH kept AS (SELECT * FROM ranked WHERE later_line IS NULL),
        q AS (SELECT nmi, suffix, flag, sum(n) AS n FROM quality JOIN kept USING (member, line) GROUP BY ALL)
        SELECT r.nmi, r.suffix, list(DISTINCT r.uom ORDER BY r.uom) AS uom,
               list(DISTINCT r.interval_length ORDER BY r.interval_length) AS interval_length,
               strftime(min(r.read_date), '%Y-%m-%d') AS first_date,
               strftime(max(r.read_date), '%Y-%m-%d') AS last_date,
               count(DISTINCT r.read_date) AS days, round(sum(r.kwh), 6) AS total_kwh,
               (SELECT map_from_entries(list(struct_pack(k := flag, v := n) ORDER BY flag))
                  FROM q WHERE q.nmi = r.nmi AND q.suffix = r.suffix) AS quality_counts
        FROM kept r
        GROUP BY r.nmi, r.suffix ORDER BY r.nmi, r.suffix
    """).fetchall()
    out = []
    for r in rows:
        item = dict(zip(_KEYS, r))
        item["quality_counts"] = {k: int(v) for k, v in dict(item["quality_counts"] or {}).items()}
        item["days"] = int(item["days"])
        # a register delivered in one unit and length (the rule) shows it; otherwise every one, sorted
        for key in ("uom", "interval_length"):
            item[key] = item[key][0] if len(item[key]) == 1 else item[key]
        out.append(item)
    return out, issues


def _partials(con: duckdb.DuckDBPyConnection, chunk: pa.Table, member: int) -> tuple[pa.Table, pa.Table]:
    """One chunk's narrow register-day rows (kWh and the line, to find repeats) and its quality
    counts per register-day."""
    uoms = sorted(set(chunk["uom"].to_pylist()))
    factors = pa.table(
        {"uom": uoms, "kwh_factor": [unit_factor(u)[1] if unit_factor(u)[0] == "kWh" else None for u in uoms]}
    )
    con.register("days", chunk)
    con.register("factors", factors)
    try:
        register_days = con.sql(f"""
            SELECT {int(member)} AS member, line, nmi, suffix, d.uom, interval_length, read_date,
                   list_sum("values") * f.kwh_factor AS kwh
            FROM days d JOIN factors f USING (uom)
        """).to_arrow_table()
        # a day without 400 records has no per-interval qualities: all its intervals are its method
        quality = con.sql(f"""
            SELECT {int(member)} AS member, line, flag, sum(n)::BIGINT AS n FROM (
                SELECT line, left(unnest(interval_quality), 1) AS flag, 1 AS n FROM days
                WHERE interval_quality IS NOT NULL
                UNION ALL
                SELECT line, left(quality_method, 1), len("values") FROM days WHERE interval_quality IS NULL
            ) GROUP BY ALL
        """).to_arrow_table()
    finally:
        con.unregister("days")
        con.unregister("factors")
    return register_days, quality
