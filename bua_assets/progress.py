"""Progress of long steps in the run's log (the UI's run view and the CLI show it)."""

from __future__ import annotations

import time
from collections.abc import Callable


def progress_logger(log, what: str, every_s: float = 10.0) -> Callable[..., None]:
    """A callback ``(done, total, detail=None)`` that logs at most every ``every_s`` seconds, and
    always for the last item: '<what>: 12/90 (13%) ... 1.2M register-days, 8.3 s'."""
    start = time.perf_counter()
    last = [start]

    def report(done: int, total: int, detail=None) -> None:
        now = time.perf_counter()
        if done < total and now - last[0] < every_s:
            return
        last[0] = now
        share = f" ({done / total:.0%})" if total else ""
        extra = f", {detail:,} rows" if isinstance(detail, int) else (f", {detail}" if detail else "")
        log.info(f"{what}: {done:,}/{total:,}{share}{extra}, {now - start:.1f} s")

    return report
