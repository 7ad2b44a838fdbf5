from typing import Optional

import dagster as dg

from bua_assets.billing.export import Target


class ExportResource(dg.ConfigurableResource):
    """Where the month's CSVs go: the export base (``export/csv/<run_date>/``) and the integration
    base (``ADH/OUTBOUND/BUA/``), each a local directory or ``s3://bucket/prefix``."""

    export_base: str
    integration_base: str
    s3_endpoint_url: Optional[str] = None

    def targets(self) -> tuple[Target, Target]:
        return Target(self.export_base, self.s3_endpoint_url), Target(self.integration_base, self.s3_endpoint_url)
