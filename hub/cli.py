"""``onestop-hub``: run the hub, or check its configuration."""

from __future__ import annotations

import argparse
import ipaddress
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from hub.config import HubSettings, load_settings, parse_host_port
from protocol.errors import ConfigError

if TYPE_CHECKING:
    import uvicorn

logger = logging.getLogger("hub")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="onestop-hub", description="One-Stop Monitor hub")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="ingest MQTT, keep the record, serve the API and dashboard")
    _add_config_option(serve)
    serve.add_argument("--broker", metavar="HOST:PORT", help="MQTT broker (overrides mqtt.host/port)")
    serve.add_argument(
        "--database", metavar="URL", help="database URL: sqlite:///var/onestop.db or postgresql://user@host:port/dbname"
    )
    serve.add_argument("--listen", metavar="HOST:PORT", help="address of the API and dashboard")
    serve.add_argument("--client-id", help="MQTT client id (one per hub worker)")
    serve.add_argument("--username", help="MQTT account (overrides mqtt.username; one per hub worker)")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])

    check = commands.add_parser("validate-config", help="check the configuration file and exit")
    _add_config_option(check)

    hasher = commands.add_parser("hash-password", help="print the hash of a password for access.users")
    hasher.add_argument("--stdin", action="store_true", help="read the password from standard input (scripts)")

    from hub.reports.cli import add_report_parser

    add_report_parser(commands)
    from hub.privacy_cli import add_privacy_parsers

    add_privacy_parsers(commands)
    from hub.rollups import add_rollups_parser

    add_rollups_parser(commands)

    provision = commands.add_parser(
        "provision", help="write the broker's password file and ACL, and a password for every desk's node"
    )
    _add_config_option(provision)
    provision.add_argument("--out", type=Path, required=True, help="folder to write (kept passwords are reused)")
    provision.add_argument(
        "--hub-account",
        action="append",
        default=[],
        help="hub worker account (repeat for several workers; default: mqtt.username or onestop-hub)",
    )
    provision.add_argument(
        "--rotate", action="append", default=[], metavar="ACCOUNT", help="give this account a new password"
    )

    bridge = commands.add_parser(
        "bridge-config", help="write each province broker's bridge to the national broker, and its ACL"
    )
    _add_config_option(bridge)
    bridge.add_argument("--out", type=Path, required=True, help="folder to write (kept passwords are reused)")
    bridge.add_argument("--national", metavar="HOST:PORT", required=True, help="the national broker's TLS listener")
    bridge.add_argument(
        "--national-ca",
        type=Path,
        default=Path("/etc/mosquitto/certs/national-ca.crt"),
        help="where the national broker's CA certificate lies on each province's broker",
    )
    bridge.add_argument(
        "--hub-account", action="append", default=[], help="national hub worker account (repeat for several)"
    )
    return parser


def _add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="hub YAML file (default: the embedded sample province)", default=None
    )


def settings_from_args(args: argparse.Namespace) -> HubSettings:
    """Load the configuration and apply the command-line overrides.

    Raises:
        ConfigError: a bad file, key or option.
    """
    settings = load_settings(args.config)
    overrides: dict[str, object] = {}
    mqtt: dict[str, object] = {}
    if getattr(args, "broker", None):
        host, port = parse_host_port(args.broker)
        mqtt.update(host=host, port=port)
    if getattr(args, "client_id", None):
        mqtt["client_id"] = args.client_id
    if getattr(args, "username", None):
        mqtt["username"] = args.username
    if mqtt:
        overrides["mqtt"] = mqtt
    if getattr(args, "database", None):
        overrides["database"] = args.database
    if getattr(args, "listen", None):
        overrides["listen"] = args.listen
    return settings.with_overrides(**overrides) if overrides else settings


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``onestop-hub``."""
    args = build_parser().parse_args(argv)
    if args.command == "hash-password":
        return _print_password_hash(args.stdin)
    if args.command == "api-key":
        from hub.privacy_cli import print_api_key

        return print_api_key(args.name, args.role)
    try:
        settings = settings_from_args(args)
    except ConfigError as error:
        print(f"onestop-hub: invalid configuration\n{error}", file=sys.stderr)
        return 2
    if args.command == "validate-config":
        print(f"configuration OK: {len(settings.sites)} units, {len(settings.targets)} target rules")
        return 0
    if args.command == "report":
        from hub.reports.cli import run_report

        return run_report(args, settings)
    if args.command in ("purge", "privacy"):
        from hub.privacy_cli import run_privacy

        return run_privacy(args, settings)
    if args.command == "rollups":
        from hub.rollups import run_rollups

        return run_rollups(args, settings.database)
    if args.command == "provision":
        from hub.provision import run_provision

        return run_provision(args.out, settings, args.hub_account, args.rotate)
    if args.command == "bridge-config":
        from hub.bridge import run_bridge_config

        return run_bridge_config(args.out, settings, args.national, args.national_ca, args.hub_account)

    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import uvicorn

    from hub.api.app import create_app

    host, port = parse_host_port(settings.listen)
    if is_loopback(host):
        logger.info("listening on %s only: the API and dashboard are reachable from this machine", settings.listen)
    scheme = "https" if settings.access.tls else "http"
    logger.info("dashboard: %s://%s:%d/  API docs: %s://%s:%d/docs", scheme, host, port, scheme, host, port)
    try:
        app = create_app(settings)
    except ConfigError as error:
        print(f"onestop-hub: refusing to start\n{error}", file=sys.stderr)
        return 2
    access = settings.access
    # systemd stops the hub with SIGTERM, a person with Ctrl-C. uvicorn catches either, shuts the application down
    # (the lifespan closes the runtime: the batch in hand committed, the broker disconnected, the record closed),
    # then raises the signal again into the handler it found: with Python's own handlers the process would then
    # die by SIGTERM (status -15, a failure to systemd) or with a KeyboardInterrupt. Installed here, they exit 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_cleanly)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=args.log_level.lower(),
        access_log=False,
        proxy_headers=False,  # X-Forwarded-For is believed only from access.trusted_proxies (hub.auth)
        ssl_certfile=str(access.tls_cert_file) if access.tls_cert_file else None,
        ssl_keyfile=str(access.tls_key_file) if access.tls_key_file else None,
        # Bounds the wait for requests in progress; the live streams are ended at once (_run_server).
        timeout_graceful_shutdown=SHUTDOWN_GRACE_S,
    )
    if not _run_server(config):
        return 3  # uvicorn's status for a failed start (it has logged why)
    logger.info("hub stopped")
    return 0


SHUTDOWN_GRACE_S = 5


def _run_server(config: uvicorn.Config) -> bool:
    """Run uvicorn until it is asked to stop; whether it had started. Its server also ends the open live streams
    when asked to stop: an open stream (a dashboard left on a wall) never ends by itself, and uvicorn waits for
    every response in progress before it shuts the application down."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            state = getattr(self.config.app, "state", None)  # the FastAPI app given to uvicorn.Config
            runtime = getattr(state, "runtime", None)
            if runtime is not None and runtime.broadcaster is not None:
                runtime.broadcaster.end_streams()
            super().handle_exit(sig, frame)

    server = Server(config)
    try:
        server.run()
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise
    return server.started


def _exit_cleanly(signum: int, frame: object) -> None:
    """A stop asked for by a signal: after uvicorn's shutdown (or before it started), exit with status 0."""
    raise SystemExit(0)


def _print_password_hash(from_stdin: bool) -> int:
    """Ask for a password (twice) or read it from standard input; print its hash for ``access.users``."""
    import getpass

    from hub.auth import hash_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("onestop-hub: the two passwords differ", file=sys.stderr)
            return 2
    if len(password) < 8:
        print("onestop-hub: a password needs at least 8 characters", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
