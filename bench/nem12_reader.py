"""NEM12 reading throughput: our reader vs nemreader on the same file.

python bench/nem12_reader.py FILE [--json]
"""

import argparse
import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.disable(logging.CRITICAL)

from nemreader import NEMFile  # noqa: E402

from bua_assets.nem12.reader import read_nem12  # noqa: E402


def best_of(runs: int, fn):
    """Best wall time of a few runs (the first pays one-off warm-up costs), and the last result."""
    best, result = float("inf"), None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description="NEM12 reading throughput: our reader vs nemreader")
    parser.add_argument("file", type=Path, help="a NEM12 file (plain)")
    parser.add_argument("--json", action="store_true", help="(the output is always one JSON line)")
    path = parser.parse_args().file
    ours_s, ours = best_of(5, lambda: read_nem12(path))
    intervals = sum(len(v) for f in ours for v in f.days.column("values").to_pylist())
    theirs_s, data = best_of(2, lambda: NEMFile(str(path)).nem_data())
    theirs = sum(len(r) for ch in data.readings.values() for r in ch.values())
    assert intervals == theirs, (intervals, theirs)
    out = {
        "file": path.name,
        "mb": round(path.stat().st_size / 1e6, 1),
        "intervals": intervals,
        "ours_s": round(ours_s, 3),
        "nemreader_s": round(theirs_s, 2),
        "speedup": round(theirs_s / ours_s, 1),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
