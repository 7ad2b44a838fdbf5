"""DESIGN §4: every feature of the synthetic retailer occurs, in realistic proportions, at 1k accounts."""

from __future__ import annotations

import sqlite3
from datetime import date

import pyarrow.parquet as pq
import pytest

from bua_synth.generator import GeneratorConfig, generate


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("realism")
    generate(
        GeneratorConfig(accounts=1000, seed=5, as_at=date(2026, 11, 1), history_months=13),
        out,
        f"sqlite:///{out / 'core.db'}",
    )
    con = sqlite3.connect(out / "core.db")
    yield out, con
    con.close()


def share(con, sql: str) -> float:
    return con.execute(sql).fetchone()[0]


def test_portfolio_mix(world):
    _, con = world
    gas = share(con, "select avg(service_type_id = 2) from Utility")
    assert 0.15 <= gas <= 0.30
    assert con.execute("select count(distinct jurisdiction_id) from Utility").fetchone()[0] >= 5
    assert con.execute("select count(distinct utility_network_id) from Utility").fetchone()[0] >= 10
    business = share(con, "select avg(cust_class_code = 'BUSINESS') from Utility")
    assert 0.08 <= business <= 0.25
    meters = dict(
        con.execute(
            "select meter_installation_type, count(*) * 1.0 / (select count(*) from Meter) from Meter group by 1"
        ).fetchall()
    )
    assert meters["COMMS4"] > 0.4 and 0.01 < meters["MRIM"] < 0.15 and 0.2 < meters["BASIC"] < 0.5
    suffixes = dict(con.execute("select suffix_id, count(*) from MeterRegister group by 1").fetchall())
    solar = (
        suffixes["B1"]
        / con.execute(
            "select count(*) from Meter where meter_installation_type <> 'BASIC'"
            " and id in (select meter_id from MeterRegister where uom = 'KWH')"
        ).fetchone()[0]
    )
    assert 0.1 <= solar <= 0.35  # rooftop solar on a fifth of smart-metered homes
    assert suffixes.get("E2", 0) + suffixes.get("41", 0) >= 30  # controlled load (off-peak hot water)


def test_billing_features(world):
    _, con = world
    freq = dict(con.execute("select bill_frequency, count(*) from Account group by 1").fetchall())
    assert set(freq) == {"MONTHLY", "BIMONTHLY", "QUARTERLY"} and min(freq.values()) > 50
    assert con.execute("select count(distinct bill_cycle_day) from Account").fetchone()[0] >= 25
    not_due = share(con, "select avg(next_bill_date >= '2026-11-01') from Account where close_date is null")
    assert 0.5 < not_due < 1.0  # most accounts are not yet due at the run date
    closed = share(con, "select avg(close_date is not null) from Account")
    assert 0.03 <= closed <= 0.10  # move-outs and closures
    moved_in = con.execute(
        "select count(*) from AccountUtility a join AccountUtility b on a.utility_id = b.utility_id"
        " and b.start_date > a.start_date"
    ).fetchone()[0]
    assert moved_in >= 20
    july = con.execute("select count(*) from InvoiceLineItem where period_start = '2026-07-01'").fetchone()[0]
    assert july > 100  # periods spanning 1 July are split at the price change
    discounts = dict(con.execute("select discount_type, count(*) from PlanDiscount group by 1").fetchall())
    assert discounts.get("CONDITIONAL") and discounts.get("GUARANTEED")
    assert share(con, "select avg(discount_net <> 0) from InvoiceLineItem") > 0.1
    credits = share(con, "select avg(is_credit) from Invoice where invoice_number like 'INV%'")
    assert 0.002 < credits < 0.05  # reversed and re-issued invoices
    assert con.execute("select count(*) from Invoice where status = 'CANCELLED'").fetchone()[0] >= 1
    replaced = con.execute("select count(*) from AccountPlan where status = 'REPLACED'").fetchone()[0]
    flagged = con.execute("select count(*) from AccountPlan where include_in_supplementary = 1").fetchone()[0]
    assert replaced >= 5 and flagged == replaced
    # Some replacements are backdated product changes from a day inside the billed history: the
    # billed plan stays APPROVED before it, so part of a billed period is re-rated.
    backdated = con.execute(
        "select count(*) from AccountPlan f join AccountPlan r on r.account_id = f.account_id"
        " and r.status = 'REPLACED' where f.include_in_supplementary = 1"
        " and f.start_date > r.start_date"
    ).fetchone()[0]
    assert 1 <= backdated < flagged
    late = con.execute(
        "select count(*) from Invoice where julianday(issue_date) - julianday(period_end) > 20 and is_credit = 0"
    ).fetchone()[0]
    assert late >= 10


def test_meter_data_features(world):
    out, con = world
    rollovers = con.execute(
        "select count(*) from (select meter_register_id, reading, lag(reading) over (partition by meter_register_id"
        " order by read_date) as prev from BasicRead) where reading < prev"
    ).fetchone()[0]
    assert rollovers >= 3  # basic meters wrapping past 99999
    estimated_reads = share(con, "select avg(read_type = 'ESTIMATE') from BasicRead")
    assert 0.01 < estimated_reads < 0.08
    text = "".join(p.read_text() for p in (out / "nem12" / "2026-06").iterdir())
    days = text.count("\n300,")
    for flag, low, high in (("S14", 0.001, 0.01), ("F14", 0.001, 0.01), ("E52", 0.002, 0.02), ("V", 0.002, 0.02)):
        n = text.count(f",{flag},")
        assert low < n / days < high, (flag, n, days)
    assert text.count("\n400,") > 0 and ",Wh," in text and ",kWh," in text
    lengths = {int(line.split(",")[8]) for line in text.splitlines() if line.startswith("200,")}
    assert lengths == {5, 15, 30}
    truth = pq.read_table(out / "truth" / "2026-06.parquet", columns=["meter_register_id"])
    assert truth.num_rows == 30 * con.execute("select count(*) from MeterRegister").fetchone()[0]
