"""Meter data deliveries per provider, against the month before: a meter data provider (MDP)
whose files for the month are missing or far below last month's is named, so a month is not
estimated from a gap nobody saw."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

COLUMNS = ["provider", "files", "register_days", "previous_files", "previous_register_days", "share", "status"]
UNKNOWN_PROVIDER = "(unknown: file rejected before its header)"


def providers_of(files: pa.Table) -> pd.Series:
    """The meter data provider of each file of a file log: ``from_participant`` of its 100 header."""
    return files["from_participant"].to_pandas().fillna(UNKNOWN_PROVIDER)


def _per_provider(files: pa.Table) -> pd.DataFrame:
    """Files and register-days per provider (``from_participant`` of the 100 header); a rejected
    file delivered nothing usable, so it counts as a file but with no register-days."""
    frame = files.select(["register_days", "rejected"]).to_pandas()
    frame["provider"] = providers_of(files)
    frame["register_days"] = frame["register_days"].where(~frame["rejected"].astype(bool), 0)
    return frame.groupby("provider").agg(files=("provider", "size"), register_days=("register_days", "sum"))


def delivery_shortfalls(this_month: pa.Table, previous_month: pa.Table, min_share: float) -> pd.DataFrame:
    """Per provider seen in either month: this and last month's files and register-days, the
    share of last month's register-days delivered, and a status: ``missing`` (nothing usable this
    month), ``below`` (under ``min_share`` of last month), ``ok`` or ``new`` (not in last month).
    ``this_month``/``previous_month`` are the ingest file logs (``FILES_SCHEMA``)."""
    now, before = _per_provider(this_month), _per_provider(previous_month)
    table = now.join(before.add_prefix("previous_"), how="outer").fillna(0).astype("int64")
    table["share"] = (
        table["register_days"] / table["previous_register_days"].where(table["previous_register_days"] > 0)
    ).round(3)
    table["share"] = table["share"].astype(object).where(table["share"].notna(), None)  # None: nothing to compare
    table["status"] = "ok"
    table.loc[table["previous_register_days"] == 0, "status"] = "new"
    table.loc[
        (table["previous_register_days"] > 0) & (table["register_days"] < min_share * table["previous_register_days"]),
        "status",
    ] = "below"
    table.loc[(table["previous_register_days"] > 0) & (table["register_days"] == 0), "status"] = "missing"
    return table.reset_index().rename(columns={"index": "provider"})[COLUMNS].sort_values("provider", ignore_index=True)


def describe_shortfalls(table: pd.DataFrame, min_share: float) -> str:
    """One line an operator reads: which providers are missing or short, or that all delivered."""
    short = table[table["status"].isin(["missing", "below"])]
    if short.empty:
        return f"every provider delivered at least {min_share:.0%} of last month's register-days"
    return "meter data deliveries short: " + "; ".join(
        f"{r.provider}: {shortfall(r, min_share)}" for r in short.itertuples()
    )


def shortfall(row, min_share: float) -> str:
    """What a ``missing`` or ``below`` provider's row of delivery_shortfalls says."""
    if row.status == "missing":
        return (
            f"no usable deliveries this month ({row.previous_register_days} register-days "
            f"in {row.previous_files} files last month)"
        )
    return (
        f"{row.register_days} register-days, {row.share:.0%} of last month's "
        f"{row.previous_register_days} (below {min_share:.0%})"
    )
