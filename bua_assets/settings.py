"""Where the embedded default keeps things: everything under BUA_HOME (default ./.bua_home)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bua_assets.estimation.shards import DEFAULT_ACCOUNTS_PER_SHARD


@dataclass(frozen=True)
class Defaults:
    home: Path

    @property
    def core_url(self) -> str:
        return f"sqlite:///{self.home / 'retailer' / 'core.db'}"

    @property
    def meter_data(self) -> str:
        return str(self.home / "retailer" / "nem12")

    @property
    def lake(self) -> str:
        return str(self.home / "lake")

    @property
    def export_base(self) -> str:
        return str(self.home / "exports")

    @property
    def integration_base(self) -> str:
        return str(self.home / "integration")

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


DEFAULT_PARTICIPANT_ID = "BUARETAIL"  # the retailer's market participant ID (BUA_PARTICIPANT_ID)


def time_zone_name(env: Mapping[str, str] | None = None) -> str:
    """The retailer's IANA time zone (BUA_TIME_ZONE): month ends and snapshot dates are local."""
    from bua_assets.ops.earl import DEFAULT_TIME_ZONE

    return (os.environ if env is None else env).get("BUA_TIME_ZONE") or DEFAULT_TIME_ZONE


def defaults(home: str | os.PathLike | None = None) -> Defaults:
    return Defaults(Path(home or os.getenv("BUA_HOME") or ".bua_home").resolve())


def use_home(home: str | os.PathLike | None, *, keep_dagster_home: bool = False) -> Defaults:
    """Point this process at the embedded default under ``home`` (BUA_HOME, and DAGSTER_HOME for
    its instance), as ``./dev ui`` does for the webserver. The code location reads its settings
    from the environment when it loads (partitions and resources, like any Dagster code location),
    so a command that runs the definitions in-process for a home calls this before loading them.
    ``keep_dagster_home``: an instance the operator already named (DAGSTER_HOME) stays theirs.
    Nothing is created here: a command that stops on bad input leaves the home as it was."""
    d = defaults(home)
    os.environ["BUA_HOME"] = str(d.home)
    if not (keep_dagster_home and os.environ.get("DAGSTER_HOME")):
        os.environ["DAGSTER_HOME"] = str(d.dagster_home)
    return d


# --- operations (issue 16): the profile history length ------------------------------------------
DEFAULT_PROFILE_HISTORY_MONTHS = 12
MAX_PROFILE_HISTORY_MONTHS = 36  # the longest history the legacy used


def profile_history_months(env: dict | None = None) -> int:
    """How many months of interval statistics the profiles combine (BUA_PROFILE_HISTORY_MONTHS,
    12 by default, up to 36). Read when the definitions load: it shapes the partition mapping."""
    text = (os.environ if env is None else env).get("BUA_PROFILE_HISTORY_MONTHS", "").strip()
    if not text:
        return DEFAULT_PROFILE_HISTORY_MONTHS
    if not text.isdigit() or not 1 <= int(text) <= MAX_PROFILE_HISTORY_MONTHS:
        raise ValueError(
            f"BUA_PROFILE_HISTORY_MONTHS must be a whole number of months from 1 to "
            f"{MAX_PROFILE_HISTORY_MONTHS} (got {text!r})"
        )
    return int(text)


# --- issue 26: the accrual true-up's look-back ---------------------------------------------------
DEFAULT_TRUE_UP_MONTHS = 6
MAX_TRUE_UP_MONTHS = 24  # the lookback horizon: older accruals' days are long billed


def true_up_months(env: dict | None = None) -> int:
    """How many earlier months' accruals accrual_true_up compares with the bills issued since
    (BUA_TRUE_UP_MONTHS, 6 by default, up to 24). Read when the definitions load: it shapes the
    partition mapping (the asset's config can look back less, not more)."""
    text = (os.environ if env is None else env).get("BUA_TRUE_UP_MONTHS", "").strip()
    if not text:
        return DEFAULT_TRUE_UP_MONTHS
    if not text.isdigit() or not 1 <= int(text) <= MAX_TRUE_UP_MONTHS:
        raise ValueError(
            f"BUA_TRUE_UP_MONTHS must be a whole number of months from 1 to {MAX_TRUE_UP_MONTHS} (got {text!r})"
        )
    return int(text)


# --- issue 28: history months side by side ---------------------------------------------------------
def history_workers(env: Mapping[str, str] | None = None) -> int:
    """How many history months the CLI, the demo and the benchmarks backfill at once, each in its own
    process (BUA_HISTORY_WORKERS; by default one per CPU this process may use). On Kubernetes a
    backfill runs each month as its own run pod instead, as many at once as the run queue allows."""
    text = (os.environ if env is None else env).get("BUA_HISTORY_WORKERS", "").strip()
    if not text:
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"BUA_HISTORY_WORKERS must be a whole number of processes, 1 or more (got {text!r})")
    return int(text)


# --- issue 28: account shards of the heavy account-level step ------------------------------------
def accounts_per_shard(env: dict | None = None) -> int:
    """The target accounts per shard of unbilled_consumption (BUA_SHARD_ACCOUNTS, 250,000 by
    default: one shard up to that size). Read when a run plans its shards."""
    text = (os.environ if env is None else env).get("BUA_SHARD_ACCOUNTS", "").replace("_", "").strip()
    if not text:
        return DEFAULT_ACCOUNTS_PER_SHARD
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"BUA_SHARD_ACCOUNTS must be a whole number of accounts, at least 1 (got {text!r})")
    return int(text)
