"""Which packages the wheel holds (the rest of the metadata is in pyproject.toml).

The code packages are found by name; models/ and dashboards/ stay where they are in the repository and are
installed as the data packages ``onestop_models`` and ``onestop_dashboards``, so that an installed hub or edge
node finds its models and web pages without a clone."""

from setuptools import find_packages, setup

DATA_PACKAGES = {"onestop_models": "models", "onestop_dashboards": "dashboards"}

setup(
    packages=find_packages(
        include=["protocol", "protocol.*", "edge", "edge.*", "hub", "hub.*", "simulator", "simulator.*"]
    )
    + list(DATA_PACKAGES),
    package_dir=DATA_PACKAGES,
)
