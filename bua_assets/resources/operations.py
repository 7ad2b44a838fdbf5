"""Resources for operating the month: the analysts' Glue catalog and the run notifications."""

from bua_assets.ops.snapshot_watch import DEFAULT_DEADLINE_HOURS
from bua_assets.resources.aws import AwsResource


class AnalystCatalogResource(AwsResource):
    """The Glue database where bua_export registers the month's lake datasets for Athena
    (BUA_GLUE_DATABASE; empty: nothing is registered, e.g. a local lake)."""

    database: str = ""

    def client(self):
        return self.boto3_client("glue")


class NotifyResource(AwsResource):
    """Where the run summaries and alerts go (BUA_NOTIFY_TOPIC_ARN, an SNS topic; empty: not sent),
    the UI's address for links to a run (BUA_UI_BASE_URL), and how many hours after local month end
    a month with no run started by its CORE snapshot raises the missing-snapshot alert
    (BUA_SNAPSHOT_DEADLINE_HOURS)."""

    topic_arn: str = ""
    ui_base_url: str = "http://localhost:3000"
    snapshot_deadline_hours: float = DEFAULT_DEADLINE_HOURS

    def client(self):
        return self.boto3_client("sns")
