from bua_assets.billing.degraded import DEFAULT_MAX_ESTIMATED_SHARE
from bua_assets.billing.export import Target
from bua_assets.ops.earl import DEFAULT_TIME_ZONE
from bua_assets.resources.aws import AwsResource


class ExportResource(AwsResource):
    """Where the month's CSVs go: the export base (``export/csv/<run_date>/``) and the integration
    base (``ADH/OUTBOUND/BUA/``), each a local directory or ``s3://bucket/prefix``.
    ``max_estimated_share`` (BUA_MAX_ESTIMATED_SHARE): a month with more of its unbilled interval
    register-days estimated than this is degraded, and not promoted without an acceptance."""

    export_base: str
    integration_base: str
    time_zone: str = (
        DEFAULT_TIME_ZONE  # BUA_TIME_ZONE: a snapshot taken on the run date, local time, is the month-end one
    )
    max_estimated_share: float = DEFAULT_MAX_ESTIMATED_SHARE

    def targets(self) -> tuple[Target, Target]:
        return (
            Target(self.export_base, s3=self.s3_client, setting="BUA_EXPORT_BASE"),
            Target(self.integration_base, s3=self.s3_client, setting="BUA_INTEGRATION_BASE"),
        )
