"""The benchmark scripts BENCHMARKS.md gives commands for still start: each imports what it uses
and parses its arguments (`--help`), so a moved module breaks a test, not the next benchmark run.
The CLI they drive is checked too (`bua_synth.cli generate --help`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(p.name for p in (REPO / "bench").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_script_starts(script):
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), "--help"], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage" in done.stdout.lower()


def test_the_generator_command_the_benchmarks_call_exists():
    done = subprocess.run(
        [sys.executable, "-m", "bua_synth.cli", "generate", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "--load-model" in done.stdout, done.stderr[-2000:]
    for script in ("run.py", "accuracy.py"):  # they generate through this module
        assert '"bua_synth.cli"' in (REPO / "bench" / script).read_text()
