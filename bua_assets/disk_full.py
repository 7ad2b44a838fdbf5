"""A full disk named: where the write went and which configured target it belongs to.

The operating system's "[Errno 28] No space left on device" names neither the file nor the volume
an operator has to free or enlarge; :func:`raise_if_disk_full` re-raises it as
:class:`DiskFullError` saying both (the lake under ``BUA_LAKE``, the exports under
``BUA_EXPORT_BASE`` / ``BUA_INTEGRATION_BASE``). Any other error passes through untouched.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class DiskFullError(OSError):
    """No space left on the device holding ``path`` (errno ENOSPC, so ``except OSError`` still sees it)."""

    def __init__(self, path: str, target: str):
        self.path, self.target = path, target
        super().__init__(
            errno.ENOSPC,
            f"no space left on device writing {path} (target {target}): free space there or point the "
            f"setting at a larger volume",
        )


def is_disk_full(exc: BaseException) -> bool:
    """ENOSPC, also as pyarrow reports it (an OSError whose errno is sometimes unset, "[errno 28]")."""
    if not isinstance(exc, OSError) or isinstance(exc, DiskFullError):
        return False
    if exc.errno == errno.ENOSPC:
        return True
    text = str(exc).lower()
    return "no space left on device" in text or f"[errno {errno.ENOSPC}]" in text


def raise_if_disk_full(exc: BaseException, *, path: str, target: str) -> None:
    """Raise DiskFullError (from ``exc``) when ``exc`` is a full disk; return otherwise.
    ``target``: the configured location, with its setting (``BUA_LAKE=/data/lake``)."""
    if is_disk_full(exc):
        raise DiskFullError(path, target) from exc


@contextmanager
def naming_disk_full(path: str, target: str) -> Iterator[None]:
    """Around a write: a full disk becomes DiskFullError naming ``path`` and ``target``."""
    try:
        yield
    except OSError as exc:
        raise_if_disk_full(exc, path=path, target=target)
        raise
