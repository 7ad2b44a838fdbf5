from typing import Optional

import dagster as dg

from bua_assets.lake import Lake


class LakeResource(dg.ConfigurableResource):
    """Where every asset's Parquet goes: a local directory or ``s3://bucket/prefix``."""

    base: str
    s3_endpoint_url: Optional[str] = None  # e.g. a moto server or a VPC endpoint
    s3_region: Optional[str] = None

    def lake(self) -> Lake:
        return Lake(self.base, s3_endpoint_url=self.s3_endpoint_url, s3_region=self.s3_region)
