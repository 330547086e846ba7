"""The hub's configuration: one YAML file, validated at start-up, with the sample province embedded.

Targets are data: a dated schedule per unit level. Secrets (the MQTT password) come only from the
environment.
"""

from __future__ import annotations

import math
import os
import re
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.auth import AccessSettings
from hub.dashboard_settings import MapSettings
from hub.database import parse_database_url
from hub.hall_settings import HallSettings
from hub.notify.settings import NotifySettings
from hub.privacy_settings import PrivacySettings, RetentionSettings
from hub.reports.settings import EvaluationSettings, StaffingSettings
from hub.sinks.settings import InfluxSettings
from protocol.config_files import parse_host_port, read_yaml_mapping, validate_config
from protocol.resources import package_dir
from protocol.topics import IDENTIFIER_PATTERN, UNIT_WIDE_DESK

DEFAULT_CONFIG_PATH = package_dir("hub", "default_config.yaml")
DEFAULT_DATABASE_URL = "sqlite:///var/onestop.db"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitLevel(StrEnum):
    """Administrative level of a one-stop unit."""

    PROVINCE = "province"
    DISTRICT = "district"
    COMMUNE = "commune"


class TargetMetric(StrEnum):
    """What a target limits."""

    WAIT_PER_VISIT = "wait_per_visit"
    WAIT_PER_TRANSACTION = "wait_per_transaction"
    HANDLING_PER_DOSSIER = "handling_per_dossier"


WAIT_METRICS = (TargetMetric.WAIT_PER_VISIT, TargetMetric.WAIT_PER_TRANSACTION)


class _Dated(_Strict):
    valid_from: date | None = Field(None, description="First day in force (inclusive); open if absent.")
    valid_until: date | None = Field(None, description="Last day in force (inclusive); open if absent.")

    @model_validator(mode="after")
    def _ordered(self) -> _Dated:
        if self.valid_from and self.valid_until and self.valid_from > self.valid_until:
            raise ValueError(f"valid_from {self.valid_from} is after valid_until {self.valid_until}")
        return self

    def in_force_on(self, day: date) -> bool:
        """Whether this entry applies on ``day``."""
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


class TargetRule(_Dated):
    """One dated target: a time limit on waits or handling, for some or all unit levels."""

    metric: TargetMetric = Field(description="wait_per_visit, wait_per_transaction or handling_per_dossier.")
    limit_minutes: float = Field(gt=0, le=24 * 60, description="The limit on the mean, in minutes.")
    levels: list[UnitLevel] | None = Field(None, description="Unit levels it applies to; all if absent.")

    @property
    def limit_s(self) -> float:
        """The limit in seconds."""
        return self.limit_minutes * 60

    def applies(self, day: date, level: UnitLevel) -> bool:
        """Whether the rule is in force on ``day`` for a unit of ``level``."""
        return self.in_force_on(day) and (self.levels is None or level in self.levels)


class DatedLevel(_Dated):
    """The level a unit had during a period (district units were dissolved on 1 July 2025)."""

    level: UnitLevel = Field(description="province, district or commune.")


class DeskConfig(_Strict):
    """A service desk ("quầy") of a unit."""

    id: str = Field(pattern=IDENTIFIER_PATTERN, description="Desk id as in the MQTT topic, e.g. q01.")
    name: str = Field(min_length=1, description="Name shown to people, e.g. Quầy 1.")
    services: list[str] = Field(default_factory=list, description="Service field codes handled here.")

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value == UNIT_WIDE_DESK:
            raise ValueError(f"desk id {UNIT_WIDE_DESK!r} is reserved for unit-wide alerts")
        return value


class SiteConfig(_Strict):
    """A one-stop unit ("Bộ phận Một cửa")."""

    id: str = Field(pattern=IDENTIFIER_PATTERN, description="Unit id as in the MQTT topic.")
    name: str = Field(min_length=1, description="Full Vietnamese name of the unit.")
    admin_code: int | None = Field(None, description="Administrative unit code (vietnam-provinces).")
    level: UnitLevel | None = Field(None, description="Level, when it never changed; else use levels.")
    levels: list[DatedLevel] | None = Field(None, description="Dated levels, when the level changed.")
    lat: float = Field(ge=-90, le=90, description="Latitude of the unit, degrees.")
    lon: float = Field(ge=-180, le=180, description="Longitude of the unit, degrees.")
    desks: list[DeskConfig] = Field(default_factory=list, description="The unit's desks.")

    @model_validator(mode="after")
    def _one_way_to_give_the_level(self) -> SiteConfig:
        if (self.level is None) == (self.levels is None):
            raise ValueError("give exactly one of level (a fixed level) or levels (a dated list)")
        ids = [desk.id for desk in self.desks]
        duplicated = sorted({d for d in ids if ids.count(d) > 1})
        if duplicated:
            raise ValueError(f"desk ids repeated: {', '.join(duplicated)}")
        return self

    def level_on(self, day: date) -> UnitLevel:
        """The unit's level in force on ``day`` (the latest dated level when none covers the day)."""
        if self.level is not None:
            return self.level
        assert self.levels is not None
        for entry in self.levels:
            if entry.in_force_on(day):
                return entry.level
        return self.levels[-1].level


class RatingScale(_Strict):
    """The satisfaction scale of the rating buttons."""

    levels: int = Field(4, ge=2, le=10, description="Number of levels; the highest score is the best.")
    satisfied_min: int = Field(3, ge=1, description="Lowest score that counts as satisfied.")

    @model_validator(mode="after")
    def _threshold_on_scale(self) -> RatingScale:
        if self.satisfied_min > self.levels:
            raise ValueError(f"satisfied_min {self.satisfied_min} is above the {self.levels} levels")
        return self

    def satisfied_min_for(self, levels: int | None) -> int:
        """Lowest satisfied score on a scale of ``levels`` (the same share of the scale as configured)."""
        if levels is None or levels == self.levels:
            return self.satisfied_min
        return math.ceil(self.satisfied_min / self.levels * levels)


class MqttSettings(_Strict):
    """How the hub reaches the broker."""

    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker port.")
    client_id: str = Field("onestop-hub", min_length=1, description="Client id; fixed for a persistent session.")
    username: str | None = Field(None, description="User name, when the broker asks for one.")
    password_env: str = Field(
        "ONESTOP_HUB_MQTT_PASSWORD", description="Name of the environment variable holding the password."
    )
    tls: bool = Field(False, description="Connect with TLS.")
    tls_ca_file: Path | None = Field(None, description="CA certificate file; the system's CAs if absent.")
    shared_group: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="MQTT 5 shared-subscription group, when several hub workers share the load.",
    )
    session_expiry_s: int = Field(7 * 24 * 3600, ge=0, description="How long the broker keeps the session.")
    keepalive_s: int = Field(30, ge=5, le=600, description="MQTT keep-alive interval, seconds.")

    @property
    def password(self) -> str | None:
        """The password, read from the environment (never from the file)."""
        return os.environ.get(self.password_env) or None


class LiveSettings(_Strict):
    """How the live desk state and the predicted-breach alerts are computed."""

    queue_sample_fresh_s: float = Field(120, gt=0, description="A queue sample older than this is ignored.")
    recent_services: int = Field(10, ge=1, description="Services averaged for the predicted wait.")
    default_service_s: float = Field(600, gt=0, description="Service time assumed before any is measured.")
    at_risk_clear_ratio: float = Field(
        0.8, gt=0, le=1, description="An at-risk alert clears when the prediction falls below this × target."
    )
    tick_s: float = Field(1, gt=0, description="How often live states and alerts are re-evaluated, seconds.")
    offline_after_s: float = Field(95, gt=0, description="A node silent this long is shown offline.")
    no_ratings_after_services: int = Field(
        20, ge=1, description="A unit that served this many today without a counted rating raises no_ratings."
    )
    line_mismatch_after_s: float = Field(
        300,
        gt=0,
        le=4 * 3600,
        description="The camera's line longer than the tickets waiting for this long raises line_ticket_mismatch.",
    )
    line_mismatch_min_gap: int = Field(
        3, ge=1, le=100, description="How many more people the camera must see in line than tickets are waiting."
    )


class IngestSettings(_Strict):
    """What the hub accepts off the broker, and how long it keeps what it rejected."""

    max_payload_bytes: int = Field(
        64 * 1024, ge=1024, le=16 * 1024 * 1024, description="Larger payloads are rejected unread, bytes."
    )
    queue_messages: int = Field(
        1000, ge=10, le=100_000, description="Messages held between the network and the database (back-pressure)."
    )
    queue_bytes: int = Field(
        16 * 1024 * 1024, ge=64 * 1024, description="Payload bytes held between the network and the database."
    )
    max_age_days: float = Field(
        30, gt=0, description="A message dated further back than this is rejected (status and config excepted)."
    )
    max_ahead_s: float = Field(300, ge=0, description="A message dated further ahead of the hub's clock is rejected.")
    rejected_keep_count: int = Field(10_000, ge=10, description="At most this many rejected messages are kept.")
    rejected_keep_days: float = Field(30, gt=0, description="Rejected messages older than this are deleted.")
    rejected_payload_bytes: int = Field(
        2048, ge=64, le=64 * 1024, description="Bytes of a rejected payload kept for inspection (the rest is cut)."
    )
    rating_burst_s: float = Field(
        2, ge=0, le=60, description="Ratings of one desk closer than this count once (hub check)."
    )
    rating_no_ticket_gap_s: float = Field(
        30, ge=0, le=3600, description="Ratings without a served ticket at one desk closer than this count once."
    )
    missing_grace_s: float = Field(
        60,
        ge=0,
        le=86400,
        description="A gap in a device's numbered messages counts toward the messages_missing alert only once it "
        "has stayed open this long (several workers and redelivery after a reconnect commit numbers out of order).",
    )


class ProvinceInfo(_Strict):
    """The province the hub serves."""

    code: int | None = Field(None, description="Province code (vietnam-provinces).")
    name: str = Field(description="Province name, e.g. Bắc Ninh.")


class ProvinceEntry(_Strict):
    """A province seen by a national (or multi-province) hub, with the units its broker forwards."""

    code: int = Field(ge=1, le=99, description="Province code (vietnam-provinces), e.g. 24 for Bắc Ninh.")
    name: str = Field(min_length=1, description="Province name, e.g. Bắc Ninh.")
    units: list[str] = Field(
        default_factory=list, description="Ids of the province's units, as in the MQTT topic and sites[].id."
    )

    @field_validator("units")
    @classmethod
    def _unit_ids(cls, value: list[str]) -> list[str]:
        bad = [unit for unit in value if not re.fullmatch(IDENTIFIER_PATTERN, unit)]
        if bad:
            raise ValueError(f"not a unit id: {', '.join(map(repr, bad))} (lowercase letters, digits and '-')")
        return value

    @property
    def bridge_account(self) -> str:
        """The MQTT account this province's bridge uses on the national broker."""
        return f"bridge-p{self.code:02d}"


class HubSettings(_Strict):
    """Everything the hub needs; loaded from one YAML file."""

    timezone: str = Field("Asia/Ho_Chi_Minh", description="Time zone of every view and of local days.")
    province: ProvinceInfo = Field(description="The province served.")
    rating: RatingScale = Field(default_factory=RatingScale, description="The rating scale.")
    targets: list[TargetRule] = Field(description="Dated targets per unit level.")
    services: dict[str, str] = Field(default_factory=dict, description="Service field code → name.")
    sites: list[SiteConfig] = Field(default_factory=list, description="Known units; unknown ones still work.")
    mqtt: MqttSettings = Field(default_factory=MqttSettings, description="Broker connection.")
    database: str = Field(DEFAULT_DATABASE_URL, description="Database URL, e.g. sqlite:///var/onestop.db.")
    listen: str = Field("127.0.0.1:8080", description="HOST:PORT the API and dashboard listen on.")
    live: LiveSettings = Field(default_factory=LiveSettings, description="Live state and alert tuning.")
    evaluation: EvaluationSettings = Field(
        default_factory=EvaluationSettings, description="Annual staff evaluation: norms, weights, thresholds."
    )
    staffing: StaffingSettings = Field(default_factory=StaffingSettings, description="Demand forecast and desks.")
    access: AccessSettings = Field(default_factory=AccessSettings, description="Users, roles, public read-only units.")
    map: MapSettings = Field(default_factory=MapSettings, description="The dashboard's province map.")
    influxdb: InfluxSettings | None = Field(None, description="Copy the figures to InfluxDB 2.x; off when absent.")
    hall: HallSettings = Field(default_factory=HallSettings, description="The hall display and its spoken call.")
    notify: NotifySettings = Field(
        default_factory=NotifySettings, description="Alert delivery by e-mail and webhook; nobody when absent."
    )
    retention: RetentionSettings = Field(
        default_factory=RetentionSettings, description="How long each kind of data is kept (daily purge)."
    )
    privacy: PrivacySettings = Field(
        default_factory=PrivacySettings, description="Who answers for the personal data (impact assessment, notices)."
    )
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Input limits and rejected retention.")
    provinces: list[ProvinceEntry] = Field(
        default_factory=list,
        description="A national hub's provinces and their units (docs/national.md); a province hub leaves it empty.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}, expected e.g. Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        parse_host_port(value)
        return value

    @field_validator("database")
    @classmethod
    def _database_url(cls, value: str) -> str:
        parse_database_url(value)  # a ConfigError is a ValueError: the error names the key
        return value

    @model_validator(mode="after")
    def _unique_sites(self) -> HubSettings:
        ids = [site.id for site in self.sites]
        duplicated = sorted({s for s in ids if ids.count(s) > 1})
        if duplicated:
            raise ValueError(f"site ids repeated: {', '.join(duplicated)}")
        codes = [p.code for p in self.provinces]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"provinces[].code repeated: {', '.join(map(str, repeated))}")
        owners: dict[str, list[str]] = {}
        for entry in self.provinces:
            for unit in entry.units:
                owners.setdefault(unit, []).append(entry.name)
        shared = sorted(f"{unit} ({' and '.join(names)})" for unit, names in owners.items() if len(names) > 1)
        if shared:
            raise ValueError(f"provinces[].units: a unit belongs to one province only: {'; '.join(shared)}")
        return self

    def province_list(self) -> list[ProvinceEntry]:
        """The provinces this hub shows: ``provinces`` when given, else its own province with every unit."""
        if self.provinces:
            return list(self.provinces)
        units = [site.id for site in self.sites]
        return [ProvinceEntry.model_construct(code=self.province.code or 0, name=self.province.name, units=units)]

    def province_of(self, site_id: str) -> ProvinceEntry | None:
        """The province whose units include ``site_id`` (a national hub), or None."""
        return next((p for p in self.provinces if site_id in p.units), None)

    @property
    def zone(self) -> ZoneInfo:
        """The configured time zone."""
        return ZoneInfo(self.timezone)

    def site(self, site_id: str) -> SiteConfig | None:
        """The configured unit with this id, or None for a unit not (yet) in the configuration."""
        return next((site for site in self.sites if site.id == site_id), None)

    def with_overrides(self, **overrides: Any) -> HubSettings:
        """A copy with some top-level or nested settings replaced (command-line options)."""
        data = self.model_dump()
        for key, value in overrides.items():
            if isinstance(value, dict):
                data[key] = {**data[key], **value}
            else:
                data[key] = value
        return validate_config(HubSettings, data, "command line")


def load_settings(path: Path | None = None) -> HubSettings:
    """Load and validate the hub configuration; the embedded sample province when ``path`` is None.

    Raises:
        ConfigError: the file cannot be read or a key is invalid; the text names each key.
    """
    source = path or DEFAULT_CONFIG_PATH
    return validate_config(HubSettings, read_yaml_mapping(source), str(source))


def targets_in_force(settings: HubSettings, day: date, level: UnitLevel) -> dict[TargetMetric, TargetRule]:
    """The rules in force on ``day`` for ``level``, one per metric (the latest-starting one wins)."""
    chosen: dict[TargetMetric, TargetRule] = {}
    for rule in settings.targets:
        if not rule.applies(day, level):
            continue
        current = chosen.get(rule.metric)
        if current is None or (rule.valid_from or date.min) >= (current.valid_from or date.min):
            chosen[rule.metric] = rule
    return chosen


def wait_target(settings: HubSettings, day: date, level: UnitLevel) -> TargetRule | None:
    """The wait target in force (per visit or per transaction, the latest-starting one)."""
    rules = targets_in_force(settings, day, level)
    candidates = [rules[m] for m in WAIT_METRICS if m in rules]
    return max(candidates, key=lambda r: r.valid_from or date.min, default=None)
