// Small bar charts in plain SVG: value labels on the bars, an optional dashed target line, bars over the target
// hatched (so the state does not rest on colour alone), and a text summary for screen readers.
"use strict";

const SVG = "http://www.w3.org/2000/svg";

function el(name, attrs = {}, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text != null) node.textContent = text;
  return node;
}

// The top of the axis: four gridline steps of a round size.
function niceMax(value) {
  if (value <= 0) return 4;
  const quarter = value / 4;
  const power = 10 ** Math.floor(Math.log10(quarter));
  for (const m of [1, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * power >= quarter) return 4 * m * power;
  return 40 * power;
}

// bars: [{label, value (null: no data), text}], target: {value, label} | null, overIsBad: bars above target hatched.
export function barChart(svg, { bars, target, max, title, summary, empty, overIsBad = true, height = 250 }) {
  // Drawn at the size it is shown, so that its text stays as large as the page's.
  const width = Math.max(300, Math.round(svg.getBoundingClientRect().width || svg.parentNode.getBoundingClientRect().width || 640));
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("role", "img");
  svg.append(el("title", {}, title));
  svg.append(el("desc", {}, summary));
  const defs = el("defs");
  const pattern = el("pattern", { id: `hatch-${svg.id}`, width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  pattern.append(el("rect", { width: 8, height: 8, class: "hatch-bg" }), el("line", { x1: 0, y1: 0, x2: 0, y2: 8, class: "hatch-line" }));
  defs.append(pattern);
  svg.append(defs);
  const left = 44, right = 12, top = 16, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const values = bars.map((b) => b.value).filter((v) => v != null);
  if (!values.length) {
    svg.append(el("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "chart-empty" }, empty));
    return;
  }
  const top_ = max ?? niceMax(Math.max(...values, target ? target.value * 1.15 : 0));
  const y = (v) => top + plotH - (v / top_) * plotH;
  for (let i = 0; i <= 4; i++) {
    const v = (top_ / 4) * i;
    svg.append(el("line", { x1: left, x2: width - right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(el("text", { x: left - 6, y: y(v) + 5, "text-anchor": "end", class: "axis" }, String(Math.round(v * 10) / 10)));
  }
  const slot = plotW / bars.length;
  const barW = Math.max(4, Math.min(56, slot * 0.68));
  const labelEvery = Math.ceil(bars.length / Math.floor(plotW / 40));
  bars.forEach((b, i) => {
    const cx = left + slot * i + slot / 2;
    if (i % labelEvery === 0) svg.append(el("text", { x: cx, y: height - 10, "text-anchor": "middle", class: "axis" }, b.label));
    if (b.value == null) return;
    const over = target && overIsBad ? b.value > target.value : target && !overIsBad ? b.value < target.value : false;
    const h = Math.max(1, (Math.min(b.value, top_) / top_) * plotH);
    const rect = el("rect", { x: cx - barW / 2, y: top + plotH - h, width: barW, height: h, rx: 3, class: over ? "bar over" : "bar" });
    if (over) rect.style.fill = `url(#hatch-${svg.id})`;
    rect.append(el("title", {}, `${b.label}: ${b.text}`));
    svg.append(rect);
    if (barW >= 16) svg.append(el("text", { x: cx, y: top + plotH - h - 5, "text-anchor": "middle", class: "bar-value" }, b.text));
  });
  if (target) {
    svg.append(el("line", { x1: left, x2: width - right, y1: y(target.value), y2: y(target.value), class: "target-line" }));
    svg.append(el("text", { x: left + 6, y: y(target.value) - 6, "text-anchor": "start", class: "target-label" }, target.label));
  }
  svg.append(el("line", { x1: left, x2: width - right, y1: top + plotH, y2: top + plotH, class: "baseline" }));
}
