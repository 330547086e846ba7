// The national page: Việt Nam with its 34 provinces (geo/provinces.geojson), those the national hub follows
// marked by their state, Hoàng Sa and Trường Sa drawn and named, a table of the followed provinces; choosing a
// province lists its units with today's figures, each linking to the unit's page on the dashboard.
// Vietnamese first.
"use strict";

import { TEXT } from "./i18n.js";
import { el, isArchipelago, pathOf, points, project, rings } from "./map.js";

const params = new URLSearchParams(location.search);
const S = { lang: params.get("lang") || localStorage.getItem("onestop.lang") || "vi", data: null, shapes: null, country: null };
const $ = (id) => document.getElementById(id);
const w = () => (TEXT[S.lang] || TEXT.vi).national;
const states = () => (TEXT[S.lang] || TEXT.vi).state;
const WIDTH = 600, HEIGHT = 900;

async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

const percent = (x) => (x == null ? w().none : `${Math.round(x * 100)} %`);
const minutes = (s) => (s == null ? w().none : w().minutes(Math.round(s / 60)));
const selected = () => { const m = location.hash.match(/^#\/province\/(\d+)$/); return m ? Number(m[1]) : null; };

function cell(text, className) {
  const td = document.createElement("td");
  if (text instanceof Node) td.append(text); else td.textContent = text;
  if (className) td.className = className;
  return td;
}

function head(...names) {
  const tr = document.createElement("tr");
  names.forEach(([name, num]) => { const th = document.createElement("th"); th.textContent = name; if (num) th.className = "num"; tr.append(th); });
  return tr;
}

const overlaps = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;

// Where a province's name goes: the centroid of its largest ring, on screen.
function labelPoint(shape, toScreen) {
  let best = null, bestArea = 0;
  for (const ring of shape) {
    const pts = ring.map(([lon, lat]) => toScreen(lon, lat));
    let a = 0, cx = 0, cy = 0;
    for (let i = 0; i < pts.length - 1; i++) {
      const [x0, y0] = pts[i], [x1, y1] = pts[i + 1], c = x0 * y1 - x1 * y0;
      a += c; cx += (x0 + x1) * c; cy += (y0 + y1) * c;
    }
    if (Math.abs(a) > bestArea) { bestArea = Math.abs(a); best = [cx / (3 * a), cy / (3 * a)]; }
  }
  return best;
}

function drawMap() {
  const svg = $("country-map");
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
  svg.setAttribute("aria-label", w().mapLabel);
  svg.append(el("title", {}, w().mapLabel));
  const all = S.country ? rings(S.country) : [];
  const marks = S.country ? points(S.country) : [];
  let xs = [], ys = [];
  for (const ring of all) for (const [lon, lat] of ring) { const [x, y] = project(lon, lat); xs.push(x); ys.push(y); }
  for (const m of marks) { const [x, y] = project(...m.geometry.coordinates); xs.push(x); ys.push(y); }
  if (!xs.length) { xs = [0.79, 0.82]; ys = [0.42, 0.47]; }
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  const pad = 40;
  const scale = Math.min((WIDTH - 2 * pad) / (x1 - x0), (HEIGHT - 2 * pad) / (y1 - y0));
  const ox = (WIDTH - (x1 - x0) * scale) / 2 - x0 * scale, oy = (HEIGHT - (y1 - y0) * scale) / 2 - y0 * scale;
  const toScreen = (lon, lat) => { const [x, y] = project(lon, lat); return [x * scale + ox, y * scale + oy]; };
  svg.append(el("rect", { class: "map-sea", x: 0, y: 0, width: WIDTH, height: HEIGHT }));
  const mainland = S.country ? rings(S.country, (f) => !isArchipelago(f)) : [];
  if (mainland.length) svg.append(el("path", { class: "map-country", d: pathOf(mainland, toScreen), "fill-rule": "evenodd" }));
  // Hoàng Sa and Trường Sa: their islands drawn, and their names written.
  if (S.country) svg.append(el("path", { class: "island", d: pathOf(rings(S.country, isArchipelago), toScreen) }));
  for (const m of marks) {
    const [x, y] = toScreen(...m.geometry.coordinates);
    svg.append(el("text", { class: "archipelago", x: Math.min(x + 30, WIDTH - 4), y: y + 30, "text-anchor": "end", "data-archipelago": m.properties.name }, m.properties.name));
  }
  const followed = new Map(S.data.provinces.map((p) => [p.code, p]));
  const labels = [];
  const names = el("g", { class: "province-names" });
  const place = (code, name, at, followedHere) => {
    // The name on its place, or beside it on the first side where it covers no other province's name.
    const width = name.length * 6.2 + 4, height = 13;
    const sides = [[0, 4, "middle"], [0, -9, "middle"], [0, 17, "middle"], [8, 4, "start"], [-8, 4, "end"]];
    const boxOf = ([dx, dy, anchor]) => {
      const x = at[0] + dx - (anchor === "end" ? width : anchor === "middle" ? width / 2 : 0);
      return { x, y: at[1] + dy - height + 3, w: width, h: height };
    };
    const side = sides.find((c) => !labels.some((b) => overlaps(b, boxOf(c)))) || sides[0];
    labels.push(boxOf(side));
    const attrs = { class: `province-name${followedHere ? " followed" : ""}`, x: at[0] + side[0], y: at[1] + side[1], "text-anchor": side[2], "aria-hidden": "true" };
    names.append(el("text", { ...attrs, "data-province-label": String(code) }, name));
  };
  const link = (code, name, p) => {
    const a = el("a", { href: `#/province/${code}`, "data-province": String(code), class: [p ? `followed state-${p.state}` : "", code === selected() ? "selected" : ""].join(" ").trim() });
    const about = p ? `${name}: ${states()[p.state] || p.state}, ${w().summary(p)}` : `${name}: ${w().notFollowed}`;
    a.setAttribute("aria-label", about);
    a.append(el("title", {}, about));
    return a;
  };
  // Every province of the country (the 34 since 1 July 2025), those this hub follows marked.
  const drawn = new Set();
  const shapes = el("g", { class: "provinces" });
  for (const f of (S.shapes && S.shapes.features) || []) {
    const { code, name } = f.properties;
    const shape = rings({ features: [f] });
    const a = link(code, name, followed.get(code));
    a.append(el("path", { class: "province-shape", d: pathOf(shape, toScreen), "fill-rule": "evenodd" }));
    shapes.append(a);
    drawn.add(code);
    place(code, name, labelPoint(shape, toScreen), followed.has(code));
  }
  svg.append(shapes);
  // A followed province with a code the shipped map does not know: a dot at the mean place of its units.
  const missing = [];
  for (const p of S.data.provinces) {
    if (drawn.has(p.code)) continue;
    missing.push(p.name);
    if (p.lat == null) continue;
    const at = toScreen(p.lon, p.lat);
    const a = link(p.code, p.name, p);
    a.append(el("circle", { class: "province-dot", cx: at[0], cy: at[1], r: 7 }));
    svg.append(a);
    place(p.code, p.name, [at[0], at[1] - 12], true);
  }
  svg.append(names); // over every shape, letting clicks through to the shapes (national.css)
  $("country-note").textContent = missing.length ? w().noOutline(missing.join(", ")) : "";
}

function drawTables() {
  const table = $("province-table");
  table.replaceChildren(head([w().province], [w().units, true], [w().transactions, true], [w().meanWait, true], [w().satisfaction, true], [w().waiting, true]));
  for (const p of S.data.provinces) {
    const tr = document.createElement("tr");
    tr.dataset.province = p.code;
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = p.name;
    open.addEventListener("click", () => { location.hash = `#/province/${p.code}`; });
    tr.append(cell(open), cell(p.unit_count, "num"), cell(p.transactions, "num"), cell(minutes(p.mean_transaction_wait_s), "num"),
      cell(percent(p.satisfaction_share), "num"), cell(p.people_waiting, "num"));
    table.append(tr);
  }
  const code = selected();
  const p = S.data.provinces.find((x) => x.code === code);
  const shape = ((S.shapes && S.shapes.features) || []).find((f) => f.properties.code === code);
  $("province-panel").hidden = !p && !shape;
  const units = $("unit-table");
  if (!p) {
    // A province of the map this hub does not follow: named, and said so.
    units.replaceChildren();
    if (shape) { $("province-title").textContent = shape.properties.name; $("province-summary").textContent = w().notFollowed; }
    return;
  }
  $("province-title").textContent = p.name;
  $("province-summary").textContent = w().summary(p);
  units.replaceChildren(head([w().unit], [w().state], [w().waiting, true], [w().transactions, true], [w().satisfaction, true]));
  for (const u of p.units) {
    const tr = document.createElement("tr");
    tr.dataset.unit = u.id;
    const link = document.createElement("a");
    link.href = `index.html#/unit/${encodeURIComponent(u.id)}`;
    link.textContent = u.name;
    tr.append(cell(link), cell(states()[u.state] || u.state), cell(u.people_waiting, "num"), cell(u.transactions, "num"), cell(percent(u.satisfaction_share), "num"));
    units.append(tr);
  }
}

function render() {
  document.documentElement.lang = S.lang;
  document.title = w().title;
  $("national-title").textContent = w().title;
  $("country-title").textContent = w().map;
  $("provinces-title").textContent = w().provinces;
  $("dashboard-link").textContent = w().dashboard;
  $("lang").textContent = (TEXT[S.lang] || TEXT.vi).language;
  $("lang").setAttribute("lang", S.lang === "vi" ? "en" : "vi");
  if (!S.data) return;
  $("national-date").textContent = w().day(S.data.date);
  drawMap();
  drawTables();
}

async function load() {
  try {
    const day = params.get("date");
    S.data = await getJSON(`/api/v1/provinces${day ? `?date=${encodeURIComponent(day)}` : ""}`);
    if (!S.country) S.country = await getJSON("geo/vietnam.geojson").catch(() => null);
    if (!S.shapes) S.shapes = await getJSON("geo/provinces.geojson").catch(() => null);
    $("load-error").hidden = true;
  } catch (error) {
    $("load-error").textContent = String(error.message || error);
    $("load-error").hidden = false;
  }
  render();
  document.body.dataset.ready = "true";
}

$("lang").addEventListener("click", () => {
  S.lang = S.lang === "vi" ? "en" : "vi";
  localStorage.setItem("onestop.lang", S.lang);
  render();
});
window.addEventListener("hashchange", render);
load();
setInterval(load, 30000);
