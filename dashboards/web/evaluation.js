/* The supervisor's form for Decree 335/2025/NĐ-CP: general-criteria points and corrections, signed by the
   logged-in user on the hub (the API writes each entry to the audit log). */
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const year = Number(new URLSearchParams(location.search).get("year")) || new Date().getFullYear();
  const names = {};
  const units = {};
  let own = null; // an officer's login: only their own months and entries, no form
  const number = (value, digits) =>
    value === null || value === undefined ? "—" : value.toLocaleString("vi-VN", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  const percent = (value) => (value === null || value === undefined ? "—" : number(value * 100, 1) + " %");

  function showError(text) {
    const box = $("eval-error");
    box.textContent = text;
    box.hidden = !text;
  }

  async function api(path, options) {
    const response = await fetch(path, Object.assign({ credentials: "same-origin", headers: { "Content-Type": "application/json" } }, options));
    if (response.status === 401) throw new Error("Cần đăng nhập bằng tài khoản giám sát hoặc quản trị (trang Bảng theo dõi).");
    if (response.status === 403) throw new Error("Tài khoản này không có quyền nhập điểm đánh giá.");
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error("Không lưu được: " + (body.detail || response.status));
    return body;
  }

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    row.appendChild(td);
  }

  function showKind() {
    const kind = $("eval-kind").value;
    const transfer = kind === "transfer";
    document.querySelectorAll(".for-transfer").forEach((el) => (el.hidden = !transfer));
    document.querySelectorAll(".for-month").forEach((el) => (el.hidden = transfer));
    document.querySelectorAll(".for-value").forEach((el) => (el.hidden = transfer));
    $("eval-value").max = kind === "general" ? "30" : kind === "days_off" ? "31" : kind === "violation" ? "1" : "";
    $("eval-value").step = kind === "general" || kind === "days_off" ? "0.5" : "1";
  }

  async function loadEntries() {
    const only = own ? `&staff=${encodeURIComponent(own)}` : "";
    const data = await api(`/api/v1/evaluation/entries?year=${year}${only}`);
    const body = $("eval-entries").querySelector("tbody");
    body.replaceChildren();
    for (const e of data.entries) {
      const row = document.createElement("tr");
      cell(row, names[e.staff] || e.staff);
      cell(row, e.label);
      cell(row, e.kind === "transfer" ? e.day : e.month);
      cell(row, e.kind === "transfer" ? units[e.site] || e.site : number(e.value, e.kind === "general" ? 1 : 0), e.kind !== "transfer");
      cell(row, e.actor);
      cell(row, e.at.replace("T", " ").slice(0, 16));
      cell(row, e.note);
      body.appendChild(row);
    }
  }

  async function loadTracking() {
    const staff = $("eval-staff").value;
    const body = $("eval-tracking").querySelector("tbody");
    body.replaceChildren();
    $("eval-tracking-name").textContent = names[staff] || staff;
    let data;
    try {
      data = await api(`/api/v1/evaluation/tracking?year=${year}&staff=${encodeURIComponent(staff)}`);
    } catch (error) {
      return; // no dossier nor entry yet for this officer
    }
    for (const m of data.months) {
      const row = document.createElement("tr");
      cell(row, m.month);
      cell(row, number(m.assigned, 1), true);
      cell(row, number(m.products, 0), true);
      cell(row, `${m.errors} (${m.errors_excused})`, true);
      cell(row, `${m.late} (${m.late_excused})`, true);
      cell(row, percent(m.quantity), true);
      cell(row, percent(m.quality), true);
      cell(row, percent(m.progress), true);
      cell(row, number(m.task_points, 2), true);
      cell(row, number(m.general_points, 2), true);
      cell(row, number(m.total_points, 2), true);
      body.appendChild(row);
    }
  }

  async function submit(event) {
    event.preventDefault();
    showError("");
    const kind = $("eval-kind").value;
    const entry = { staff: $("eval-staff").value, kind, note: $("eval-note").value };
    if (kind === "transfer") {
      entry.day = $("eval-day").value;
      entry.site = $("eval-site").value;
    } else {
      entry.month = $("eval-month").value;
      entry.value = Number($("eval-value").value);
    }
    try {
      const saved = await api("/api/v1/evaluation/entries", { method: "POST", body: JSON.stringify(entry) });
      $("eval-saved").textContent = `Đã lưu: ${saved.label} — ${names[saved.staff] || saved.staff}, ký bởi ${saved.actor}.`;
      await loadEntries();
      await loadTracking();
    } catch (error) {
      showError(error.message);
    }
  }

  async function start() {
    $("eval-year").textContent = year;
    $("eval-month").value = `${year}-01`;
    try {
      const me = await api("/api/v1/auth/me");
      if (me.authenticated && !me.open && me.role === "viewer") {
        // An officer whose login name is their officer id sees their own tracking as the year goes.
        own = me.name;
        names[own] = own;
        $("eval-form").hidden = true;
        const option = document.createElement("option");
        option.value = own;
        $("eval-staff").appendChild(option);
        await loadEntries();
        await loadTracking();
        document.body.dataset.ready = "true";
        return;
      }
      const data = await api("/api/v1/evaluation/officers");
      for (const o of data.officers) {
        names[o.staff] = o.name;
        const option = document.createElement("option");
        option.value = o.staff;
        option.textContent = `${o.name} — ${o.position} (${o.staff})`;
        $("eval-staff").appendChild(option);
      }
      for (const u of data.units) {
        units[u.site] = u.name;
        const option = document.createElement("option");
        option.value = u.site;
        option.textContent = u.name;
        $("eval-site").appendChild(option);
      }
      showKind();
      await loadEntries();
      await loadTracking();
      document.body.dataset.ready = "true";
    } catch (error) {
      showError(error.message);
    }
  }

  $("eval-kind").addEventListener("change", showKind);
  $("eval-staff").addEventListener("change", loadTracking);
  $("eval-form").addEventListener("submit", submit);
  start();
})();
