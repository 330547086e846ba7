"""A national hub over two provinces, for the bridge and the national-map tests: Bắc Ninh (24, the sample
province of the embedded configuration) and Quảng Ninh (22, two communes)."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from hub.config import HubSettings, load_settings
from protocol.messages import Envelope, TicketEvent, TicketMessage

DAY = "2026-11-20"

QN_SITES = [
    {
        "id": "qn-ha-long",
        "name": "Bộ phận Một cửa phường Hạ Long",
        "level": "commune",
        "lat": 20.95,
        "lon": 107.08,
        "desks": [{"id": "q01", "name": "Quầy 1", "services": ["dat-dai"]}],
    },
    {
        "id": "qn-cam-pha",
        "name": "Bộ phận Một cửa phường Cẩm Phả",
        "level": "commune",
        "lat": 21.01,
        "lon": 107.29,
        "desks": [{"id": "q01", "name": "Quầy 1", "services": ["dat-dai"]}],
    },
]


def settings_of_provinces() -> tuple[HubSettings, HubSettings, HubSettings]:
    """The Bắc Ninh hub (the sample province), the Quảng Ninh hub, and the national hub over both."""
    bac_ninh = load_settings()
    quang_ninh = bac_ninh.with_overrides(province={"code": 22, "name": "Quảng Ninh"}, sites=QN_SITES)
    national = bac_ninh.with_overrides(
        province={"code": None, "name": "Việt Nam"},
        sites=[s.model_dump(mode="json") for s in bac_ninh.sites] + QN_SITES,
        provinces=[
            {"code": 24, "name": "Bắc Ninh", "units": [s.id for s in bac_ninh.sites]},
            {"code": 22, "name": "Quảng Ninh", "units": [s["id"] for s in QN_SITES]},
        ],
        mqtt={"username": "onestop-hub"},
    )
    return bac_ninh, quang_ninh, national


def visit(site: str, ticket: str, issued: str, called: str, end: str, end_event: TicketEvent) -> list[Envelope]:
    """One ticket at desk q01 on ``DAY`` (local times HH:MM:SS): issued, called, then finished or no-show."""
    steps = [(TicketEvent.ISSUED, issued), (TicketEvent.CALLED, called), (end_event, end)]
    return [
        TicketMessage(
            id=f"{site}-{ticket}-{event.value}",
            ts=datetime.fromisoformat(f"{DAY}T{clock}+07:00"),
            site=site,
            desk="q01",
            event=event,
            ticket=ticket,
            staff=None if event is TicketEvent.ISSUED else "cb-q01",
            service="dat-dai",
        )
        for event, clock in steps
    ]


def national_broker_config(
    workdir: Path, hub_port: int, bridge_port: int, accounts: Path, certificates: tuple[Path, Path, Path]
) -> str:
    """The national broker: plain loopback for its hub, TLS for the bridges (``certificates``: CA, server
    certificate and key), the accounts ``onestop-hub bridge-config`` wrote in ``accounts``."""
    ca, cert, key = certificates
    lines = [
        "allow_anonymous false",
        f"password_file {accounts / 'passwd'}",
        f"acl_file {accounts / 'acl'}",
        "persistence true",
        f"persistence_location {workdir}/",
        "autosave_interval 1",
        "max_queued_messages 0",
        f"log_dest file {workdir / 'mosquitto.log'}",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        f"listener {hub_port} 127.0.0.1",
        "use_username_as_clientid true",
        f"listener {bridge_port} 127.0.0.1",
        "use_username_as_clientid true",
        f"cafile {ca}",
        f"certfile {cert}",
        f"keyfile {key}",
        "tls_version tlsv1.2",
    ]
    if os.geteuid() == 0:
        lines.append("user root")
    return "\n".join(lines) + "\n"
