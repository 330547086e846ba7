"""Settings of the hall display and its spoken call (the ``hall:`` section of the hub YAML)."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from protocol.topics import IDENTIFIER_PATTERN

TEMPLATE_FIELDS = frozenset({"ticket", "desk_number", "desk_name"})
DEFAULT_TEMPLATE = "Mời công dân số {ticket} đến quầy {desk_number}"


class HallSettings(BaseModel):
    """The TV in the citizens' hall: which units speak the call, in which words and voice."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speak_units: list[Annotated[str, Field(pattern=IDENTIFIER_PATTERN)]] = Field(
        default_factory=list, description="Unit ids whose hall display speaks each call aloud."
    )
    template: str = Field(
        DEFAULT_TEMPLATE,
        min_length=1,
        max_length=200,
        description="Words of the call; fields {ticket}, {desk_number} (e.g. 3 for Quầy 3) and {desk_name}.",
    )
    voice: str = Field(
        "vi",
        pattern=r"^[A-Za-z0-9_+-]{1,40}$",
        description="espeak-ng voice: vi (Northern), vi-vn-x-central, vi-vn-x-south; a +variant may follow.",
    )
    words_per_minute: int = Field(140, ge=80, le=300, description="Speaking rate of espeak-ng.")
    espeak_command: str = Field("espeak-ng", min_length=1, description="The espeak-ng program (name or path).")
    cache_dir: Path = Field(Path("var/hall-speech"), description="Where spoken calls are kept as WAV files.")
    cache_files: int = Field(500, ge=10, le=100_000, description="Most WAV files kept; the oldest go first.")
    announce_within_s: float = Field(
        120, gt=0, le=3600, description="A call older than this when it reaches the hub is shown, not spoken."
    )
    next_numbers: int = Field(3, ge=0, le=10, description="How many next numbers each desk row shows.")

    @field_validator("template")
    @classmethod
    def _known_fields(cls, value: str) -> str:
        try:
            used = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as error:
            raise ValueError(f"not a valid template ({error}); write fields as {{ticket}}") from None
        unknown = sorted(used - TEMPLATE_FIELDS)
        if unknown:
            raise ValueError(f"unknown fields {unknown}: use {', '.join(sorted(TEMPLATE_FIELDS))}")
        if "ticket" not in used:
            raise ValueError("the template must say the number: include {ticket}")
        return value
