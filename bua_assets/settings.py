"""Where the embedded default keeps things: everything under BUA_HOME (default ./.bua_home)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Defaults:
    home: Path

    @property
    def core_url(self) -> str:
        return f"sqlite:///{self.home / 'retailer' / 'core.db'}"

    @property
    def meter_data(self) -> str:
        return str(self.home / "retailer" / "nem12")

    @property
    def lake(self) -> str:
        return str(self.home / "lake")

    @property
    def export_base(self) -> str:
        return str(self.home / "exports")

    @property
    def integration_base(self) -> str:
        return str(self.home / "integration")

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def participant_id() -> str:
    """The retailer's market participant ID: the recipient named in NEM12 files we write."""
    return os.getenv("BUA_PARTICIPANT_ID", "BUARETAIL")


def defaults(home: str | os.PathLike | None = None) -> Defaults:
    return Defaults(Path(home or os.getenv("BUA_HOME", ".bua_home")).resolve())


# --- operations (issue 16): the profile history length ------------------------------------------
DEFAULT_PROFILE_HISTORY_MONTHS = 12
MAX_PROFILE_HISTORY_MONTHS = 36  # the longest history the legacy used


def profile_history_months(env: dict | None = None) -> int:
    """How many months of interval statistics the profiles combine (BUA_PROFILE_HISTORY_MONTHS,
    12 by default, up to 36). Read when the definitions load: it shapes the partition mapping."""
    text = (os.environ if env is None else env).get("BUA_PROFILE_HISTORY_MONTHS", "").strip()
    if not text:
        return DEFAULT_PROFILE_HISTORY_MONTHS
    if not text.isdigit() or not 1 <= int(text) <= MAX_PROFILE_HISTORY_MONTHS:
        raise ValueError(f"BUA_PROFILE_HISTORY_MONTHS must be a whole number of months from 1 to "
                         f"{MAX_PROFILE_HISTORY_MONTHS} (got {text!r})")
    return int(text)
