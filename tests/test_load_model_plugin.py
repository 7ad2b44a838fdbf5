"""A world written elsewhere plugs into the generator by import path (generate --load-model
package.module:Name): the seam the accuracy checks on independent worlds go through."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bua_synth.cli import load_model

# A world outside the package (here the original world's process under its own name).
PLUGIN = """
from bua_synth.load import SimpleLoad


class Heavier(SimpleLoad):
    name = "heavier"


class NotAWorld:
    name = "not a world"
"""


def test_built_in_and_import_path_models():
    assert load_model("alt").name == "alt"
    assert load_model("bua_synth.load:SimpleLoad").name == "simple"
    with pytest.raises(ValueError, match=r"expected one of rich, simple, alt or package\.module:Name"):
        load_model("richer")
    with pytest.raises(ValueError, match="cannot load it"):
        load_model("no_such_package.worlds:World")
    with pytest.raises(ValueError, match="cannot load it"):
        load_model("bua_synth.load:NoSuchWorld")


def test_an_outside_world_generates_through_the_cli(tmp_path):
    (tmp_path / "outside_world.py").write_text(PLUGIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    out = tmp_path / "retailer"

    def generate(spec: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "bua_synth.cli",
                "generate",
                "--accounts",
                "5",
                "--seed",
                "3",
                "--as-at",
                "2026-11-01",
                "--history-months",
                "2",
                "--out",
                str(out),
                "--load-model",
                spec,
            ],
            capture_output=True,
            text=True,
            env=env,
        )

    refused = generate("outside_world:NotAWorld")
    assert refused.returncode == 2
    assert "is not a load model: it needs a name and prepare, half_hourly, gas_network_daily" in refused.stderr
    assert not out.exists()

    done = generate("outside_world:Heavier")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["load_model"] == "heavier"
    assert manifest["counts"]["nem12_files"] > 0
