"""The shipped map of the 34 provinces (dashboards/web/geo, made by dashboards/geo/build_outlines.py): each
province's outline holds places known to lie in it, the old provinces merged into it included, and no other
province's does; Hoàng Sa and Trường Sa are drawn. The places are written here from the map of Việt Nam, not read
from the shipped files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

GEO = Path(__file__).resolve().parents[2] / "dashboards" / "web" / "geo"

# (lon, lat) of a town or island, the code of the province it belongs to since 1 July 2025.
PLACES = [
    ((105.85, 21.03), 1, "Hà Nội, Hoàn Kiếm"),
    ((106.25, 22.67), 4, "Cao Bằng"),
    ((104.98, 22.82), 8, "Hà Giang (now Tuyên Quang)"),
    ((103.02, 21.39), 11, "Điện Biên Phủ"),
    ((103.46, 22.40), 12, "Lai Châu"),
    ((103.91, 21.33), 14, "Sơn La"),
    ((104.87, 21.72), 15, "Yên Bái (now Lào Cai)"),
    ((105.83, 22.15), 19, "Bắc Kạn (now Thái Nguyên)"),
    ((106.76, 21.85), 20, "Lạng Sơn"),
    ((107.05, 21.05), 22, "Hạ Long"),
    ((106.20, 21.27), 24, "Bắc Giang (now Bắc Ninh)"),
    ((105.60, 21.31), 25, "Vĩnh Yên (now Phú Thọ)"),
    ((105.34, 20.82), 25, "Hòa Bình (now Phú Thọ)"),
    ((106.33, 20.94), 31, "Hải Dương (now Hải Phòng)"),
    ((107.73, 20.13), 31, "Bạch Long Vĩ"),
    ((107.03, 20.79), 31, "Cát Bà"),
    ((106.34, 20.45), 33, "Thái Bình (now Hưng Yên)"),
    ((106.17, 20.43), 37, "Nam Định (now Ninh Bình)"),
    ((105.78, 19.81), 38, "Thanh Hóa"),
    ((105.50, 19.20), 40, "Nghệ An, inland"),
    ((105.89, 18.34), 42, "Hà Tĩnh"),
    ((106.55, 17.47), 44, "Đồng Hới (now Quảng Trị)"),
    ((107.55, 16.45), 46, "Huế"),
    ((108.15, 16.03), 48, "Đà Nẵng"),
    ((108.45, 15.57), 48, "Tam Kỳ (now Đà Nẵng)"),
    ((108.00, 14.35), 51, "Kon Tum (now Quảng Ngãi)"),
    ((109.12, 15.38), 51, "Lý Sơn"),
    ((108.00, 13.98), 52, "Pleiku"),
    ((109.05, 13.85), 52, "Bình Định (now Gia Lai)"),
    ((108.90, 11.60), 56, "Phan Rang (now Khánh Hòa)"),
    ((108.05, 12.67), 66, "Buôn Ma Thuột"),
    ((109.05, 13.10), 66, "Phú Yên (now Đắk Lắk)"),
    ((108.44, 11.94), 68, "Đà Lạt"),
    ((107.69, 12.00), 68, "Gia Nghĩa (now Lâm Đồng)"),
    ((108.05, 10.98), 68, "Phan Thiết (now Lâm Đồng)"),
    ((106.90, 10.95), 75, "Biên Hòa"),
    ((106.90, 11.53), 75, "Đồng Xoài (now Đồng Nai)"),
    ((106.66, 10.78), 79, "Thành phố Hồ Chí Minh"),
    ((106.65, 10.98), 79, "Thủ Dầu Một (now Thành phố Hồ Chí Minh)"),
    ((107.17, 10.50), 79, "Bà Rịa (now Thành phố Hồ Chí Minh)"),
    ((106.62, 8.71), 79, "Côn Đảo"),
    ((106.10, 11.31), 80, "Tây Ninh"),
    ((106.41, 10.54), 80, "Tân An (now Tây Ninh)"),
    ((105.63, 10.46), 82, "Cao Lãnh"),
    ((106.34, 10.37), 82, "Mỹ Tho (now Đồng Tháp)"),
    ((105.97, 10.25), 86, "Vĩnh Long"),
    ((106.37, 10.24), 86, "Bến Tre (now Vĩnh Long)"),
    ((106.34, 9.94), 86, "Trà Vinh (now Vĩnh Long)"),
    ((105.44, 10.39), 91, "Long Xuyên"),
    ((105.10, 10.02), 91, "Rạch Giá (now An Giang)"),
    ((103.96, 10.23), 91, "Phú Quốc"),
    ((105.75, 10.03), 92, "Cần Thơ"),
    ((105.97, 9.60), 92, "Sóc Trăng (now Cần Thơ)"),
    ((105.15, 9.18), 96, "Cà Mau"),
    ((105.72, 9.29), 96, "Bạc Liêu (now Cà Mau)"),
]


def inside(lon: float, lat: float, rings: list[list[list[float]]]) -> bool:
    """Even-odd over every ring, as the map fills them."""
    crossings = False
    for ring in rings:
        for (x1, y1), (x2, y2) in zip(ring, ring[1:], strict=False):
            if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / (y2 - y1) + x1:
                crossings = not crossings
    return crossings


def rings_of(feature: dict) -> list[list[list[float]]]:
    return [ring for polygon in feature["geometry"]["coordinates"] for ring in polygon]


def national() -> dict[int, dict]:
    collection = json.loads((GEO / "provinces.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["code"]: f for f in collection["features"]}


def test_the_national_map_has_the_34_provinces_of_2025() -> None:
    provinces = national()
    assert len(provinces) == 34
    index = json.loads((GEO / "index.json").read_text(encoding="utf-8"))
    assert {e["code"]: e["name"] for e in index["provinces"]} == {
        c: f["properties"]["name"] for c, f in provinces.items()
    }
    # 63 old provinces, each in exactly one province of today
    merged = [old for f in provinces.values() for old in f["properties"]["merged_from"]]
    assert len(merged) == len(set(merged)) == 63
    assert provinces[79]["properties"]["merged_from"] == ["Thành phố Hồ Chí Minh", "Bình Dương", "Bà Rịa – Vũng Tàu"]
    assert (GEO / "provinces.geojson").stat().st_size < 100_000  # simplified for the browser


@pytest.mark.parametrize("which", ["national", "own"])
def test_each_place_lies_in_its_province_and_no_other(which: str) -> None:
    provinces = national()
    if which == "own":  # the finer file a province's dashboard draws
        index = json.loads((GEO / "index.json").read_text(encoding="utf-8"))
        provinces = {
            e["code"]: json.loads((GEO / e["file"]).read_text(encoding="utf-8"))["features"][0]
            for e in index["provinces"]
        }
    wrong = []
    for (lon, lat), code, place in PLACES:
        holders = [c for c, f in provinces.items() if inside(lon, lat, rings_of(f))]
        if holders != [code]:
            wrong.append(f"{place}: in {holders}, expected [{code}]")
    assert not wrong, "\n".join(wrong)


def test_hoang_sa_and_truong_sa_are_drawn_and_named() -> None:
    country = json.loads((GEO / "vietnam.geojson").read_text(encoding="utf-8"))
    islands = {f["properties"]["name"]: f for f in country["features"] if f["properties"].get("kind") == "archipelago"}
    assert set(islands) == {"Quần đảo Hoàng Sa", "Quần đảo Trường Sa"}
    for name, (x0, x1, y0, y1) in {
        "Quần đảo Hoàng Sa": (111, 113, 15.5, 17.5),
        "Quần đảo Trường Sa": (111, 117, 7, 12),
    }.items():
        points = [p for ring in rings_of(islands[name]) for p in ring]
        assert len(islands[name]["geometry"]["coordinates"]) >= 5, name
        assert all(x0 <= lon <= x1 and y0 <= lat <= y1 for lon, lat in points), name
