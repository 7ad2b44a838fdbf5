from typing import Optional

import dagster as dg

from bua_assets.ops.earl import DEFAULT_TIME_ZONE


class EarlQueueResource(dg.ConfigurableResource):
    """The SQS queue subscribed to the EARL snapshot SNS topic, and where bad messages go."""

    queue_url: str = ""  # empty: the sensor is not wired to a queue yet and skips
    dead_letter_queue_url: str = ""  # empty: malformed messages stay in the queue, reported every tick
    region_name: str = "ap-southeast-2"
    endpoint_url: Optional[str] = None  # e.g. a VPC endpoint, or a moto server in tests
    # The retailer's IANA zone (BUA_TIME_ZONE): a snapshot's accrual month comes from its local date.
    time_zone: str = DEFAULT_TIME_ZONE

    def client(self):
        import boto3

        return boto3.client("sqs", region_name=self.region_name, endpoint_url=self.endpoint_url)
