"""Asset metadata for the Dagster UI."""

import dagster as dg
import pandas as pd


def table_metadata(frame: pd.DataFrame, types: dict[str, str]) -> dg.MetadataValue:
    """A typed table for the UI (a markdown table breaks on values such as 'RES|NSW|PRIMARY')."""
    columns = [dg.TableColumn(c, types.get(c, "string")) for c in frame.columns]
    cast = {"int": int, "float": float}
    records = [
        dg.TableRecord({c: (None if pd.isna(v) else cast.get(types.get(c, "string"), str)(v)) for c, v in row.items()})
        for row in frame.to_dict("records")
    ]
    return dg.MetadataValue.table(records, schema=dg.TableSchema(columns))
