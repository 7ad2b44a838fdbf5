from bua_assets.billing.export import Target
from bua_assets.ops.earl import DEFAULT_TIME_ZONE
from bua_assets.resources.aws import AwsResource


class ExportResource(AwsResource):
    """Where the month's CSVs go: the export base (``export/csv/<run_date>/``) and the integration
    base (``ADH/OUTBOUND/BUA/``), each a local directory or ``s3://bucket/prefix``."""

    export_base: str
    integration_base: str
    time_zone: str = (
        DEFAULT_TIME_ZONE  # BUA_TIME_ZONE: a snapshot taken on the run date, local time, is the month-end one
    )

    def targets(self) -> tuple[Target, Target]:
        return Target(self.export_base, s3=self.s3_client), Target(self.integration_base, s3=self.s3_client)
