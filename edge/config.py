"""The desk agent's configuration: one YAML file per node, validated at start-up.

Every key is described; an unknown or bad key stops the agent with its path, the value found and what
was expected. Secrets (MQTT password, the ticket API token) come only from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from edge.camera.pipeline import CameraSettings
from edge.kiosk.settings import KioskSettings
from protocol.config_files import read_yaml_mapping, validate_config
from protocol.messages import STAFF_PATTERN
from protocol.topics import IDENTIFIER_PATTERN, UNIT_WIDE_DESK


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EdgeMqttSettings(_Strict):
    """How the node reaches the hub's broker."""

    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port (8883 is usual with TLS).")
    username: str | None = Field(None, description="This device's own MQTT account.")
    password_env: str = Field(
        "ONESTOP_EDGE_MQTT_PASSWORD", description="Environment variable holding this device's MQTT password."
    )
    tls: bool = Field(False, description="Connect with TLS.")
    tls_ca_file: Path | None = Field(None, description="CA certificate; the system's CAs if absent.")
    tls_cert_file: Path | None = Field(
        None, description="This device's client certificate (CN = its account), when the broker asks for one."
    )
    tls_key_file: Path | None = Field(None, description="Private key of tls_cert_file.")
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keep-alive interval, seconds.")
    reconnect_min_s: float = Field(1, gt=0, description="First reconnect delay; doubles up to the maximum.")
    reconnect_max_s: float = Field(120, gt=0, description="Longest reconnect delay, seconds.")

    @model_validator(mode="after")
    def _certificate_with_its_key(self) -> EdgeMqttSettings:
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            raise ValueError("give both tls_cert_file and tls_key_file, or neither")
        if self.tls_cert_file is not None and not self.tls:
            raise ValueError("tls_cert_file needs tls: true")
        return self

    @property
    def password(self) -> str | None:
        """The password from the environment (never from the file)."""
        return os.environ.get(self.password_env) or None


class SpoolSettings(_Strict):
    """The outbox: a local SQLite spool every message passes through."""

    path: Path = Field(Path("/var/lib/onestop-edge/outbox.db"), description="SQLite file of the spool.")
    max_messages: int = Field(
        200_000,
        ge=100,
        description="Bound on spooled messages: beyond it the oldest queue samples and heartbeats are dropped; "
        "ticket events, ratings, comments and emotions are never dropped.",
    )
    in_flight: int = Field(100, ge=1, le=1000, description="Messages sent and awaiting the broker's acknowledgement.")


class TicketButtonSettings(_Strict):
    """Staff buttons for desks without a queue-number system: the agent numbers the tickets."""

    call_next_pin: str = Field(description="GPIO of the 'call next' button (e.g. GPIO17 or BOARD11).")
    finish_pin: str = Field(description="GPIO of the 'finish' button.")
    bounce_s: float = Field(0.05, ge=0, description="Debounce time, seconds.")
    prefix: str = Field("", pattern=r"^[A-Za-z0-9]{0,4}$", description="Letters before the number, e.g. A.")


class TicketApiSettings(_Strict):
    """HTTP endpoint an existing queue-number system calls with ticket events."""

    listen: str = Field("127.0.0.1:8081", description="HOST:PORT to listen on (0.0.0.0:8081 for the LAN).")
    token_env: str = Field(
        "ONESTOP_EDGE_TICKET_TOKEN", description="Environment variable with the bearer token callers must send."
    )

    @property
    def token(self) -> str | None:
        """The bearer token from the environment."""
        return os.environ.get(self.token_env) or None


class TicketSettings(_Strict):
    """Where ticket events come from."""

    buttons: TicketButtonSettings | None = Field(None, description="Staff buttons on GPIO, if fitted.")
    api: TicketApiSettings | None = Field(None, description="HTTP endpoint for a queue-number system, if used.")


class BeamSettings(_Strict):
    """Two beam-break sensors: one at the queue's entrance, one at its exit (the desk)."""

    entrance_pin: str = Field(description="GPIO of the entrance beam (active when the beam is broken).")
    exit_pin: str = Field(description="GPIO of the exit beam.")
    active_high: bool = Field(False, description="Whether a broken beam reads high (most modules pull low).")
    bounce_s: float = Field(0.2, ge=0, description="Ignore re-triggers within this time (one body, one count).")


class DistanceSettings(_Strict):
    """An ultrasonic distance sensor at the queue's entrance end, looking along the line towards the desk."""

    echo_pin: str = Field(description="GPIO of the echo line.")
    trigger_pin: str = Field(description="GPIO of the trigger line.")
    line_length_m: float = Field(6.0, gt=0, le=20, description="Length of the queue area seen by the sensor.")
    spacing_m: float = Field(0.7, gt=0, description="Space one waiting person takes in the line.")


class PresenceSettings(_Strict):
    """A PIR sensor on the staff side: whether an officer is at the desk (motion only, no image)."""

    pin: str = Field(description="GPIO of the PIR sensor.")
    hold_s: float = Field(120, gt=0, description="Counted present this long after the last motion.")


class SensorSettings(_Strict):
    """Queue and presence sensors fitted at the desk (all optional)."""

    beams: BeamSettings | None = Field(None, description="Entrance/exit beam-break counters.")
    distance: DistanceSettings | None = Field(None, description="Ultrasonic distance sensor along the line.")
    presence: PresenceSettings | None = Field(None, description="PIR presence sensor.")
    empty_after_s: float = Field(
        20, gt=0, description="The line counts as seen empty after this long with the distance sensor clear."
    )


class EdgeSettings(_Strict):
    """One desk node."""

    site: str = Field(pattern=IDENTIFIER_PATTERN, description="Unit id, as the hub knows it (e.g. bn-hcc).")
    desk: str = Field(pattern=IDENTIFIER_PATTERN, description="Desk id within the unit (e.g. q01).")
    staff: str | None = Field(
        None, pattern=STAFF_PATTERN, description="Officer id on duty, used for tickets the agent numbers itself."
    )
    service: str | None = Field(None, description="Default service field code of this desk (e.g. dat-dai).")
    mqtt: EdgeMqttSettings = Field(default_factory=EdgeMqttSettings, description="Broker connection.")
    spool: SpoolSettings = Field(default_factory=SpoolSettings, description="The outbox spool.")
    tickets: TicketSettings = Field(default_factory=TicketSettings, description="Ticket sources.")
    sensors: SensorSettings = Field(default_factory=SensorSettings, description="Queue and presence sensors.")
    camera: CameraSettings | None = Field(None, description="The desk camera, if fitted.")
    kiosk: KioskSettings | None = Field(
        None, description="The citizen's side: rating buttons and LEDs, the scale, the touchscreen page."
    )
    queue_interval_s: float = Field(10, ge=1, description="Queue message at least this often (and on change).")
    heartbeat_s: float = Field(30, ge=5, description="Heartbeat interval, seconds.")

    @field_validator("desk")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == UNIT_WIDE_DESK:
            raise ValueError(f"desk id {UNIT_WIDE_DESK!r} is reserved for unit-wide alerts")
        return value

    @model_validator(mode="after")
    def _staff_for_own_tickets(self) -> EdgeSettings:
        if self.tickets.buttons is not None and self.staff is None:
            raise ValueError("staff (the officer id) is required when tickets.buttons are fitted")
        return self


def load_edge_settings(path: Path) -> EdgeSettings:
    """Load and validate a node's YAML file.

    Raises:
        ConfigError: unreadable file or invalid keys; the text names each key.
    """
    return validate_config(EdgeSettings, read_yaml_mapping(path), str(path))
