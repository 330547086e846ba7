"""``onestop-edge``: run a desk node, or check its configuration."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
import threading
from pathlib import Path

from edge.config import EdgeSettings, load_edge_settings
from protocol.errors import ConfigError

logger = logging.getLogger("edge")


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="onestop-edge", description="One-Stop Monitor desk agent")
    parser.add_argument("--config", type=Path, required=True, help="the node's YAML file")
    parser.add_argument("--validate-config", action="store_true", help="check the configuration and exit")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``onestop-edge``."""
    args = build_parser().parse_args(argv)
    try:
        settings: EdgeSettings = load_edge_settings(args.config)
    except ConfigError as error:
        print(f"onestop-edge: invalid configuration\n{error}", file=sys.stderr)
        return 2
    if args.validate_config:
        print(
            f"configuration OK: desk {settings.site}/{settings.desk}, broker {settings.mqtt.host}:{settings.mqtt.port}"
        )
        return 0
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from edge.agent import DeskAgent

    agent = DeskAgent(settings)
    # systemd stops the service with SIGTERM, a person with Ctrl-C. Either one only asks to stop: the agent then
    # closes (clean MQTT disconnect, spool closed, pins released). uvicorn restores these handlers after its
    # graceful shutdown and re-raises the signal into them, so it no longer kills the process before close().
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    agent.start()
    try:
        api = settings.tickets.api
        touch = settings.kiosk.touch if settings.kiosk is not None else None
        if api is not None or touch is not None:
            import uvicorn

            from protocol.config_files import parse_host_port

            if api is not None:
                host, port = parse_host_port(api.listen)
                if api.token is None and host not in ("127.0.0.1", "localhost", "::1"):
                    print(
                        f"onestop-edge: tickets.api listens on {api.listen} but {api.token_env} is not set; "
                        "refusing to open the ticket endpoint to the network without a token",
                        file=sys.stderr,
                    )
                    return 2
            # One server on each address: the ticket endpoint's and the kiosk page's (loopback). On a shared
            # port the first address serves both, and the kiosk's routes still answer only to loopback.
            by_port: dict[int, tuple[str, int]] = {}
            for listen in (a.listen for a in (api, touch) if a is not None):
                by_port.setdefault(parse_host_port(listen)[1], parse_host_port(listen))
            sockets = [_listening_socket(host, port) for host, port in by_port.values()]
            uvicorn.Server(uvicorn.Config(agent.web_app(), log_level="warning")).run(sockets=sockets)
        else:
            stop.wait()
    finally:
        agent.close()
        logger.info("desk agent stopped")
    return 0


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


if __name__ == "__main__":
    sys.exit(main())
