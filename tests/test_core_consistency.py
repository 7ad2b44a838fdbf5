"""CORE consistency (bua_assets/core/consistency.py) on small frames: each rule's exact finding,
and the generated retailer's extract is consistent."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from bua_assets.core.consistency import ConsistencyConfig, columns_needed, consistency_findings, summary

RUN_DATE = date(2026, 11, 1)


def core(**overrides) -> dict[str, pd.DataFrame]:
    """A tiny consistent CORE: two accounts on two supply points, one plan, one invoice, two lines."""
    d = pd.Timestamp
    tables = {
        "Jurisdiction": pd.DataFrame({"id": [1]}),
        "ServiceType": pd.DataFrame({"id": [1]}),
        "UtilityNetwork": pd.DataFrame({"id": [1]}),
        "JournalAccountSegment": pd.DataFrame({"id": [1]}),
        "Utility": pd.DataFrame({"id": [10, 11], "utility_network_id": [1, 1], "jurisdiction_id": [1, 1]}),
        "Account": pd.DataFrame(
            {
                "id": [1, 2],
                "service_type_id": [1, 1],
                "journal_segment_id": [1, 1],
                "open_date": [d("2024-01-01").date(), d("2025-03-01").date()],
                "close_date": [None, None],
            }
        ),
        "AccountUtility": pd.DataFrame(
            {
                "id": [1, 2],
                "account_id": [1, 2],
                "utility_id": [10, 11],
                "start_date": [date(2024, 1, 1), date(2025, 3, 1)],
                "end_date": [None, None],
            }
        ),
        "Plan": pd.DataFrame({"id": [5]}),
        "PlanRate": pd.DataFrame(
            {
                "id": [1, 2],
                "plan_id": [5, 5],
                "charge_type": ["DAILY_RETAIL", "USAGE_RETAIL"],
                "time_class": ["ANYTIME", "ANYTIME"],
                "block_order": [1, 1],
                "uom": ["DAY", "KWH"],
                "effective_from": [d("2025-07-01")] * 2,
            }
        ),
        "PlanTimeOfUse": pd.DataFrame({"id": pd.Series([], dtype="int64"), "plan_id": pd.Series([], dtype="int64")}),
        "PlanDiscount": pd.DataFrame(
            {
                "id": [1, 2],
                "plan_id": [5, 5],
                "discount_type": ["CONDITIONAL", "CONDITIONAL"],
                "category": ["PAY_ON_TIME", "DIRECT_DEBIT"],  # two of one method stack: not a repeat
                "method": ["percentOfBill", "percentOfBill"],
                "effective_from": [d("2025-07-01")] * 2,
            }
        ),
        "AccountPlan": pd.DataFrame(
            {
                "id": [1, 2],
                "account_id": [1, 2],
                "utility_id": [10, 11],
                "plan_id": [5, 5],
                "start_date": [date(2024, 1, 1), date(2025, 3, 1)],
                "end_date": [None, None],
            }
        ),
        "Invoice": pd.DataFrame(
            {"id": [100], "account_id": [1], "period_start": [date(2026, 7, 1)], "period_end": [date(2026, 9, 30)]}
        ),
        "InvoiceLineItem": pd.DataFrame(
            {
                "id": [1000, 1001],
                "invoice_id": [100, 100],
                "account_id": [1, 1],
                "utility_id": [10, 10],
                "period_start": [date(2026, 7, 1)] * 2,
                "period_end": [date(2026, 9, 30)] * 2,
            }
        ),
    }
    tables.update(overrides)
    return tables


def rows(findings: pd.DataFrame) -> list[tuple]:
    return [
        tuple(r) for r in findings[["severity", "problem", "table", "column", "key", "value"]].itertuples(index=False)
    ]


def test_a_consistent_core_has_no_findings():
    findings = consistency_findings(core(), RUN_DATE)
    assert findings.empty
    assert summary(findings) == "CORE keys, references and periods are consistent"


def test_duplicate_and_null_keys_name_table_column_key_and_value():
    t = core()
    accounts = pd.concat([t["Account"], t["Account"].iloc[[1]]], ignore_index=True)  # id 2 twice
    plans = t["AccountPlan"].astype({"id": "Int64"})
    plans.loc[1, "id"] = None
    findings = consistency_findings(core(Account=accounts, AccountPlan=plans), RUN_DATE)
    assert rows(findings) == [
        ("ERROR", "duplicate_key", "Account", "id", "2", "2 rows"),
        ("ERROR", "null_key", "AccountPlan", "id", "row 1", "NULL"),
    ]
    assert findings["detail"].tolist() == ["Account id 2 appears in 2 rows", "AccountPlan row 1 has no id"]
    assert summary(findings).startswith("ERROR Account.id duplicate_key: 1 row(s), e.g. Account id 2 appears in 2 rows")


@pytest.mark.parametrize(
    ("table", "column", "value", "referenced"),
    [
        ("AccountUtility", "account_id", 99, "Account"),
        ("AccountUtility", "utility_id", 77, "Utility"),
        ("AccountPlan", "plan_id", 6, "Plan"),
        ("AccountPlan", "account_id", 98, "Account"),
        ("InvoiceLineItem", "invoice_id", 101, "Invoice"),
        ("Invoice", "account_id", 3, "Account"),
    ],
)
def test_unresolved_references_are_errors_naming_the_row_and_the_missing_value(table, column, value, referenced):
    frame = core()[table].copy()
    frame.loc[frame.index[-1], column] = value
    findings = consistency_findings(core(**{table: frame}), RUN_DATE)
    key = str(frame["id"].iloc[-1])
    assert rows(findings) == [("ERROR", "unresolved_reference", table, column, key, str(value))]
    assert findings["detail"].iloc[0] == f"{table} {key}: {column} {value} is not in {referenced}"


def test_null_reference_is_a_null_key():
    frame = core()["AccountUtility"].astype({"utility_id": "Int64"})
    frame.loc[0, "utility_id"] = None
    assert rows(consistency_findings(core(AccountUtility=frame), RUN_DATE)) == [
        ("ERROR", "null_key", "AccountUtility", "utility_id", "1", "NULL")
    ]


def test_periods_inverted_or_far_future_are_blocking_on_tenancy_and_excepted_on_line_items():
    t = core()
    tenancy = t["AccountUtility"].copy()
    tenancy.loc[1, "end_date"] = date(2025, 2, 1)  # before its start 2025-03-01
    lines = t["InvoiceLineItem"].copy()
    lines.loc[0, "period_end"] = date(2026, 6, 1)  # before 2026-07-01
    lines.loc[1, "period_end"] = date(2099, 12, 31)
    findings = consistency_findings(core(AccountUtility=tenancy, InvoiceLineItem=lines), RUN_DATE)
    assert rows(findings) == [
        ("ERROR", "inverted_period", "AccountUtility", "end_date", "2", "2025-02-01"),
        ("WARN", "inverted_period", "InvoiceLineItem", "period_end", "1000", "2026-06-01"),
        ("WARN", "far_future_period", "InvoiceLineItem", "period_end", "1001", "2099-12-31"),
    ]
    assert findings["detail"].iloc[2] == (
        "InvoiceLineItem 1001: period_end 2099-12-31 is more than 366 days after the snapshot (after 2027-11-02)"
    )
    # The horizon is configurable: a shorter one catches a period only months ahead.
    lines.loc[1, "period_end"] = date(2027, 1, 31)
    assert consistency_findings(core(InvoiceLineItem=lines), RUN_DATE, ConsistencyConfig(366))["problem"].tolist() == [
        "inverted_period"
    ]
    assert consistency_findings(core(InvoiceLineItem=lines), RUN_DATE, ConsistencyConfig(30))["problem"].tolist() == [
        "inverted_period",
        "far_future_period",
    ]


def test_repeated_rates_and_discounts_are_errors_naming_the_key_and_the_ids():
    t = core()
    rates = pd.concat([t["PlanRate"]] + [t["PlanRate"].iloc[[1]]] * 2, ignore_index=True).assign(id=[1, 2, 7, 9])
    discounts = pd.concat([t["PlanDiscount"], t["PlanDiscount"].iloc[[0]]], ignore_index=True).assign(id=[1, 2, 3])
    findings = consistency_findings(core(PlanRate=rates, PlanDiscount=discounts), RUN_DATE)
    rate_key = "plan_id+charge_type+time_class+block_order+uom+effective_from"
    assert rows(findings) == [
        ("ERROR", "duplicate_key", "PlanRate", rate_key, "5/USAGE_RETAIL/ANYTIME/1/KWH/2025-07-01", "3 rows"),
        (
            "ERROR",
            "duplicate_key",
            "PlanDiscount",
            "plan_id+discount_type+category+method+effective_from",
            "5/CONDITIONAL/PAY_ON_TIME/percentOfBill/2025-07-01",
            "2 rows",
        ),
    ]
    assert findings["detail"].tolist() == [
        "PlanRate ids 2, 7, 9 repeat plan_id 5, charge_type USAGE_RETAIL, time_class ANYTIME, block_order 1, "
        "uom KWH, effective_from 2025-07-01 (3 rows where one is expected)",
        "PlanDiscount ids 1, 3 repeat plan_id 5, discount_type CONDITIONAL, category PAY_ON_TIME, "
        "method percentOfBill, effective_from 2025-07-01 (2 rows where one is expected)",
    ]
    # Another block or another start is another price, not a repeat.
    rates.loc[2, "block_order"], rates.loc[3, "effective_from"] = 2, pd.Timestamp("2026-07-01")
    rates = rates.iloc[[0, 2, 3]]
    assert consistency_findings(core(PlanRate=rates), RUN_DATE).empty


def test_an_empty_account_plan_blocks_with_its_name():
    empty = core()["AccountPlan"].iloc[0:0]
    findings = consistency_findings(core(AccountPlan=empty), RUN_DATE)
    assert rows(findings) == [("ERROR", "empty_table", "AccountPlan", "id", "-", "0 rows")]
    assert "AccountPlan has no rows" in summary(findings)


def test_the_generated_retailer_is_consistent(retailer, tmp_path):
    import dagster as dg
    from support import PARTITION

    from bua_assets.definitions import ALL_ASSETS
    from bua_assets.lake import Lake
    from bua_assets.resources import LakeResource, local_resources

    out, url = retailer
    resources = local_resources(url, str(out / "nem12"), tmp_path) | {"lake": LakeResource(base=str(tmp_path / "lake"))}
    result = dg.materialize(
        ALL_ASSETS,
        partition_key=PARTITION,
        selection=["core_snapshot", "core_tables"],
        resources=resources,
        instance=dg.DagsterInstance.ephemeral(),
    )
    check = next(c for c in result.get_asset_check_evaluations() if c.check_name == "consistency")
    assert check.passed, check.description
    table = check.metadata["findings"]
    assert [c.name for c in table.schema.columns] == [
        "severity",
        "problem",
        "table",
        "column",
        "key",
        "value",
        "detail",
    ]
    lake = Lake(str(tmp_path / "lake"))
    assert set(columns_needed()) <= set(lake.datasets("core_tables", PARTITION))


def test_references_resolve_with_sparse_ids_too():
    """Ids far apart take the hash lookup instead of the bitmap; the outcome is the same."""
    t = core()
    accounts = t["Account"].assign(id=[1, 10**12])
    tenancy = t["AccountUtility"].assign(account_id=[10**12, 10**12 + 1])
    plans = t["AccountPlan"].assign(account_id=[1, 10**12])
    findings = consistency_findings(
        core(
            Account=accounts,
            AccountUtility=tenancy,
            AccountPlan=plans,
            Invoice=t["Invoice"],
            InvoiceLineItem=t["InvoiceLineItem"],
        ),
        RUN_DATE,
    )
    assert rows(findings) == [("ERROR", "unresolved_reference", "AccountUtility", "account_id", "2", str(10**12 + 1))]
