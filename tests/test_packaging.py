"""The project installs and loads as users get it: a built wheel carries every module and SQL
file (sql/ is mapped into the package), and the code location loads and validates."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_a_built_wheel_ships_every_module_and_sql_file_and_runs_without_the_repo(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("bua_assets-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = {str(p.relative_to(REPO)) for p in (REPO / "bua_assets").rglob("*.py")}
    assert modules <= names, sorted(modules - names)
    assert not [n for n in names if n.startswith("bua_synth")]  # the development tooling stays out
    sql = {"bua_assets/_sql/" + str(p.relative_to(REPO / "sql")) for p in (REPO / "sql").rglob("*.sql")}
    assert sql and sql <= names, sorted(sql - names)
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    # From the installed copy alone (the repo's sql/ is not beside it): the SQL and the CORE
    # contract load, and the code location imports.
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import bua_assets, bua_assets.definitions; "
        "from bua_assets.sql import SQL_DIR, sql_text; from bua_assets.core.schema import core_tables; "
        "assert str(bua_assets.__file__).startswith(sys.argv[1]), bua_assets.__file__; "
        "assert str(SQL_DIR).startswith(sys.argv[1]), SQL_DIR; "
        "assert 'superseded' in sql_text('transform/interval_reads'); assert 'Account' in core_tables(); print('ok')"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "BUA_HOME": str(tmp_path / "home")},
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_the_code_location_loads_and_validates(tmp_path):
    out = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path), "BUA_HOME": str(tmp_path / "home")},
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert "bua_assets" in out.stdout + out.stderr
