"""NEM12 reading throughput: our reader vs nemreader on the same file.

    python bench/nem12_reader.py FILE [--json]
"""

import json
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
logging.disable(logging.CRITICAL)

from nemreader import NEMFile  # noqa: E402

from bua_assets.nem12.reader import read_nem12  # noqa: E402

path = Path(sys.argv[1])
t = time.perf_counter()
ours = read_nem12(path)
ours_s = time.perf_counter() - t
intervals = sum(len(v) for f in ours for v in f.days.column("values").to_pylist())
t = time.perf_counter()
data = NEMFile(str(path)).nem_data()
theirs_s = time.perf_counter() - t
theirs = sum(len(r) for ch in data.readings.values() for r in ch.values())
assert intervals == theirs, (intervals, theirs)
out = {"file": path.name, "mb": round(path.stat().st_size / 1e6, 1), "intervals": intervals,
       "ours_s": round(ours_s, 3), "nemreader_s": round(theirs_s, 2), "speedup": round(theirs_s / ours_s, 1)}
print(json.dumps(out))
