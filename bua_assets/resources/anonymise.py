from typing import Optional

import dagster as dg

from bua_assets.ops.anonymise import Anonymiser


class AnonymiseResource(dg.ConfigurableResource):
    """The anonymised test environment: set a key (an EnvVar / Secrets Manager value, never in
    code) and identifiers are replaced by keyed hashes as CORE and NEM12 data enter the lake."""

    key: str = ""

    def anonymiser(self) -> Optional[Anonymiser]:
        return Anonymiser(self.key) if self.key else None
