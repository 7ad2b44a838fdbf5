"""Outputs nothing can silently lose (issue 12): BUA_Errors is the same wherever the home is, the
reconciliation counts against CORE, a failed write leaves no staging folder (a real file size
limit, not a mock), and `demo --month` outside the data stops before generating anything."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import dagster as dg
import pyarrow as pa
from support import PARTITION, bill_through_month_end

from bua_assets.assets.billing import reconcile
from bua_assets.billing.errors import relative_sources
from bua_assets.definitions import ALL_ASSETS
from bua_assets.lake import Lake
from bua_assets.resources import local_resources
from bua_assets.runner import backfill_interval_history
from bua_synth.cli import demo_month_problem
from bua_synth.cli import main as demo_main


def quarantine_one_record(nem12_month: Path) -> str:
    """Make the first interval value of the month's first file's first 300 record non-numeric."""
    path = sorted(p for p in nem12_month.iterdir() if p.suffix.lower() == ".csv")[0]
    lines = path.read_text().splitlines(keepends=True)
    i = next(n for n, line in enumerate(lines) if line.startswith("300,"))
    fields = lines[i].split(",")
    fields[2] = "abc"
    lines[i] = ",".join(fields)
    path.write_text("".join(lines))
    return path.name


def run_home(retailer, home: Path):
    shutil.copytree(retailer[0] / "nem12", home / "retailer" / "nem12")
    shutil.copy(retailer[0] / "core.db", home / "retailer" / "core.db")
    name = quarantine_one_record(home / "retailer" / "nem12" / PARTITION[:7])
    bill_through_month_end(home / "retailer" / "core.db")
    res = local_resources(f"sqlite:///{home / 'retailer' / 'core.db'}", str(home / "retailer" / "nem12"), home)
    instance = dg.DagsterInstance.ephemeral()
    backfill_interval_history(PARTITION, instance, res)
    result = dg.materialize(ALL_ASSETS, partition_key=PARTITION, resources=res, instance=instance)
    return result, name


def test_export_is_byte_identical_in_two_homes_and_reconciliation_counts_against_core(retailer, tmp_path):
    first, name = run_home(retailer, tmp_path / "home-one")
    second, _ = run_home(retailer, tmp_path / "elsewhere" / "home-two")
    assert first.success and second.success
    # Each run's export sits under its snapshot's folder (`current`: the embedded default has none).
    folders = [
        h / "exports" / "export" / "csv" / "2026-11-01" / "current"
        for h in (tmp_path / "home-one", tmp_path / "elsewhere" / "home-two")
    ]
    files = sorted(p.name for p in folders[0].iterdir())
    assert files == sorted(p.name for p in folders[1].iterdir()) and "BUA_Errors_202610.csv" in files
    for f in files:
        assert (folders[0] / f).read_bytes() == (folders[1] / f).read_bytes(), f
    errors = (folders[0] / "BUA_Errors_202610.csv").read_text()
    assert f"2026-10/{name}" in errors  # the quarantined record names its file relative to the meter data root
    assert str(tmp_path) not in errors

    # The reconciliation counts against CORE's open accounts: a fully billed account lost from the
    # summary is named, though it accrues nothing and the totals still agree.
    lake = Lake(str(tmp_path / "home-one" / "lake"))
    summary = lake.read("bua_account_summary", PARTITION, "bua_account_summary").to_pandas()
    accrued = set(lake.read("invoice_line_items", PARTITION, "invoice_line_items").column("account_id").to_pylist())
    billed = summary[(summary["bill_status"] == "BILLED") & ~summary["account_id"].isin(accrued)]
    assert len(billed) and (billed["unbilled_days"] == 0).all() and (billed["net_amount"] == 0).all()
    lost = int(billed["account_id"].iloc[0])
    with lake.partition_writer("bua_account_summary", PARTITION) as w:
        w.write(
            "bua_account_summary", pa.Table.from_pandas(summary[summary["account_id"] != lost], preserve_index=False)
        )
    verdict = reconcile(
        lake,
        PARTITION,
        lake.read("invoice_line_items", PARTITION, "invoice_line_items").to_pandas(),
        lake.read("accrual_summary", PARTITION, "accrual_summary").to_pandas(),
    )
    assert not verdict.passed
    assert verdict.description == (
        f"totals agree to the cent; 1 accounts open in CORE in neither the summary nor the exceptions (e.g. [{lost}])"
    )
    assert verdict.metadata["accounts_missing"].value == [lost]

    # Per supply point: a supply point's priced lines lost (here before every output, so the totals
    # still agree) is named, though its account is in the summary.
    lines = lake.read("invoice_line_items", PARTITION, "invoice_line_items").to_pandas()
    dropped = lines[["account_id", "utility_id"]].drop_duplicates().iloc[0]
    kept = lines[(lines["account_id"] != dropped["account_id"]) | (lines["utility_id"] != dropped["utility_id"])]
    verdict = reconcile(lake, PARTITION, kept, lake.read("accrual_summary", PARTITION, "accrual_summary").to_pandas())
    assert not verdict.passed
    assert "1 supply points with unbilled days neither priced nor in the exceptions" in verdict.description
    assert verdict.metadata["supply_points_unpriced"].value == [
        {"account_id": int(dropped["account_id"]), "utility_id": int(dropped["utility_id"])}
    ]


FULL_DISK = textwrap.dedent("""
    import resource, signal, sys
    import numpy as np, pyarrow as pa
    from bua_assets.lake import Lake
    from bua_assets.billing.export import Target

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, write() fails with EFBIG like a full disk
    lake = Lake(sys.argv[1])
    with lake.partition_writer("asset", "2026-10-01") as w:  # the month's earlier, good output
        w.write("data", pa.table({"x": [1, 2, 3]}))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    outcome = {}
    try:
        with lake.partition_writer("asset", "2026-10-01") as w:
            w.write("data", pa.table({"x": np.random.default_rng(1).random(2_000_000)}))
    except OSError as exc:
        outcome["lake"] = type(exc).__name__
    try:
        Target(sys.argv[2]).put("export/csv/2026-11-01/BUA_Big.csv", b"x" * 2_000_000)
    except OSError as exc:
        outcome["export"] = type(exc).__name__
    print(outcome)
""")


def test_a_write_failing_on_a_full_disk_leaves_no_partial_file_and_the_old_partition(tmp_path):
    lake_dir, export_dir = tmp_path / "lake", tmp_path / "exports"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(lake_dir), str(export_dir)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'lake': 'OSError', 'export': 'OSError'}"
    lake = Lake(str(lake_dir))
    assert lake.read("asset", "2026-10-01", "data").column("x").to_pylist() == [1, 2, 3]
    # The failed write deleted its half-written file: only the current version's file is left.
    written = sorted(str(p) for p in (lake_dir / "asset" / "data").rglob("*.parquet"))
    assert written == lake.files("asset", "2026-10-01", "data")
    assert list((export_dir / "export" / "csv" / "2026-11-01").iterdir()) == []  # no .tmp either


def test_demo_month_outside_the_data_stops_before_generating(tmp_path, capsys):
    today = date(2026, 11, 22)
    assert demo_month_problem("2026-10", today, None, 500) is None
    assert demo_month_problem("2026-13", today, None, 500) == (
        "--month '2026-13' is not a month: use YYYY-MM, e.g. 2026-10"
    )
    assert demo_month_problem("2023-08", today, None, 500) == (
        "--month 2023-08 is before the first partition (2023-09): there is no such month to run"
    )
    assert demo_month_problem("2026-11", today, None, 500) == (
        "--month 2026-11 has not ended yet (today is 2026-11-22): the latest complete month is 2026-10"
    )
    existing = {"accounts": 500, "as_at": "2026-11-01", "history_months": 13}
    assert demo_month_problem("2026-01", today, existing, 500) is None
    assert demo_month_problem("2025-10", today, existing, 500) is None
    assert demo_month_problem("2025-09", today, existing, 500) == (
        "--month 2025-09 is outside the retailer already in this home (data from 2025-10 to 2026-10): choose a "
        "month in it, or another --home for a new retailer"
    )
    assert demo_month_problem("2025-09", today, existing, 300) is None  # another size: a new retailer is generated

    # The command itself: a clear error, exit code 2, and nothing created in the home.
    home = tmp_path / "home"
    assert demo_main(["demo", "--month", "2019-01", "--home", str(home)]) == 2
    assert "error: --month 2019-01 is before the first partition (2023-09)" in capsys.readouterr().err
    assert not (home / "retailer").exists() and not (home / "dagster").exists()
    (home / "retailer").mkdir(parents=True)
    (home / "retailer" / "manifest.json").write_text(json.dumps({"config": existing}))
    assert demo_main(["demo", "--month", "2025-01", "--accounts", "500", "--home", str(home)]) == 2
    assert "outside the retailer already in this home" in capsys.readouterr().err
    assert sorted(p.name for p in (home / "retailer").iterdir()) == ["manifest.json"]


def test_relative_sources_strips_the_meter_data_root_from_every_text_column():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "source_file": ["/data/nem12/2026-10/a.csv", "s3://bucket/nem12/2026-10/b.zip"],
            "reason": ["superseded by a later delivery: /data/nem12/2026-10/c.csv:3", None],
            "line": [3, 4],
        }
    )
    out = relative_sources(frame, "/data/nem12/", "s3://bucket/nem12")
    assert out["source_file"].tolist() == ["2026-10/a.csv", "2026-10/b.zip"]
    assert out["reason"].iloc[0] == "superseded by a later delivery: 2026-10/c.csv:3" and pd.isna(out["reason"].iloc[1])
    assert out["line"].tolist() == [3, 4]
