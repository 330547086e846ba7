"""A national hub's ``provinces``: each names its units; a unit in two provinces, a repeated code or a bad unit
id is refused with the key named; a province hub shows its own province with every unit."""

from __future__ import annotations

from typing import Any

import pytest

from hub.config import load_settings
from protocol.errors import ConfigError


def with_provinces(provinces: list[dict[str, Any]]) -> Any:
    return load_settings().with_overrides(provinces=provinces)


def test_a_national_hub_knows_each_units_province() -> None:
    settings = with_provinces(
        [{"code": 24, "name": "Bắc Ninh", "units": ["bn-hcc", "bn-tu-son"]}, {"code": 22, "name": "Quảng Ninh"}]
    )
    assert [(p.code, p.name) for p in settings.province_list()] == [(24, "Bắc Ninh"), (22, "Quảng Ninh")]
    assert settings.province_of("bn-tu-son").code == 24
    assert settings.province_of("qn-ha-long") is None
    assert settings.provinces[0].bridge_account == "bridge-p24"


def test_a_province_hub_shows_its_own_province_with_every_unit() -> None:
    settings = load_settings()
    (own,) = settings.province_list()
    assert (own.code, own.name) == (24, "Bắc Ninh")
    assert own.units[:2] == ["bn-hcc", "bn-kinh-bac"] and len(own.units) == 9


@pytest.mark.parametrize(
    ("provinces", "words"),
    [
        (
            [
                {"code": 24, "name": "Bắc Ninh", "units": ["bn-hcc"]},
                {"code": 22, "name": "Quảng Ninh", "units": ["bn-hcc"]},
            ],
            ["provinces[].units", "bn-hcc (Bắc Ninh and Quảng Ninh)"],
        ),
        ([{"code": 24, "name": "Bắc Ninh"}, {"code": 24, "name": "Bắc Giang"}], ["provinces[].code repeated: 24"]),
        ([{"code": 24, "name": "Bắc Ninh", "units": ["BN HCC"]}], ["provinces.0.units", "'BN HCC'"]),
        ([{"code": 100, "name": "Bắc Ninh"}], ["provinces.0.code"]),
    ],
)
def test_bad_provinces_are_refused_naming_the_key(provinces: list[dict[str, Any]], words: list[str]) -> None:
    with pytest.raises(ConfigError) as raised:
        with_provinces(provinces)
    for word in words:
        assert word in str(raised.value)
