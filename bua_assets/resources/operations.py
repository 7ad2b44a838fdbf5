"""Resources for operating the month: the analysts' Glue catalog and the run notifications."""

from bua_assets.resources.aws import AwsResource


class AnalystCatalogResource(AwsResource):
    """The Glue database where bua_export registers the month's lake datasets for Athena
    (BUA_GLUE_DATABASE; empty: nothing is registered, e.g. a local lake)."""

    database: str = ""

    def client(self):
        return self.boto3_client("glue")


class NotifyResource(AwsResource):
    """Where the run summaries go (BUA_NOTIFY_TOPIC_ARN, an SNS topic; empty: not sent) and the UI's
    address for links to a run (BUA_UI_BASE_URL)."""

    topic_arn: str = ""
    ui_base_url: str = "http://localhost:3000"

    def client(self):
        return self.boto3_client("sns")
