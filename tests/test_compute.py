"""DuckDB's threads and memory follow the container (fake cgroup files in a tmp dir) unless the
environment overrides them."""

from __future__ import annotations

import os
import tempfile

import pytest

from bua_assets import compute
from bua_assets.compute import duckdb_settings

GiB = 1 << 30
HOST_CPUS, HOST_MEMORY = 8, 32 * GiB


@pytest.fixture(autouse=True)
def host(monkeypatch):
    """A fixed host (8 CPUs, 32 GiB) so the fallbacks are deterministic on any machine."""
    monkeypatch.setattr(compute, "_host_cpus", lambda: HOST_CPUS)
    monkeypatch.setattr(compute, "_host_memory", lambda: HOST_MEMORY)


def cgroup(tmp_path, files: dict[str, str]):
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return tmp_path


def mb(n_bytes: int) -> str:
    return f"{n_bytes // 10**6}MB"


def test_cgroup_v2_quota_and_memory_limit(tmp_path):
    root = cgroup(tmp_path, {"cpu.max": "250000 100000", "memory.max": str(10 * GiB)})  # 2.5 CPUs, 10 GiB
    settings = duckdb_settings({}, cgroup_root=root)
    assert settings["threads"] == 2  # rounded down: never more threads than the quota pays for
    assert settings["memory_limit"] == mb(int(10 * GiB * 0.4)) == "4294MB"
    assert settings["temp_directory"] == os.path.join(tempfile.gettempdir(), "bua-duckdb")


def test_cgroup_v2_unlimited_falls_back_to_the_host(tmp_path):
    root = cgroup(tmp_path, {"cpu.max": "max 100000", "memory.max": "max"})
    settings = duckdb_settings({}, cgroup_root=root)
    assert settings["threads"] == HOST_CPUS
    assert settings["memory_limit"] == mb(int(HOST_MEMORY * 0.4))


def test_cgroup_v2_fraction_of_a_cpu_is_one_thread_and_quota_beyond_the_host_is_capped(tmp_path):
    assert duckdb_settings({}, cgroup_root=cgroup(tmp_path / "a", {"cpu.max": "50000 100000"}))["threads"] == 1
    assert (
        duckdb_settings({}, cgroup_root=cgroup(tmp_path / "b", {"cpu.max": "6400000 100000"}))["threads"] == HOST_CPUS
    )


def test_cgroup_v1(tmp_path):
    root = cgroup(
        tmp_path,
        {
            "cpu,cpuacct/cpu.cfs_quota_us": "400000",
            "cpu,cpuacct/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": str(6 * GiB),
        },
    )
    assert duckdb_settings({}, cgroup_root=root) == {
        "threads": 4,
        "memory_limit": mb(int(6 * GiB * 0.4)),
        "temp_directory": os.path.join(tempfile.gettempdir(), "bua-duckdb"),
    }


def test_cgroup_v1_unlimited(tmp_path):
    root = cgroup(
        tmp_path,
        {
            "cpu/cpu.cfs_quota_us": "-1",
            "cpu/cpu.cfs_period_us": "100000",
            "memory/memory.limit_in_bytes": "9223372036854771712",
        },
    )
    settings = duckdb_settings({}, cgroup_root=root)
    assert settings["threads"] == HOST_CPUS
    assert settings["memory_limit"] == mb(int(HOST_MEMORY * 0.4))


def test_no_cgroup_uses_the_host(tmp_path):
    settings = duckdb_settings({}, cgroup_root=tmp_path / "absent")
    assert settings["threads"] == HOST_CPUS
    assert settings["memory_limit"] == mb(int(HOST_MEMORY * 0.4))


def test_small_containers_keep_headroom_and_a_floor(tmp_path):
    # 2 GiB: 40% (858MB) leaves more than 1 GiB, so it stands.
    assert (
        duckdb_settings({}, cgroup_root=cgroup(tmp_path / "a", {"memory.max": str(2 * GiB)}))["memory_limit"] == "858MB"
    )
    # 1.5 GiB: 40% would leave less than 1 GiB for Arrow and numpy, so DuckDB gets the rest.
    one_and_half = 3 * GiB // 2
    assert duckdb_settings({}, cgroup_root=cgroup(tmp_path / "b", {"memory.max": str(one_and_half)}))[
        "memory_limit"
    ] == mb(one_and_half - GiB)
    # 512 MiB: never below 256MB.
    assert (
        duckdb_settings({}, cgroup_root=cgroup(tmp_path / "c", {"memory.max": str(512 << 20)}))["memory_limit"]
        == "256MB"
    )


def test_environment_overrides_win(tmp_path):
    root = cgroup(tmp_path, {"cpu.max": "200000 100000", "memory.max": str(10 * GiB)})
    env = {"BUA_DUCKDB_THREADS": "3", "BUA_DUCKDB_MEMORY_LIMIT": "6GiB", "BUA_DUCKDB_TEMP_DIR": "/scratch/duck"}
    assert duckdb_settings(env, cgroup_root=root) == {
        "threads": 3,
        "memory_limit": mb(6 * GiB),
        "temp_directory": "/scratch/duck",
    }
    for value, expected in [
        ("4GB", "4000MB"),
        ("3500MB", "3500MB"),
        ("1.5GB", "1500MB"),
        ("2147483648", "2147MB"),
        ("512 mib", "536MB"),
    ]:
        assert duckdb_settings({"BUA_DUCKDB_MEMORY_LIMIT": value}, cgroup_root=root)["memory_limit"] == expected
    # Empty values count as unset (as elsewhere in the project's configuration).
    assert duckdb_settings({"BUA_DUCKDB_THREADS": "", "BUA_DUCKDB_TEMP_DIR": " "}, cgroup_root=root)["threads"] == 2


@pytest.mark.parametrize(
    "name, value",
    [
        ("BUA_DUCKDB_THREADS", "two"),
        ("BUA_DUCKDB_THREADS", "0"),
        ("BUA_DUCKDB_THREADS", "-4"),
        ("BUA_DUCKDB_THREADS", "1.5"),
        ("BUA_DUCKDB_MEMORY_LIMIT", "lots"),
        ("BUA_DUCKDB_MEMORY_LIMIT", "4 GBs"),
        ("BUA_DUCKDB_MEMORY_LIMIT", "-1GB"),
        ("BUA_DUCKDB_MEMORY_LIMIT", "10KB"),
    ],
)
def test_bad_overrides_name_the_variable(tmp_path, name, value):
    with pytest.raises(ValueError, match=name) as raised:
        duckdb_settings({name: value}, cgroup_root=tmp_path)
    assert repr(value) in str(raised.value)


def test_unreadable_cgroup_values_fall_back_to_the_host(tmp_path):
    root = cgroup(tmp_path, {"cpu.max": "garbage", "memory.max": "garbage"})
    settings = duckdb_settings({}, cgroup_root=root)
    assert settings["threads"] == HOST_CPUS
    assert settings["memory_limit"] == mb(int(HOST_MEMORY * 0.4))


def test_defaults_read_the_real_environment():
    settings = duckdb_settings()
    assert settings["threads"] >= 1 and settings["memory_limit"].endswith("MB")
    assert int(settings["memory_limit"][:-2]) >= 256
