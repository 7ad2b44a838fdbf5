from collections.abc import Callable
from typing import Optional

from sqlalchemy.engine import URL

from bua_assets.ops import rds as rds_ops
from bua_assets.resources.aws import AwsResource


class RdsCoreResource(AwsResource):
    """The month's CORE database on RDS, restored from the EARL snapshot (mode "restore"). Mode
    "core_url" (the default, and every local run) uses the core_db resource's URL instead; "off"
    is read the same way (the value BUA_RDS_MODE took before), though a Launchpad user must quote
    it: YAML reads a bare off as false."""

    mode: str = "core_url"
    instance_class: str = "db.r6g.large"
    subnet_group: str = ""
    parameter_group: str = ""
    security_group_ids: list[str] = []
    kms_key_id: str = ""
    master_secret_id: str = ""  # Secrets Manager {"username", "password"}: set on the restored instance
    reader_secret_id: str = ""  # Secrets Manager {"username", "password"}: the user the BUA reads CORE as
    service_secret_ids: list[str] = []  # service users whose passwords are set from these secrets after a restore
    database: str = "core"
    data_host_override: Optional[str] = None  # host:port the data path really uses (tests: the local MariaDB)
    retention_days: float = 7.0  # housekeeping keeps managed instances and copies this long (BUA_RDS_RETENTION_DAYS)

    @property
    def enabled(self) -> bool:
        if self.mode not in ("core_url", "off", "restore"):
            raise ValueError(f"RDS mode {self.mode!r} is not 'core_url' or 'restore'")
        return self.mode == "restore"

    def _clients(self):
        return self.boto3_client("rds"), self.secretsmanager_client()

    def settings(self, **overrides) -> rds_ops.RestoreSettings:
        return rds_ops.RestoreSettings(
            self.instance_class,
            self.subnet_group,
            self.parameter_group,
            tuple(self.security_group_ids),
            self.kms_key_id,
            self.master_secret_id,
            **overrides,
        )

    def restore(self, snapshot: str, partition: str) -> rds_ops.Restored:
        rds, secrets = self._clients()
        restored = rds_ops.restore(rds, secrets, snapshot, partition, self.settings())
        if not restored.reused and self.service_secret_ids:
            restored.steps += rds_ops.set_service_passwords(
                lambda: self._connect_as_master(restored, secrets), secrets, self.service_secret_ids
            )
        return restored

    def _host_port(self, host: str, port: int) -> tuple[str, int]:
        if self.data_host_override:
            h, _, p = self.data_host_override.partition(":")
            return h, int(p or 3306)
        return host, port

    def _connect_as_master(self, restored: rds_ops.Restored, secrets):
        import json

        import pymysql

        creds = json.loads(secrets.get_secret_value(SecretId=self.master_secret_id)["SecretString"])
        host, port = self._host_port(restored.host, restored.port)
        return pymysql.connect(
            host=host, port=port, user=creds["username"], password=creds.get("password") or "", connect_timeout=10
        )

    def core_url(self, partition: str, snapshot: str) -> str:
        """The CORE URL for the instance restored from ``snapshot`` for the month, with the reader's
        credentials from Secrets Manager."""
        import json

        rds, secrets = self._clients()
        ident = rds_ops.instance_identifier(partition, snapshot)
        endpoint = rds.describe_db_instances(DBInstanceIdentifier=ident)["DBInstances"][0]["Endpoint"]
        host, port = self._host_port(endpoint["Address"], int(endpoint["Port"]))
        creds = json.loads(secrets.get_secret_value(SecretId=self.reader_secret_id)["SecretString"])
        url = URL.create(
            "mysql+pymysql",
            username=creds["username"],
            password=creds.get("password") or None,
            host=host,
            port=port,
            database=self.database,
        )
        return url.render_as_string(hide_password=False)  # handed to the connection only, never logged

    def teardown(self, partition: str, *, export_succeeded: bool, retention_days: float) -> str:
        from datetime import timedelta

        rds, _ = self._clients()
        return rds_ops.teardown(
            rds, partition, export_succeeded=export_succeeded, retention=timedelta(days=retention_days)
        )

    def retire_superseded(self, partition: str, keep_snapshot: str) -> list[str]:
        """The month's managed instances and copies of other snapshots deleted (an export was promoted)."""
        rds, _ = self._clients()
        return rds_ops.retire_superseded(rds, partition, keep_snapshot)

    def housekeeping(self, official: Callable[[str], str | None], *, dry_run: bool = False) -> list[str]:
        """Managed instances and copies past ``retention_days`` deleted, but those of each month's
        official snapshot (``official(month YYYY-MM)``: its latest promoted export's, None if none)."""
        from datetime import timedelta

        rds, _ = self._clients()
        months = {m.month for m in rds_ops.managed(rds)}
        keep = {month: snapshot for month in sorted(months) if (snapshot := official(month))}
        return rds_ops.housekeeping(rds, timedelta(days=self.retention_days), keep, dry_run=dry_run)
