"""`onestop-hub provision`: accounts from the hub configuration, the files it writes and their modes.

What the broker makes of the output is proven against a real Mosquitto in
tests/integration/test_broker_provision.py; here, what an installer sees on disk.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from hub.cli import main
from hub.config import HubSettings, load_settings
from hub.provision import ProvisionError, mosquitto_hash, mosquitto_hash_matches, plan_accounts, provision

TWO_UNITS = """
province: {name: Bắc Ninh}
targets: [{metric: wait_per_transaction, limit_minutes: 15}]
sites:
  - {id: bn-hcc, name: Trung tâm tỉnh, level: province, lat: 21.27, lon: 106.19,
     desks: [{id: q01, name: Quầy 1}, {id: q02, name: Quầy 2}]}
  - {id: bn-tien-du, name: Xã Tiên Du, level: commune, lat: 21.12, lon: 106.02,
     desks: [{id: q01, name: Quầy 1}]}
"""


@pytest.fixture()
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "hub.yaml"
    path.write_text(TWO_UNITS)
    return path


@pytest.fixture()
def settings(config_file: Path) -> HubSettings:
    return load_settings(config_file)


def env_value(path: Path) -> str:
    name, _, value = path.read_text().strip().partition("=")
    return value


def test_one_account_per_desk_and_one_for_the_hub(settings: HubSettings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    provision(settings, out)
    users = [line.split(":", 1)[0] for line in (out / "broker" / "passwd").read_text().splitlines()]
    assert users == ["onestop-hub", "bn-hcc-q01", "bn-hcc-q02", "bn-tien-du-q01"]
    assert sorted(p.name for p in (out / "devices").iterdir()) == [
        "bn-hcc-q01.env",
        "bn-hcc-q02.env",
        "bn-tien-du-q01.env",
    ]
    assert (out / "devices" / "bn-hcc-q01.env").read_text().startswith("ONESTOP_EDGE_MQTT_PASSWORD=")
    assert (out / "hub" / "onestop-hub.env").read_text().startswith("ONESTOP_HUB_MQTT_PASSWORD=")


def test_the_acl_names_each_desk_topics_and_nothing_else(settings: HubSettings, tmp_path: Path) -> None:
    provision(settings, tmp_path)
    acl = (tmp_path / "broker" / "acl").read_text()
    header, *blocks = acl.split("\n\n")
    topics = {lines[0]: lines[1:] for lines in (block.splitlines() for block in blocks)}
    assert list(topics) == ["user onestop-hub", "user bn-hcc-q01", "user bn-hcc-q02", "user bn-tien-du-q01"]
    assert topics["user bn-hcc-q02"] == [
        "topic write onestop/v1/bn-hcc/q02/ticket",
        "topic write onestop/v1/bn-hcc/q02/queue",
        "topic write onestop/v1/bn-hcc/q02/rating",
        "topic write onestop/v1/bn-hcc/q02/feedback",
        "topic write onestop/v1/bn-hcc/q02/emotion",
        "topic write onestop/v1/bn-hcc/q02/heartbeat",
        "topic write onestop/v1/bn-hcc/q02/status",
        "topic write onestop/v1/bn-hcc/q02/line",
        "topic read onestop/v1/bn-hcc/q02/config",
    ]
    assert topics["user onestop-hub"] == [
        "topic read onestop/v1/#",
        "topic write onestop/v1/+/+/alert",
        "topic write onestop/v1/+/+/config",
        "topic read $SYS/#",
        "topic readwrite onestop-hub/probe/onestop-hub",
    ]
    assert "pattern" not in acl  # patterns would apply to every user, the hub included


def test_secrets_are_readable_by_their_owner_only(settings: HubSettings, tmp_path: Path) -> None:
    out = tmp_path / "out"
    provision(settings, out)
    for path in [out / "broker" / "passwd", *out.glob("devices/*.env"), *out.glob("hub/*.env")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (out / "broker", out / "devices", out / "hub"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


def test_passwords_are_random_long_and_hashed(settings: HubSettings, tmp_path: Path) -> None:
    provision(settings, tmp_path)
    passwords = {p.stem: env_value(p) for p in tmp_path.glob("*/*.env")}
    assert len(set(passwords.values())) == 4
    assert all(len(p) >= 32 for p in passwords.values())
    entries = dict(line.split(":", 1) for line in (tmp_path / "broker" / "passwd").read_text().splitlines())
    for user, password in passwords.items():
        assert password not in entries[user]
        assert mosquitto_hash_matches(password, entries[user])
        assert not mosquitto_hash_matches(password + "x", entries[user])


def test_the_hash_is_the_one_mosquitto_passwd_writes() -> None:
    # `mosquitto_passwd -b pw alice s3cret` (Mosquitto 2.0.11, Debian 12) wrote this line.
    written = (
        "$7$101$cTjxq2cnaBlM8Dzj$wfehnh6oPSIPRNQMqo0JAzEQKTSt9vpizJoSiILk2wOzpjRy/y5/J20hRyMysWe4BXv7BKs7/zSIdi7h"
        "098fiQ=="
    )
    assert mosquitto_hash_matches("s3cret", written)
    assert mosquitto_hash("s3cret", salt=bytes.fromhex("7138f1ab672768194cf03ce3")) == written


def test_a_second_run_keeps_passwords_and_rotates_only_what_is_named(settings: HubSettings, tmp_path: Path) -> None:
    provision(settings, tmp_path)
    before = {p.stem: env_value(p) for p in tmp_path.glob("*/*.env")}
    result = provision(settings, tmp_path, rotate=["bn-hcc-q02"])
    after = {p.stem: env_value(p) for p in tmp_path.glob("*/*.env")}
    assert result.rotated == ("bn-hcc-q02",)
    assert after["bn-hcc-q02"] != before["bn-hcc-q02"]
    assert {k: v for k, v in after.items() if k != "bn-hcc-q02"} == {
        k: v for k, v in before.items() if k != "bn-hcc-q02"
    }
    entries = dict(line.split(":", 1) for line in (tmp_path / "broker" / "passwd").read_text().splitlines())
    assert mosquitto_hash_matches(after["bn-hcc-q02"], entries["bn-hcc-q02"])
    assert not mosquitto_hash_matches(before["bn-hcc-q02"], entries["bn-hcc-q02"])


def test_a_removed_desk_loses_its_account(settings: HubSettings, config_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    provision(settings, out)
    config_file.write_text(TWO_UNITS.replace(", {id: q02, name: Quầy 2}", ""))
    result = provision(load_settings(config_file), out)
    assert "bn-hcc-q02:" not in (out / "broker" / "passwd").read_text()
    assert "user bn-hcc-q02" not in (out / "broker" / "acl").read_text()
    assert result.orphaned == (out / "devices" / "bn-hcc-q02.env",)


def test_accounts_that_would_be_shared_are_refused_by_name(tmp_path: Path) -> None:
    clash = TWO_UNITS + (
        "  - {id: bn-hcc-q01, name: Đơn vị trùng tên, level: commune, lat: 21, lon: 106, desks: [{id: x, name: X}]}\n"
        "  - {id: bn, name: Đơn vị khác, level: commune, lat: 21, lon: 106, desks: [{id: hcc-q01-x, name: Y}]}\n"
    )
    path = tmp_path / "hub.yaml"
    path.write_text(clash)
    with pytest.raises(ProvisionError, match="bn-hcc-q01-x") as raised:
        plan_accounts(load_settings(path))
    assert "unit bn-hcc-q01 desk x" in str(raised.value) and "unit bn desk hcc-q01-x" in str(raised.value)


def test_a_desk_cannot_be_named_like_the_hub(settings: HubSettings) -> None:
    with pytest.raises(ProvisionError, match="bn-hcc-q01 .the hub and unit bn-hcc desk q01"):
        plan_accounts(settings, hub_accounts=["bn-hcc-q01"])


@pytest.mark.parametrize(("hub", "message"), [("bad name", "invalid"), ("a:b", "invalid"), ("", "invalid")])
def test_a_bad_hub_account_name_is_refused(settings: HubSettings, hub: str, message: str) -> None:
    with pytest.raises(ProvisionError, match=message):
        plan_accounts(settings, hub_accounts=[hub])


def test_a_damaged_kept_password_is_named_and_nothing_changes(settings: HubSettings, tmp_path: Path) -> None:
    provision(settings, tmp_path)
    (tmp_path / "devices" / "bn-tien-du-q01.env").write_text("ONESTOP_EDGE_MQTT_PASSWORD=short\n")
    before = {p: p.read_text() for p in tmp_path.glob("*/*")}
    with pytest.raises(ProvisionError, match="bn-tien-du-q01.env"):
        provision(settings, tmp_path, rotate=["bn-hcc-q01"])
    assert {p: p.read_text() for p in tmp_path.glob("*/*")} == before


@pytest.mark.parametrize("entry", ["", "$6$abc$def", "$7$101$not base64!$AAAA", "$7$x$AAAA$AAAA"])
def test_a_malformed_hash_matches_nothing(entry: str) -> None:
    assert not mosquitto_hash_matches("s3cret", entry)


def test_the_command_writes_and_says_where_files_go(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    args = ["provision", "--config", str(config_file), "--out", str(out), "--hub-account", "hub-a"]
    assert main([*args, "--hub-account", "hub-b"]) == 0
    said = capsys.readouterr().out
    assert "3 desk accounts and 2 hub account(s)" in said and "5 new" in said
    assert "/etc/onestop/edge.env" in said and "mqtt.username: hub-a" in said
    assert sorted(p.name for p in (out / "hub").iterdir()) == ["hub-a.env", "hub-b.env"]
    assert main([*args, "--rotate", "bn-hcc-q09"]) == 2
    assert "no such account: bn-hcc-q09" in capsys.readouterr().err


def test_the_embedded_province_provisions_every_desk(tmp_path: Path) -> None:
    result = provision(load_settings(), tmp_path)
    # 8 desks at the provincial centre, 3 in Kinh Bắc, 3 in Bắc Giang and 2 in each of the six other units.
    assert result.devices == 26
