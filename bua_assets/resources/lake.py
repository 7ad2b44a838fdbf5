from bua_assets.lake import Lake
from bua_assets.resources.aws import AwsResource


class LakeResource(AwsResource):
    """Where every asset's Parquet goes: a local directory or ``s3://bucket/prefix`` (read and
    written through Arrow's S3 filesystem with this resource's ``endpoint_url`` and ``region_name``)."""

    base: str

    def lake(self) -> Lake:
        return Lake(self.base, s3_endpoint_url=self.endpoint_url, s3_region=self.region_name)
