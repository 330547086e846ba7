"""One YAML per node: a bad key is named with its value and what was expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge.config import load_edge_settings
from protocol.errors import ConfigError

GOOD = """
site: bn-kinh-bac
desk: q01
staff: cb-017
service: dat-dai
mqtt: {host: hub.local, port: 8883, tls: true, username: bn-kinh-bac-q01}
spool: {path: /tmp/outbox.db}
tickets:
  buttons: {call_next_pin: GPIO17, finish_pin: GPIO27}
  api: {listen: "0.0.0.0:8081"}
sensors:
  beams: {entrance_pin: GPIO5, exit_pin: GPIO6}
  distance: {echo_pin: GPIO24, trigger_pin: GPIO23, line_length_m: 5}
  presence: {pin: GPIO16}
"""


def test_a_complete_node_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    path.write_text(GOOD)
    settings = load_edge_settings(path)
    assert settings.tickets.buttons is not None and settings.sensors.distance is not None
    assert settings.mqtt.tls and settings.mqtt.port == 8883


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("desk: Q 01", "desk = 'Q 01': String should match pattern"),
        ("mqtt: {hots: x}", "mqtt.hots"),
        ("mqtt: {port: 70000}", "mqtt.port = 70000: Input should be less than or equal to 65535"),
        ("heartbeat_s: 1", "heartbeat_s = 1: Input should be greater than or equal to 5"),
        ("desk: all", "reserved"),
        ("staff: null", "staff (the officer id) is required when tickets.buttons are fitted"),
        ("mqtt: {tls: true, tls_cert_file: /etc/onestop/q01.crt}", "give both tls_cert_file and tls_key_file"),
        ("mqtt: {tls_cert_file: /etc/onestop/q01.crt, tls_key_file: /etc/onestop/q01.key}", "needs tls: true"),
    ],
)
def test_a_bad_key_is_named(tmp_path: Path, change: str, expected: str) -> None:
    key = change.split(":")[0]
    lines = [line for line in GOOD.splitlines() if not line.startswith(f"{key}:")]
    path = tmp_path / "node.yaml"
    path.write_text("\n".join(lines) + "\n" + change + "\n")
    with pytest.raises(ConfigError) as caught:
        load_edge_settings(path)
    assert expected in str(caught.value)


def test_validate_config_command_exit_codes(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD + "typo_key: 1\n")
    ok = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(good), "--validate-config"], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "configuration OK" in ok.stdout
    failed = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(bad), "--validate-config"], capture_output=True, text=True
    )
    assert failed.returncode == 2 and "typo_key" in failed.stderr


def test_the_shipped_example_node_file_is_valid() -> None:
    settings = load_edge_settings(Path(__file__).resolve().parents[2] / "config" / "edge.example.yaml")
    assert settings.tickets.buttons is not None and settings.mqtt.tls
