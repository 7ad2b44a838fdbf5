from __future__ import annotations

import os
from pathlib import Path

import pytest

from bua_assets.synth.generator import generate
from support import CONFIG

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "nem12-samples"


@pytest.fixture(scope="session")
def nem12_samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"AEMO NEM12 samples not found at {SAMPLES} (shared/ must sit beside the repo)")
    return SAMPLES


@pytest.fixture(scope="session")
def retailer(tmp_path_factory) -> tuple[Path, str]:
    """The small generated retailer (folder, embedded CORE URL), built once per test session."""
    out = tmp_path_factory.mktemp("retailer")
    url = f"sqlite:///{out / 'core.db'}"
    generate(CONFIG, out, url)
    return out, url
