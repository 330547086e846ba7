"""A private Mosquitto broker on loopback for the demo, the tests and the benchmarks.

Each broker gets a free port, its own configuration and data directory, and can be stopped and started
again on the same port (fault injection). Nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from protocol.errors import OneStopError


class BrokerError(OneStopError, RuntimeError):
    """Mosquitto is missing or did not start."""


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_mosquitto() -> str:
    """Path of the mosquitto binary (Debian installs it in /usr/sbin)."""
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if Path(p).exists()), None
    )
    if found is None:
        raise BrokerError("mosquitto is not installed: run `make setup` (apt-get install mosquitto)")
    return found


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for 127.0.0.1 (openssl), for TLS tests: (ca, cert, key)."""
    ca_key, ca = directory / "ca.key", directory / "ca.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=onestop-test-ca"]
        + ["-keyout", str(ca_key), "-out", str(ca)],
        check=True,
        capture_output=True,
    )
    names = directory / "san.cnf"
    names.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    cert, key = _issue(directory, "server", "127.0.0.1", names)
    return ca, cert, key


def make_client_certificate(directory: Path, common_name: str) -> tuple[Path, Path]:
    """A client certificate and key for ``CN=common_name``, signed by the CA that ``make_certificates`` made in
    ``directory``: (cert, key)."""
    return _issue(directory, f"client-{common_name}", common_name, None)


def _issue(directory: Path, name: str, common_name: str, extensions: Path | None) -> tuple[Path, Path]:
    """A key and a certificate for ``CN=common_name`` signed by ``directory``'s throw-away CA."""
    key, request, cert = (directory / f"{name}.{ext}" for ext in ("key", "csr", "crt"))
    subprocess.run(
        ["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={common_name}"]
        + ["-keyout", str(key), "-out", str(request)],
        check=True,
        capture_output=True,
    )
    signing = ["openssl", "x509", "-req", "-in", str(request), "-CA", str(directory / "ca.crt")]
    signing += ["-CAkey", str(directory / "ca.key"), "-CAcreateserial", "-days", "2", "-out", str(cert)]
    subprocess.run(signing + (["-extfile", str(extensions)] if extensions else []), check=True, capture_output=True)
    return cert, key


SHIPPED_CONFIG = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto.conf"


def shipped_config(
    workdir: Path, plain_port: int, tls_port: int, accounts: Path, certificates: tuple[Path, Path, Path]
) -> str:
    """``deploy/mosquitto.conf`` as shipped, with its files moved into ``workdir`` and ``accounts`` (the
    ``broker/`` folder of ``onestop-hub provision``) and both listeners on loopback ports, for tests and benches.

    Raises:
        BrokerError: the shipped file lacks a line this rewrites (so a test would not run what ships).
    """
    ca, cert, key = certificates
    moved = {
        "password_file": f"password_file {accounts / 'passwd'}",
        "acl_file": f"acl_file {accounts / 'acl'}",
        "persistence_location": f"persistence_location {workdir}/",
        "pid_file": f"pid_file {workdir / 'mosquitto.pid'}",
        "log_dest": f"log_dest file {workdir / 'mosquitto.log'}",
        "listener 1883": f"listener {plain_port} 127.0.0.1",
        "listener 8883": f"listener {tls_port} 127.0.0.1",
        "cafile": f"cafile {ca}",
        "certfile": f"certfile {cert}",
        "keyfile": f"keyfile {key}",
    }
    found: set[str] = set()
    lines = []
    for line in SHIPPED_CONFIG.read_text().splitlines():
        option = next((k for k in moved if line == k or line.startswith(k + " ")), None)
        if option is not None:
            found.add(option)
            line = moved[option]
        lines.append(line)
    if found != set(moved):
        raise BrokerError(f"{SHIPPED_CONFIG} lacks {', '.join(sorted(set(moved) - found))}")
    if os.geteuid() == 0:
        lines.append("user root")  # as in MosquittoBroker: root would drop to a user who cannot read tmp
    return "\n".join(lines) + "\n"


class MosquittoBroker:
    """A Mosquitto process on 127.0.0.1:``port`` with persistence, unlimited queues and a wide inflight window."""

    def __init__(
        self,
        port: int | None = None,
        workdir: Path | None = None,
        persistence: bool = True,
        users: dict[str, str] | None = None,
        tls: bool = False,
        config: str | None = None,
        extra: str = "",
        stock_limits: bool = False,
    ) -> None:
        """Configure (not start) a broker; ``users`` turns anonymous access off, ``tls`` serves TLS only,
        with a CA and a server certificate made here (``ca_file`` for the clients). ``config`` is a whole
        configuration used as given instead (it must listen on 127.0.0.1:``port``); the other options are
        then ignored. ``extra`` is appended to the generated configuration (e.g. a bridge's snippet).
        ``stock_limits`` keeps Mosquitto's own queue limits (at most 1,000 messages queued
        per session, 20 in flight) as a new user's broker has them, instead of unlimited queues."""
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self._own_dir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="onestop-mosquitto-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.workdir / "mosquitto.conf"
        self.log_path = self.workdir / "mosquitto.log"
        self.ca_file: Path | None = None
        lines = [
            f"listener {self.port} 127.0.0.1",
            f"allow_anonymous {'false' if users else 'true'}",
            f"persistence {'true' if persistence else 'false'}",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            *([] if stock_limits else ["max_queued_messages 0", "max_inflight_messages 1000"]),
            "max_keepalive 600",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
        ]
        if users:
            passwords = self.workdir / "passwords"
            passwords.touch()
            for name, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), name, password], check=True)
            lines.append(f"password_file {passwords}")
        if tls:
            self.ca_file, cert, key = make_certificates(self.workdir)
            lines += [f"cafile {self.ca_file}", f"certfile {cert}", f"keyfile {key}"]
        if os.geteuid() == 0:
            # Started as root, Mosquitto would drop to the 'mosquitto' user, who cannot reach a private
            # temporary directory: it could then neither save its sessions nor read the password file, and a
            # restart would silently lose every queued message. This broker only listens on loopback.
            lines.append("user root")
        self.config_path.write_text(config if config is not None else "\n".join(lines) + "\n" + extra)
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        """``HOST:PORT`` of the broker."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> MosquittoBroker:
        """Start the broker and wait until it accepts connections."""
        if self._process is not None and self._process.poll() is None:
            return self
        self._process = subprocess.Popen(
            [find_mosquitto(), "-c", str(self.config_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = self._process.stderr.read().decode() if self._process.stderr else ""
                raise BrokerError(f"mosquitto exited at start: {error or self.log_path.read_text()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not accept connections on {self.address} within {timeout} s")

    def stop(self) -> None:
        """Stop the broker (it saves its persistent state first); idempotent."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stderr:
            self._process.stderr.close()
        self._process = None

    def close(self) -> None:
        """Stop and remove the working directory (idempotent)."""
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
