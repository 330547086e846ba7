// The supervisors' dashboard: the province map, a unit's desks, alerts and charts, kept live by the hub's
// server-sent events (/api/v1/stream) without reloading the page. Vietnamese by default, English on a tap.
"use strict";

import { TEXT, alertText } from "./i18n.js";
import { drawInset, drawProvinceMap, markerShape, shortName } from "./map.js";
import { barChart } from "./charts.js";
import { auditLabels, showAudit } from "./audit.js";

const params = new URLSearchParams(location.search);
const S = {
  lang: params.get("lang") || localStorage.getItem("onestop.lang") || "vi",
  config: null,
  overview: [],
  alerts: new Map(),
  unit: null,
  live: null,
  desks: new Map(),
  received: new Map(),
  stats: null,
  chart: "day",
  source: null,
  geo: { outline: null, country: null },
  timers: {},
};
window.__onestop = { loadedAt: Date.now(), events: 0 };

const $ = (id) => document.getElementById(id);
const t = () => TEXT[S.lang] || TEXT.vi;
const esc = (x) => String(x ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const STATE_ICON = { ok: "✓", at_risk: "▲", broken: "■" };

class HttpError extends Error {
  constructor(status, path) { super(`${path}: ${status}`); this.status = status; }
}

async function getJSON(path) {
  const response = await fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new HttpError(response.status, path);
  return response.json();
}

// -- formatting --------------------------------------------------------------------------------------------

function minutes(seconds) {
  if (seconds == null) return t().none;
  if (seconds <= 0) return t().minutes(0);
  if (seconds < 60) return t().underAMinute;
  return t().minutes(Math.round(seconds / 60));
}
const percent = (x) => (x == null ? t().none : `${Math.round(x * 100)} %`);
const locale = () => (S.lang === "vi" ? "vi-VN" : "en-GB");
function timeOf(date) {
  return new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit", timeZone: S.config?.timezone || "Asia/Ho_Chi_Minh" }).format(date);
}
function dayLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const date = new Date(Date.UTC(y, m - 1, d, 5));
  const weekday = date.getUTCDay();
  const vi = ["CN", "T2", "T3", "T4", "T5", "T6", "T7"][weekday];
  const en = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][weekday];
  return `${S.lang === "vi" ? vi : en} ${String(d).padStart(2, "0")}/${String(m).padStart(2, "0")}`;
}
function serviceNames(codes) {
  return (codes || []).map((c) => S.config?.services?.[c] || c).join(", ");
}
function unitName(id) {
  return S.config?.units.find((u) => u.id === id)?.name || id;
}
function deskName(site, desk) {
  const unit = S.config?.units.find((u) => u.id === site);
  return unit?.desks.find((d) => d.id === desk)?.name || (S.desks.get(desk)?.name) || desk;
}

// -- words on the static page ------------------------------------------------------------------------------

function applyLanguage() {
  const w = t();
  document.documentElement.lang = S.lang;
  document.title = S.config ? `${w.appTitle} – ${S.config.province.name}` : w.appTitle;
  $("app-title").textContent = w.appTitle;
  $("lang").textContent = w.language;
  $("lang").setAttribute("lang", S.lang === "vi" ? "en" : "vi");
  $("lang").setAttribute("aria-label", w.languageLabel);
  $("logout").textContent = w.logout;
  $("login-title").textContent = w.loginTitle;
  $("login-name-label").textContent = w.userName;
  $("login-password-label").textContent = w.password;
  $("login-submit").textContent = w.login;
  $("units-title").textContent = w.units;
  document.querySelectorAll(".alerts-title").forEach((h) => { h.textContent = w.alerts; });
  $("back").textContent = w.backToMap;
  $("today-title").textContent = w.todayFigures;
  $("desks-title").textContent = w.desks;
  $("charts-title").textContent = w.charts;
  $("tab-day").textContent = w.todayByHour;
  $("tab-week").textContent = w.lastWeek;
  document.querySelector(".skip").textContent = S.lang === "vi" ? "Bỏ qua, đến nội dung chính" : "Skip to main content";
  $("map-legend").setAttribute("aria-label", w.legend);
  if (S.config) {
    $("province-name").textContent = S.lang === "vi" ? `Tỉnh ${S.config.province.name}` : `${S.config.province.name} province`;
    $("map-title").textContent = w.mapTitle(S.config.province.name);
    const access = S.config.access;
    $("mode-note").textContent = access.open ? w.openMode : access.authenticated ? "" : w.publicView;
    $("login-open").hidden = access.authenticated;
    $("login-open").textContent = w.login;
    $("user").hidden = !access.authenticated || access.open;
    $("logout").hidden = !access.authenticated || access.open;
    if (access.authenticated && !access.open) $("user").textContent = w.loggedInAs(access.name, w.role[access.role] || access.role);
    $("audit-open").hidden = access.role !== "admin" || access.open; // open mode: #/audit still works
    $("audit-open").textContent = auditLabels(S.lang).link;
    // The Decree 335 entry form is for supervisors and admins (the API checks the role too).
    $("evaluation-link").hidden = !(access.open || access.role === "supervisor" || access.role === "admin");
    $("evaluation-link").textContent = w.evaluationLink;
    // A national hub (provinces in its configuration) also has the map of the provinces (national.html).
    $("national-link").hidden = !S.config.provinces;
    $("national-link").textContent = w.national.title;
  }
  setConnection(S.connection || "connecting");
}

function setConnection(state) {
  S.connection = state;
  const el = $("connection");
  el.textContent = state === "live" ? `● ${t().live}` : state === "offline" ? `○ ${t().offline}` : t().connecting;
  el.className = `connection ${state}`;
}

// -- login ---------------------------------------------------------------------------------------------------

function showLogin() {
  for (const id of ["map-view", "unit-view", "audit-view"]) $(id).hidden = true;
  $("login").hidden = false;
  $("login-name").focus();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = $("login-error");
  error.hidden = true;
  const response = await fetch("/api/v1/auth/login", {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ name: $("login-name").value, password: $("login-password").value }),
  });
  if (!response.ok) {
    error.textContent = response.status === 429 ? t().loginThrottled : t().loginFailed;
    error.hidden = false;
    return;
  }
  // Start afresh as the user who just logged in (their units, their live stream).
  location.hash = "#/";
  location.reload();
});

$("login-open").addEventListener("click", () => showLogin());

$("logout").addEventListener("click", async () => {
  await fetch("/api/v1/auth/logout", { method: "POST", credentials: "same-origin" });
  location.hash = "#/";
  location.reload();
});

$("lang").addEventListener("click", () => {
  S.lang = S.lang === "vi" ? "en" : "vi";
  localStorage.setItem("onestop.lang", S.lang);
  applyLanguage();
  render();
});

// -- the province map ----------------------------------------------------------------------------------------

async function loadOverview() {
  S.overview = await getJSON("/api/v1/dashboard/overview");
}

function drawMap() {
  const w = t();
  const svg = $("province-map");
  const width = Math.max(300, Math.round(svg.getBoundingClientRect().width || 800));
  // As tall as the province needs at this width, within the screen.
  const height = Math.round(Math.min(window.innerHeight * 0.72, Math.max(280, width * 0.66)));
  svg.style.height = `${height}px`;
  const units = S.overview.filter((u) => u.lat != null);
  drawProvinceMap(svg, {
    outline: S.geo.outline, country: S.geo.country, units, tileUrl: S.config.map.tile_url, width, height,
    onOpen: (id) => { location.hash = `#/unit/${encodeURIComponent(id)}`; },
    label: w.mapLabel(S.config.province.name, units.length), t: w,
  });
  if (S.geo.country) drawInset($("inset-map"), { country: S.geo.country, outline: S.geo.outline, width: 150, height: 250, label: w.insetLabel });
  $("inset-map").hidden = !S.geo.country;
  const legend = $("map-legend");
  legend.replaceChildren();
  for (const state of ["ok", "at_risk", "broken"]) {
    const item = document.createElement("li");
    const icon = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    icon.setAttribute("viewBox", "0 0 24 24");
    icon.setAttribute("aria-hidden", "true");
    icon.setAttribute("class", `legend-icon state-${state}`);
    const shape = markerShape(state, 12, 12, 8);
    shape.setAttribute("class", "marker");
    icon.append(shape);
    item.append(icon, document.createTextNode(w.state[state]));
    legend.append(item);
  }
  const attribution = [w.mapAttribution, S.config.map.tile_url ? S.config.map.tile_attribution : ""].filter(Boolean).join(" · ");
  $("map-attribution").textContent = attribution;
}

function renderUnitList() {
  const w = t();
  const rank = { broken: 0, at_risk: 1, ok: 2 };
  const units = [...S.overview].sort((a, b) => rank[a.state] - rank[b.state] || b.people_waiting - a.people_waiting);
  $("unit-list").innerHTML = units.map((u) => `
    <li class="unit-item state-${esc(u.state)}" data-unit="${esc(u.id)}">
      <a href="#/unit/${encodeURIComponent(u.id)}">
        <span class="unit-line"><strong>${esc(shortName(u.name))}</strong>
          <span class="badge state-${esc(u.state)}"><span aria-hidden="true">${STATE_ICON[u.state] || ""}</span> ${esc(w.state[u.state] || u.state)}</span></span>
        <span class="unit-facts">
          <span>${esc(w.waitingShort)}: <b data-field="people_waiting">${u.people_waiting}</b></span>
          <span>${esc(w.meanWait)}: <b>${esc(minutes(u.mean_wait_s))}</b></span>
          <span>${esc(w.satisfaction)}: <b>${esc(percent(u.satisfaction_share))}</b></span>
          ${u.active_alerts ? `<span class="alert-count">⚠ ${esc(w.activeAlerts(u.active_alerts))}</span>` : ""}
          ${u.lat == null ? `<span class="muted">${esc(w.unknownPlace)}</span>` : ""}
        </span>
      </a>
    </li>`).join("");
}

async function showMap() {
  S.unit = null;
  $("unit-view").hidden = true;
  $("audit-view").hidden = true;
  $("map-view").hidden = false;
  await loadOverview();
  drawMap();
  renderUnitList();
  renderAlerts();
}

// -- a unit's page -------------------------------------------------------------------------------------------

function headWait(d) {
  if (d.head_wait_s == null) return null;
  return d.head_wait_s + (Date.now() - (S.received.get(d.desk) || Date.now())) / 1000;
}

function deskCard(d) {
  const w = t();
  const state = d.state || "ok";
  const present = d.staff_present === true ? w.officerPresent : d.staff_present === false ? w.officerAbsent : w.officerUnknown;
  const presentClass = d.staff_present === true ? "yes" : d.staff_present === false ? "no" : "unknown";
  const presentIcon = d.staff_present === true ? "●" : d.staff_present === false ? "○" : "?";
  const elapsed = d.serving ? minutes(d.serving.elapsed_s + (Date.now() - (S.received.get(d.desk) || Date.now())) / 1000) : "";
  const ratings = d.ratings_today ? `${d.ratings_today} · ${w.satisfied} ${percent(d.satisfaction_share_today)}` : w.noRatings;
  const overTarget = d.target_wait_s != null && d.predicted_wait_s > d.target_wait_s;
  return `
  <article class="desk state-${esc(state)}" data-desk="${esc(d.desk)}" data-state="${esc(state)}" aria-labelledby="desk-${esc(d.desk)}-name">
    <header class="desk-head">
      <h4 id="desk-${esc(d.desk)}-name">${esc(d.name)}</h4>
      <span class="badge state-${esc(state)}" data-field="state"><span aria-hidden="true">${STATE_ICON[state]}</span> ${esc(w.state[state] || state)}</span>
    </header>
    ${d.services?.length ? `<p class="services">${esc(serviceNames(d.services))}</p>` : ""}
    <p class="waiting"><span class="big" data-field="queue_length">${d.queue_length}</span> <span>${esc(w.peopleWaiting)}</span></p>
    <dl class="facts">
      <div><dt>${esc(w.headWait)}</dt><dd data-field="head_wait">${esc(minutes(headWait(d)))}</dd></div>
      <div><dt>${esc(w.predictedWait)}</dt><dd data-field="predicted_wait" class="${overTarget ? "over" : ""}">${esc(minutes(d.predicted_wait_s))}
        ${d.target_wait_s != null ? `<small>(${esc(w.targetOf(minutes(d.target_wait_s)))})</small>` : ""}</dd></div>
      <div><dt>${esc(w.officer)}</dt><dd class="presence ${presentClass}" data-field="staff_present"><span aria-hidden="true">${presentIcon}</span> ${esc(present)}</dd></div>
      <div><dt>${esc(w.ratingsToday)}</dt><dd data-field="ratings">${esc(ratings)}</dd></div>
      ${d.walkouts_today || d.pre_ticket_waits_today ? `
      <div><dt>${esc(w.walkouts)}</dt><dd data-field="walkouts">${d.walkouts_today}</dd></div>
      <div><dt>${esc(w.preTicketWait)}</dt><dd data-field="pre_ticket_wait">${esc(d.pre_ticket_waits_today ? minutes(d.pre_ticket_wait_mean_s) : w.none)}
        <small>(${esc(w.sampleOf(d.pre_ticket_waits_today))})</small></dd></div>` : ""}
    </dl>
    <p class="serving" data-field="serving">${d.serving ? esc(w.serving(d.serving.ticket, elapsed)) : esc(w.notServing)}</p>
    ${d.line_mismatch ? `<p class="device-offline" data-field="line_mismatch"><span aria-hidden="true">⚠</span> ${esc(w.lineMismatch(d.line_mismatch.camera_length, d.line_mismatch.tickets_waiting))}</p>` : ""}
    ${d.node_online === false ? `<p class="device-offline" data-field="node_offline"><span aria-hidden="true">⚠</span> ${esc(w.deviceOffline)}</p>` : ""}
  </article>`;
}

function renderDesks() {
  $("desks").innerHTML = [...S.desks.values()].map(deskCard).join("");
}

function renderDesk(d) {
  const existing = document.querySelector(`#desks [data-desk="${CSS.escape(d.desk)}"]`);
  const holder = document.createElement("div");
  holder.innerHTML = deskCard(d).trim();
  const card = holder.firstElementChild;
  card.classList.add("changed");
  if (existing) existing.replaceWith(card);
  else $("desks").append(card);
  setTimeout(() => card.classList.remove("changed"), 1500);
}

function renderFigures() {
  const w = t();
  const s = S.stats;
  const waiting = [...S.desks.values()].reduce((n, d) => n + (d.queue_length || 0), 0);
  const tiles = [
    [w.waitingShort, String(waiting), w.people(waiting).replace(/^\d+\s*/, ""), "waiting"],
    [w.transactions, s ? String(s.transactions) : w.none, "", "transactions"],
    [w.meanWait, s ? minutes(s.mean_wait_s) : w.none, s?.target_wait_s ? w.targetOf(minutes(s.target_wait_s)) : "", "mean_wait"],
    [w.withinTarget, s ? percent(s.within_target_share) : w.none, "", "within_target"],
    [w.satisfaction, s ? percent(s.satisfaction_share) : w.none, s ? w.ratingsCount(s.ratings) : "", "satisfaction"],
  ];
  const line = s?.line;
  if (line && (line.walkouts || line.pre_ticket_waits)) {
    tiles.push([w.walkouts, String(line.walkouts), "", "walkouts"]);
    tiles.push([w.preTicketWait, line.pre_ticket_waits ? minutes(line.pre_ticket_wait_mean_s) : w.none, w.sampleOf(line.pre_ticket_waits), "pre_ticket_wait"]);
  }
  const over = s && s.target_wait_s && s.mean_wait_s > s.target_wait_s;
  $("unit-figures").innerHTML = tiles.map(([label, value, note, key]) => `
    <div class="figure ${key === "mean_wait" && over ? "over" : ""}" data-figure="${key}">
      <span class="figure-label">${esc(label)}</span>
      <span class="figure-value">${esc(value)}</span>
      <span class="figure-note">${esc(note)}</span>
    </div>`).join("");
}

async function loadUnitLive() {
  S.live = await getJSON(`/api/v1/sites/${encodeURIComponent(S.unit)}/live`);
  S.desks = new Map(S.live.desks.map((d) => [d.desk, d]));
  const now = Date.now();
  S.live.desks.forEach((d) => S.received.set(d.desk, now));
}

async function loadUnitStats() {
  S.stats = await getJSON(`/api/v1/sites/${encodeURIComponent(S.unit)}/stats`);
}

async function showUnit(id) {
  S.unit = id;
  $("map-view").hidden = true;
  $("audit-view").hidden = true;
  $("unit-view").hidden = false;
  const w = t();
  try {
    await Promise.all([loadUnitLive(), loadUnitStats()]);
  } catch (error) {
    if (error.status === 404) { $("unit-name").textContent = w.unitNotFound; return; }
    throw error;
  }
  const unit = S.config.units.find((u) => u.id === id);
  $("unit-name").textContent = S.live.name;
  const level = unit ? w.level[unit.level] : "";
  $("unit-meta").textContent = [level, S.live.target_wait_s ? `${w.target}: ${minutes(S.live.target_wait_s)}` : ""].filter(Boolean).join(" · ");
  $("back").hidden = !S.config.access.authenticated;
  renderFigures();
  renderDesks();
  renderAlerts();
  await renderCharts();
  await renderVoices();
}

async function renderCharts() {
  const w = t();
  $("tab-day").setAttribute("aria-pressed", String(S.chart === "day"));
  $("tab-week").setAttribute("aria-pressed", String(S.chart === "week"));
  const unit = encodeURIComponent(S.unit);
  let bars, target;
  if (S.chart === "day") {
    const data = await getJSON(`/api/v1/sites/${unit}/hours`);
    const used = data.hours.filter((h) => h.issued || h.transactions || h.ratings).map((h) => h.hour);
    const first = Math.min(7, ...used), last = Math.max(17, ...used);
    bars = data.hours.filter((h) => h.hour >= first && h.hour <= last).map((h) => ({ label: w.hourLabel(h.hour), wait: h.mean_wait_s, sat: h.satisfaction_share }));
    target = data.target_wait_s;
  } else {
    const data = await getJSON(`/api/v1/sites/${unit}/days?days=7`);
    bars = data.days.map((d) => ({ label: dayLabel(d.date), wait: d.mean_wait_s, sat: d.satisfaction_share }));
    target = data.days[data.days.length - 1]?.target_wait_s;
  }
  const waitBars = bars.map((b) => ({ label: b.label, value: b.wait == null ? null : b.wait / 60, text: b.wait == null ? "" : String(Math.round(b.wait / 60)) }));
  const satBars = bars.map((b) => ({ label: b.label, value: b.sat == null ? null : b.sat * 100, text: b.sat == null ? "" : `${Math.round(b.sat * 100)}` }));
  const waitValues = waitBars.filter((b) => b.value != null);
  const satValues = satBars.filter((b) => b.value != null);
  $("wait-caption").textContent = w.waitChart;
  $("sat-caption").textContent = w.satisfactionChart;
  barChart($("wait-chart"), {
    bars: waitBars, target: target ? { value: target / 60, label: w.targetLine(Math.round(target / 60)) } : null,
    title: w.waitChart, empty: w.noData,
    summary: waitValues.length ? w.chartWaitSummary(waitValues.length, Math.round(Math.max(...waitValues.map((b) => b.value)))) : w.noData,
  });
  barChart($("sat-chart"), {
    bars: satBars, target: null, max: 100, title: w.satisfactionChart, empty: w.noData, overIsBad: false,
    summary: satValues.length ? w.chartSatSummary(satValues.length, Math.round(Math.min(...satValues.map((b) => b.value)))) : w.noData,
  });
}

$("tab-day").addEventListener("click", () => { S.chart = "day"; renderCharts(); });
$("tab-week").addEventListener("click", () => { S.chart = "week"; renderCharts(); });

// -- alerts --------------------------------------------------------------------------------------------------

function alertKey(a) { return `${a.site}|${a.desk}|${a.alert}`; }

async function loadAlerts() {
  const publicOnly = !S.config.access.authenticated;
  const lists = publicOnly
    ? await Promise.all(S.config.units.map((u) => getJSON(`/api/v1/alerts?site=${encodeURIComponent(u.id)}`)))
    : [await getJSON("/api/v1/alerts")];
  S.alerts = new Map(lists.flat().map((a) => [alertKey(a), a]));
}

// On a unit's page its name is in the heading: the alert says only which desk.
function shownAlert(a) {
  const text = alertText(S.lang, a, unitName(a.site), deskName(a.site, a.desk));
  return S.unit ? text.replace(` – ${unitName(a.site)}`, "") : text;
}

function renderAlerts() {
  const w = t();
  const shown = [...S.alerts.values()]
    .filter((a) => !S.unit || a.site === S.unit)
    .sort((a, b) => (a.severity === b.severity ? (a.ts < b.ts ? 1 : -1) : a.severity === "critical" ? -1 : 1));
  const html = shown.length
    ? shown.map((a) => `
      <li class="alert ${esc(a.severity)}" data-alert="${esc(a.alert)}" data-site="${esc(a.site)}" data-desk="${esc(a.desk)}">
        <span class="severity"><span aria-hidden="true">${a.severity === "critical" ? "■" : "▲"}</span> ${esc(w.severity[a.severity] || a.severity)}</span>
        <a href="#/unit/${encodeURIComponent(a.site)}" class="alert-text">${esc(shownAlert(a))}</a>
        <time datetime="${esc(a.ts)}">${esc(w.alertRaisedAt(timeOf(new Date(a.ts))))}</time>
        ${ackControl(a)}
      </li>`).join("")
    : `<li class="no-alerts">${esc(w.noAlerts)}</li>`;
  document.querySelectorAll("[data-alerts]").forEach((ul) => { ul.innerHTML = html; });
}

// Supervisors acknowledge an alert: it stops its escalation to the second person (docs/alerts.md).
function isSupervisor() {
  const access = S.config?.access;
  return Boolean(access && (access.open || access.role === "supervisor" || access.role === "admin"));
}

function ackControl(a) {
  const w = t();
  if (a.acknowledged_by) return `<span class="acked" data-acked="${esc(a.id)}">✓ ${esc(w.acknowledgedBy(a.acknowledged_by, timeOf(new Date(a.acknowledged_at))))}</span>`;
  if (!isSupervisor() || !a.active || !a.id) return "";
  return `<button type="button" class="ack" data-ack="${esc(a.id)}" aria-label="${esc(w.acknowledgeLabel(shownAlert(a)))}">${esc(w.acknowledge)}</button>`;
}

document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-ack]");
  if (!button) return;
  button.disabled = true;
  const response = await fetch(`/api/v1/alerts/${encodeURIComponent(button.dataset.ack)}/ack`, { method: "POST", credentials: "same-origin" });
  if (!response.ok) {
    button.disabled = false;
    $("announcer").textContent = t().acknowledgeFailed;
    return;
  }
  const ack = await response.json();
  for (const a of S.alerts.values()) {
    if (a.id === button.dataset.ack) Object.assign(a, { acknowledged_by: ack.acknowledged_by, acknowledged_at: ack.acknowledged_at });
  }
  renderAlerts();
});

// Buttons, comments and faces per hour, with the disagreement warnings (supervisors only).
async function renderVoices() {
  const panel = $("voices-panel");
  panel.hidden = !isSupervisor();
  if (panel.hidden) return;
  const w = t();
  const data = await getJSON(`/api/v1/sites/${encodeURIComponent(S.unit)}/voices`);
  $("voices-title").textContent = w.voicesTitle;
  const warnings = data.warnings.map((x) => `<li data-voices-warning="${esc(x.scope)}">⚠ ${esc(S.lang === "vi" ? x.message : w.voicesWarning(x))}</li>`);
  $("voices-warnings").innerHTML = warnings.length ? warnings.join("")
    : `<li class="agree">${esc(data.comparisons.length ? w.voicesAgree : w.voicesTooFew)}</li>`;
  const flagged = new Set(data.warnings.map((x) => x.scope));
  const row = (label, v, scope) => `<tr class="${flagged.has(scope) ? "disagree" : ""}">
      <td>${esc(label)}</td>
      <td>${esc(percent(v.satisfied_share))} <small>(${esc(w.voicesOf(v.satisfied, v.ratings))})</small></td>
      <td>${v.comments ? `${esc(percent(v.comments_negative / v.comments))} <small>(${esc(w.voicesOf(v.comments_negative, v.comments))})</small>` : esc(w.none)}</td>
      <td>${v.faces ? `${esc(v.mean_valence.toFixed(2))} <small>(n = ${v.faces})</small>` : esc(data.faces_measured ? w.none : w.voicesNoFaces)}</td>
    </tr>`;
  $("voices-table").innerHTML = `<table>
    <thead><tr><th scope="col">${esc(w.voicesHour)}</th><th scope="col">${esc(w.voicesButtons)}</th><th scope="col">${esc(w.voicesComments)}</th><th scope="col">${esc(w.voicesFaces)}</th></tr></thead>
    <tbody>${data.hours.map((h) => row(w.hourLabel(h.hour), h, `${String(h.hour).padStart(2, "0")}:00`)).join("")}${row(w.voicesDay, data.day, "day")}</tbody>
  </table>`;
  $("voices-note").textContent = w.voicesNote;
}

// -- live events ---------------------------------------------------------------------------------------------

function later(name, ms, fn) {
  if (S.timers[name]) return;
  S.timers[name] = setTimeout(async () => {
    S.timers[name] = null;
    try { await fn(); } catch (error) { console.warn(name, error); }
  }, ms);
}

function onDesk(d) {
  window.__onestop.events += 1;
  if (S.unit && d.site === S.unit) {
    S.desks.set(d.desk, d);
    S.received.set(d.desk, Date.now());
    renderDesk(d);
    renderFigures();
    later("stats", 3000, async () => { await loadUnitStats(); renderFigures(); });
  } else if (!S.unit && !$("map-view").hidden) {
    later("overview", 1000, async () => { await loadOverview(); drawMap(); renderUnitList(); });
  }
}

function onAlert(a) {
  window.__onestop.events += 1;
  const key = alertKey(a);
  if (a.active) {
    S.alerts.set(key, a);
    if (!a.acknowledged_by) $("announcer").textContent = alertText(S.lang, a, unitName(a.site), deskName(a.site, a.desk));
  } else {
    S.alerts.delete(key);
  }
  renderAlerts();
  if (S.unit && a.site === S.unit) later("live", 300, async () => { await loadUnitLive(); renderDesks(); renderFigures(); });
  else if (!S.unit) later("overview", 1000, async () => { await loadOverview(); drawMap(); renderUnitList(); });
}

function connect() {
  if (S.source) S.source.close();
  const publicUnits = S.config.access.authenticated ? null : S.config.units.map((u) => u.id);
  const url = publicUnits ? `/api/v1/stream?site=${encodeURIComponent(publicUnits[0])}` : "/api/v1/stream";
  const source = new EventSource(url);
  S.source = source;
  source.onopen = () => setConnection("live");
  source.onerror = () => setConnection("offline");
  source.addEventListener("desk", (e) => onDesk(JSON.parse(e.data)));
  source.addEventListener("alert", (e) => onAlert(JSON.parse(e.data)));
  source.addEventListener("resync", () => render());
}

// -- routing -------------------------------------------------------------------------------------------------

async function render() {
  const match = location.hash.match(/^#\/unit\/([^/?]+)/);
  const access = S.config.access;
  $("load-error").hidden = true;
  try {
    if (match) await showUnit(decodeURIComponent(match[1]));
    else if (location.hash === "#/audit" && access.role === "admin") {
      S.unit = null;
      for (const id of ["map-view", "unit-view"]) $(id).hidden = true;
      $("audit-view").hidden = false;
      await showAudit(getJSON, S.lang, $("audit-table"), $("audit-title"));
    }
    else if (!access.authenticated && S.config.units.length) location.hash = `#/unit/${encodeURIComponent(S.config.units[0].id)}`;
    else await showMap();
  } catch (error) {
    if (error.status === 401) return showLogin();
    $("load-error").textContent = t().loadFailed;
    $("load-error").hidden = false;
    later("retry", 5000, render);
  }
}

window.addEventListener("hashchange", () => { window.scrollTo(0, 0); render(); });
let resizeTimer = null;
window.addEventListener("resize", () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => { if (!S.unit && S.config) drawMap(); }, 200);
});

async function loadGeo() {
  const map = S.config.map;
  const get = async (url) => { try { return url ? await getJSON(url) : null; } catch { return null; } };
  [S.geo.outline, S.geo.country] = await Promise.all([get(map.outline_url), get(map.country_url)]);
}

async function start() {
  try {
    S.config = await getJSON("/api/v1/dashboard/config");
  } catch (error) {
    if (error.status === 401) { applyLanguage(); return showLogin(); }
    $("load-error").textContent = t().loadFailed;
    $("load-error").hidden = false;
    setTimeout(start, 5000);
    return;
  }
  applyLanguage();
  if (S.config.access.authenticated) await loadGeo();
  await loadAlerts();
  connect();
  await render();
  document.body.dataset.ready = "true";
}

// Waits keep growing between events: redraw the cards' clocks and the header clock.
setInterval(() => {
  $("clock").textContent = timeOf(new Date());
  if (S.unit && S.desks.size) renderDesks();
}, 15000);
// A full refresh now and then, in case an event was missed.
setInterval(() => { if (S.config && document.visibilityState === "visible") render(); }, 120000);

applyLanguage();
$("clock").textContent = timeOf(new Date());
start();
