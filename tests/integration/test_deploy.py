"""What deploy/ ships is what systemd and Mosquitto accept.

- Every systemd unit in deploy/ (and the drop-in for Debian's own mosquitto.service) passes `systemd-analyze
  verify` with no error and no warning, in a throw-away root that holds Debian's units and the programs the units
  start (the project's own as stand-ins, each a console script the package installs).
- The production `deploy/mosquitto.conf` has what a province broker needs (persistence, TLS, per-device accounts,
  queues that drop nothing), and a real Mosquitto starts with it, `onestop-hub provision`'s accounts and, once its
  `include_dir` line is uncommented as docs/national.md says, the bridge that `onestop-hub bridge-config` wrote.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest

from devtools.mosquitto import MosquittoBroker, free_port, make_certificates, shipped_config
from hub.bridge import write_bridge_config
from hub.config import load_settings
from hub.provision import provision
from tests.support.national import settings_of_provinces
from tests.support.require import require
from tests.support.waiting import wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
DEBIAN_UNITS = Path("/lib/systemd/system")
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
EXEC = re.compile(r"^Exec\w+=[-@:+!]*(/\S+)", re.M)


def scripts() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def test_the_shipped_systemd_units_pass_systemd_analyze_verify(tmp_path: Path) -> None:
    require(SYSTEMD_ANALYZE is not None, "systemd-analyze", "Debian's systemd package: ./scripts/setup.sh")
    require((DEBIAN_UNITS / "mosquitto.service").is_file(), "mosquitto.service", "Debian's mosquitto package")
    assert SYSTEMD_ANALYZE is not None
    root = tmp_path / "root"
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (root / "usr" / "lib" / "systemd").mkdir(parents=True)
    (root / "usr" / "lib" / "systemd" / "system").symlink_to(DEBIAN_UNITS)
    shipped = sorted(DEPLOY.glob("*.service"))
    assert {p.name for p in shipped} >= {"onestop-hub.service", "onestop-edge.service"}
    checked = []
    for unit in shipped:
        shutil.copy(unit, units / unit.name)
        # a template is checked through an instance of it
        checked.append(units / unit.name.replace("@.", "@1.") if "@." in unit.name else units / unit.name)
        if "@." in unit.name:
            shutil.copy(unit, checked[-1])
    for dropin in DEPLOY.glob("*.service.d"):
        shutil.copytree(dropin, units / dropin.name)
        checked.append(root / "usr" / "lib" / "systemd" / "system" / dropin.name.removesuffix(".d"))
    assert (units / "mosquitto.service.d" / "onestop.conf").is_file()
    for unit in checked:
        for program in EXEC.findall(unit.read_text()):
            inside = root / program.lstrip("/")
            if inside.exists():
                continue
            inside.parent.mkdir(parents=True, exist_ok=True)
            if program.startswith("/opt/onestop/"):
                assert inside.name in scripts(), f"{unit.name} starts {program}, which the package does not install"
                inside.write_text("#!/bin/sh\n")
                inside.chmod(0o755)
            else:
                assert Path(program).exists(), f"{unit.name} starts {program}, absent on Debian here"
                shutil.copy(program, inside)  # a copy: a link would be followed inside the root
    result = subprocess.run(
        [SYSTEMD_ANALYZE, f"--root={root}", "verify", *map(str, checked)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (
        result.stdout + result.stderr
    )


def test_systemd_analyze_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a mistyped key and a missing program are reported."""
    require(SYSTEMD_ANALYZE is not None, "systemd-analyze", "Debian's systemd package: ./scripts/setup.sh")
    assert SYSTEMD_ANALYZE is not None
    broken = tmp_path / "onestop-broken.service"
    broken.write_text((DEPLOY / "onestop-hub.service").read_text().replace("TimeoutStopSec=", "TimeoutStopSecs="))
    result = subprocess.run([SYSTEMD_ANALYZE, "verify", str(broken)], capture_output=True, text=True, check=False)
    assert "Unknown key 'TimeoutStopSecs'" in result.stderr
    assert "/opt/onestop/.venv/bin/onestop-hub is not executable" in result.stderr


def options(config: str) -> dict[str, list[str]]:
    """Each option of a Mosquitto configuration and its values, in order (comments and blank lines left out)."""
    found: dict[str, list[str]] = {}
    for line in config.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.strip().partition(" ")
            found.setdefault(key, []).append(value)
    return found


def test_the_production_broker_config_has_what_a_province_needs() -> None:
    shipped = options((DEPLOY / "mosquitto.conf").read_text())
    assert shipped["persistence"] == ["true"] and shipped["autosave_interval"] == ["30"]
    assert shipped["allow_anonymous"] == ["false"]
    assert shipped["password_file"] == ["/etc/mosquitto/onestop/passwd"]  # onestop-hub provision's broker/passwd
    assert shipped["acl_file"] == ["/etc/mosquitto/onestop/acl"]  # and broker/acl
    # No queue that drops: 100 desks × ~12,000 messages a day × 3 days (docs/scaling.md, "Deployment")
    assert int(shipped["max_queued_messages"][0]) >= 100 * 12_000 * 3
    assert shipped["max_queued_bytes"] == ["0"]
    assert shipped["listener"] == ["1883 127.0.0.1", "8883"]  # plain on loopback only; TLS for the desks
    assert shipped["tls_version"] == ["tlsv1.2"] and {"cafile", "certfile", "keyfile"} <= set(shipped)
    assert shipped["use_username_as_clientid"] == ["true", "true"]  # on both listeners
    assert "#include_dir /etc/mosquitto/conf.d" in (DEPLOY / "mosquitto.conf").read_text()  # the bridge, opt-in


def test_a_real_mosquitto_runs_the_production_config_with_the_bridge_included(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts"
    provision(load_settings(), accounts, hub_accounts=["onestop-hub"])
    certificates = make_certificates(tmp_path)
    _, _, national = settings_of_provinces()
    bridges = tmp_path / "bridges"
    national_port = free_port()  # nothing listens there: the bridge keeps retrying, the broker keeps running
    write_bridge_config(national, bridges, f"127.0.0.1:{national_port}", certificates[0], ["onestop-hub"])
    confd = tmp_path / "conf.d"
    confd.mkdir()
    shutil.copy(bridges / "provinces" / "24" / "onestop-bridge.conf", confd / "onestop-bridge.conf")
    plain_port, tls_port = free_port(), free_port()
    config = shipped_config(tmp_path, plain_port, tls_port, accounts / "broker", certificates)
    assert "\n#include_dir /etc/mosquitto/conf.d\n" in config
    config = config.replace("\n#include_dir /etc/mosquitto/conf.d\n", f"\ninclude_dir {confd}\n")
    if os.geteuid() == 0:  # `user root` must come before the included bridge section
        config = config.replace("\nuser root\n", "\n").replace(
            f"\ninclude_dir {confd}", f"\nuser root\ninclude_dir {confd}"
        )
    with MosquittoBroker(port=plain_port, workdir=tmp_path, config=config) as broker:
        wait_for(
            lambda: "Connecting bridge (step 1) onestop-national" in broker.log_path.read_text(),
            30,
            "the broker to start the included bridge",
        )
        log = broker.log_path.read_text()
        assert f"listen socket on port {plain_port}." in log and f"listen socket on port {tls_port}." in log, log
        assert re.search(r"mosquitto version \S+ running", log), log
        socket.create_connection(("127.0.0.1", plain_port), timeout=5).close()  # still serving, bridge or not
