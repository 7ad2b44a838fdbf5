"""The NEM12 writer renders interval values with numpy lookup tables: byte-identical to Arrow's CSV writer."""

from __future__ import annotations

import numpy as np
import pytest

from bua_assets.nem12.reader import read_nem12
from bua_assets.nem12.writer import RegisterBlock, nem12_bytes, write_nem12


def _case(seed: int, decimals: int, *, wide: bool = False, negative: bool = False) -> dict:
    r = np.random.default_rng(seed)
    blocks, dates, quality, row_index, row = [], [], [], [], 0
    events: dict = {}
    store: dict = {}
    filled: dict = {}
    for _ in range(int(r.integers(1, 30))):
        length, n = int(r.choice([5, 15, 30])), int(r.integers(0, 12))
        blocks.append(
            RegisterBlock("4100000001", "E1B1", "1", "E1", "M123", "Wh" if decimals == 0 else "kWh", length, row, n)
        )
        n_int = 1440 // length
        vals = np.round(r.lognormal(-1, 2 if wide else 1, (n, n_int)), 5)
        if wide:
            vals[r.random(vals.shape) < 0.01] *= 1e7
        if negative:
            vals[r.random(vals.shape) < 0.01] *= -1
        vals[r.random(vals.shape) < 0.2] = 0
        if decimals == 0:
            vals = np.round(vals * 1000)
        used = filled.get(length, 0)
        store.setdefault(length, []).append(vals)
        row_index += list(range(used, used + n))
        filled[length] = used + n
        for k in range(n):
            q = str(r.choice(["A", "S14", "F14", "E52", "V"]))
            quality.append(q)
            dates.append(np.datetime64("2026-06-01") + int(r.integers(0, 30)))
            if q == "V":
                events[row + k] = [(1, 5, "A", ""), (6, n_int, "S14", "76")]
        row += n
    return dict(
        created="202607010300",
        from_participant="MDP",
        to_participant="RETAILER",
        blocks=blocks,
        dates=np.array(dates, dtype="datetime64[D]"),
        values={k: np.concatenate(v) for k, v in store.items()},
        row_index=np.array(row_index, dtype=np.int64),
        quality=np.array(quality),
        events=events,
        decimals=decimals,
    )


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("variant", ["kwh", "wh", "wide", "negative"])
def test_fast_rendering_is_arrows(seed, variant):
    kw = _case(seed, 0 if variant == "wh" else 3, wide=variant == "wide", negative=variant == "negative")
    assert nem12_bytes(**kw) == nem12_bytes(**kw, fast=False)


def test_written_file_reads_back(tmp_path):
    kw = _case(3, 3)
    write_nem12(tmp_path / "f.csv", **kw)
    (f,) = read_nem12(tmp_path / "f.csv")
    assert not f.rejected
    assert f.days.num_rows == len(kw["dates"])
