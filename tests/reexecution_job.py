"""The monthly job on local folders named by environment variables, importable so Dagster can
reconstruct it for re-execution (tests/test_reexecution.py). The paths are EnvVars, read when
each run starts, because the reconstructed definition is cached for the process."""

import dagster as dg

from bua_assets.definitions import ALL_ASSETS
from bua_assets.jobs import monthly_bua_job
from bua_assets.resources import (
    AnalystCatalogResource,
    AnonymiseResource,
    CoreDatabaseResource,
    EksNodegroupResource,
    ExportResource,
    LakeResource,
    MeterDataResource,
    RdsCoreResource,
)


def monthly_job() -> dg.JobDefinition:
    resources = {
        "core_db": CoreDatabaseResource(url=dg.EnvVar("BUA_TEST_CORE_URL")),
        "lake": LakeResource(base=dg.EnvVar("BUA_TEST_LAKE")),
        "meter_data": MeterDataResource(location=dg.EnvVar("BUA_TEST_NEM12")),
        "export": ExportResource(
            export_base=dg.EnvVar("BUA_TEST_EXPORTS"), integration_base=dg.EnvVar("BUA_TEST_INTEGRATION")
        ),
        "eks": EksNodegroupResource(),
        "rds": RdsCoreResource(),
        "anonymise": AnonymiseResource(),
        "catalog": AnalystCatalogResource(),
    }
    return dg.Definitions(assets=ALL_ASSETS, jobs=[monthly_bua_job], resources=resources).resolve_job_def("monthly_bua")
