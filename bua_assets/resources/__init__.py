from bua_assets.resources.anonymise import AnonymiseResource
from bua_assets.resources.core_database import CoreDatabaseResource
from bua_assets.resources.eks import EksNodegroupResource
from bua_assets.resources.export import ExportResource
from bua_assets.resources.lake import LakeResource
from bua_assets.resources.meter_data import MeterDataResource
from bua_assets.resources.operations import AnalystCatalogResource, NotifyResource
from bua_assets.resources.rds import RdsCoreResource

__all__ = [
    "AnalystCatalogResource",
    "AnonymiseResource",
    "CoreDatabaseResource",
    "EksNodegroupResource",
    "ExportResource",
    "LakeResource",
    "MeterDataResource",
    "NotifyResource",
    "RdsCoreResource",
    "local_resources",
]


def local_resources(core_url: str, meter_data: str, home) -> dict:
    """Resources for a run on local folders under ``home`` (lake, exports, integration): the
    benchmarks and tests use it."""
    from pathlib import Path

    home = Path(home)
    return {
        "core_db": CoreDatabaseResource(url=core_url),
        "lake": LakeResource(base=str(home / "lake")),
        "meter_data": MeterDataResource(location=meter_data),
        "export": ExportResource(export_base=str(home / "exports"), integration_base=str(home / "integration")),
        "eks": EksNodegroupResource(),
        "rds": RdsCoreResource(),
        "anonymise": AnonymiseResource(),
        "catalog": AnalystCatalogResource(),
    }
