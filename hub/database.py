"""The one parser of database URLs, for every part of the hub that opens the record.

Two engines are known:

- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: the embedded default, one file;
- ``postgresql://user:password@host:port/dbname`` (also ``postgres://``): a PostgreSQL server, for several
  hub workers. The hub's local tables that have not moved to PostgreSQL yet (audit log, alert outbox,
  sessions) stay in a local SQLite file, named by the ``local`` query parameter
  (``postgresql://…/onestop?local=/var/lib/onestop/local.db``; default ``var/onestop-local.db``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from protocol.errors import ConfigError

SQLITE_PREFIX = "sqlite:///"
DEFAULT_LOCAL_FILE = Path("var/onestop-local.db")
EXPECTED = "expected sqlite:///path/to/file.db or postgresql://user@host:port/dbname"


class Engine(StrEnum):
    """The database engines the record can live in."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed database URL."""

    engine: Engine
    url: str
    path: Path | None  # the SQLite file (SQLite only)
    dsn: str | None  # the connection string given to psycopg (PostgreSQL only)
    local_path: Path  # the SQLite file of the hub's local tables (the record itself on SQLite)


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse a database URL.

    Raises:
        ConfigError: the URL names no supported engine, or no file / no database.
    """
    if url.startswith(SQLITE_PREFIX):
        path = Path(url.removeprefix(SQLITE_PREFIX))
        if not str(path) or str(path) == ".":
            raise ConfigError(f"database URL {url!r} names no file: {EXPECTED}")
        return DatabaseUrl(Engine.SQLITE, url, path, None, path)
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/"):
            raise ConfigError(f"database URL {_masked(url)!r} names no database: {EXPECTED}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        local = [value for key, value in query if key == "local"]
        rest = [(key, value) for key, value in query if key != "local"]
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
        return DatabaseUrl(Engine.POSTGRESQL, url, None, dsn, Path(local[-1]) if local else DEFAULT_LOCAL_FILE)
    raise ConfigError(f"database URL {_masked(url)!r} is not supported: {EXPECTED}")


def _masked(url: str) -> str:
    # A URL in an error message never shows its password.
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
