"""How much of the machine DuckDB may use: threads, memory limit and spill directory, from
explicit environment overrides or else from the container's cgroup limits (a Kubernetes pod's
CPU and memory limits), falling back to the host. Pure: no Dagster, nothing is created.

    duckdb_settings() -> {"threads": 2, "memory_limit": "4294MB", "temp_directory": "/tmp/bua-duckdb"}

Overrides (empty counts as unset):
  BUA_DUCKDB_THREADS       a positive integer
  BUA_DUCKDB_MEMORY_LIMIT  a size: bytes, or a number with KB/MB/GB/TB (powers of 1000) or
                           KiB/MiB/GiB/TiB (powers of 1024), e.g. "4GB", "3500MB", "6GiB"
  BUA_DUCKDB_TEMP_DIR      where DuckDB spills
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"
MEMORY_FRACTION = 0.4  # DuckDB's share of the memory available to the process
HEADROOM_BYTES = 1 << 30  # always left for Arrow, numpy and Python in the same process
MIN_MEMORY_BYTES = 256 * 10**6  # DuckDB's limit is never set below 256MB
_UNLIMITED_BYTES = 1 << 60  # cgroup v1 writes "no limit" as a page-aligned 2^63-1
_MB = 10**6  # DuckDB reads "MB" as 1000^2 bytes

_UNITS = {
    "": 1,
    "B": 1,
    "KB": 10**3,
    "MB": 10**6,
    "GB": 10**9,
    "TB": 10**12,
    "KIB": 1 << 10,
    "MIB": 1 << 20,
    "GIB": 1 << 30,
    "TIB": 1 << 40,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")


def duckdb_settings(
    env: Mapping[str, str] = os.environ,
    *,
    cgroup_root: str | os.PathLike = CGROUP_ROOT,
    fraction: float = MEMORY_FRACTION,
    headroom_bytes: int = HEADROOM_BYTES,
) -> dict:
    """DuckDB connection settings for this process: ``threads`` (int), ``memory_limit``
    ("NNNMB") and ``temp_directory`` (str).

    Without overrides: threads = the cgroup CPU quota (cgroup v2 ``cpu.max``, v1
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us``; rounded down, at least 1, at most the host's
    CPUs) or the host's CPUs when there is no quota; memory = ``fraction`` of the cgroup memory
    limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) or of the physical RAM when there
    is none, capped so ``headroom_bytes`` stay free for the rest of the process, and at least
    256MB; temp directory = ``<tempfile.gettempdir()>/bua-duckdb``.

    Raises ValueError naming the variable when an override is not valid.
    """
    root = Path(cgroup_root)

    threads_env = _env(env, "BUA_DUCKDB_THREADS")
    if threads_env is not None:
        threads = _positive_int("BUA_DUCKDB_THREADS", threads_env)
    else:
        threads = cpu_limit(root) or _host_cpus()

    memory_env = _env(env, "BUA_DUCKDB_MEMORY_LIMIT")
    if memory_env is not None:
        memory_bytes = parse_size("BUA_DUCKDB_MEMORY_LIMIT", memory_env)
    else:
        available = memory_available(root)
        memory_bytes = max(MIN_MEMORY_BYTES, min(int(available * fraction), available - headroom_bytes))

    temp_directory = _env(env, "BUA_DUCKDB_TEMP_DIR") or os.path.join(tempfile.gettempdir(), "bua-duckdb")
    return {"threads": threads, "memory_limit": f"{max(1, memory_bytes // _MB)}MB", "temp_directory": temp_directory}


def cpu_limit(cgroup_root: str | os.PathLike = CGROUP_ROOT) -> int | None:
    """CPUs the cgroup quota allows (rounded down, at least 1, at most the host's), or None when
    there is no quota (cgroup v2 "max", v1 -1) or no readable cgroup."""
    root = Path(cgroup_root)
    quota = period = None
    v2 = _read(root / "cpu.max")
    if v2 is not None:
        parts = v2.split()
        if parts and parts[0] != "max":
            quota, period = _number(parts[0]), _number(parts[1]) if len(parts) > 1 else 100_000
    else:
        for sub in ("cpu", "cpu,cpuacct", "cpuacct,cpu", "."):
            q, p = _read(root / sub / "cpu.cfs_quota_us"), _read(root / sub / "cpu.cfs_period_us")
            if q is not None and p is not None:
                quota, period = _number(q), _number(p)
                break
    if not quota or not period or quota <= 0 or period <= 0:
        return None
    return max(1, min(_host_cpus(), math.floor(quota / period)))


def memory_available(cgroup_root: str | os.PathLike = CGROUP_ROOT) -> int:
    """Bytes the process may use: the cgroup memory limit (v2 ``memory.max``, v1
    ``memory.limit_in_bytes``) when set and below the physical RAM, else the physical RAM."""
    root = Path(cgroup_root)
    physical = _host_memory()
    for path in (root / "memory.max", root / "memory" / "memory.limit_in_bytes", root / "memory.limit_in_bytes"):
        text = _read(path)
        if text is None:
            continue
        limit = _number(text)  # None for "max"
        if limit and 0 < limit < min(physical, _UNLIMITED_BYTES):
            return limit
        return physical
    return physical


def parse_size(name: str, value: str) -> int:
    """Bytes in a size such as "4GB", "3500MB", "6GiB" or "1073741824"; ValueError naming
    ``name`` otherwise."""
    match = _SIZE.match(value)
    unit = match.group(2).upper() if match else None
    if not match or unit not in _UNITS:
        raise ValueError(
            f"{name} must be a size such as 4GB, 3500MB or 6GiB (KB/MB/GB/TB are powers of 1000, "
            f"KiB/MiB/GiB/TiB of 1024), got {value!r}"
        )
    size = int(float(match.group(1)) * _UNITS[unit])
    if size < _MB:
        raise ValueError(f"{name} must be at least 1MB, got {value!r}")
    return size


def _positive_int(name: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return number


def _env(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name)
    return value if value is not None and value.strip() else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _number(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None  # "max", or anything unreadable: treated as no limit


def _host_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a cpuset), else the host's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def _host_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
