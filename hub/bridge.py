"""Mosquitto bridges from the province brokers to a national broker: ``onestop-hub bridge-config``.

Read from a national hub's configuration (``provinces[]``: code, name, units), it writes:

- ``provinces/{code}/onestop-bridge.conf``: a ``conf.d`` snippet for that province's broker. The bridge
  forwards the desks' kinds of the province's own units under ``onestop/v1/`` (out, QoS 1) to the national
  broker over TLS, with the province's own account and ``cleansession false``, so that both sessions survive
  a restart; the local session is kept too (``local_cleansession false``), so that while the national
  broker is away the province broker queues what the bridge has not yet delivered, up to its
  ``max_queued_messages`` (``deploy/mosquitto.conf``: 4,000,000), saved by its ``persistence``.
  The snippet holds the account's password (Mosquitto reads it from the file only), so it is 0600.
- ``national/passwd`` and ``national/acl``: the national broker's accounts: each province's bridge may
  publish only its own units' device topics (``onestop/v1/{unit}/+/{kind}``); the national hub reads all.
- ``bridges/{account}.env`` and ``hub/{account}.env``: the passwords, kept across runs (as ``provision``).

Every option written exists in Mosquitto 2.0.11 (Debian 12; ``man mosquitto.conf``) and is run by
``tests/integration/test_national_bridge.py`` against three real brokers.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hub.config import HubSettings, ProvinceEntry
from hub.provision import (
    DEFAULT_HUB_ACCOUNT,
    DEVICE_KINDS,
    Account,
    ProvisionError,
    _read_secret,
    _write_private,
    new_password,
    render_acl,
    render_password_file,
)
from protocol.config_files import parse_host_port
from protocol.errors import ConfigError
from protocol.topics import TOPIC_ROOT

BRIDGE_PASSWORD_ENV = "ONESTOP_BRIDGE_PASSWORD"
DEFAULT_NATIONAL_CA = Path("/etc/mosquitto/certs/national-ca.crt")
CONNECTION_NAME = "onestop-national"
# How the bridge retries when the national broker is away: 5 s at first, backing off to at most 60 s.
RESTART_TIMEOUT = "5 60"


@dataclass(frozen=True, slots=True)
class BridgeResult:
    """What a run wrote."""

    provinces: tuple[ProvinceEntry, ...]
    snippets: tuple[Path, ...]
    created: tuple[str, ...]
    kept: tuple[str, ...]


def render_bridge(entry: ProvinceEntry, national: str, password: str, cafile: Path) -> str:
    """The ``conf.d`` snippet of province ``entry``'s broker: one bridge to ``national`` (HOST:PORT)."""
    host, port = parse_host_port(national)
    account = entry.bridge_account
    lines = [
        f"# Bridge of province {entry.code} {entry.name} to the national broker, written by",
        "# `onestop-hub bridge-config`; do not edit by hand, run it again. Goes to",
        "# /etc/mosquitto/conf.d/onestop-bridge.conf (root:mosquitto, 0640: it holds the bridge's password);",
        "# deploy/mosquitto.conf must say `include_dir /etc/mosquitto/conf.d` (docs/national.md).",
        f"connection {CONNECTION_NAME}",
        f"address {host}:{port}",
        "bridge_protocol_version mqttv311",
        f"remote_clientid {account}",
        f"remote_username {account}",
        f"remote_password {password}",
        f"local_clientid {account}-local",
        "# Both sessions are kept: the national broker keeps this bridge's session, and this broker queues",
        "# and persists what the bridge has not delivered while the national one is away, up to the global",
        "# max_queued_messages: 4,000,000 in deploy/mosquitto.conf (a stock Mosquitto keeps 1,000, then drops).",
        "cleansession false",
        "local_cleansession false",
        "start_type automatic",
        f"restart_timeout {RESTART_TIMEOUT}",
        "keepalive_interval 60",
        "try_private true",
        "# The bridge's state (1 connected, 0 not) on this broker only: $SYS/broker/connection/<id>/state.",
        "notifications true",
        "notifications_local_only true",
        f"bridge_cafile {cafile}",
        "bridge_tls_version tlsv1.2",
        "bridge_insecure false",
        "# What this province's desks send, at QoS 1: exactly what the national ACL lets this account publish,",
        "# never alert or config (each hub raises its own). A message the national broker refused would stay",
        "# queued and, resent after a reconnect, set Mosquitto 2.0.11's bridge in a reconnect loop (docs/national.md).",
    ]
    lines += [f"topic {TOPIC_ROOT}/{unit}/+/{kind.value} out 1" for unit in entry.units for kind in DEVICE_KINDS]
    return "\n".join(lines) + "\n"


def render_national_acl(provinces: Sequence[ProvinceEntry], hubs: Sequence[str]) -> str:
    """The national broker's ACL: the hub blocks of ``provision``, then one block per province's bridge."""
    text = render_acl([Account(name) for name in hubs])
    lines = ["", "# Each province's bridge publishes only its own units' device kinds."]
    for entry in provinces:
        lines += ["", f"# {entry.code} {entry.name}", f"user {entry.bridge_account}"]
        lines += [f"topic write {TOPIC_ROOT}/{unit}/+/{kind.value}" for unit in entry.units for kind in DEVICE_KINDS]
    return text + "\n".join(lines) + "\n"


def write_bridge_config(
    settings: HubSettings,
    out_dir: Path,
    national: str,
    cafile: Path = DEFAULT_NATIONAL_CA,
    hub_accounts: Sequence[str] = (),
) -> BridgeResult:
    """Write every province's bridge snippet and the national broker's password file and ACL.

    Raises:
        ConfigError: ``national`` is not HOST:PORT.
        ProvisionError: the configuration lists no provinces, or a kept password file is damaged.
    """
    parse_host_port(national)
    if not settings.provinces:
        raise ProvisionError("provinces: the national hub's configuration lists no provinces (docs/national.md)")
    hubs = list(dict.fromkeys(hub_accounts or [settings.mqtt.username or DEFAULT_HUB_ACCOUNT]))
    accounts = [(name, Path("hub") / f"{name}.env", settings.mqtt.password_env) for name in hubs]
    accounts += [
        (p.bridge_account, Path("bridges") / f"{p.bridge_account}.env", BRIDGE_PASSWORD_ENV) for p in settings.provinces
    ]
    passwords: dict[str, str] = {}
    created: list[str] = []
    kept: list[str] = []
    fresh: list[tuple[Path, str]] = []
    for name, secret, env in accounts:  # every kept password is read before anything is written
        existing = _read_secret(out_dir / secret, env)
        if existing is not None:
            passwords[name] = existing
            kept.append(name)
        else:
            passwords[name] = new_password()
            created.append(name)
            fresh.append((out_dir / secret, f"{env}={passwords[name]}\n"))
    for path, line in fresh:
        _write_private(path, line)
    snippets = []
    for entry in settings.provinces:
        snippet = out_dir / "provinces" / f"{entry.code:02d}" / "onestop-bridge.conf"
        _write_private(snippet, render_bridge(entry, national, passwords[entry.bridge_account], cafile))
        snippets.append(snippet)
    _write_private(out_dir / "national" / "passwd", render_password_file(passwords))
    _write_private(out_dir / "national" / "acl", render_national_acl(settings.provinces, hubs))
    return BridgeResult(tuple(settings.provinces), tuple(snippets), tuple(created), tuple(kept))


def run_bridge_config(
    out_dir: Path, settings: HubSettings, national: str, cafile: Path, hub_accounts: Sequence[str]
) -> int:
    """The ``bridge-config`` command: write, then say where each file goes."""
    try:
        result = write_bridge_config(settings, out_dir, national, cafile, hub_accounts)
    except (ProvisionError, ConfigError) as error:
        print(f"onestop-hub bridge-config: {error}", file=sys.stderr)
        return 2
    print(
        f"bridges of {len(result.provinces)} province(s) to {national} in {out_dir}: "
        f"{len(result.created)} new account(s), {len(result.kept)} kept"
    )
    print("  provinces/<code>/onestop-bridge.conf → /etc/mosquitto/conf.d/ on that province's broker, then restart it")
    print(f"  the national broker's CA certificate → {cafile} on every province's broker")
    print("  national/passwd, national/acl → /etc/mosquitto/onestop/ on the national broker, then reload it")
    print("  hub/<account>.env → /etc/onestop/hub.env on the national hub (mode 0600)")
    return 0
