"""The README's first command, as a user runs it: `bua-synth demo` (what `./dev demo` calls) in a
fresh home prints progress and the month at a glance, with Dagster's event log in a file and none
of Dagster's own console output, banners or instance warnings on the terminal."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from bua_assets.lake import Lake


def test_demo_is_quiet_and_ends_with_the_month_at_a_glance(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUA_", "DAGSTER_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bua_synth.cli", "demo", "--accounts", "40", "--home", str(home)],
        env=env | {"BUA_DUCKDB_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    err = done.stderr
    for noise in (" - DEBUG - ", "Telemetry", "Welcome to Dagster", "No dagster instance configuration file"):
        assert noise not in err, noise
    assert all(line.startswith("[bua]") for line in err.splitlines()), err[:2000]
    assert 'Finished execution of step "accrual_summary"' in err  # progress, step by step
    log = Path(re.search(r"Dagster's event log: (\S+)", err).group(1))
    assert log.parent == home / "logs" and "STEP_SUCCESS" in log.read_text()  # the full event log, in a file
    assert (home / "dagster" / "dagster.yaml").exists()

    out = done.stdout
    summary = json.loads(out[: out.index("\nAccrual (ex-GST")])
    partition = summary["partition"]
    table = out[out.index("\nAccrual (ex-GST") :].strip().splitlines()
    assert table[0].startswith(f"Accrual (ex-GST, less expected discounts) {partition[:7]} against ")
    total = table[-1].split()
    accrual = Lake(str(home / "lake")).read("accrual_summary", partition, "accrual_summary")
    expected = round(sum(accrual.column("net_amount_less_discount").to_pylist()), 2)
    assert total[0] == "Total" and total[1] == f"{expected:,.2f}"
    assert summary["accrual"][-1]["state"] == "Total" and summary["accrual"][-1]["accrual"] == expected


def test_demo_stops_with_the_setting_when_its_history_is_before_the_first_partition(tmp_path):
    """BUA_FIRST_MONTH later than the demo's data: the profile window's months before it have NEM12
    files Dagster cannot run, so the demo says which and what to set, one line, no traceback."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BUA_", "DAGSTER_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bua_synth.cli", "demo", "--accounts", "30", "--month", "2026-10", "--home", str(home)],
        env=env | {"BUA_DUCKDB_THREADS": "1", "BUA_FIRST_MONTH": "2026-01"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 1, done.stderr[-3000:]
    assert (
        "[bua] error: the profile window of 2026-10 needs 2025-11, 2025-12, which have NEM12 files but" in done.stderr
    )
    assert "set BUA_FIRST_MONTH=2025-11 (or earlier)" in done.stderr and "Traceback" not in done.stderr
