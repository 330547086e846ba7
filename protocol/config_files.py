"""Reading configuration files and turning their validation errors into messages a technician understands.

Shared by the hub's and the edge node's configuration loaders: each line names the key path, the value
found and what was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from protocol.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def describe_validation_error(error: ValidationError, source: str) -> str:
    """Return one line per problem: ``source: key.path = value: reason``."""
    lines = [f"{source}: {error.error_count()} problem(s) in the configuration"]
    for detail in error.errors(include_url=False):
        key = ".".join(str(part) for part in detail["loc"]) or "(top level)"
        value = detail.get("input")
        shown = "" if isinstance(value, dict | list) else f" = {value!r}"
        lines.append(f"  {key}{shown}: {detail['msg']}")
    return "\n".join(lines)


def read_yaml_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping.

    Raises:
        ConfigError: the file is missing, unreadable, not YAML, or not a mapping.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the configuration file: {error.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, found {type(data).__name__}")
    return data


def validate_config(model: type[M], data: dict[str, Any], source: str) -> M:
    """Validate ``data`` as ``model``; raise :class:`ConfigError` naming every bad key."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(describe_validation_error(error, source)) from None


def parse_host_port(value: str) -> tuple[str, int]:
    """Split ``HOST:PORT``.

    Raises:
        ConfigError: the value is not ``HOST:PORT`` with a port from 1 to 65535.
    """
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(f"{value!r} is not HOST:PORT (for example 127.0.0.1:8080)")
    return host.strip("[]"), int(port_text)
