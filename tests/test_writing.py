"""write_month: one asset's datasets of a month in one commit, and the metadata every asset reports."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest

from bua_assets.assets.writing import write_month
from bua_assets.datasets import Dataset, Kind
from bua_assets.lake import Lake

MONTH = "2026-10-01"
LINES = Dataset("priced", "priced", Kind.OUTPUT)
LINE_EXCEPTIONS = Dataset("priced", "exceptions", Kind.EXCEPTIONS)


def test_writes_frames_and_tables_with_files_and_describes_the_first(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    lines = pd.DataFrame({"account_id": [7, 8, 9], "net_amount": [1.5, 2.0, 0.25]}, index=[10, 11, 12])
    exceptions = pa.table({"account_id": [9], "code": ["missing_tariff"]})
    metadata = write_month(lake, MONTH, {LINES: lines, LINE_EXCEPTIONS: exceptions}, files={"chart.png": b"png"})

    assert metadata["dagster/row_count"] == metadata["rows"] == 3
    assert metadata["path"] == lake.uri("priced", MONTH, "priced")
    schema = metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [(c.name, c.type) for c in schema.columns] == [("account_id", "int64"), ("net_amount", "double")]
    # the frame's index is not written; both datasets and the file are in the month
    assert LINES.read(lake, MONTH).column_names == ["account_id", "net_amount"]
    assert LINE_EXCEPTIONS.read(lake, MONTH).to_pylist() == [{"account_id": 9, "code": "missing_tariff"}]
    assert set(lake.file_locations("priced", MONTH)) == {"chart.png"}


def test_refuses_datasets_of_two_assets(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    other = Dataset("other", "other", Kind.OUTPUT)
    with pytest.raises(ValueError, match="one asset's datasets"):
        write_month(lake, MONTH, {LINES: pa.table({"x": [1]}), other: pa.table({"x": [1]})})
    assert not LINES.exists(lake, MONTH)
