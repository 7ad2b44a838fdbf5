from bua_assets.lake import DEFAULT_RETENTION_DAYS, Lake
from bua_assets.resources.aws import AwsResource


class LakeResource(AwsResource):
    """Where every asset's Delta tables go: a local directory or ``s3://bucket/prefix`` (read and
    written through Arrow's S3 filesystem with this resource's ``endpoint_url`` and ``region_name``)."""

    base: str
    # How long replaced versions stay readable (the audit period); vacuum deletes only older files.
    retention_days: int = DEFAULT_RETENTION_DAYS

    def lake(self) -> Lake:
        return Lake(
            self.base, s3_endpoint_url=self.endpoint_url, s3_region=self.region_name, retention_days=self.retention_days
        )
