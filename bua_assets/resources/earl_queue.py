from bua_assets.ops.earl import DEFAULT_TIME_ZONE
from bua_assets.resources.aws import AwsResource


class EarlQueueResource(AwsResource):
    """The SQS queue subscribed to the EARL snapshot SNS topic, and where bad messages go."""

    queue_url: str = ""  # empty: the sensor is not wired to a queue yet and skips
    dead_letter_queue_url: str = ""  # empty: malformed messages stay in the queue, reported every tick
    # The retailer's IANA zone (BUA_TIME_ZONE): a snapshot's accrual month comes from its local date.
    time_zone: str = DEFAULT_TIME_ZONE

    # SNS endpoint (BUA_SNS_ENDPOINT_URL) for confirming the queue's subscription to the EARL topic.
    sns_endpoint_url: str = ""

    def client(self):
        return self.boto3_client("sqs")

    def sns_client(self, topic_arn: str):
        """An SNS client in the topic's own region (from its ARN): ConfirmSubscription must go there."""
        return self.boto3_client("sns", self.sns_endpoint_url or None, region_name=topic_arn.split(":")[3])
