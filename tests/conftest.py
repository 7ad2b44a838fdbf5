from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO.parent / "shared" / "nem12-samples"


@pytest.fixture(scope="session")
def nem12_samples() -> Path:
    if not SAMPLES.is_dir():
        pytest.fail(f"AEMO NEM12 samples not found at {SAMPLES} (shared/ must sit beside the repo)")
    return SAMPLES
