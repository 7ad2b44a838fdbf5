"""First runs at once on a fresh home: the local Dagster instance is created and migrated once
(under the home's lock), so none fails with alembic's "more than one head" and the home stays usable."""

from __future__ import annotations

import glob
import os
import sqlite3
import subprocess
import sys

FIRST_RUN = """
import dagster as dg
from bua_assets.local_instance import local_instance

@dg.asset
def probe() -> int:
    return 1

instance = local_instance()
assert dg.materialize([probe], instance=instance).success
print(len(instance.get_runs()), len(instance.all_instigator_state()))
"""


def first_runs_at_once(home, count: int) -> list[subprocess.CompletedProcess]:
    env = os.environ | {"DAGSTER_HOME": str(home)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", FIRST_RUN], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(count)
    ]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in processes]


def revisions(home) -> dict[str, list[str]]:
    """Each SQLite storage's alembic revisions (one row each when it was created once)."""
    found = {}
    for db in sorted(glob.glob(f"{home}/**/*.db", recursive=True)):
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if "alembic_version" in names:
                found[os.path.relpath(db, home)] = [
                    r[0] for r in con.execute("SELECT version_num FROM alembic_version")
                ]
        finally:
            con.close()
    return found


def test_four_first_runs_at_once_on_a_fresh_home_all_succeed(tmp_path):
    home = tmp_path / "dagster"  # does not exist yet: the first run creates it
    results = first_runs_at_once(home, 4)
    for result in results:
        assert result.returncode == 0, result.stderr[-2000:]
        assert "more than one head" not in result.stderr
    found = revisions(home)
    assert {"history/runs.db", "schedules/schedules.db"} <= set(found)
    assert all(len(rows) == 1 for rows in found.values()), found  # migrated once: one head each
    (later,) = first_runs_at_once(home, 1)  # and the home still works for the next run
    assert later.returncode == 0, later.stderr[-2000:]
    assert later.stdout.split()[0] == "5"  # all five runs recorded
