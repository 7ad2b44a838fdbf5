"""Account shards (issue 28): unbilled_consumption computed one shard of accounts per step gives
the month it gives unsharded (its datasets, its metadata and what billing makes of them); the
pure helper cuts every per-account input to the shard; the lake commits many writers' files as
one month, visible only once committed."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from support import PARTITION, run_month

from bua_assets.estimation.shards import Shard, shard_count, shard_inputs, shard_reads
from bua_assets.lake import Lake
from bua_assets.settings import accounts_per_shard

# Each dataset's rows by their key (a shard's files are read one after the other, so the rows of
# a month in three shards come in another order than in one).
KEYS = {
    ("unbilled_consumption", "unbilled_consumption"): [
        "account_id",
        "utility_id",
        "register_id",
        "year_mnth",
        "plan_id",
        "time_class",
    ],
    ("unbilled_consumption", "exceptions"): ["account_id", "utility_id", "register_id", "year_mnth", "code"],
    ("unbilled_consumption", "max_demand"): ["account_id", "utility_id", "year_mnth", "plan_id", "time_class"],
    ("unbilled_consumption", "register_days"): ["account_id", "utility_id", "register_id", "date"],
}
DOWNSTREAM = [("invoice_line_items", "invoice_line_items"), ("invoice_line_items", "exceptions")]
METADATA = ["rows", "path", "accounts", "quantity_by_fuel", "estimated_share", "exceptions", "max_demand_rows"]


# ---------------------------------------------------------------------------------------------
# The pure helper


def test_shard_count_follows_the_accounts():
    assert shard_count(0, 250_000) == 1 and shard_count(120, 250_000) == 1
    assert shard_count(250_000, 250_000) == 1 and shard_count(250_001, 250_000) == 2
    assert shard_count(1_000_000, 250_000) == 4 and shard_count(120, 40) == 3
    with pytest.raises(ValueError, match="at least 1"):
        shard_count(10, 0)
    assert accounts_per_shard({}) == 250_000 and accounts_per_shard({"BUA_SHARD_ACCOUNTS": "50_000"}) == 50_000
    for bad in ("0", "-3", "lots"):
        with pytest.raises(ValueError, match="BUA_SHARD_ACCOUNTS must be"):
            accounts_per_shard({"BUA_SHARD_ACCOUNTS": bad})


def test_an_account_is_in_exactly_one_shard_and_always_the_same():
    accounts = np.arange(1, 1001)
    shards = [Shard(i, 3) for i in range(3)]
    held = np.vstack([s.holds(accounts) for s in shards])
    assert (held.sum(axis=0) == 1).all()  # every account in one shard
    assert [int(h.sum()) for h in held] == [333, 334, 333]
    # The shard depends on the account and the count only, not on the other accounts.
    assert Shard(2, 3).holds(np.array([5]))[0] and Shard(2, 3).holds(np.array([5, 999_998]))[0]
    with pytest.raises(ValueError, match="does not exist"):
        Shard(3, 3)


def _inputs():
    """Accounts 1-4: supply point 10 moved from account 1 to account 2 (shards 1 and 0 of 2)."""
    months = pd.DataFrame(
        {"account_id": [1, 2, 3, 4], "utility_id": [10, 10, 30, 40], "year_mnth": pd.Timestamp("2026-10-01")}
    )
    registers = pd.DataFrame(
        {
            "register_id": [100, 101, 300, 400, 500],
            "utility_id": [10, 10, 30, 40, 50],  # 50: no unbilled month
            "nmi": ["N10", "N10", "N30", "N40", "N50"],
        }
    )
    plans = pd.DataFrame({"account_id": [1, 2, 3, 4], "utility_id": [10, 10, 30, 40], "plan_id": [7, 7, 8, 9]})
    scalars = pd.DataFrame({"scalar": [1.0, 1.1, 1.2, 1.3, 1.4]}, index=pd.Index([100, 101, 300, 400, 500]))
    scalars.index.name = "register_id"
    read_intervals = pd.DataFrame({"meter_register_id": [100, 300, 400, 500], "days": [30, 31, 29, 28]})
    estimated = pa.table({"nmi": ["N10", "N30", "N40", "N50"], "read_date": [1, 2, 3, 4]})
    return months, registers, plans, scalars, read_intervals, estimated


def test_shard_inputs_hold_only_the_shards_accounts_and_their_supply_points():
    odd = shard_inputs(Shard(1, 2), *_inputs())
    assert odd.unbilled_months["account_id"].tolist() == [1, 3]
    assert odd.registers["register_id"].tolist() == [100, 101, 300]
    assert odd.account_plans["account_id"].tolist() == [1, 3]
    assert odd.scalar_table.index.tolist() == [100, 101, 300]
    assert odd.read_intervals["meter_register_id"].tolist() == [100, 300]
    assert odd.estimated["nmi"].to_pylist() == ["N10", "N30"]
    even = shard_inputs(Shard(0, 2), *_inputs())
    assert even.unbilled_months["account_id"].tolist() == [2, 4]
    # The supply point that changed hands is in both shards, each with its own account's months.
    assert even.registers["register_id"].tolist() == [100, 101, 400]
    assert even.estimated["nmi"].to_pylist() == ["N10", "N40"]
    # One shard: the inputs untouched (the same objects), so one shard computes what it always did.
    whole = shard_inputs(Shard(0, 1), *_inputs())
    assert len(whole.registers) == 5 and len(whole.estimated) == 4


def test_shard_reads_stream_only_the_shards_nmis():
    odd = shard_inputs(Shard(1, 2), *_inputs())
    batches = {
        "2026-10-01": [
            pa.record_batch({"nmi": ["N10", "N40", "N30"], "v": [1, 2, 3]}),
            pa.record_batch({"nmi": ["N50", "N40"], "v": [4, 5]}),
        ]
    }
    reads = shard_reads(Shard(1, 2), odd, lambda month: iter(batches.get(month, [])))
    assert [b.to_pydict() for b in reads("2026-10-01")] == [{"nmi": ["N10", "N30"], "v": [1, 3]}, {"nmi": [], "v": []}]
    assert list(reads("2026-09-01")) == []
    source = lambda month: iter(batches[month])  # noqa: E731
    assert shard_reads(Shard(0, 1), odd, source) is source


# ---------------------------------------------------------------------------------------------
# The lake: many writers' files, one commit


def test_staged_files_of_many_writers_become_the_month_in_one_commit_per_dataset(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    with lake.partition_writer("consumption", PARTITION) as writer:  # the month as it was
        writer.write("consumption", pa.table({"account_id": [9], "q": [9.0]}))
        writer.write("exceptions", pa.table({"account_id": [9], "code": ["old"]}))
    versions = lake.versions("consumption")
    staged = []
    for index, accounts in enumerate(([1, 3], [2], [])):
        with lake.staging_writer("consumption", PARTITION, f"shard_{index:05d}") as writer:
            writer.write("consumption", pa.table({"account_id": accounts, "q": [float(a) for a in accounts]}))
        staged += writer.staged
    # Written but named by no version: a reader still sees the old month, whole.
    assert lake.read("consumption", PARTITION, "consumption").to_pydict() == {"account_id": [9], "q": [9.0]}
    assert lake.versions("consumption") == versions
    lake.commit_staged("consumption", PARTITION, staged, "batch-1")
    new = lake.read("consumption", PARTITION, "consumption")
    assert new.to_pydict() == {"account_id": [1, 3, 2], "q": [1.0, 3.0, 2.0]}  # in shard order
    assert lake.versions("consumption") == {k: v + 1 for k, v in versions.items()}  # one commit each
    assert not lake.exists("consumption", PARTITION, "exceptions")  # a dataset no shard wrote loses the month


def test_a_failed_staging_writer_leaves_nothing_and_notes_are_dropped_after_the_commit(tmp_path):
    lake = Lake(str(tmp_path / "lake"))
    with pytest.raises(RuntimeError), lake.staging_writer("consumption", PARTITION, "shard_00000") as writer:
        writer.write("consumption", pa.table({"account_id": [1]}))
        raise RuntimeError("the shard failed")
    assert not any(p.is_file() for p in (tmp_path / "lake").rglob("*.parquet"))
    lake.put_staging("consumption", PARTITION, "run-1", "plan", {"shards": 2})
    lake.put_staging("consumption", PARTITION, "run-1", "shard_00000", {"files": []})
    assert lake.staging("consumption", PARTITION, "run-1") == {"plan": {"shards": 2}, "shard_00000": {"files": []}}
    assert lake.tables("consumption") == []  # the staging area is no dataset
    lake.drop_staging("consumption", PARTITION, "run-1")
    assert lake.staging("consumption", PARTITION, "run-1") == {}
    # A run that never committed: its notes go with the vacuum after the retention, not before.
    lake.put_staging("consumption", PARTITION, "run-2", "plan", {"shards": 1})
    assert lake.vacuum() == {} and lake.staging("consumption", PARTITION, "run-2")
    later = datetime.now(UTC) + timedelta(days=lake.retention_days + 1)
    assert lake.vacuum(now=later) == {"consumption/_staging": 1}
    assert lake.staging("consumption", PARTITION, "run-2") == {}


# ---------------------------------------------------------------------------------------------
# One shard or three: the same month


def _month(folder: Path, lake: Path, accounts_per_shard: str):
    with mock.patch.dict(os.environ, {"BUA_SHARD_ACCOUNTS": accounts_per_shard}):
        result = run_month(folder, lake, PARTITION)
    assert result.success
    shard_steps = sorted(
        e.step_key for e in result.all_events if e.is_step_success and "unbilled_consumption_shard" in e.step_key
    )
    (event,) = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key.to_user_string() == "unbilled_consumption"
    ]
    return Lake(str(lake)), shard_steps, {k: event.metadata[k].value for k in METADATA}


@pytest.fixture(scope="module")
def one_and_three_shards(retailer, tmp_path_factory):
    folder, _ = retailer
    one = _month(folder, tmp_path_factory.mktemp("one_shard") / "lake", "250000")
    three = _month(folder, tmp_path_factory.mktemp("three_shards") / "lake", "45")
    return one, three


def _sorted(lake: Lake, asset: str, dataset: str, keys: list[str] | None) -> pd.DataFrame:
    frame = lake.read(asset, PARTITION, dataset).to_pandas()
    return frame.sort_values(keys or list(frame.columns), kind="stable").reset_index(drop=True)


def test_three_shards_give_the_month_one_shard_gives(one_and_three_shards):
    (one, one_steps, one_meta), (three, three_steps, three_meta) = one_and_three_shards
    assert len(one_steps) == 1 and len(three_steps) == 3, (one_steps, three_steps)
    for (asset, dataset), keys in KEYS.items():
        a, b = _sorted(one, asset, dataset, keys), _sorted(three, asset, dataset, keys)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{asset}.{dataset}")
    assert len(_sorted(one, "unbilled_consumption", "unbilled_consumption", None)) > 100
    # One commit per dataset: the month's files are the three shards', in one version.
    assert len(three.files("unbilled_consumption", PARTITION, "unbilled_consumption")) == 3
    assert not list((Path(three.root) / "unbilled_consumption" / "_staging").rglob("*.json"))  # notes dropped
    # The metadata, added up over the shards (the path names the other lake).
    for name in METADATA:
        if name != "path":
            assert three_meta[name] == one_meta[name], name
    # Downstream: billing prices the same consumption.
    for asset, dataset in DOWNSTREAM:
        a, b = _sorted(one, asset, dataset, None), _sorted(three, asset, dataset, None)
        pd.testing.assert_frame_equal(a, b, check_exact=True, obj=f"{asset}.{dataset}")
    summary_one = one.read("accrual_summary", PARTITION, "accrual_summary").to_pandas()
    summary_three = three.read("accrual_summary", PARTITION, "accrual_summary").to_pandas()
    pd.testing.assert_frame_equal(summary_one, summary_three, check_exact=True)


def test_under_the_multiprocess_executor_each_shard_is_its_own_process(one_and_three_shards, retailer, monkeypatch):
    """unbilled_consumption alone, again, on the three-shard month's lake with Dagster's
    multiprocess executor: a process per step (as a pod per step on Kubernetes), nothing passed
    between them but mapping keys, and the month the in-process run committed."""
    import dagster as dg

    folder, url = retailer
    _, (three, _, _) = one_and_three_shards
    before = {k: _sorted(three, *k, keys) for k, keys in KEYS.items()}
    home = Path(three.root).parent
    for key, value in {
        "BUA_TEST_CORE_URL": url,
        "BUA_TEST_NEM12": str(folder / "nem12"),
        "BUA_TEST_LAKE": three.root,
        "BUA_TEST_EXPORTS": str(home / "exports"),
        "BUA_TEST_INTEGRATION": str(home / "integration"),
        "BUA_SHARD_ACCOUNTS": "45",
    }.items():
        monkeypatch.setenv(key, value)
    with dg.instance_for_test() as instance:
        # The step processes import the job's module (tests/reexecution_job.py) from the tests' folder.
        job = dg.build_reconstructable_job(
            "reexecution_job", "monthly_job", reconstructor_working_directory=str(Path(__file__).parent)
        )
        result = dg.execute_job(
            job,
            instance=instance,
            run_config={"execution": {"config": {"multiprocess": {"max_concurrent": 3}}}},
            tags={"dagster/partition": PARTITION},
            asset_selection=[dg.AssetKey("unbilled_consumption")],
        )
        assert result.success
        pids = {e.step_key: e.pid for e in result.all_events if e.event_type_value == "STEP_START"}
    shard_pids = {pid for step, pid in pids.items() if "unbilled_consumption_shard" in step}
    assert len(shard_pids) == 3 and len(set(pids.values())) == len(pids) == 5  # plan, 3 shards, commit
    for k, keys in KEYS.items():
        pd.testing.assert_frame_equal(before[k], _sorted(three, *k, keys), check_exact=True)
