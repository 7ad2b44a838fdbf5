"""The AWS connection every AWS-facing resource shares: dagster-aws's boto3 configuration
(``region_name``, ``endpoint_url``, ``max_attempts``, ``profile_name``, credentials) and its client
constructors, so S3, Secrets Manager, SQS, SNS, Glue, EKS and RDS are all reached one way.

``region_name`` unset (the default) leaves the region to boto3's own chain (AWS_REGION, the
profile, the instance's metadata): nothing here assumes a region. ``endpoint_url`` points a
resource at a VPC endpoint or, in tests, a moto server.
"""

from __future__ import annotations

from typing import Any

from dagster_aws.s3.utils import construct_s3_client
from dagster_aws.secretsmanager.secrets import construct_secretsmanager_client
from dagster_aws.utils import ResourceWithBoto3Configuration, construct_boto_client_retry_config


class AwsResource(ResourceWithBoto3Configuration):
    """Base for the project's AWS resources (see the module docstring)."""

    def _connection(self) -> dict[str, Any]:
        return {
            "region_name": self.region_name,
            "endpoint_url": self.endpoint_url,
            "use_ssl": self.use_ssl,
            "verify": self.verify,
            "aws_access_key_id": self.aws_access_key_id,
            "aws_secret_access_key": self.aws_secret_access_key,
            "aws_session_token": self.aws_session_token,
        }

    def boto3_client(self, service: str, endpoint_url: str | None = None, region_name: str | None = None):
        """A boto3 client for ``service`` with this resource's connection and dagster-aws's retries;
        ``endpoint_url`` / ``region_name`` for a service reached at its own endpoint or region
        (else the resource's)."""
        import boto3

        connection = self._connection() | ({"endpoint_url": endpoint_url} if endpoint_url else {})
        connection |= {"region_name": region_name} if region_name else {}
        return boto3.session.Session(profile_name=self.profile_name).client(
            service, config=construct_boto_client_retry_config(self.max_attempts), **connection
        )

    def s3_client(self):
        return construct_s3_client(max_attempts=self.max_attempts, profile_name=self.profile_name, **self._connection())

    def secretsmanager_client(self):
        return construct_secretsmanager_client(
            max_attempts=self.max_attempts, profile_name=self.profile_name, **self._connection()
        )
