"""A private PostgreSQL server on loopback for the tests and the benchmarks (as ``devtools.mosquitto`` is).

Debian's PostgreSQL 15 binaries (``/usr/lib/postgresql/15/bin``) make a throw-away cluster in a temporary
data directory, started on a free port with Unix sockets off, trusted on 127.0.0.1 only, durability off
(a test cluster is thrown away). ``initdb`` refuses to run as root: run as root, the cluster belongs to the
``postgres`` system user (the Debian package creates it) and its programs run through ``runuser``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from devtools.mosquitto import free_port
from protocol.errors import OneStopError

BIN_DIRS = tuple(Path(f"/usr/lib/postgresql/{version}/bin") for version in (15, 16, 17))
SUPERUSER = "onestop"


class PostgresError(OneStopError, RuntimeError):
    """PostgreSQL is missing or did not start."""


def find_postgres_bin() -> Path:
    """The directory of ``initdb`` and ``pg_ctl`` (Debian keeps them out of PATH)."""
    for directory in BIN_DIRS:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).parent
    raise PostgresError("PostgreSQL is not installed: run `make setup` (apt-get install postgresql)")


class PostgresServer:
    """A private PostgreSQL cluster: ``with PostgresServer() as pg: pg.create_database("x")`` → a URL."""

    def __init__(self) -> None:
        self.bin = find_postgres_bin()
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix="onestop-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "server.log"
        self._as: list[str] = []
        self._databases = 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as, *args], check=False, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        """Make the cluster and start the server; raise ``PostgresError`` with its log when it fails."""
        if os.geteuid() == 0:
            shutil.chown(self.workdir, "postgres", "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        made = self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        if made.returncode != 0:
            raise PostgresError(f"initdb failed: {made.stderr.strip() or made.stdout.strip()}")
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        started = self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        if started.returncode != 0:
            log = self.log.read_text(errors="replace") if self.log.exists() else ""
            raise PostgresError(f"PostgreSQL did not start: {started.stderr.strip()}\n{log[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        """The URL of a database of this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a new, empty database and return its URL."""
        import psycopg

        self._databases += 1
        name = name or f"record_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its data (idempotent)."""
        if self.data.exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
