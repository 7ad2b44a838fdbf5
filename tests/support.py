"""Shared test settings: the small retailer every pipeline test uses, and the MariaDB gate."""

from __future__ import annotations

import os
import uuid
from datetime import date

import pytest

from bua_assets.synth.generator import GeneratorConfig

PARTITION = "2026-10-01"
CONFIG = GeneratorConfig(accounts=120, seed=11, as_at=date(2026, 11, 1), history_months=4)
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
