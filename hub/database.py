"""The one parser of database URLs, for every part of the hub that opens the record.

Two engines are known:

- ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``: the embedded default, one file;
- ``postgresql://user:password@host:port/dbname`` (also ``postgres://``): a PostgreSQL server, for several
  hub workers; every table is in it. The ``local`` query parameter of earlier development builds (a worker's
  own SQLite file for the audit log, alert outbox and sessions) is accepted and ignored, with a warning.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from protocol.errors import ConfigError

logger = logging.getLogger(__name__)

_WARNED: set[str] = set()
SQLITE_PREFIX = "sqlite:///"
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


def parse_database_url(url: str) -> DatabaseUrl:
    """Parse a database URL.

    Raises:
        ConfigError: the URL names no supported engine, or no file / no database.
    """
    if url.startswith(SQLITE_PREFIX):
        path = Path(url.removeprefix(SQLITE_PREFIX))
        if not str(path) or str(path) == ".":
            raise ConfigError(f"database URL {url!r} names no file: {EXPECTED}")
        return DatabaseUrl(Engine.SQLITE, url, path, None)
    parts = urlsplit(url)
    if parts.scheme in ("postgresql", "postgres"):
        if not parts.path.strip("/"):
            raise ConfigError(f"database URL {_masked(url)!r} names no database: {EXPECTED}")
        query = parse_qsl(parts.query, keep_blank_values=True)
        if any(key == "local" for key, _ in query) and url not in _WARNED:
            _WARNED.add(url)  # once per URL, not at each of the parts that parse it
            logger.warning(
                "database URL %r: the key 'local' is ignored: the audit log, alert outbox, sessions and "
                "evaluation entries are in the PostgreSQL record now (docs/scaling.md)",
                _masked(url),
            )
        rest = [(key, value) for key, value in query if key != "local"]
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(rest), ""))
        return DatabaseUrl(Engine.POSTGRESQL, url, None, dsn)
    raise ConfigError(f"database URL {_masked(url)!r} is not supported: {EXPECTED}")


def _masked(url: str) -> str:
    # A URL in an error message never shows its password.
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
