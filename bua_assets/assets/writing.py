"""Writing a month's datasets and describing them to Dagster, the same way in every asset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from bua_assets.datasets import Dataset
from bua_assets.lake import Lake, StagedFile


def write_month(
    store: Lake,
    partition: str,
    tables: Mapping[Dataset, pa.Table | pd.DataFrame],
    files: Mapping[str, bytes] | None = None,
) -> dict[str, Any]:
    """Write one asset's datasets for a month in one commit (the lake's partition_writer; a frame
    without its index) and the standard metadata of the first, the asset's main output: row count
    (``dagster/row_count`` and ``rows``, which tests and the CLI read), its path and its typed
    column schema. ``files`` are non-Parquet files (a chart, NEM12 estimates) written with them."""
    main, arrow = _as_arrow(tables)
    with store.partition_writer(main.asset, partition) as writer:
        for dataset, table in arrow.items():
            writer.write(dataset.name, table)
        for relative_path, data in (files or {}).items():
            writer.write_file(relative_path, data)
    return _standard_metadata(store, partition, main, arrow[main].num_rows, arrow[main].schema)


def stage_month_shard(
    store: Lake, partition: str, tables: Mapping[Dataset, pa.Table | pd.DataFrame], shard_name: str
) -> list[StagedFile]:
    """Write one shard's share of an asset's datasets for a month, visible to nobody until
    ``commit_month_shards`` commits every shard's files; the files, to pass to it."""
    main, arrow = _as_arrow(tables)
    with store.staging_writer(main.asset, partition, shard_name) as writer:
        for dataset, table in arrow.items():
            writer.write(dataset.name, table)
    return writer.staged


def commit_month_shards(
    store: Lake, partition: str, main: Dataset, staged: list[StagedFile], batch: str
) -> dict[str, Any]:
    """Commit the shards' files as the month (one Delta commit per dataset, as ``write_month``) and
    the same standard metadata, of all shards' rows of ``main``."""
    # A shard without rows of a dataset writes an empty file typed by its own empty frame, whose
    # types may differ from the rows' (int64 for int32): left out when other shards have rows, it
    # makes the month's schema the one a single shard's rows give (vacuum deletes it later).
    with_rows = {f.dataset for f in staged if f.rows}
    first_empty = {f.dataset: f for f in reversed(staged) if not f.rows}
    staged = [f for f in staged if f.rows or (f.dataset not in with_rows and first_empty[f.dataset] is f)]
    main_files = [f for f in staged if f.dataset == main.name]
    if not main_files:
        raise ValueError(f"no shard wrote {main.label} for {partition}")
    store.commit_staged(main.asset, partition, staged, batch)
    schema = store.staged_schema(main.asset, main.name, main_files)
    return _standard_metadata(store, partition, main, sum(f.rows for f in main_files), schema)


def _as_arrow(tables: Mapping[Dataset, pa.Table | pd.DataFrame]) -> tuple[Dataset, dict[Dataset, pa.Table]]:
    datasets = list(tables)
    main = datasets[0]
    if any(d.asset != main.asset for d in datasets):
        raise ValueError(f"write_month writes one asset's datasets, got {[d.label for d in datasets]}")
    arrow = {
        d: t if isinstance(t, pa.Table) else pa.Table.from_pandas(t, preserve_index=False) for d, t in tables.items()
    }
    return main, arrow


def _standard_metadata(store: Lake, partition: str, main: Dataset, rows: int, schema: pa.Schema) -> dict[str, Any]:
    return {
        "dagster/row_count": rows,
        "rows": rows,
        "path": main.uri(store, partition),
        "dagster/column_schema": column_schema(schema),
    }


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(field.name, str(field.type)) for field in schema])
