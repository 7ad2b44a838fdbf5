"""Interval meter data: the month's NEM12 deliveries into the lake."""


import tempfile
from pathlib import Path

import dagster as dg
import pyarrow.compute as pc

from bua_assets.assets.heavy import HEAVY
from bua_assets.assets.teams import team
from bua_assets.nem12.ingest import ingest_month
from bua_assets.ops.anonymise import NEM12_COLUMNS, AnonymisingWriter
from bua_assets.partitions import month_start, monthly_partitions, run_date
from bua_assets.progress import progress_logger
from bua_assets.resources import AnonymiseResource, LakeResource, MeterDataResource


@dg.asset(partitions_def=monthly_partitions, kinds={"parquet", "duckdb"}, **team("meter_data"), op_tags=HEAVY,
          description="Register-days of interval data for the month (kWh per interval, quality per interval), "
                      "latest delivery wins; everything not loaded is in the quarantine dataset with a reason.")
def interval_reads(context: dg.AssetExecutionContext, meter_data: MeterDataResource, lake: LakeResource,
                   anonymise: AnonymiseResource) -> dg.MaterializeResult:
    key = context.partition_key
    files = meter_data.month_files(key[:7])
    if not files:
        context.log.warning(f"no NEM12 files for {key[:7]} at {meter_data.location}")
    store = lake.lake()
    anonymiser = anonymise.anonymiser()
    with store.partition_writer("interval_reads", key) as writer, tempfile.TemporaryDirectory(prefix="bua-nem12-") as work:
        write = AnonymisingWriter(writer, anonymiser, {"interval_reads": NEM12_COLUMNS, "quarantine": NEM12_COLUMNS}) \
            if anonymiser else writer
        summary = ingest_month(files, month_start(key), run_date(key), write.write, Path(work),
                               progress=progress_logger(context.log, "interval_reads"))
        write.write("quarantine", summary.quarantine)
        writer.write("files", summary.files)
    by_code = summary.quarantine.group_by("code").aggregate([("code", "count")]).to_pylist()
    return dg.MaterializeResult(metadata={
        "rows": summary.interval_reads, "path": store.uri("interval_reads", key, "interval_reads"),
        "files": len(files), "files_rejected": int(pc.sum(summary.files["rejected"]).as_py() or 0),
        "registers": summary.registers, "quarantined": summary.quarantine.num_rows,
        "quarantine_by_code": dg.MetadataValue.json({r["code"]: r["code_count"] for r in by_code}),
    })
