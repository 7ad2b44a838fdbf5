"""CORE consistency (DESIGN §5.8): keys, references and periods of the extracted CORE tables.

Pure pandas, vectorised per rule. Every finding names the table, the column, the row's key (its
``id``, or its position when the id itself is null) and the offending value, so an operator can
go straight to the row in CORE.

Severity is chosen per rule by what happens downstream when the row is let through:
- ERROR (blocks the month): a duplicated or null key (an id, or a rate or discount repeated for
  the same plan, charge or discount and start: ``NATURAL_KEYS``), a reference to a row that does
  not exist, a table the month cannot be priced without that is empty, an inverted period on an
  account, tenancy or charge version. Each of these would crash a later asset, drop accounts
  silently or (a repeated rate or discount) count a charge once per copy.
- WARN (the month goes on): inverted or far-future periods on invoices and invoice line items.
  ``unbilled_window`` leaves the affected account x supply point out of the accrual with an
  exception row saying which line item and why, so the rest of the month is accrued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

FINDING_COLUMNS = ["severity", "problem", "table", "column", "key", "value", "detail"]
FUTURE_HORIZON_DAYS = 366  # a billed period may not reach further than this past the snapshot

# (table, column, referenced table): every reference the accrual follows.
FOREIGN_KEYS = (
    ("Utility", "utility_network_id", "UtilityNetwork"),
    ("Utility", "jurisdiction_id", "Jurisdiction"),
    ("Meter", "utility_id", "Utility"),
    ("MeterRegister", "meter_id", "Meter"),
    ("MeterRegisterDetail", "meter_register_id", "MeterRegister"),
    ("Account", "service_type_id", "ServiceType"),
    ("Account", "journal_segment_id", "JournalAccountSegment"),
    ("AccountUtility", "account_id", "Account"),
    ("AccountUtility", "utility_id", "Utility"),
    ("PlanRate", "plan_id", "Plan"),
    ("PlanTimeOfUse", "plan_id", "Plan"),
    ("PlanDiscount", "plan_id", "Plan"),
    ("AccountPlan", "account_id", "Account"),
    ("AccountPlan", "utility_id", "Utility"),
    ("AccountPlan", "plan_id", "Plan"),
    ("Invoice", "account_id", "Account"),
    ("InvoiceLineItem", "invoice_id", "Invoice"),
    ("InvoiceLineItem", "account_id", "Account"),
    ("InvoiceLineItem", "utility_id", "Utility"),
    ("BasicRead", "meter_register_id", "MeterRegister"),
)
# (table, start column, end column); an open end (null) is fine.
PERIODS = (
    ("Account", "open_date", "close_date"),
    ("AccountUtility", "start_date", "end_date"),
    ("AccountPlan", "start_date", "end_date"),
    ("UtilityDetail", "start_date", "end_date"),
    ("Meter", "start_date", "end_date"),
    ("MeterRegisterDetail", "start_date", "end_date"),
    ("Invoice", "period_start", "period_end"),
    ("InvoiceLineItem", "period_start", "period_end"),
)
# Periods that record what was billed: they cannot lie far beyond the snapshot.
BILLED_PERIODS = {"Invoice": ("period_start", "period_end"), "InvoiceLineItem": ("period_start", "period_end")}
# Tables whose period problems are excepted downstream (WARN) rather than blocking (ERROR).
EXCEPTED_PERIOD_TABLES = {"Invoice", "InvoiceLineItem"}
# What a price or a discount is unique by (besides its id): a row repeated under the same values is
# charged (or given) once per copy, so the accrual would double. The unit is part of a rate's key
# (GREEN_POWER may be priced per day and per kWh at once); the category part of a discount's (a
# plan may stack a pay-on-time and a direct-debit discount of the same method).
NATURAL_KEYS = {
    "PlanRate": ("plan_id", "charge_type", "time_class", "block_order", "uom", "effective_from"),
    "PlanDiscount": ("plan_id", "discount_type", "category", "method", "effective_from"),
}
SHOWN_IDS = 5
# Without rows in these, no account can be placed, priced or attributed: the month cannot run.
REQUIRED_TABLES = ("Account", "AccountUtility", "AccountPlan", "Utility", "Plan", "PlanRate")


@dataclass(frozen=True)
class ConsistencyConfig:
    future_horizon_days: int = FUTURE_HORIZON_DAYS


def columns_needed() -> dict[str, list[str]]:
    """The columns each table is read with for the check (ids, references, periods)."""
    needed: dict[str, set[str]] = {}
    for table, column, referenced in FOREIGN_KEYS:
        needed.setdefault(table, {"id"}).add(column)
        needed.setdefault(referenced, {"id"})
    for table, start, end in PERIODS:
        needed.setdefault(table, {"id"}).update((start, end))
    for table in REQUIRED_TABLES:
        needed.setdefault(table, {"id"})
    for table, key in NATURAL_KEYS.items():
        needed.setdefault(table, {"id"}).update(key)
    return {t: sorted(c) for t, c in needed.items()}


def consistency_findings(
    tables: dict[str, pd.DataFrame], run_date: date, config: ConsistencyConfig = ConsistencyConfig()
) -> pd.DataFrame:
    """Every consistency finding over the month's CORE tables ({name: frame with columns_needed()}).

    Columns: severity (ERROR | WARN), problem, table, column, key (the row's id, or ``row N``
    when the id is null), value (the offending value), detail (a sentence for the operator)."""
    parts = [_empty_tables(tables), *(_keys(name, frame) for name, frame in tables.items())]
    parts += [_repeated(tables[t], t, key) for t, key in NATURAL_KEYS.items() if t in tables]
    parts += [_references(tables, t, c, r) for t, c, r in FOREIGN_KEYS if t in tables and r in tables]
    parts += [_inverted(tables[t], t, s, e) for t, s, e in PERIODS if t in tables]
    limit = run_date + timedelta(days=config.future_horizon_days)
    parts += [
        _far_future(tables[t], t, c, limit, config.future_horizon_days)
        for t, cols in BILLED_PERIODS.items()
        if t in tables
        for c in cols
    ]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=str) for c in FINDING_COLUMNS})
    out = pd.concat(parts, ignore_index=True)[FINDING_COLUMNS]
    return out.astype(str).reset_index(drop=True)


def summary(findings: pd.DataFrame) -> str:
    """One line per table x column x problem with its count and first example, ERRORs first."""
    if findings.empty:
        return "CORE keys, references and periods are consistent"
    order = findings.assign(_rank=(findings["severity"] != "ERROR").astype(int))
    lines = []
    for (_, sev, table, column, problem), g in order.groupby(
        ["_rank", "severity", "table", "column", "problem"], sort=True
    ):
        first = g.iloc[0]
        lines.append(f"{sev} {table}.{column} {problem}: {len(g)} row(s), e.g. {first['detail']}")
    return "; ".join(lines)


def _frame(severity, problem, table, column, keys, values, detail) -> pd.DataFrame:
    keys = pd.Series(keys).reset_index(drop=True)
    return pd.DataFrame(
        {
            "severity": severity,
            "problem": problem,
            "table": table,
            "column": column,
            "key": keys.astype(str),
            "value": pd.Series(values).reset_index(drop=True).astype(str),
            "detail": pd.Series(detail).reset_index(drop=True),
        }
    )


def _row_keys(frame: pd.DataFrame, mask: pd.Series) -> pd.Series:
    """The selected rows' ids, or ``row N`` (the position in the extract) where the id is null."""
    positions = pd.Series(range(len(frame)), index=frame.index)[mask]
    ids = frame.loc[mask, "id"]
    return pd.Series([f"row {p}" if pd.isna(i) else str(int(i)) for i, p in zip(ids, positions)], dtype=object)


def _empty_tables(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    empty = [t for t in REQUIRED_TABLES if t in tables and tables[t].empty]
    return _frame(
        "ERROR",
        "empty_table",
        empty,
        "id",
        ["-"] * len(empty),
        ["0 rows"] * len(empty),
        [f"{t} has no rows: no account can be accrued without it" for t in empty],
    )


def _keys(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    ids = frame["id"]
    keys = _row_keys(frame, ids.isna())
    nulls = _frame("ERROR", "null_key", name, "id", keys, ["NULL"] * len(keys), [f"{name} {k} has no id" for k in keys])
    # Sort-based (ids come ordered from the extract, so this is near linear): repeated neighbours.
    ordered = np.sort(ids.dropna().to_numpy(dtype="int64"))
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    dup_ids, extra = np.unique(repeated, return_counts=True)
    dups = _frame(
        "ERROR",
        "duplicate_key",
        name,
        "id",
        dup_ids,
        [f"{n + 1} rows" for n in extra],
        [f"{name} id {k} appears in {n + 1} rows" for k, n in zip(dup_ids, extra)],
    )
    return pd.concat([nulls, dups], ignore_index=True)


def _repeated(frame: pd.DataFrame, name: str, key: tuple[str, ...]) -> pd.DataFrame:
    """One ERROR per set of rows sharing every value of the table's natural key (ids apart); rows
    with a null in the key (only a drifted column, which blocks anyway) are not compared."""
    values = frame[list(key)].dropna()
    repeated = values[values.duplicated(keep=False)]
    if repeated.empty:
        return _frame("ERROR", "duplicate_key", name, "+".join(key), [], [], [])
    shown = repeated.astype(object).map(lambda v: v.date().isoformat() if isinstance(v, pd.Timestamp) else str(v))
    ids = frame.loc[repeated.index, "id"]
    keys, counts, details = [], [], []
    for values_, group in shown.groupby(list(key), sort=True):
        rows = ids.loc[group.index].sort_values()
        listed = ", ".join(str(int(i)) if pd.notna(i) else "NULL" for i in rows.iloc[:SHOWN_IDS])
        more = f" and {len(rows) - SHOWN_IDS} more" if len(rows) > SHOWN_IDS else ""
        same = ", ".join(f"{c} {v}" for c, v in zip(key, values_))
        keys.append("/".join(values_))
        counts.append(f"{len(rows)} rows")
        details.append(f"{name} ids {listed}{more} repeat {same} ({len(rows)} rows where one is expected)")
    return _frame("ERROR", "duplicate_key", name, "+".join(key), keys, counts, details)


def _resolved(values: pd.Series, known: pd.Series) -> pd.Series:
    """Whether each (non-null) value is among ``known``. CORE ids are dense integers, so a bitmap
    over their range answers in one pass; sparse ids fall back to Arrow's hash lookup."""
    k = known.dropna().to_numpy(dtype="int64")
    v = values.fillna(0).to_numpy(dtype="int64")
    if not len(k):
        return pd.Series(False, index=values.index)
    low, high = int(k.min()), int(k.max())
    if high - low <= 4 * len(k) + 1_000_000:
        present = np.zeros(high - low + 1, dtype=bool)
        present[k - low] = True
        inside = (v >= low) & (v <= high)
        found = np.zeros(len(v), dtype=bool)
        found[inside] = present[v[inside] - low]
    else:
        found = pc.is_in(pa.array(v), value_set=pa.array(k)).to_numpy(zero_copy_only=False)
    return pd.Series(found, index=values.index)


def _references(tables: dict[str, pd.DataFrame], table: str, column: str, referenced: str) -> pd.DataFrame:
    frame = tables[table]
    values = frame[column]
    known = tables[referenced]["id"].dropna()
    null = values.isna()
    missing = ~null & ~_resolved(values, known)
    null_keys, missing_keys = _row_keys(frame, null), _row_keys(frame, missing)
    nulls = _frame(
        "ERROR",
        "null_key",
        table,
        column,
        null_keys,
        ["NULL"] * len(null_keys),
        [f"{table} {k} has no {column}" for k in null_keys],
    )
    lost = values[missing].astype("int64")
    unresolved = _frame(
        "ERROR",
        "unresolved_reference",
        table,
        column,
        missing_keys,
        lost,
        [f"{table} {k}: {column} {v} is not in {referenced}" for k, v in zip(missing_keys, lost)],
    )
    return pd.concat([nulls, unresolved], ignore_index=True)


def _days(values: pd.Series) -> pd.Series:
    """Dates as datetime64[D] (NaT for null): holds any CORE date, 9999-12-31 included."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return pd.Series(values.to_numpy().astype("datetime64[D]"), index=values.index)
    return pd.Series(np.array(values.tolist(), dtype="datetime64[D]"), index=values.index)


def _inverted(frame: pd.DataFrame, table: str, start: str, end: str) -> pd.DataFrame:
    s, e = _days(frame[start]), _days(frame[end])
    bad = pd.Series((e < s).to_numpy(), index=frame.index)  # NaT compares False
    severity = "WARN" if table in EXCEPTED_PERIOD_TABLES else "ERROR"
    keys = _row_keys(frame, bad)
    starts, ends = frame.loc[bad, start].astype(str), frame.loc[bad, end].astype(str)
    return _frame(
        severity,
        "inverted_period",
        table,
        end,
        keys,
        ends,
        [f"{table} {k}: {end} {b} is before {start} {a}" for k, a, b in zip(keys, starts, ends)],
    )


def _far_future(frame: pd.DataFrame, table: str, column: str, limit: date, horizon_days: int) -> pd.DataFrame:
    bad = _days(frame[column]) > np.datetime64(limit, "D")  # NaT compares False
    keys = _row_keys(frame, bad)
    shown = frame.loc[bad, column].astype(str)
    return _frame(
        "WARN",
        "far_future_period",
        table,
        column,
        keys,
        shown,
        [
            f"{table} {k}: {column} {v} is more than {horizon_days} days after the snapshot (after {limit})"
            for k, v in zip(keys, shown)
        ],
    )
