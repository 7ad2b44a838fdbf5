"""Worker processes of the generator (forked pools for the months and the billing parts)."""

from __future__ import annotations

import signal


def terminable_worker() -> None:
    """Pool initializer: the default SIGTERM action in the worker. Pool.terminate() stops idle
    workers with SIGTERM; a process started with SIGTERM ignored (nohup-style launchers, some CI
    runners) passes that on through fork, and a worker waiting on the task queue's lock then
    never exits: the parent waited on it forever (seen as the generator's intermittent hang)."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
