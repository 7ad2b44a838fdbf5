"""Resources for operating the month: the analysts' Glue catalog and the run notifications."""

from typing import Optional

import dagster as dg


class AnalystCatalogResource(dg.ConfigurableResource):
    """The Glue database where bua_export registers the month's lake datasets for Athena
    (BUA_GLUE_DATABASE; empty: nothing is registered, e.g. a local lake)."""

    database: str = ""
    region_name: str = "ap-southeast-2"
    endpoint_url: Optional[str] = None  # e.g. a VPC endpoint, or a moto server in tests

    def client(self):
        import boto3

        return boto3.client("glue", region_name=self.region_name, endpoint_url=self.endpoint_url)


class NotifyResource(dg.ConfigurableResource):
    """Where the run summaries go (BUA_NOTIFY_TOPIC_ARN, an SNS topic; empty: not sent) and the UI's
    address for links to a run (BUA_UI_BASE_URL)."""

    topic_arn: str = ""
    ui_base_url: str = "http://localhost:3000"
    region_name: str = "ap-southeast-2"
    endpoint_url: Optional[str] = None

    def client(self):
        import boto3

        return boto3.client("sns", region_name=self.region_name, endpoint_url=self.endpoint_url)
