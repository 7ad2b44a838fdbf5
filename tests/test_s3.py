"""The lake and the meter-data source on S3 (a moto server over HTTP), against the local paths."""

from __future__ import annotations

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
from support import PARTITION

from bua_assets.assets.core import core_snapshot, core_tables
from bua_assets.assets.meter_data import interval_reads
from bua_assets.lake import Lake
from bua_assets.resources import (
    AnonymiseResource,
    CoreDatabaseResource,
    LakeResource,
    MeterDataResource,
    RdsCoreResource,
)


def test_lake_partition_on_s3_is_replaced_whole(s3_bucket):
    endpoint, bucket, s3 = s3_bucket
    lake = Lake(f"s3://{bucket}/lake", s3_endpoint_url=endpoint)
    with lake.partition_writer("demo", PARTITION) as w:
        w.write("a", pa.table({"x": [1, 2, 3]}))
        w.write("b", pa.table({"y": ["p"]}))
    with lake.partition_writer("demo", PARTITION) as w:  # the second run writes only one dataset
        w.write("a", pa.table({"x": [4]}))
    assert lake.datasets("demo", PARTITION) == ["a"]
    assert lake.read("demo", PARTITION, "a").column("x").to_pylist() == [4]
    # The month's current version names one file per dataset; the replaced ones stay for the audit period.
    (current,) = lake.files("demo", PARTITION, "a")
    assert current.startswith(f"{bucket}/lake/demo/a/partition={PARTITION}/")
    assert lake.read("demo", PARTITION, "a", version=0).column("x").to_pylist() == [1, 2, 3]
    assert lake.read("demo", PARTITION, "b", version=0).column("y").to_pylist() == ["p"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert f"lake/demo/a/_delta_log/{1:020d}.json" in keys


def test_failed_write_on_s3_keeps_the_previous_partition(s3_bucket):
    endpoint, bucket, _ = s3_bucket
    lake = Lake(f"s3://{bucket}/lake", s3_endpoint_url=endpoint)
    with lake.partition_writer("demo", PARTITION) as w:
        w.write("a", pa.table({"x": [1]}))
    try:
        with lake.partition_writer("demo", PARTITION) as w:
            w.write("a", pa.table({"x": [2]}))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert lake.read("demo", PARTITION, "a").column("x").to_pylist() == [1]


def test_pipeline_reads_nem12_from_s3_and_writes_lake_to_s3(retailer, s3_bucket, tmp_path):
    endpoint, bucket, s3 = s3_bucket
    folder, core_url = retailer
    month = PARTITION[:7]
    for path in sorted((folder / "nem12" / month).iterdir()):
        s3.upload_file(str(path), bucket, f"inbound/nem12/{month}/{path.name}")

    def run(lake: LakeResource, meter_data: MeterDataResource):
        result = dg.materialize(
            [core_snapshot, core_tables, interval_reads],
            partition_key=PARTITION,
            resources={
                "core_db": CoreDatabaseResource(url=core_url),
                "lake": lake,
                "rds": RdsCoreResource(),
                "anonymise": AnonymiseResource(),
                "meter_data": meter_data,
            },
        )
        assert result.success

    run(
        LakeResource(base=f"s3://{bucket}/lake", endpoint_url=endpoint),
        MeterDataResource(
            location=f"s3://{bucket}/inbound/nem12", endpoint_url=endpoint, cache_dir=str(tmp_path / "cache")
        ),
    )
    run(LakeResource(base=str(tmp_path / "lake")), MeterDataResource(location=str(folder / "nem12")))
    on_s3 = Lake(f"s3://{bucket}/lake", s3_endpoint_url=endpoint)
    local = Lake(str(tmp_path / "lake"))
    for asset in ("core_tables", "interval_reads"):
        assert on_s3.datasets(asset, PARTITION) == local.datasets(asset, PARTITION)
        for dataset in local.datasets(asset, PARTITION):
            from_s3, from_disk = on_s3.read(asset, PARTITION, dataset), local.read(asset, PARTITION, dataset)
            if "source_file" in from_s3.column_names:  # lineage names where each file really came from
                assert all(
                    s.startswith(f"s3://{bucket}/inbound/nem12/{month}/")
                    for s in from_s3["source_file"].unique().to_pylist()
                )
                from_s3, from_disk = _file_names_only(from_s3), _file_names_only(from_disk)
            assert from_s3.equals(from_disk), (asset, dataset)


def _file_names_only(table: pa.Table) -> pa.Table:
    """Strip the folder (local or s3://) from file names, in lineage and in reasons that cite a file."""
    for column in ("source_file", "reason"):
        if column in table.column_names:
            i = table.schema.get_field_index(column)
            table = table.set_column(i, column, pc.replace_substring_regex(table[column], r"[^ ]*/(NEM12#)", r"\1"))
    return table


def test_has_month_lists_the_month_on_s3_without_fetching_it(s3_bucket, tmp_path):
    """The history backfill asks every month of the profile window whether it has meter data: on S3
    a listing answers, nothing is downloaded (the month's runs fetch what they read)."""
    endpoint, bucket, s3 = s3_bucket
    s3.put_object(Bucket=bucket, Key="inbound/nem12/2026-10/", Body=b"")  # a folder marker alone
    s3.put_object(Bucket=bucket, Key="inbound/nem12/2026-09/mdp/NEM12#1#MDP#RETAILER.csv", Body=b"100,NEM12\n")
    cache = tmp_path / "cache"
    meter_data = MeterDataResource(location=f"s3://{bucket}/inbound/nem12", endpoint_url=endpoint, cache_dir=str(cache))
    assert [meter_data.has_month(m) for m in ("2026-08", "2026-09", "2026-10")] == [False, True, False]
    assert not cache.exists()
    assert [bool(meter_data.month_entries(m)) for m in ("2026-08", "2026-09", "2026-10")] == [False, True, False]
    assert cache.exists()  # month_entries fetches what it lists
