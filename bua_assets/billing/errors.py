"""The errors dump (the legacy DumpErrors): every quarantined input row, exception and failed
check of the month in one table with a common shape, so nothing is only in a log."""

from __future__ import annotations

import json

import pandas as pd

COLUMNS = ["source", "severity", "code", "reason", "account_id", "detail"]


def normalise(source: str, frame: pd.DataFrame, severity: str = "EXCEPTION") -> pd.DataFrame:
    """Any exceptions-like frame (code, reason, anything else) in the common shape: the other
    columns go to ``detail`` as JSON."""
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    code = frame["code"].astype(str) if "code" in frame else pd.Series(["unknown"] * len(frame), index=frame.index)
    reason = frame["reason"].astype(str) if "reason" in frame else pd.Series([""] * len(frame), index=frame.index)
    rest = frame.drop(columns=[c for c in ("code", "reason", "account_id") if c in frame.columns])
    detail = [
        json.dumps({k: (None if pd.isna(v) else str(v)) for k, v in row.items()}) for row in rest.to_dict("records")
    ]
    return pd.DataFrame(
        {
            "source": source,
            "severity": frame["severity"].astype(str) if "severity" in frame else severity,
            "code": code.to_numpy(),
            "reason": reason.to_numpy(),
            "account_id": pd.array(
                frame["account_id"] if "account_id" in frame else [None] * len(frame), dtype="Int64"
            ),
            "detail": detail,
        }
    )


def relative_sources(frame: pd.DataFrame, *roots: str) -> pd.DataFrame:
    """Paths under the meter data root as paths relative to it (``2026-10/file.csv``), in every text
    column, so a month's errors (and its export) read the same wherever the data lives."""
    prefixes = sorted({r.rstrip("/") + "/" for r in roots}, key=len, reverse=True)  # the longest first
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_string_dtype(out[col]):  # text only (an object column of strings counts)
            for prefix in prefixes:
                out[col] = out[col].str.replace(prefix, "", regex=False)
    return out


def errors_table(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=COLUMNS).astype({"account_id": "Int64"})
    return pd.concat(parts, ignore_index=True)[COLUMNS]
