// The hall display: reads /api/v1/sites/{site}/hall, follows the live stream, shows each call in large
// letters and, where the unit speaks its calls, plays the WAV the hub made with espeak-ng.
"use strict";

const site = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
let refreshTimer = null;
let lastCallKey = null;

function minutesText(seconds) {
  if (seconds === null || seconds === undefined) return "Chưa có quầy mở";
  const minutes = Math.round(seconds / 60);
  return minutes < 1 ? "Dưới 1 phút" : `Khoảng ${minutes} phút`;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function render(hall) {
  document.getElementById("hall-unit").textContent = hall.name;
  document.title = `Màn hình gọi số – ${hall.name}`;
  const rows = document.getElementById("hall-desk-rows");
  rows.replaceChildren(
    ...hall.desks.map((desk) => {
      const tr = document.createElement("tr");
      tr.dataset.desk = desk.desk;
      tr.append(
        cell(desk.name, "name"),
        cell(desk.serving || "—", "serving"),
        cell(desk.next.length ? desk.next.join("  ") : "—", "next"),
      );
      return tr;
    }),
  );
  const waits = document.getElementById("hall-wait-list");
  waits.replaceChildren(
    ...hall.services.map((service) => {
      const li = document.createElement("li");
      li.dataset.service = service.code;
      const name = document.createElement("span");
      name.textContent = service.name;
      const wait = document.createElement("span");
      wait.className = "wait";
      wait.textContent = minutesText(service.expected_wait_s);
      li.append(name, wait);
      return li;
    }),
  );
  if (hall.calls.length && lastCallKey === null) {
    showCall(hall.calls[0], false);
  }
}

async function refresh() {
  const response = await fetch(`/api/v1/sites/${encodeURIComponent(site)}/hall`, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    document.getElementById("hall-status").textContent =
      response.status === 401 ? "Đơn vị này không công khai: cần đăng nhập." : `Lỗi tải dữ liệu (${response.status}).`;
    return;
  }
  render(await response.json());
  document.body.dataset.ready = "true";
}

function refreshSoon() {
  if (refreshTimer !== null) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 200);
}

function showCall(call, fresh) {
  lastCallKey = `${call.desk}|${call.ticket}|${call.ts}`;
  const box = document.getElementById("hall-call");
  const text = document.getElementById("hall-call-text");
  text.textContent = `Số ${call.ticket} → ${call.desk_name}`;
  text.dataset.ticket = call.ticket;
  text.dataset.desk = call.desk;
  if (!fresh) return;
  box.classList.remove("flash");
  void box.offsetWidth; // restart the animation
  box.classList.add("flash");
  if (call.speech_url) speak(call.speech_url);
}

let speaking = Promise.resolve();

function speak(url) {
  // One call after the other: desks that call at the same moment are heard in turn, never over each other.
  speaking = speaking.then(() => new Promise((done) => {
    const audio = new Audio(url);
    audio.addEventListener("ended", done);
    audio.addEventListener("error", done);
    audio.play().catch(() => {
      // The browser wants a tap before it plays sound: offer one (a hall TV is set up once).
      document.getElementById("hall-sound").hidden = false;
      done();
    });
  }));
}

function connect() {
  const status = document.getElementById("hall-status");
  const source = new EventSource(`/api/v1/stream?site=${encodeURIComponent(site)}`);
  source.addEventListener("open", () => { status.textContent = "Đang cập nhật trực tiếp"; refreshSoon(); });
  source.addEventListener("error", () => { status.textContent = "Mất kết nối, đang kết nối lại…"; });
  source.addEventListener("desk", refreshSoon);
  source.addEventListener("resync", refreshSoon);
  source.addEventListener("call", (event) => {
    const call = JSON.parse(event.data);
    if (call.site !== site) return;
    showCall(call, call.fresh); // a desk's back-log after an outage is shown, not flashed or spoken
    refreshSoon();
  });
}

function tick() {
  const now = new Date();
  document.getElementById("hall-clock").textContent = now.toLocaleTimeString("vi-VN", {
    hour: "2-digit", minute: "2-digit", timeZone: "Asia/Ho_Chi_Minh",
  });
}

document.getElementById("hall-sound").addEventListener("click", () => {
  document.getElementById("hall-sound").hidden = true;
  new Audio("data:audio/wav;base64,UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAIA+AAACABAAZGF0YQAAAAA=").play().catch(() => {});
});

tick();
setInterval(tick, 10000);
setInterval(refresh, 30000); // waits grow between events
refresh().then(connect);
