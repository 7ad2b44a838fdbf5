"""Analyst access: DuckDB views over a real lake (the month materialised by the pipeline and a lake
on the moto S3 server), the query command's three formats, and Glue tables on the moto server."""

from __future__ import annotations

import csv
import io
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from support import PARTITION

from bua_assets.analyst import describe_views, lake_datasets, run_query
from bua_assets.cli import main
from bua_assets.lake import Lake
from bua_assets.ops.catalog import PARQUET_SERDE, SYMLINK_INPUT, register_month


@pytest.fixture(scope="module")
def month_lake(operations_month):
    """The pipeline's month (and its interval history) in a real local lake (conftest.py)."""
    return operations_month["lake"]


def test_every_dataset_is_a_view_and_the_summary_matches_the_lake(month_lake):
    views = {r["view"]: r for r in describe_views(month_lake).to_pylist()}
    # one view per dataset, named <asset>.<dataset>
    expected = {
        f"{asset}.{dataset}"
        for asset in ("accrual_summary", "unbilled_window", "core_tables")
        for dataset in month_lake.datasets(asset, PARTITION)
    }
    assert expected <= set(views)
    assert views["accrual_summary.accrual_summary"]["rows"] == month_lake.rows(
        "accrual_summary", PARTITION, "accrual_summary"
    )
    summary = month_lake.read("accrual_summary", PARTITION, "accrual_summary")
    totals = run_query(
        month_lake,
        "select state, fuel, round(sum(net_amount), 2) as net from accrual_summary group by all order by state, fuel",
    ).to_pylist()
    by_hand = summary.group_by(["state", "fuel"]).aggregate([("net_amount", "sum")]).to_pylist()
    assert {(r["state"], r["fuel"]): r["net"] for r in totals} == {
        (r["state"], r["fuel"]): round(r["net_amount_sum"], 2) for r in by_hand
    }
    # the asset-qualified name and the short name are the same data
    assert run_query(month_lake, "select count(*) as n from accrual_summary.accrual_summary").to_pylist() == [
        {"n": summary.num_rows}
    ]


def test_month_restricts_every_view_to_its_partition(month_lake):
    everything = run_query(month_lake, 'select distinct partition from meter_registers."Utility" order by 1')
    assert len(everything) > 1  # the interval history's months are in the lake too
    assert PARTITION in everything["partition"].to_pylist()
    one = run_query(month_lake, 'select distinct partition from meter_registers."Utility"', month=PARTITION[:7])
    assert one["partition"].to_pylist() == [PARTITION]
    # accounts x months in the window, joined across assets: the join DuckDB does equals pyarrow's
    joined = run_query(
        month_lake,
        "select count(*) as n from unbilled_window.unbilled_months w join bua_account_summary s using (account_id)",
        month=PARTITION[:7],
    )
    window = month_lake.read("unbilled_window", PARTITION, "unbilled_months")
    summarised = month_lake.read("bua_account_summary", PARTITION, "bua_account_summary")
    expected = pc.sum(pc.is_in(window["account_id"], summarised["account_id"])).as_py()
    assert joined.to_pylist() == [{"n": expected}]
    assert lake_datasets(month_lake, "2023-09") == []


def test_query_command_writes_table_csv_and_parquet(month_lake, tmp_path, capsys):
    lake = month_lake.base
    sql = "select account_id, net_amount from bua_account_summary order by account_id limit 5"
    assert main(["query", sql, "--month", PARTITION[:7], "--lake", lake, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    expected = month_lake.read("bua_account_summary", PARTITION, "bua_account_summary").sort_by("account_id")
    assert [int(r["account_id"]) for r in rows] == expected["account_id"].to_pylist()[:5]
    assert main(["query", sql, "--lake", lake]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split() == ["account_id", "net_amount"] and text.rstrip().endswith("(5 rows)")
    out = tmp_path / "result.parquet"
    assert main(["query", sql, "--lake", lake, "--format", "parquet", "--output", str(out)]) == 0
    assert pq.read_table(out)["account_id"].to_pylist() == expected["account_id"].to_pylist()[:5]
    # bad input: a clear message and exit 2, no traceback
    assert main(["query", sql, "--lake", lake, "--format", "parquet"]) == 2
    assert "needs --output" in capsys.readouterr().err
    assert main(["query", "select * from no_such_view", "--lake", lake]) == 2
    assert "no_such_view" in capsys.readouterr().err
    assert main(["query", sql, "--lake", lake, "--month", "2026-13"]) == 2
    assert main(["query", "views", "--lake", lake, "--month", PARTITION[:7], "--format", "csv"]) == 0
    listed = {r["view"] for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert {"accrual_summary.accrual_summary", "errors.errors", "bua_export.manifest"} <= listed


def _small_lake(lake: Lake) -> None:
    with lake.partition_writer("accrual_summary", "2026-09-01") as w:
        w.write("accrual_summary", pa.table({"state": ["NSW"], "net_amount": [10.5]}))
    with lake.partition_writer("accrual_summary", "2026-10-01") as w:
        w.write("accrual_summary", pa.table({"state": ["NSW", "VIC"], "net_amount": [1.25, 2.0]}))
        w.write(
            "by_state",
            pa.table(
                {
                    "state": ["NSW"],
                    "day": pa.array([date(2026, 10, 31)], pa.date32()),
                    "tags": pa.array([["a", "b"]], pa.list_(pa.string())),
                }
            ),
        )


def test_views_over_a_lake_on_s3(s3_bucket):
    endpoint, bucket, _ = s3_bucket
    lake = Lake(f"s3://{bucket}/lake", s3_endpoint_url=endpoint)
    _small_lake(lake)
    result = run_query(lake, "select partition, sum(net_amount) as net from accrual_summary group by 1 order by 1")
    assert result.to_pylist() == [{"partition": "2026-09-01", "net": 10.5}, {"partition": "2026-10-01", "net": 3.25}]
    assert run_query(lake, "select count(*) as n from accrual_summary", month="2026-09").to_pylist() == [{"n": 1}]


def test_glue_tables_for_the_month_on_moto(s3_bucket):
    endpoint, bucket, s3 = s3_bucket
    import boto3

    glue = boto3.client("glue", endpoint_url=endpoint, region_name="ap-southeast-2")
    lake = Lake(f"s3://{bucket}/lake", s3_endpoint_url=endpoint)
    _small_lake(lake)
    first = register_month(lake, glue, "bua_lake", "2026-10")
    assert sorted(r.table for r in first) == ["accrual_summary__accrual_summary", "accrual_summary__by_state"]
    table = glue.get_table(DatabaseName="bua_lake", Name="accrual_summary__by_state")["Table"]
    sd = table["StorageDescriptor"]
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [
        ("state", "string"),
        ("day", "date"),
        ("tags", "array<string>"),
    ]
    assert sd["InputFormat"] == SYMLINK_INPUT and sd["SerdeInfo"]["SerializationLibrary"] == PARQUET_SERDE
    assert sd["Location"] == f"s3://{bucket}/lake/_catalog/accrual_summary/by_state/"
    assert [k["Name"] for k in table["PartitionKeys"]] == ["partition"]
    partitions = glue.get_partitions(DatabaseName="bua_lake", TableName="accrual_summary__by_state")["Partitions"]
    assert [p["Values"] for p in partitions] == [["2026-10-01"]]
    location = partitions[0]["StorageDescriptor"]["Location"]
    key = location[len(f"s3://{bucket}/") :] + "manifest"
    manifest = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    # The file the Delta table's current version names for the month, not a glob of its folder.
    (current,) = lake.files("accrual_summary", "2026-10-01", "by_state")
    assert manifest == f"s3://{current}\n"
    # September, then October again with a new column: still one partition per month, schema updated
    register_month(lake, glue, "bua_lake", "2026-09")
    with lake.partition_writer("accrual_summary", "2026-10-01") as w:
        w.write(
            "accrual_summary", pa.table({"state": ["NSW"], "net_amount": [1.0], "accounts": pa.array([3], pa.int32())})
        )
    again = register_month(lake, glue, "bua_lake", "2026-10")
    assert [r.table for r in again] == ["accrual_summary__accrual_summary"]  # by_state left October
    summary = glue.get_table(DatabaseName="bua_lake", Name="accrual_summary__accrual_summary")["Table"]
    assert [(c["Name"], c["Type"]) for c in summary["StorageDescriptor"]["Columns"]] == [
        ("state", "string"),
        ("net_amount", "double"),
        ("accounts", "int"),
    ]
    months = glue.get_partitions(DatabaseName="bua_lake", TableName="accrual_summary__accrual_summary")["Partitions"]
    assert sorted(p["Values"][0] for p in months) == ["2026-09-01", "2026-10-01"]
    # by_state is no longer in October: its October partition is withdrawn (its manifest named a deleted file)
    assert glue.get_partitions(DatabaseName="bua_lake", TableName="accrual_summary__by_state")["Partitions"] == []


def test_glue_needs_a_lake_on_s3(tmp_path):
    with pytest.raises(ValueError, match="Glue tables need the lake on S3"):
        register_month(Lake(str(tmp_path)), None, "bua_lake", "2026-10")
