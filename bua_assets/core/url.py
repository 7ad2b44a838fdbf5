"""Where the CORE database is: ``sqlite:///path/to/core.db`` or
``mysql+pymysql://user:password@host:3306/database``, parsed once into a :class:`CoreUrl`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, unquote, urlparse

from bua_assets.core.schema import check_identifier


@dataclass(frozen=True)
class CoreUrl:
    engine: str  # sqlite | mysql
    path: str | None = None
    host: str = "127.0.0.1"
    port: int = 3306
    user: str = "root"
    password: str = ""
    database: str = ""

    @property
    def sqlite_path(self) -> str:
        """The database file of a sqlite URL."""
        if self.path is None:
            raise ValueError(f"a {self.engine} URL has no database file")
        return self.path

    @classmethod
    def parse(cls, url: str) -> CoreUrl:
        u = urlparse(url)
        if u.scheme == "sqlite":
            path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else u.path
            if not path:
                raise ValueError("sqlite URL needs a path: sqlite:///path/to/core.db")
            return cls("sqlite", path=path)
        if u.scheme in ("mysql", "mysql+pymysql", "mariadb"):
            database = u.path.lstrip("/")
            if not database:
                raise ValueError("MySQL URL needs a database: mysql+pymysql://user:pw@host:3306/database")
            return cls(
                "mysql",
                host=u.hostname or "127.0.0.1",
                port=u.port or 3306,
                user=unquote(u.username or "root"),
                password=unquote(u.password or ""),
                database=check_identifier(database),
            )
        raise ValueError(f"unsupported CORE database URL scheme {u.scheme!r} (use sqlite:/// or mysql+pymysql://)")

    def redacted(self) -> str:
        """For logs and metadata: never the password."""
        if self.engine == "sqlite":
            return f"sqlite:///{self.path}"
        return f"mysql+pymysql://{self.user}:***@{self.host}:{self.port}/{self.database}"

    def connectorx(self) -> str:
        """The URL connectorx reads MySQL with (user and password percent-encoded)."""
        return f"mysql://{quote(self.user, safe='')}:{quote(self.password, safe='')}@{self.host}:{self.port}/{self.database}"
