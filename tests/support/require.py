"""Tests that need a component (Chromium, Playwright, VictoriaMetrics, poppler, scikit-image, the test assets)
ask for it here. Locally a missing component skips the test with its reason; under ``CI=true`` it fails,
naming what is missing, so a CI run cannot pass by skipping. (``tests/conftest.py`` also turns any other skip
into a failure under CI.)"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def in_ci() -> bool:
    """Whether the run is CI's: the environment variable CI is set to true (as CI services set it)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(component: str, how: str) -> str:
    return f"missing component: {component} ({how})"


def require(present: bool, component: str, how: str) -> None:
    """Go on if ``present``; else skip locally, fail under CI, naming ``component`` and ``how`` to get it."""
    if present:
        return
    message = missing(component, how)
    if in_ci():
        pytest.fail(f"CI=true: {message}", pytrace=False)
    pytest.skip(message, allow_module_level=True)  # also when called at import (require_module)


def require_module(name: str, component: str, how: str) -> ModuleType:
    """Import ``name``; when it cannot be imported, ``require`` it (skip locally, fail under CI)."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        require(False, component, f"{how}; import {name}: {error}")
        raise  # not reached: require skips or fails
