import dagster as dg

from bua_assets.core.database import CoreDatabase


class CoreDatabaseResource(dg.ConfigurableResource):
    """The CORE billing database: the embedded SQLite file, or a MySQL snapshot (RDS).

    Production: ``url=EnvVar("BUA_CORE_URL")`` with ``mysql+pymysql://user:password@host:3306/core``;
    the password lives only in the environment / Secrets Manager and is never logged.
    """

    url: str

    def database(self) -> CoreDatabase:
        return CoreDatabase(self.url)
