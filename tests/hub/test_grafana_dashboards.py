"""The Grafana dashboards are valid JSON, use the provisioned data source, and every Flux query names measurements,
fields and tags the hub writes to InfluxDB."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.sinks.points import MEASUREMENTS

GRAFANA = Path(__file__).resolve().parents[2] / "dashboards" / "grafana"
DASHBOARDS = sorted(GRAFANA.glob("*.json"))
ALL_TAGS = sorted({tag for m in MEASUREMENTS.values() for tag in m["tags"]})
TAG_REFERENCE = re.compile(r"\br\.(" + "|".join(ALL_TAGS) + r")\b")


def queries(board: dict[str, Any]) -> list[str]:
    found = [t["query"] for p in board["panels"] for t in p.get("targets", [])]
    return found + [v["query"] for v in board.get("templating", {}).get("list", []) if "query" in v]


def test_there_are_dashboards_and_provisioning() -> None:
    assert len(DASHBOARDS) >= 2
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "onestop-influxdb.yaml").read_text())
    source = datasources["datasources"][0]
    assert source["uid"] == "onestop-influxdb" and source["jsonData"]["version"] == "Flux"
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "onestop.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_every_query_names_existing_measurements_fields_and_tags(path: Path) -> None:
    board = json.loads(path.read_text(encoding="utf-8"))
    assert board["uid"] and board["title"] and board["panels"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for item in board["panels"]:
        assert item["datasource"]["uid"] == "onestop-influxdb", item["title"]
    assert queries(board), "a dashboard without queries checks nothing"
    for query in queries(board):
        measurements = re.findall(r'(?:r\._measurement ==|measurement:) "([a-z_]+)"', query)
        assert measurements, f"no measurement in {query!r}"
        for measurement in measurements:
            assert measurement in MEASUREMENTS, measurement
            known_fields = set(MEASUREMENTS[measurement]["fields"])
            known_tags = set(MEASUREMENTS[measurement]["tags"])
            fields = re.findall(r'r\._field == "([a-z_]+)"', query)
            assert set(fields) <= known_fields, (measurement, set(fields) - known_fields)
            for tag in re.findall(
                r"\br\.(site|desk|service|staff|channel|source|alert|severity|sentiment|end)\b", query
            ):
                assert tag in known_tags, (measurement, tag)
            for tag in re.findall(r'tag: "([a-z_]+)"', query):
                assert tag in known_tags, (measurement, tag)
