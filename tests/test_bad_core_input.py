"""The bad-input corpus for CORE (issue 12, "CORE consistency" and "Nothing silently lost"): each
fault is put into a real copy of the small retailer's database (SQLite, and MariaDB for what only
MySQL can hold) and the month is run; each test asserts the exact outcome an operator sees."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import dagster as dg
import pandas as pd
import pyarrow as pa
import pytest
from support import CONFIG, PARTITION, bill_through_month_end, mysql_url_or_skip

from bua_assets.core.casting import CoreTextError
from bua_assets.core.database import CoreDatabase, CoreDatabaseMissing
from bua_assets.core.schema import sqlite_ddl
from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.resources import LakeResource, local_resources
from bua_assets.runner import backfill_interval_history
from bua_synth.generator import generate

CORE_STEPS = ["core_snapshot", "core_tables", "unbilled_window"]


def copy_retailer(retailer, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(retailer[0] / "nem12", folder / "nem12")
    shutil.copy(retailer[0] / "core.db", folder / "core.db")
    return folder


def resources(core_url: str, nem12: Path, lake: Path):
    return local_resources(core_url, str(nem12), lake.parent) | {"lake": LakeResource(base=str(lake))}


def run(core_url: str, nem12: Path, lake: Path, selection=None, instance=None):
    res = resources(core_url, nem12, lake)
    instance = instance or dg.DagsterInstance.ephemeral()
    if selection is None:
        backfill_interval_history(PARTITION, instance, res)
    return dg.materialize(
        ALL_ASSETS, partition_key=PARTITION, selection=selection, resources=res, instance=instance, raise_on_error=False
    )


def sql(db: Path, *statements, params=()):
    con = sqlite3.connect(db)
    try:
        for s in statements:
            con.execute(s, params) if params and "?" in s else con.execute(s)
        con.commit()
    finally:
        con.close()


def query(db: Path, statement: str, params=()) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(statement, params).fetchall()
    finally:
        con.close()


def check(result, name: str):
    return next(c for c in result.get_asset_check_evaluations() if c.check_name == name)


def materialised(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def without_primary_key(db: Path, table: str) -> None:
    """Recreate a table as CORE's contract declares it, minus the primary key (a broken snapshot)."""
    ddl = next(s for s in sqlite_ddl() if s.startswith(f'CREATE TABLE "{table}" '))
    sql(
        db,
        f'ALTER TABLE "{table}" RENAME TO "{table}_old"',
        ddl.replace(', PRIMARY KEY ("id")', ""),
        f'INSERT INTO "{table}" SELECT * FROM "{table}_old"',
        f'DROP TABLE "{table}_old"',
    )


# -- blocking: the month stops at core_tables with the row named ----------------------------------


def test_duplicate_account_key_blocks_the_month_at_core_tables(retailer, tmp_path):
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    without_primary_key(db, "Account")
    (account,) = query(db, "SELECT id FROM Account ORDER BY id LIMIT 1 OFFSET 5")[0]
    sql(db, "INSERT INTO Account SELECT * FROM Account WHERE id = ?", params=(account,))
    result = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "lake", CORE_STEPS)
    consistency = check(result, "consistency")
    assert not consistency.passed and consistency.severity == dg.AssetCheckSeverity.ERROR
    assert consistency.description.startswith(
        f"ERROR Account.id duplicate_key: 1 row(s), e.g. Account id {account} appears in 2 rows"
    )
    records = consistency.metadata["findings"].records
    assert [r.data for r in records if r.data["problem"] == "duplicate_key"] == [
        {
            "severity": "ERROR",
            "problem": "duplicate_key",
            "table": "Account",
            "column": "id",
            "key": str(account),
            "value": "2 rows",
            "detail": f"Account id {account} appears in 2 rows",
        }
    ]
    assert check(result, "schema_drift").passed  # the columns are as contracted; only the key is broken
    assert materialised(result) == {"core_snapshot", "core_tables"}  # blocked before anything accrues


def test_a_core_release_without_the_optional_columns_is_read_with_nulls_and_goes_on(retailer, tmp_path):
    """Account.gst_registered and PlanDiscount.amount came with issue 22: a CORE from before them
    extracts, says so, and the defaults apply (households not registered for GST)."""
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    sql(db, "ALTER TABLE Account DROP COLUMN gst_registered", "ALTER TABLE PlanDiscount DROP COLUMN amount")
    result = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "lake", CORE_STEPS)
    drift = check(result, "schema_drift")
    assert drift.passed, drift.description
    assert drift.description == (
        "CORE schema matches the contract; Account.gst_registered absent (optional: read as NULL); "
        "PlanDiscount.amount absent (optional: read as NULL)"
    )
    accounts = Lake(str(tmp_path / "lake")).read("core_tables", PARTITION, "Account")
    assert accounts.num_rows and accounts["gst_registered"].null_count == accounts.num_rows
    assert "unbilled_window" in materialised(result)


def test_a_sqlite_core_path_that_does_not_exist_is_an_error_naming_it_not_a_new_file(retailer, tmp_path):
    folder = copy_retailer(retailer, tmp_path / "r")
    typo = folder / "cor.db"
    with pytest.raises(CoreDatabaseMissing, match=f"CORE database {typo} does not exist"):
        CoreDatabase(f"sqlite:///{typo}").observed_schema()
    result = run(f"sqlite:///{typo}", folder / "nem12", tmp_path / "lake", CORE_STEPS)
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert failure.step_key == "core_snapshot"
    error = failure.event_specific_data.error.cause  # the step error wraps ours
    assert error.cls_name == "CoreDatabaseMissing" and f"CORE database {typo} does not exist" in error.message
    assert not typo.exists()  # never created: no "23 missing tables" from an empty file
    assert materialised(result) == set()
    assert CoreDatabase(f"sqlite:///{folder / 'core.db'}").observed_schema()  # the right path still reads


def test_empty_account_plan_blocks_the_month_naming_the_table(retailer, tmp_path):
    folder = copy_retailer(retailer, tmp_path / "r")
    sql(folder / "core.db", "DELETE FROM AccountPlan")
    result = run(f"sqlite:///{folder / 'core.db'}", folder / "nem12", tmp_path / "lake", CORE_STEPS)
    consistency = check(result, "consistency")
    assert not consistency.passed and consistency.severity == dg.AssetCheckSeverity.ERROR
    assert consistency.description == (
        "ERROR AccountPlan.id empty_table: 1 row(s), e.g. AccountPlan has no rows: no account can be accrued without it"
    )
    assert materialised(result) == {"core_snapshot", "core_tables"}


def test_unresolved_plan_of_a_charge_version_blocks_naming_the_version(retailer, tmp_path):
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    (version,) = query(db, "SELECT id FROM AccountPlan ORDER BY id LIMIT 1")[0]
    sql(db, "UPDATE AccountPlan SET plan_id = 999999 WHERE id = ?", params=(version,))
    result = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "lake", CORE_STEPS)
    consistency = check(result, "consistency")
    assert consistency.description == (
        f"ERROR AccountPlan.plan_id unresolved_reference: 1 row(s), e.g. AccountPlan "
        f"{version}: plan_id 999999 is not in Plan"
    )
    assert "unbilled_window" not in materialised(result)


# -- excepted: the month goes on, the account is in BUA_Errors with the reason -------------------


def test_bad_line_items_and_a_missing_tenancy_become_exceptions_and_nothing_is_lost(retailer, tmp_path):
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    paid_up = bill_through_month_end(db)  # an open account with nothing unbilled
    # The window as it is before the faults (the fast way: only the CORE steps).
    assert run(f"sqlite:///{db}", folder / "nem12", tmp_path / "before", CORE_STEPS).success
    window = Lake(str(tmp_path / "before")).read("unbilled_window", PARTITION, "unbilled_months").to_pandas()
    assert paid_up not in set(window["account_id"])

    # Three accounts with a single supply point, unbilled days and billed line items.
    single = query(db, "SELECT account_id, min(utility_id) FROM AccountUtility GROUP BY account_id HAVING count(*) = 1")
    billed = {a for (a,) in query(db, "SELECT DISTINCT account_id FROM InvoiceLineItem")}
    inverted, future, homeless = [(a, u) for a, u in single if a in billed and a in set(window["account_id"])][:3]
    (line_a, start_a) = query(
        db,
        "SELECT id, period_start FROM InvoiceLineItem WHERE account_id = ? ORDER BY period_end DESC, id LIMIT 1",
        (inverted[0],),
    )[0]
    (line_b,) = query(
        db, "SELECT id FROM InvoiceLineItem WHERE account_id = ? ORDER BY period_end DESC, id LIMIT 1", (future[0],)
    )[0]
    sql(db, "UPDATE InvoiceLineItem SET period_end = '2020-01-01' WHERE id = ?", params=(line_a,))
    sql(db, "UPDATE InvoiceLineItem SET period_end = '2099-12-31' WHERE id = ?", params=(line_b,))
    sql(db, "DELETE FROM AccountUtility WHERE account_id = ?", params=(homeless[0],))

    broken = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "broken")
    assert broken.success
    consistency = check(broken, "consistency")
    assert not consistency.passed and consistency.severity == dg.AssetCheckSeverity.WARN  # reported, not blocking
    found = {
        (r.data["problem"], r.data["table"], r.data["column"], r.data["key"], r.data["value"])
        for r in consistency.metadata["findings"].records
    }
    assert found == {
        ("inverted_period", "InvoiceLineItem", "period_end", str(line_a), "2020-01-01"),
        ("far_future_period", "InvoiceLineItem", "period_end", str(line_b), "2099-12-31"),
    }
    reconciliation = check(broken, "reconciliation")
    assert reconciliation.passed, reconciliation.description

    lake = Lake(str(tmp_path / "broken"))
    exceptions = lake.read("unbilled_window", PARTITION, "exceptions").to_pandas()
    new = exceptions[exceptions["code"].isin(["inverted_period", "far_future_period", "no_supply_point"])]
    assert sorted(zip(new["account_id"], new["code"])) == sorted(
        [(inverted[0], "inverted_period"), (future[0], "far_future_period"), (homeless[0], "no_supply_point")]
    )
    reason = new.set_index("code")["reason"]
    assert reason["inverted_period"].startswith(
        f"invoice line item {line_a} ({start_a} to 2020-01-01) ends before "
        "it starts: billed coverage of this supply point cannot be trusted"
    )
    assert reason["far_future_period"].startswith(f"invoice line item {line_b} (")
    assert "2099-12-31) reaches beyond 2027-11-02 (snapshot + 366 days)" in reason["far_future_period"]
    assert reason["no_supply_point"] == "account open in the month has no AccountUtility row: no supply point to accrue"
    # The three are neither accrued nor summarised (nothing re-accrued, nothing hidden) ...
    faulty = {inverted[0], future[0], homeless[0]}
    summary = lake.read("bua_account_summary", PARTITION, "bua_account_summary").to_pandas()
    assert not faulty & set(summary["account_id"])
    lines = lake.read("invoice_line_items", PARTITION, "invoice_line_items").to_pandas()
    assert not faulty & set(lines["account_id"])
    # ... they are in BUA_Errors with the reason ...
    errors = lake.read("errors", PARTITION, "errors").to_pandas()
    listed = errors[errors["source"] == "unbilled_window.exceptions"]
    assert faulty <= set(listed["account_id"].dropna().astype(int))
    # ... every other account's unbilled days are what they were ...
    after = lake.read("unbilled_window", PARTITION, "unbilled_months").to_pandas()
    keep = lambda f: f[~f["account_id"].isin(faulty)].reset_index(drop=True)  # noqa: E731
    pd.testing.assert_frame_equal(keep(after), keep(window))
    # ... and every account open in CORE in October is in the summary or the exceptions; the fully
    # billed one is a summary row with 0 unbilled days.
    accounts = pd.DataFrame(query(db, "SELECT id, open_date, close_date FROM Account"), columns=["id", "open", "close"])
    open_in_month = set(
        accounts.loc[
            (accounts["open"] <= "2026-10-31") & (accounts["close"].isna() | (accounts["close"] >= "2026-10-01")), "id"
        ]
    )
    assert open_in_month <= set(summary["account_id"]) | faulty
    row = summary.set_index("account_id").loc[paid_up]
    assert (row["unbilled_days"], row["bill_status"], row["net_amount"]) == (0, "BILLED", 0.0)


# -- values that cannot be read: named, never a library traceback --------------------------------


def failure_message(result) -> str:
    (failure,) = result.get_step_failure_events()
    error = failure.event_specific_data.error
    assert error.cls_name == "Failure", error.cls_name  # ours, not ArrowInvalid or a driver's exception
    return failure.event_specific_data.user_failure_data.description


def test_sqlite_bad_values_name_table_column_and_row(retailer, tmp_path):
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    (account,) = query(db, "SELECT id FROM Account ORDER BY id LIMIT 1")[0]
    (rate,) = query(db, "SELECT id FROM PlanRate ORDER BY id LIMIT 1 OFFSET 2")[0]
    (line,) = query(db, "SELECT id FROM InvoiceLineItem ORDER BY id LIMIT 1 OFFSET 7")[0]
    sql(db, "UPDATE Account SET close_date = '0000-00-00' WHERE id = ?", params=(account,))
    sql(db, "UPDATE PlanRate SET unit_price = 'twelve cents' WHERE id = ?", params=(rate,))
    sql(db, "UPDATE InvoiceLineItem SET period_end = '2023-02-30' WHERE id = ?", params=(line,))
    result = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "lake", ["core_snapshot", "core_tables"])
    assert not result.success
    message = failure_message(result)
    assert message == (
        "CORE values that cannot be read: "
        f"Account.close_date: 1 value(s) are not a valid DATE: id {account} = '0000-00-00'; "
        f"PlanRate.unit_price: 1 value(s) are not a valid DECIMAL(12,6): id {rate} = 'twelve cents'; "
        f"InvoiceLineItem.period_end: 1 value(s) are not a valid DATE: id {line} = '2023-02-30'"
    )
    assert check(result, "schema_drift").passed
    lake = Lake(str(tmp_path / "lake"))
    assert not lake.datasets("core_tables", PARTITION)  # nothing half-extracted is left ...
    assert [p.name for p in (tmp_path / "lake" / "core_tables").iterdir()] == []  # ... not even a staging folder


def test_sqlite_text_that_is_not_utf8_names_table_column_and_row_and_not_the_text(retailer, tmp_path):
    """SQLite keeps any bytes as TEXT; the driver's own error named no row (and showed the text)."""
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    (account, name) = query(db, "SELECT id, customer_name FROM Account ORDER BY id LIMIT 1 OFFSET 3")[0]
    (plan,) = query(db, "SELECT id FROM Plan ORDER BY id LIMIT 1 OFFSET 1")[0]
    (rate,) = query(db, "SELECT id FROM PlanRate ORDER BY id LIMIT 1 OFFSET 2")[0]
    # 'J', then 0xc3 (a two-byte lead) before '(' (not a continuation byte), then 'nes': as TEXT ...
    sql(db, "UPDATE Account SET customer_name = CAST(X'4AC3286E6573' AS TEXT) WHERE id = ?", params=(account,))
    # ... and as a BLOB in a text column (a lone continuation byte) ...
    sql(db, "UPDATE Plan SET name = X'53617665729F' WHERE id = ?", params=(plan,))
    # ... and a bad value in a later table: every bad table is named in one run.
    sql(db, "UPDATE PlanRate SET unit_price = 'twelve cents' WHERE id = ?", params=(rate,))
    result = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "lake", ["core_snapshot", "core_tables"])
    assert not result.success
    message = failure_message(result)
    assert message == (
        "CORE values that cannot be read: "
        f"Account.customer_name: 1 value(s) are not valid UTF-8: id {account} "
        "(byte 0xc3 at offset 1: invalid continuation byte); "
        f"Plan.name: 1 value(s) are not valid UTF-8: id {plan} (byte 0x9f at offset 5: invalid start byte); "
        f"PlanRate.unit_price: 1 value(s) are not a valid DECIMAL(12,6): id {rate} = 'twelve cents'"
    )
    assert "nes" not in message and name not in message  # no customer's name in a log
    assert check(result, "schema_drift").passed
    assert [p.name for p in (tmp_path / "lake" / "core_tables").iterdir()] == []


def test_repeated_plan_rates_block_the_month_naming_the_rate_key(retailer, tmp_path):
    """A rate copied 10 times used to pass and surface only as thousands of duplicate_lines."""
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    (rate, plan, charge, time_class, block, uom, start) = query(
        db,
        "SELECT id, plan_id, charge_type, time_class, block_order, uom, effective_from FROM PlanRate "
        "WHERE charge_type = 'USAGE_RETAIL' ORDER BY id LIMIT 1",
    )[0]
    (top,) = query(db, "SELECT max(id) FROM PlanRate")[0]
    for copy in range(1, 10):
        sql(
            db,
            f"INSERT INTO PlanRate SELECT id + {top + copy - rate}, plan_id, effective_from, effective_to, "
            "charge_type, time_class, block_order, block_daily_volume, unit_price, uom FROM PlanRate WHERE id = ?",
            params=(rate,),
        )
    result = run(f"sqlite:///{db}", folder / "nem12", tmp_path / "lake", CORE_STEPS)
    consistency = check(result, "consistency")
    assert not consistency.passed and consistency.severity == dg.AssetCheckSeverity.ERROR
    copies = ", ".join(str(i) for i in [rate, top + 1, top + 2, top + 3, top + 4])
    assert consistency.description == (
        "ERROR PlanRate.plan_id+charge_type+time_class+block_order+uom+effective_from duplicate_key: 1 row(s), "
        f"e.g. PlanRate ids {copies} and 5 more repeat plan_id {plan}, charge_type {charge}, time_class "
        f"{time_class}, block_order {block}, uom {uom}, effective_from {start} (10 rows where one is expected)"
    )
    (finding,) = [r.data for r in consistency.metadata["findings"].records]
    assert (finding["table"], finding["key"], finding["value"]) == (
        "PlanRate",
        f"{plan}/{charge}/{time_class}/{block}/{uom}/{start}",
        "10 rows",
    )
    assert materialised(result) == {"core_snapshot", "core_tables"}  # blocked before anything accrues


@pytest.fixture(scope="module")
def mariadb_core(tmp_path_factory):
    url = mysql_url_or_skip()
    generate(CONFIG, tmp_path_factory.mktemp("mysql_retailer"), url)
    yield url
    CoreDatabase(url).drop_database()


def test_mariadb_zero_dates_impossible_dates_and_text_in_a_decimal_are_named_and_drift_still_reported(
    retailer, mariadb_core, tmp_path
):
    db = CoreDatabase(mariadb_core)
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT min(id) FROM Account")
        (account,) = cur.fetchone()
        cur.execute("SELECT id FROM InvoiceLineItem ORDER BY id LIMIT 1 OFFSET 7")
        (line,) = cur.fetchone()
        cur.execute("SELECT id FROM PlanRate ORDER BY id LIMIT 1 OFFSET 2")
        (rate,) = cur.fetchone()
        # A strict server refuses these values; CORE's snapshots come from servers that were not strict.
        cur.execute("SET SESSION sql_mode = 'ALLOW_INVALID_DATES'")
        cur.execute("UPDATE Account SET close_date = '0000-00-00' WHERE id = %s", (account,))
        cur.execute("UPDATE InvoiceLineItem SET period_end = '2023-02-30' WHERE id = %s", (line,))
        cur.execute("ALTER TABLE PlanRate MODIFY unit_price VARCHAR(20) NOT NULL")  # drift ...
        cur.execute("UPDATE PlanRate SET unit_price = 'twelve cents' WHERE id = %s", (rate,))  # ... and a bad value
        conn.commit()
    result = run(mariadb_core, retailer[0] / "nem12", tmp_path / "lake", ["core_snapshot", "core_tables"])
    assert not result.success
    drift = check(result, "schema_drift")
    assert not drift.passed
    assert drift.description == (
        "PlanRate.unit_price: type_changed (expected DECIMAL(12,6), found varchar(20)): convert the column back "
        "in CORE, or change its type in the contract (sql/core/schema.sql)"
    )
    assert failure_message(result) == (
        "CORE values that cannot be read: "
        f"Account.close_date: 1 value(s) are not a valid DATE: id {account} = '0000-00-00'; "
        f"PlanRate.unit_price: 1 value(s) are not a valid DECIMAL(12,6): id {rate} = 'twelve cents'; "
        f"InvoiceLineItem.period_end: 1 value(s) are not a valid DATE: id {line} = '2023-02-30'"
    )
    assert [p.name for p in (tmp_path / "lake" / "core_tables").iterdir()] == []


def test_sqlite_tables_read_by_connectorx_equal_the_reference_driver_in_id_order(retailer, tmp_path):
    """The fast path (connectorx, every value as text) and the DB-API path give the same typed
    tables, rows in numeric id order (1, 2, …, 10: not the text order 1, 10, 2)."""
    db = CoreDatabase(retailer[1])
    for table in ("Plan", "PlanRate", "Account", "InvoiceLineItem", "BasicRead"):
        fast = pa.Table.from_batches(list(db.stream_table(table)))
        assert fast.equals(pa.Table.from_batches(list(db.stream_table_dbapi(table)))), table
        ids = fast["id"].to_pylist()
        assert len(ids) > 10 and ids == sorted(ids), table


def test_sqlite_text_that_is_not_utf8_after_the_first_batch_is_still_named(retailer, tmp_path):
    """A bad value connectorx meets after it has yielded batches: the DB-API diagnosis names it."""
    folder = copy_retailer(retailer, tmp_path / "r")
    db = folder / "core.db"
    (line,) = query(db, "SELECT id FROM InvoiceLineItem ORDER BY id LIMIT 1 OFFSET 250")[0]
    sql(db, "UPDATE InvoiceLineItem SET uom = CAST(X'6BC357' AS TEXT) WHERE id = ?", params=(line,))
    with pytest.raises(CoreTextError, match=rf"^InvoiceLineItem.uom: 1 value\(s\) are not valid UTF-8: id {line} "):
        list(CoreDatabase(f"sqlite:///{db}").stream_table("InvoiceLineItem", chunk_rows=100))
