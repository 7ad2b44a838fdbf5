"""The lake's write in three table formats (issue 24): a month of interval rows written, then
re-written (the re-materialisation), timed, with each variant's peak memory and bytes on disk.

    python bench/lake_formats.py [--rows 2400000] [--batch 20000] [--json]

Variants, each in its own process (peak RSS is that process's):
- ``generate``: the baseline, making the rows only (every other variant's time includes it).
- ``parquet``: the former lake: one streaming ParquetWriter per month (no atomic replace on S3).
- ``lake``: this project's lake (``bua_assets.lake.Lake``): the same streaming writer, then one
  Delta commit replacing the month.
- ``write_deltalake``: deltalake's own writer from a record-batch stream, overwrite with a
  predicate on the month.
- ``iceberg``: pyiceberg 0.12 with a SQLite catalog (an Iceberg commit needs a catalog), the
  month's rows overwritten by a filter on the month; it takes an Arrow table, so the month is held
  in memory. Skipped when pyiceberg is not installed (``pip install 'pyiceberg[sql-sqlite]'``;
  not a project dependency).

The rows are shaped like ``interval_reads``: a supply point, register suffix, day, 48 half-hour
values and quality per register-day row, in batches the way the NEM12 ingest streams them. The
default is the 100k-account month (``interval_reads`` holds ~2.39M register-days: 115M values).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

MONTH = "2026-10-01"
INTERVALS = 48
VARIANTS = ("generate", "parquet", "lake", "write_deltalake", "iceberg")


def batches(rows: int, batch: int, seed: int):
    """``rows`` register-day rows (48 values each), ``batch`` rows a batch."""
    rng = np.random.default_rng(seed)
    start = date(2026, 10, 1)
    made = 0
    while made < rows:
        n = min(batch, rows - made)
        ids = rng.integers(0, 100_000, n)
        values = rng.gamma(2.0, 0.2, (n, INTERVALS)).astype("float64")
        yield pa.record_batch(
            {
                "nmi": pa.array([f"NMI{i:07d}" for i in ids]),
                "suffix": pa.array(np.where(ids % 3 == 0, "B1", "E1")),
                "read_date": pa.array([start + timedelta(days=int(d)) for d in rng.integers(0, 31, n)], pa.date32()),
                "values": pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), INTERVALS),
                "quality": pa.array(np.where(ids % 17 == 0, "S", "A")),
            }
        )
        made += n


def schema() -> pa.Schema:
    return next(batches(1, 1, 0)).schema


def run_variant(variant: str, folder: str, rows: int, batch: int) -> dict:
    times = []
    for attempt in range(2):  # the first write, then the re-materialisation replacing the month
        started = time.perf_counter()
        stream = batches(rows, batch, seed=attempt)
        if variant == "generate":
            for _ in stream:  # the baseline: making the rows, written nowhere
                pass
        elif variant == "parquet":
            os.makedirs(f"{folder}/interval_reads/{MONTH}", exist_ok=True)
            with pq.ParquetWriter(
                f"{folder}/interval_reads/{MONTH}/interval_reads.parquet", schema(), compression="zstd"
            ) as w:
                for b in stream:
                    w.write_batch(b)
        elif variant == "lake":
            from bua_assets.lake import Lake

            with Lake(folder).partition_writer("interval_reads", MONTH) as w:
                for b in stream:
                    w.write_batch("interval_reads", b)
        elif variant == "write_deltalake":
            from deltalake import write_deltalake

            with_month = (b.append_column("partition", pa.array([MONTH] * b.num_rows)) for b in stream)
            full = schema().append(pa.field("partition", pa.string()))
            reader = pa.RecordBatchReader.from_batches(full, with_month)
            write_deltalake(
                f"{folder}/interval_reads",
                reader,
                mode="overwrite",
                partition_by=["partition"],
                predicate=f"partition = '{MONTH}'",
            )
        else:
            from pyiceberg.catalog.sql import SqlCatalog
            from pyiceberg.expressions import EqualTo

            catalog = SqlCatalog("bench", uri=f"sqlite:///{folder}/catalog.db", warehouse=f"file://{folder}")
            catalog.create_namespace_if_not_exists("lake")
            table = pa.Table.from_batches(
                [b.append_column("partition", pa.array([MONTH] * b.num_rows)) for b in stream]
            )
            if not catalog.table_exists("lake.interval_reads"):
                from pyiceberg.transforms import IdentityTransform

                created = catalog.create_table("lake.interval_reads", schema=table.schema)
                with created.update_spec() as spec:
                    spec.add_field("partition", IdentityTransform(), "partition")
            catalog.load_table("lake.interval_reads").overwrite(table, overwrite_filter=EqualTo("partition", MONTH))
        times.append(time.perf_counter() - started)
    size = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(folder) for f in fs)
    return {
        "variant": variant,
        "rows": rows,
        "first_write_s": round(times[0], 2),
        "rewrite_s": round(times[1], 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "bytes_on_disk_mb": round(size / 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=2_400_000, help="register-day rows in the month")
    parser.add_argument("--batch", type=int, default=20_000, help="register-day rows per streamed batch")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # one variant, in this process
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.variant:
        with tempfile.TemporaryDirectory() as folder:
            print(json.dumps(run_variant(args.variant, folder, args.rows, args.batch)))
        return
    results: list[dict] = []
    for variant in VARIANTS:
        if variant == "iceberg":
            try:
                import pyiceberg  # noqa: F401
            except ImportError:
                results.append({"variant": variant, "skipped": "pyiceberg is not installed"})
                continue
        cmd = [sys.executable, __file__, "--variant", variant, "--rows", str(args.rows), "--batch", str(args.batch)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            results.append({"variant": variant, "failed": done.stderr.strip().splitlines()[-1:]})
            continue
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(r)


if __name__ == "__main__":
    main()
