// A simple live page: units, the selected unit's desks, active alerts. Live updates by server-sent events.
"use strict";
const STATE = { ok: "Bình thường", at_risk: "Sắp vượt chỉ tiêu", broken: "Vượt chỉ tiêu" };
const LEVEL = { province: "Tỉnh", district: "Huyện", commune: "Xã/phường" };
let selected = null;
const desks = new Map();

const minutes = (s) => (s == null ? "–" : `${Math.round(s / 60)} phút`);
const percent = (x) => (x == null ? "–" : `${Math.round(x * 100)} %`);
const esc = (t) => String(t).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

async function getJSON(path) {
  const response = await fetch(path);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

async function loadSites() {
  const sites = await getJSON("/api/v1/sites");
  const body = document.querySelector("#sites tbody");
  body.innerHTML = sites.map((s) => `<tr data-site="${esc(s.id)}"><td>${esc(s.name)}</td><td>${LEVEL[s.level] || s.level}</td>` +
    `<td>${s.people_waiting}</td><td class="state ${s.state}">${STATE[s.state]}</td></tr>`).join("");
  body.querySelectorAll("tr").forEach((row) => row.addEventListener("click", () => selectSite(row.dataset.site)));
  if (!selected && sites.length) selectSite(sites[0].id);
}

function renderDesk(d) {
  const serving = d.serving ? `Đang phục vụ số ${esc(d.serving.ticket)}` : "Không có người đang được phục vụ";
  const present = d.staff_present === false ? "Cán bộ vắng mặt" : d.staff_present ? "Cán bộ có mặt" : "";
  return `<div class="desk ${d.state}" data-desk="${esc(d.desk)}"><h3>${esc(d.name)}</h3>` +
    `<div><span class="big">${d.queue_length}</span> người đang chờ</div>` +
    `<div>Người đầu hàng đã chờ: ${minutes(d.head_wait_s)}</div>` +
    `<div>Dự báo chờ: ${minutes(d.predicted_wait_s)} (chỉ tiêu ${minutes(d.target_wait_s)})</div>` +
    `<div>${serving}</div><div class="muted">${present}</div>` +
    `<div>Đánh giá hôm nay: ${d.ratings_today} (hài lòng ${percent(d.satisfaction_share_today)})</div>` +
    `<div class="state ${d.state}">${STATE[d.state]}</div></div>`;
}

function renderDesks() {
  document.getElementById("desks").innerHTML = [...desks.values()].map(renderDesk).join("");
}

async function selectSite(site) {
  selected = site;
  const [live, stats] = await Promise.all([getJSON(`/api/v1/sites/${site}/live`), getJSON(`/api/v1/sites/${site}/stats`)]);
  document.getElementById("unit").hidden = false;
  document.getElementById("unit-name").textContent = live.name;
  document.getElementById("unit-figures").innerHTML =
    `<span>Lượt giao dịch hôm nay: <b>${stats.transactions}</b></span>` +
    `<span>Chờ trung bình: <b>${minutes(stats.mean_wait_s)}</b></span>` +
    `<span>Đạt chỉ tiêu: <b>${percent(stats.within_target_share)}</b></span>` +
    `<span>Hài lòng: <b>${percent(stats.satisfaction_share)}</b> (${stats.ratings} đánh giá)</span>`;
  desks.clear();
  live.desks.forEach((d) => desks.set(d.desk, d));
  renderDesks();
}

async function loadAlerts() {
  const alerts = await getJSON("/api/v1/alerts");
  const list = document.getElementById("alerts");
  list.innerHTML = alerts.length
    ? alerts.map((a) => `<li class="${a.severity}">${esc(a.message)}</li>`).join("")
    : '<li class="muted">Không có cảnh báo.</li>';
}

function connect() {
  const source = new EventSource("/api/v1/stream");
  const status = document.getElementById("connection");
  source.onopen = () => { status.textContent = "Trực tuyến"; };
  source.onerror = () => { status.textContent = "Mất kết nối, đang thử lại…"; };
  source.addEventListener("desk", (event) => {
    const d = JSON.parse(event.data);
    if (d.site === selected) { desks.set(d.desk, d); renderDesks(); }
  });
  source.addEventListener("alert", () => { loadAlerts(); loadSites(); });
  source.addEventListener("resync", () => { if (selected) selectSite(selected); });
}

loadSites().then(loadAlerts).then(connect);
setInterval(() => { loadSites(); if (selected) selectSite(selected); }, 60000);
