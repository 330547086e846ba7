// The province map in plain SVG: the shipped outline (no tile server needed), optional raster tiles under it,
// one marker per unit whose shape, colour and label say its state, and a locator inset of Viet Nam.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const MARKER = { ok: "circle", at_risk: "triangle", broken: "square" };

// Web Mercator in world units 0..1, so that optional tiles line up with the outline.
export function project(lon, lat) {
  const s = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
  return [(lon + 180) / 360, 0.5 - Math.log((1 + s) / (1 - s)) / (4 * Math.PI)];
}

export function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

export function rings(geojson, keep = () => true) {
  const out = [];
  for (const f of (geojson.features || []).filter(keep)) {
    const g = f.geometry;
    if (!g) continue;
    if (g.type === "Polygon") out.push(...g.coordinates);
    if (g.type === "MultiPolygon") g.coordinates.forEach((p) => out.push(...p));
  }
  return out;
}

// The islands of Quần đảo Hoàng Sa and Quần đảo Trường Sa in vietnam.geojson (dashboards/web/geo/README.md).
export const isArchipelago = (f) => (f.properties || {}).kind === "archipelago";

export function points(geojson) {
  return (geojson.features || []).filter((f) => f.geometry && f.geometry.type === "Point");
}

export function pathOf(allRings, toScreen) {
  return allRings.map((ring) => "M" + ring.map(([lon, lat]) => toScreen(lon, lat).map((v) => v.toFixed(1)).join(",")).join("L") + "Z").join("");
}

export function markerShape(state, x, y, r) {
  const shape = MARKER[state] || "circle";
  if (shape === "circle") return el("circle", { cx: x, cy: y, r });
  if (shape === "square") return el("rect", { x: x - r, y: y - r, width: 2 * r, height: 2 * r, rx: 2 });
  const h = r * 1.25;
  return el("polygon", { points: `${x},${y - h} ${x + h},${y + h * 0.8} ${x - h},${y + h * 0.8}` });
}

// A short name for the map: the unit's name without the common prefix ("Trung tâm Phục vụ hành chính công").
export function shortName(name) {
  return name.replace(/^(Trung tâm Phục vụ hành chính công|Bộ phận Một cửa|Bộ phận tiếp nhận và trả kết quả)\s*/i, "").trim() || name;
}

function textWidth(svg, text, fontSize) {
  const probe = el("text", { "font-size": fontSize, "font-weight": 600, visibility: "hidden" }, text);
  svg.append(probe);
  const width = probe.getComputedTextLength() || text.length * fontSize * 0.6;
  probe.remove();
  return width;
}

function spreadApart(points, minDistance) {
  for (let round = 0; round < 40; round++) {
    let moved = false;
    for (let i = 0; i < points.length; i++) for (let j = i + 1; j < points.length; j++) {
      const [a, b] = [points[i], points[j]];
      let dx = b[0] - a[0], dy = b[1] - a[1];
      let d = Math.hypot(dx, dy);
      if (d >= minDistance) continue;
      if (d < 0.01) { dx = Math.cos(j); dy = Math.sin(j); d = 1; }
      const push = (minDistance - d) / 2 + 0.5;
      a[0] -= (dx / d) * push; a[1] -= (dy / d) * push;
      b[0] += (dx / d) * push; b[1] += (dy / d) * push;
      moved = true;
    }
    if (!moved) return;
  }
}

function overlaps(a, b) {
  return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
}

// Draws the map into `svg` (viewBox width × height). units: [{id, name, lat, lon, state, people_waiting}]
export function drawProvinceMap(svg, { outline, country, units, tileUrl, width, height, onOpen, label, t }) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  const placed = units.filter((u) => u.lat != null && u.lon != null);
  const outlineRings = outline ? rings(outline) : [];
  let xs = [], ys = [];
  for (const ring of outlineRings) for (const [lon, lat] of ring) { const [x, y] = project(lon, lat); xs.push(x); ys.push(y); }
  for (const u of placed) { const [x, y] = project(u.lon, u.lat); xs.push(x); ys.push(y); }
  if (!xs.length) { xs = [0.79, 0.8]; ys = [0.44, 0.45]; }
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 0.08;
  const scale = Math.min((width * (1 - 2 * pad)) / Math.max(x1 - x0, 1e-6), (height * (1 - 2 * pad)) / Math.max(y1 - y0, 1e-6));
  const ox = (width - (x1 - x0) * scale) / 2 - x0 * scale;
  const oy = (height - (y1 - y0) * scale) / 2 - y0 * scale;
  const toScreen = (lon, lat) => { const [x, y] = project(lon, lat); return [x * scale + ox, y * scale + oy]; };

  svg.append(el("title", {}, label));
  svg.append(el("rect", { class: "map-sea", x: 0, y: 0, width, height }));
  if (tileUrl) drawTiles(svg, tileUrl, scale, ox, oy, width, height);
  if (country) svg.append(el("path", { class: "map-country", d: pathOf(rings(country), toScreen), "fill-rule": "evenodd" }));
  if (outlineRings.length) svg.append(el("path", { class: "map-province", d: pathOf(outlineRings, toScreen), "fill-rule": "evenodd" }));

  const labelBoxes = [];
  const labels = el("g", { class: "map-labels" });
  const markers = el("g", { class: "map-units" });
  svg.append(labels, markers);
  const r = Math.max(9, Math.min(width, height) / 55);
  // Units closer than a marker's width (a provincial centre and the ward it stands in) are pushed apart,
  // each with a thin line to its true place, so that every marker can be seen and tapped.
  const screen = placed.map((u) => { const at = toScreen(u.lon, u.lat); return { u, at, p: [...at] }; });
  spreadApart(screen.map((s) => s.p), r * 2.7);
  // Every marker's place is taken before any label, so that labels avoid all markers.
  screen.forEach(({ p }) => labelBoxes.push({ x: p[0] - r * 1.4, y: p[1] - r * 1.4, w: r * 2.8, h: r * 2.8 }));
  const fontSize = Math.max(13, r * 1.35);
  const inside = (b) => b.x >= 2 && b.y >= 2 && b.x + b.w <= width - 2 && b.y + b.h <= height - 2;
  const open = (id) => (e) => { e.preventDefault(); onOpen(id); };
  // Units with more people waiting are labelled first, so they get the best places.
  for (const { u, p, at } of [...screen].sort((a, b) => (b.u.people_waiting || 0) - (a.u.people_waiting || 0))) {
    const href = `#/unit/${encodeURIComponent(u.id)}`;
    const state = t.state[u.state] || u.state;
    const link = el("a", { href, class: `map-unit state-${u.state}`, "data-unit": u.id });
    link.setAttribute("aria-label", `${u.name}: ${state}, ${t.waitingShort.toLowerCase()} ${t.people(u.people_waiting || 0)}`);
    link.addEventListener("click", open(u.id));
    link.append(el("title", {}, `${u.name} – ${state}`));
    if (Math.hypot(p[0] - at[0], p[1] - at[1]) > 2) {
      link.append(el("line", { class: "displaced", x1: at[0], y1: at[1], x2: p[0], y2: p[1] }));
      link.append(el("circle", { class: "true-place", cx: at[0], cy: at[1], r: 3 }));
    }
    const marker = markerShape(u.state, p[0], p[1], r);
    marker.setAttribute("class", "marker");
    link.append(marker);
    markers.append(link);

    const text = `${shortName(u.name)} · ${u.people_waiting || 0}`;
    const w = textWidth(svg, text, fontSize) + 12, h = fontSize * 1.4;
    const candidates = [
      { x: p[0] + r * 1.6, y: p[1] - h / 2 }, { x: p[0] - r * 1.6 - w, y: p[1] - h / 2 },
      { x: p[0] - w / 2, y: p[1] - r * 1.6 - h }, { x: p[0] - w / 2, y: p[1] + r * 1.6 },
      { x: p[0] + r * 1.2, y: p[1] - r * 1.2 - h }, { x: p[0] + r * 1.2, y: p[1] + r * 1.2 },
      { x: p[0] - r * 1.2 - w, y: p[1] - r * 1.2 - h }, { x: p[0] - r * 1.2 - w, y: p[1] + r * 1.2 },
    ];
    const free = (b) => inside(b) && !labelBoxes.some((o) => overlaps(b, o));
    let box = candidates.map((c) => ({ ...c, w, h })).find(free);
    const tag = el("a", { href, class: `map-label state-${u.state}`, tabindex: "-1", "aria-hidden": "true" });
    tag.addEventListener("click", open(u.id));
    if (!box) {
      // Crowded: move the label further out along the same directions until it fits, with a leader line.
      for (let k = 1.6; k < 9 && !box; k += 0.7) {
        box = candidates.map((c) => ({ x: p[0] + (c.x + w / 2 - p[0]) * k - w / 2, y: p[1] + (c.y + h / 2 - p[1]) * k - h / 2, w, h })).find(free);
      }
      // No room at all (a phone): the marker stays, named by its tooltip and the list beside the map.
      if (!box) continue;
      tag.append(el("line", { class: "leader", x1: p[0], y1: p[1], x2: box.x + w / 2, y2: box.y + h / 2 }));
    }
    labelBoxes.push(box);
    tag.append(el("rect", { class: "label-bg", x: box.x, y: box.y, width: w, height: h, rx: 5 }));
    tag.append(el("text", { x: box.x + 6, y: box.y + h * 0.72, "font-size": fontSize.toFixed(1) }, text));
    labels.append(tag);
  }
  return { scale };
}

function drawTiles(svg, template, scale, ox, oy, width, height) {
  const z = Math.max(0, Math.min(18, Math.round(Math.log2(scale / 256))));
  const n = 2 ** z, size = scale / n;
  const tx0 = Math.floor(-ox / size), tx1 = Math.floor((width - ox) / size);
  const ty0 = Math.floor(-oy / size), ty1 = Math.floor((height - oy) / size);
  const group = el("g", { class: "map-tiles" });
  for (let x = tx0; x <= tx1; x++) for (let y = ty0; y <= ty1; y++) {
    if (x < 0 || y < 0 || x >= n || y >= n) continue;
    const href = template.replace("{z}", z).replace("{x}", x).replace("{y}", y);
    group.append(el("image", { href, x: x * size + ox, y: y * size + oy, width: size + 0.5, height: size + 0.5 }));
  }
  svg.append(group);
}

// The locator: Viet Nam's outline, the province filled, the two archipelagos named.
export function drawInset(svg, { country, outline, width, height, label }) {
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.append(el("title", {}, label));
  const all = rings(country);
  const marks = points(country);
  let xs = [], ys = [];
  for (const ring of all) for (const [lon, lat] of ring) { const [x, y] = project(lon, lat); xs.push(x); ys.push(y); }
  for (const m of marks) { const [x, y] = project(...m.geometry.coordinates); xs.push(x); ys.push(y); }
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const padX = 36, padY = 8;  // room for the archipelagos' names
  const scale = Math.min((width - 2 * padX) / (x1 - x0), (height - 2 * padY - 12) / (y1 - y0));
  const ox = (width - (x1 - x0) * scale) / 2 - x0 * scale, oy = (height - (y1 - y0) * scale) / 2 - y0 * scale;
  const toScreen = (lon, lat) => { const [x, y] = project(lon, lat); return [x * scale + ox, y * scale + oy]; };
  svg.append(el("rect", { class: "inset-bg", x: 0, y: 0, width, height, rx: 6 }));
  svg.append(el("path", { class: "inset-country", d: pathOf(all, toScreen), "fill-rule": "evenodd" }));
  if (outline) svg.append(el("path", { class: "inset-province", d: pathOf(rings(outline), toScreen) }));
  svg.append(el("path", { class: "inset-island", d: pathOf(rings(country, isArchipelago), toScreen) }));
  for (const m of marks) {
    const [x, y] = toScreen(...m.geometry.coordinates);
    const words = m.properties.name.replace("Quần đảo ", "QĐ. ");
    svg.append(el("text", { class: "inset-label", x: width - 3, y: y + 18, "text-anchor": "end" }, words));
  }
}
