"""Files installed with the package (models, web pages, the hub's sample configuration), found through
``importlib.resources`` so that a pip-installed node finds them as a checkout does."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(package: str, *parts: str) -> Path:
    """The folder (or file) ``parts`` inside the installed ``package``, as a filesystem path.

    The wheel is installed unpacked (never zipped), so the resource is a real path that onnxruntime,
    StaticFiles and open() can read.
    """
    return Path(str(files(package).joinpath(*parts)))
