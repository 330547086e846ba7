// The audit log for admins (#/audit): who read or exported personnel data and comment texts, who changed
// sessions, newest first (GET /api/v1/audit). Vietnamese labels, English on a tap.
"use strict";

const LABELS = {
  vi: {
    title: "Nhật ký truy cập",
    link: "Nhật ký",
    columns: ["Thời gian", "Người thực hiện", "Hành động", "Đối tượng", "Chi tiết"],
    empty: "Chưa có mục nào.",
    actions: {
      "report.evaluation.read": "Xem hồ sơ đánh giá cán bộ",
      "report.evaluation.export": "Xuất hồ sơ đánh giá cán bộ",
      "report.personnel.read": "Xem số liệu theo cán bộ",
      "report.personnel.export": "Xuất số liệu theo cán bộ",
      "feedback.text.read": "Xem nội dung góp ý",
      "feedback.text.erase": "Xóa nội dung góp ý theo yêu cầu",
      "session.login": "Đăng nhập",
      "session.logout": "Đăng xuất",
      "user.sessions.revoke": "Thu hồi phiên đăng nhập",
      "retention.purge": "Xóa dữ liệu hết thời hạn lưu",
    },
  },
  en: {
    title: "Audit log",
    link: "Audit log",
    columns: ["Time", "Who", "Action", "On", "Details"],
    empty: "No entries yet.",
    actions: {},
  },
};

const esc = (x) => String(x ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

export function auditLabels(lang) {
  return LABELS[lang] || LABELS.vi;
}

// Fill the table with the newest entries; `getJSON` is the dashboard's fetch helper (throws on 401/403).
export async function showAudit(getJSON, lang, table, title) {
  const w = auditLabels(lang);
  title.textContent = w.title;
  const entries = await getJSON("/api/v1/audit?limit=200");
  const head = `<thead><tr>${w.columns.map((c) => `<th scope="col">${esc(c)}</th>`).join("")}</tr></thead>`;
  const rows = entries.map((e) => {
    const when = new Date(e.at).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB");
    const detail = Object.entries(e.detail || {}).map(([k, v]) => `${k}: ${v}`).join(", ");
    const action = LABELS.vi.actions[e.action] && lang === "vi" ? LABELS.vi.actions[e.action] : e.action;
    return `<tr data-action="${esc(e.action)}"><td>${esc(when)}</td><td>${esc(e.actor)}</td><td>${esc(action)}</td>`
      + `<td>${esc(e.target)}</td><td>${esc(detail)}</td></tr>`;
  });
  table.innerHTML = head + `<tbody>${rows.join("") || `<tr><td colspan="5">${esc(w.empty)}</td></tr>`}</tbody>`;
}
