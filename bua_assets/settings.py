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
