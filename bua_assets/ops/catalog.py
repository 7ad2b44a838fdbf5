"""The lake's datasets registered in the Glue Data Catalog, where Athena (and any SQL tool that
reads Glue) sees them. No Dagster here.

Each dataset is a Delta table (``<asset>/<dataset>/``) whose folder also holds replaced months'
files for the audit period, and an Athena table over Parquet reads every file under its location,
so a table cannot point at that folder. Each dataset instead gets a symlink manifest per partition, ``<lake>/_catalog/<asset>/<dataset>/
partition=<key>/manifest`` (one line: the Parquet file the table's current version names), and a Glue table
``<asset>__<dataset>`` (lower case) over ``SymlinkTextInputFormat`` + ``ParquetHiveSerDe`` with
partition key ``partition``: the layout Athena reads Delta Lake's manifests through. Re-running a
month rewrites its manifests and replaces its partitions, so registration is idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from bua_assets.analyst import lake_datasets, month_partition
from bua_assets.lake import Lake

SYMLINK_INPUT = "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat"
IGNORE_KEY_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
CATALOG_FOLDER = "_catalog"


def hive_type(t: pa.DataType) -> str:
    """The Hive/Athena type of an Arrow type (unsigned integers widened; null typed string)."""
    if pa.types.is_boolean(t):
        return "boolean"
    for check, name in (
        (pa.types.is_int8, "tinyint"),
        (pa.types.is_int16, "smallint"),
        (pa.types.is_int32, "int"),
        (pa.types.is_int64, "bigint"),
        (pa.types.is_uint8, "smallint"),
        (pa.types.is_uint16, "int"),
        (pa.types.is_uint32, "bigint"),
        (pa.types.is_uint64, "decimal(20,0)"),
        (pa.types.is_float32, "float"),
        (pa.types.is_float64, "double"),
        (pa.types.is_date, "date"),
        (pa.types.is_timestamp, "timestamp"),
    ):
        if check(t):
            return name
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_null(t) or pa.types.is_dictionary(t):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in t) + ">"
    raise TypeError(f"no Glue type for Arrow type {t}")


def table_name(asset: str, dataset: str) -> str:
    return f"{asset}__{dataset}".lower()  # Glue table names are lower case


@dataclass
class Registered:
    table: str
    partition: str
    location: str
    columns: int


def register_month(lake: Lake, glue, database: str, month: str) -> list[Registered]:
    """Register every dataset the lake holds for ``month`` (a Glue table per dataset, created or
    updated to the month's schema, and the month's partition replaced). ``glue`` is a boto3 Glue
    client. The lake must be on S3 (Athena reads S3 only)."""
    base = lake.base.rstrip("/")
    if not base.startswith("s3://"):
        raise ValueError(f"Glue tables need the lake on S3 (BUA_LAKE is {base})")
    partition = month_partition(month)
    _ensure_database(glue, database)
    done = []
    for d in lake_datasets(lake, partition):
        path = d.files[partition]
        schema = pq.read_schema(path, filesystem=lake.filesystem)
        columns = [{"Name": f.name.lower(), "Type": hive_type(f.type)} for f in schema if f.name != "partition"]
        manifest_dir = f"{CATALOG_FOLDER}/{d.asset}/{d.dataset}"
        with lake.filesystem.open_output_stream(f"{lake.root}/{manifest_dir}/partition={partition}/manifest") as out:
            out.write(f"s3://{path}\n".encode())
        name = table_name(d.asset, d.dataset)
        table_input = {
            "Name": name,
            "TableType": "EXTERNAL_TABLE",
            "Description": f"BUA lake dataset {d.view} (one partition per accrual month)",
            "Parameters": {"classification": "parquet", "bua_asset": d.asset, "bua_dataset": d.dataset},
            "PartitionKeys": [{"Name": "partition", "Type": "string"}],
            "StorageDescriptor": _descriptor(columns, f"{base}/{manifest_dir}/"),
        }
        try:
            glue.create_table(DatabaseName=database, TableInput=table_input)
        except glue.exceptions.AlreadyExistsException:
            glue.update_table(DatabaseName=database, TableInput=table_input)
        location = f"{base}/{manifest_dir}/partition={partition}/"
        partition_input = {"Values": [partition], "StorageDescriptor": _descriptor(columns, location)}
        try:
            glue.create_partition(DatabaseName=database, TableName=name, PartitionInput=partition_input)
        except glue.exceptions.AlreadyExistsException:
            glue.update_partition(
                DatabaseName=database, TableName=name, PartitionValueList=[partition], PartitionInput=partition_input
            )
        done.append(Registered(name, partition, location, len(columns)))
    _withdraw_gone(
        glue, database, partition, {r.table for r in done}, {d.asset for d in lake_datasets(lake, partition)}
    )
    return done


def _withdraw_gone(glue, database: str, partition: str, registered: set[str], assets: set[str]) -> None:
    """A dataset an asset no longer writes for the month loses its partition (its manifest would
    name a file the partition's rewrite deleted)."""
    for page in glue.get_paginator("get_tables").paginate(DatabaseName=database):
        for table in page["TableList"]:
            if table.get("Parameters", {}).get("bua_asset") in assets and table["Name"] not in registered:
                try:
                    glue.delete_partition(DatabaseName=database, TableName=table["Name"], PartitionValues=[partition])
                except glue.exceptions.EntityNotFoundException:
                    pass


def _descriptor(columns: list[dict], location: str) -> dict:
    return {
        "Columns": columns,
        "Location": location,
        "InputFormat": SYMLINK_INPUT,
        "OutputFormat": IGNORE_KEY_OUTPUT,
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {"serialization.format": "1"}},
    }


def _ensure_database(glue, database: str) -> None:
    try:
        glue.create_database(
            DatabaseInput={"Name": database, "Description": "BUA lake datasets (registered by bua_export)"}
        )
    except glue.exceptions.AlreadyExistsException:
        pass
