"""Shared test settings: the small retailer every pipeline test uses, and the MariaDB gate."""

from __future__ import annotations

import logging
import os
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bua_assets.nem12.reader import DEFAULT_MAX_DEMAND_KW, read_nem12
from bua_synth.generator import GeneratorConfig

logging.getLogger("nemreader").setLevel(logging.CRITICAL)

PARTITION = "2026-10-01"
CONFIG = GeneratorConfig(accounts=120, seed=11, as_at=date(2026, 11, 1), history_months=13)
MYSQL_BASE = os.getenv("BUA_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")


def mysql_url_or_skip() -> str:
    """A fresh database name on the local MariaDB; skips (or fails under BUA_REQUIRE_MYSQL) when unreachable."""
    url = f"{MYSQL_BASE}/bua_test_{uuid.uuid4().hex[:8]}"
    try:
        import pymysql

        pymysql.connect(host="127.0.0.1", user="root", connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        if os.getenv("BUA_REQUIRE_MYSQL"):
            pytest.fail(f"BUA_REQUIRE_MYSQL is set but MariaDB is unreachable: {exc}")
        pytest.skip(f"MariaDB not reachable at 127.0.0.1:3306 ({exc}); set BUA_REQUIRE_MYSQL=1 to make this fail")
    return url


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# NEM12 files read interval by interval, by our reader and by nemreader (the oracle).
def ours_per_interval(path: Path) -> list[tuple]:
    """Read at the pipeline's own ceiling: a sample it would quarantine does not agree."""
    rows = []
    for f in read_nem12(path, max_demand_kw=DEFAULT_MAX_DEMAND_KW):
        assert not f.rejected, f.issues
        assert not [i for i in f.issues if i.severity == "record_quarantined"], f.issues
        for d in f.days.to_pylist():
            step = timedelta(minutes=d["interval_length"])
            start = d["read_date"]
            qualities = d["interval_quality"] or [d["quality_method"]] * len(d["values"])
            for j, (v, q) in enumerate(zip(d["values"], qualities, strict=True)):
                t = datetime(start.year, start.month, start.day) + j * step
                rows.append((d["nmi"], d["suffix"], d["uom"], t, v, q))
    return sorted(rows, key=lambda r: (r[0], r[1], r[3]))


def oracle_per_interval(path: Path) -> list[tuple]:
    from nemreader import NEMFile

    data = NEMFile(str(path), strict=False).nem_data()
    rows = [
        (nmi, suffix, r.uom, r.t_start, r.read_value, r.quality_method)
        for nmi, channels in data.readings.items()
        for suffix, reads in channels.items()
        for r in reads
    ]
    return sorted(rows, key=lambda r: (r[0], r[1], r[3]))


def bill_through_month_end(core_db: Path, month_end: str = "2026-10-31", run_date: str = "2026-11-01") -> int:
    """Make one open single-supply-point account fully billed: its latest issued debit invoice (not
    reversed) now covers to the month end. Returns the account id."""
    import sqlite3

    con = sqlite3.connect(core_db)
    try:
        account, invoice = con.execute(
            "SELECT i.account_id, i.id FROM Invoice i JOIN Account a ON a.id = i.account_id "
            "WHERE i.status = 'ISSUED' AND i.is_credit = 0 AND i.issue_date < ? AND a.close_date IS NULL "
            "AND i.id NOT IN (SELECT reverses_invoice_id FROM Invoice WHERE reverses_invoice_id IS NOT NULL) "
            "AND i.account_id IN (SELECT account_id FROM AccountUtility GROUP BY account_id HAVING count(*) = 1) "
            "AND i.period_end = (SELECT max(period_end) FROM Invoice j WHERE j.account_id = i.account_id) "
            "ORDER BY i.period_end DESC, i.id LIMIT 1",
            (run_date,),
        ).fetchone()
        con.execute("UPDATE InvoiceLineItem SET period_end = ? WHERE invoice_id = ?", (month_end, invoice))
        con.execute("UPDATE Invoice SET period_end = ? WHERE id = ?", (month_end, invoice))
        con.commit()
    finally:
        con.close()
    return int(account)


def month_resources(folder: Path, lake: Path) -> dict:
    """The local resources of a generated retailer in ``folder`` (core.db and nem12/), the lake under ``lake``."""
    from bua_assets.resources import LakeResource, local_resources

    return local_resources(f"sqlite:///{folder / 'core.db'}", str(folder / "nem12"), lake.parent) | {
        "lake": LakeResource(base=str(lake))
    }


def run_month(folder: Path, lake: Path, partition: str, instance=None):
    """Materialise every asset of ``partition``, after the interval history it needs."""
    from contextlib import nullcontext

    import dagster as dg

    from bua_assets.definitions import ALL_ASSETS
    from bua_assets.runner import backfill_interval_history

    resources = month_resources(folder, lake)
    with dg.instance_for_test() if instance is None else nullcontext(instance) as instance:
        backfill_interval_history(partition, instance, resources)
        return dg.materialize(
            ALL_ASSETS, partition_key=partition, resources=resources, instance=instance, raise_on_error=False
        )
