"""Preflight (issue 24): before a month's extraction, everything the run will need answers, so a
missing permission or an unreachable CORE fails in seconds with its name, not hours in at export.

Each check is a :class:`Finding` (name, ok, detail). Details never carry a secret: URLs are
redacted, secrets are described (not read). Checks of a part that is not configured pass, saying
so (the embedded default has no queue, topic or cluster)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bua_assets.billing.export import Target
from bua_assets.core import schema
from bua_assets.core.database import CoreDatabase


@dataclass(frozen=True)
class Finding:
    name: str
    ok: bool
    detail: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def check(name: str, probe: Callable[[], str]) -> Finding:
    """Run one probe: its return is the detail of a pass; any exception is the failure, named."""
    try:
        return Finding(name, True, probe())
    except Exception as exc:  # noqa: BLE001 - every failure of a probe is a finding, not a crash
        return Finding(name, False, f"{type(exc).__name__}: {exc}".strip())


class PreflightError(RuntimeError):
    pass


def core_contract(db: CoreDatabase) -> str:
    """CORE answers and holds the contract's tables and columns (blocking drift fails)."""
    observed = db.observed_schema()
    drift = [d for d in schema.schema_drift(observed, sqlite=db.engine == "sqlite") if d.blocking]
    if drift:
        raise PreflightError(f"{len(drift)} blocking schema differences: " + "; ".join(map(str, drift[:10])))
    mode = ""
    if db.engine == "mysql":
        with db.connect() as con:
            cur = con.cursor()
            cur.execute("SELECT @@SESSION.sql_mode, @@version")
            sql_mode, version = cur.fetchone()
        mode = f"; MySQL {version}, sql_mode {sql_mode or '(empty)'}"
    return f"{db.url.redacted()}: {len(observed)} tables, contract met{mode}"


def writable(target: Target) -> str:
    """A probe object written, read back and removed under ``target``."""
    name = f"_preflight/{uuid.uuid4().hex}.txt"
    data = b"bua preflight"
    target.put(name, data)
    try:
        if target.get(name) != data:
            raise PreflightError(f"{target.uri(name)} read back differently")
    finally:
        target.delete(name)
    return f"{target.uri('')} writable"


def meter_data_present(location: str, month: str, s3_client: Callable[[], object]) -> str:
    """The month's meter-data folder holds at least one entry."""
    if location.startswith("s3://"):
        bucket, _, prefix = location[5:].partition("/")
        key_prefix = f"{prefix.strip('/')}/{month}/".lstrip("/")
        listed = s3_client().list_objects_v2(Bucket=bucket, Prefix=key_prefix, MaxKeys=5)  # type: ignore[attr-defined]
        if not listed.get("KeyCount"):
            raise PreflightError(f"no meter data under s3://{bucket}/{key_prefix}")
        return f"s3://{bucket}/{key_prefix}: files present"
    folder = Path(location) / month
    if not folder.is_dir():
        raise PreflightError(f"no meter-data folder {folder}")
    if next(folder.iterdir(), None) is None:
        raise PreflightError(f"meter-data folder {folder} is empty")
    return f"{folder}: files present"
