"""CORE extraction throughput from MariaDB on loopback: ours against `mariadb --batch`.

    python bench/extract.py [--rows 1000000] [--url mysql+pymysql://root@127.0.0.1:3306] [--json]

Loads a BasicRead table of --rows synthetic rows into a scratch database, then times
  1. `mariadb --batch -e "SELECT ... FROM BasicRead ORDER BY id"` written to a file,
  2. CoreDatabase.stream_table (connectorx, cast to the contract's Arrow types), and
  3. CoreDatabase.stream_table_dbapi (pymysql SSCursor, the reference path),
and drops the database. Prints rows/s for each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bua_assets.core.database import CoreDatabase


def basic_reads(rows: int) -> pa.Table:
    rng = np.random.default_rng(1)
    dates = np.datetime64("2025-01-01") + rng.integers(0, 600, rows).astype("timedelta64[D]")
    read_type = np.where(rng.random(rows) < 0.04, "ESTIMATE", "ACTUAL")
    return pa.table(
        {
            "id": pa.array(np.arange(1, rows + 1)),
            "meter_register_id": pa.array(rng.integers(1, 200_000, rows)),
            "read_date": pa.array(dates, pa.date32()),
            "reading": pa.array(np.round(rng.random(rows) * 99999, 1)).cast(pa.decimal128(12, 1)),
            "read_type": pa.array(read_type),
            "quality": pa.array(np.where(read_type == "ACTUAL", "A", "E")),
        }
    )


def rate(rows: int, seconds: float) -> dict:
    return {"s": round(seconds, 2), "rows_per_s": int(rows / seconds)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    db = CoreDatabase(f"{args.url}/bua_bench_{uuid.uuid4().hex[:8]}")
    db.create_database(drop_existing=True)
    out = {"rows": args.rows}
    try:
        db.insert_arrow("BasicRead", basic_reads(args.rows))
        cli = shutil.which("mariadb") or shutil.which("mysql")
        if cli:
            u = db.url
            with tempfile.NamedTemporaryFile() as sink:
                t = time.perf_counter()
                subprocess.run(
                    [
                        cli,
                        "--batch",
                        "-h",
                        u.host,
                        "-P",
                        str(u.port),
                        "-u",
                        u.user,
                        u.database,
                        "-e",
                        "SELECT id, meter_register_id, read_date, reading, read_type, quality "
                        "FROM BasicRead ORDER BY id",
                    ],
                    stdout=sink,
                    check=True,
                    env={"MYSQL_PWD": u.password or "", "PATH": "/usr/bin:/bin"},
                )
                out["mariadb_batch"] = rate(args.rows, time.perf_counter() - t)
        for name, stream in (("ours_connectorx", db.stream_table), ("pymysql_sscursor", db.stream_table_dbapi)):
            t = time.perf_counter()
            n = sum(b.num_rows for b in stream("BasicRead"))
            assert n == args.rows, (name, n)
            out[name] = rate(n, time.perf_counter() - t)
    finally:
        db.drop_database()
    for k, v in out.items():
        if isinstance(v, dict):
            print(f"{k:<18} {v['rows_per_s']:>12,} rows/s  ({v['s']} s)", file=sys.stderr)
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
