"""The local Dagster instance (DAGSTER_HOME, SQLite storage), created and migrated once.

Dagster creates a SQLite storage on first use and stamps its schema revision in ``alembic_version``
without any lock: several first runs at once on a fresh home each see no revision and each stamp
one, and the home is left with "more than one head" for every later run. The first process to
take the home's lock file creates the instance; the others wait, then open it as it is. The lock is
``fcntl``-based (``filelock``, which Dagster itself depends on), so a process killed while holding it
releases it with its file descriptors; it is held only while the storages open, not for the run.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg
from filelock import FileLock, Timeout

LOCK_FILE = ".bua-instance.lock"
LOCK_WAIT_SECONDS = 300.0
REPO_INSTANCE_YAML = Path(__file__).resolve().parent.parent / "dagster.yaml"


def _instance_yaml(home: Path) -> None:
    """A dagster.yaml in the home, as ./dev ui makes it: the repo's (linked) in a checkout, else one
    that turns telemetry off. Without one Dagster warns on every command and prints its telemetry
    banner. An operator's own DAGSTER_HOME keeps its file."""
    target = home / "dagster.yaml"
    if target.exists() or target.is_symlink():
        return
    if REPO_INSTANCE_YAML.is_file():
        target.symlink_to(REPO_INSTANCE_YAML)
    else:
        target.write_text("telemetry:\n  enabled: false\n")


def local_instance(wait_seconds: float = LOCK_WAIT_SECONDS) -> dg.DagsterInstance:
    """``DagsterInstance.get()`` for DAGSTER_HOME, its storages created or opened under the home's lock."""
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(home / LOCK_FILE), timeout=wait_seconds)
    try:
        with lock:
            _instance_yaml(home)
            return dg.DagsterInstance.get()
    except Timeout:
        raise TimeoutError(
            f"the Dagster instance in {home} is being created by another process that has held "
            f"{home / LOCK_FILE} for over {wait_seconds:.0f} s"
        ) from None
