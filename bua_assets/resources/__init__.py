from bua_assets.resources.core_database import CoreDatabaseResource
from bua_assets.resources.lake import LakeResource
from bua_assets.resources.meter_data import MeterDataResource

__all__ = ["CoreDatabaseResource", "LakeResource", "MeterDataResource"]
