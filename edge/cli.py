"""``onestop-edge``: run a desk node, or check its configuration."""

from __future__ import annotations

import argparse
import logging
import signal
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
    agent.start()
    try:
        api = settings.tickets.api
        if api is not None:
            import uvicorn

            from protocol.config_files import parse_host_port

            host, port = parse_host_port(api.listen)
            if api.token is None and host not in ("127.0.0.1", "localhost", "::1"):
                print(
                    f"onestop-edge: tickets.api listens on {api.listen} but {api.token_env} is not set; "
                    "refusing to open the ticket endpoint to the network without a token",
                    file=sys.stderr,
                )
                return 2
            uvicorn.run(agent.web_app(), host=host, port=port, log_level="warning")
        else:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            signal.signal(signal.SIGINT, lambda *_: stop.set())
            stop.wait()
    finally:
        agent.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
