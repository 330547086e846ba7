"""The optional ``influxdb:`` section of the hub YAML (off by default)."""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field, model_validator


class InfluxSettings(BaseModel):
    """Where and how the hub copies its figures to InfluxDB 2.x; the token comes from the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Set false to keep the section but stop writing.")
    url: str = Field("http://127.0.0.1:8086", pattern=r"^https?://", description="InfluxDB base URL.")
    org: str = Field("onestop", min_length=1, description="Organisation.")
    bucket: str = Field("onestop", min_length=1, description="Bucket the points go to.")
    token_env: str = Field(
        "ONESTOP_INFLUXDB_TOKEN", description="Name of the environment variable holding the API token."
    )
    batch_size: int = Field(5000, ge=1, le=100_000, description="Stored messages turned into one write.")
    flush_interval_s: float = Field(1.0, gt=0, le=3600, description="Longest wait before new records are sent.")
    retry_min_s: float = Field(1.0, gt=0, description="First pause after a failed write; doubles each time.")
    retry_max_s: float = Field(60.0, gt=0, description="Longest pause between attempts.")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one write.")
    live_interval_s: float = Field(
        10.0, ge=0, description="How often the live desk states are sampled into desk_state; 0: never."
    )
    live_buffer_points: int = Field(
        100_000, ge=0, description="desk_state samples kept in memory while InfluxDB is away (oldest dropped)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> InfluxSettings:
        if self.retry_min_s > self.retry_max_s:
            raise ValueError(f"retry_min_s {self.retry_min_s} is above retry_max_s {self.retry_max_s}")
        return self

    @property
    def token(self) -> str:
        """The API token, read from the environment (never from the file); empty when unset."""
        return os.environ.get(self.token_env, "")
