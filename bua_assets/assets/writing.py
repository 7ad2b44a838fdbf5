"""Writing a month's datasets and describing them to Dagster, the same way in every asset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
import pandas as pd
import pyarrow as pa

from bua_assets.datasets import Dataset
from bua_assets.lake import Lake


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
    datasets = list(tables)
    main = datasets[0]
    if any(d.asset != main.asset for d in datasets):
        raise ValueError(f"write_month writes one asset's datasets, got {[d.label for d in datasets]}")
    arrow = {
        d: t if isinstance(t, pa.Table) else pa.Table.from_pandas(t, preserve_index=False) for d, t in tables.items()
    }
    with store.partition_writer(main.asset, partition) as writer:
        for dataset, table in arrow.items():
            writer.write(dataset.name, table)
        for relative_path, data in (files or {}).items():
            writer.write_file(relative_path, data)
    return {
        "dagster/row_count": arrow[main].num_rows,
        "rows": arrow[main].num_rows,
        "path": main.uri(store, partition),
        "dagster/column_schema": column_schema(arrow[main].schema),
    }


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    return dg.TableSchema(columns=[dg.TableColumn(field.name, str(field.type)) for field in schema])
