"""Settings of the web dashboard's province map (the ``map:`` section of the hub YAML)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator


class MapSettings(BaseModel):
    """How the province map is drawn: the shipped outline by default, optionally over a tile server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outline_file: Path | None = Field(
        None,
        description="GeoJSON outline of the province (a FeatureCollection of polygons, WGS 84); the shipped "
        "outline of the configured province when absent.",
    )
    tile_url: str | None = Field(
        None,
        description="Raster tiles drawn under the outline, e.g. https://tiles.example.vn/{z}/{x}/{y}.png; "
        "none: the map draws from the shipped outline alone (works offline).",
    )
    tile_attribution: str = Field("", max_length=200, description="Credit line for the tiles, shown on the map.")

    @field_validator("tile_url")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            missing = [part for part in ("{z}", "{x}", "{y}") if part not in value]
            if missing or not value.startswith(("http://", "https://", "/")):
                raise ValueError(f"{value!r} is not a tile URL template with {{z}}, {{x}} and {{y}}")
        return value
