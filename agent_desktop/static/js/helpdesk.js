// The helpdesk's report page: find preflight reports by the ID an agent reads out, by agent name, or by a failing
// check, and open one with every row (status, measured value, technical detail, the agent's advice).
import { api } from "./api.js";
import { formatDateTime, formatNumber } from "./format.js";
import { errorText, lang, loadLang, t } from "./i18n.js";
import { cell } from "./table.js";
import { wireLogout } from "./topbar.js";

const body = document.body;
const langSwitch = document.getElementById("lang-switch");
let reqs = null;
let openId = null;

langSwitch.value = await loadLang(body.dataset.lang);
wireLogout();
langSwitch.addEventListener("change", async () => {
  await loadLang(langSwitch.value);
  api("PATCH", "/api/me", { lang: langSwitch.value }).catch(() => {});
  if (reqs) {
    fillFailing();
    await search();
    if (openId) await openReport(openId);
  }
});

const search_ = document.getElementById("search");
const failing = document.getElementById("failing");
const rows = document.getElementById("report-rows");
const listStatus = document.getElementById("list-status");
const view = document.getElementById("report-view");
const errorBox = document.getElementById("helpdesk-error");
// Report IDs use 23456789 and the letters without I, L, O (see store/preflight_reports.py).
const ID_CHARS = /^[2-9A-HJKMNP-Z]{1,6}$/;

function showError(e) {
  errorBox.textContent = errorText(e);
  errorBox.dataset.code = e.code || "internal";
  errorBox.hidden = false;
}

function title(name) {
  const req = reqs.checks.find((r) => r.name === name);
  return req ? req.title[lang()] || name : name;
}

function fillFailing() {
  const keep = failing.value;
  for (const option of [...failing.options].slice(2)) option.remove();
  for (const req of reqs.checks) {
    const option = document.createElement("option");
    option.value = req.name;
    option.textContent = t("helpdesk.failing_check", { check: title(req.name) });
    failing.append(option);
  }
  failing.value = keep;
}

function when(iso) {
  return formatDateTime(iso);
}

function statusCell(status) {
  const td = cell(t(`preflight.status.${status}`), "status");
  td.dataset.status = status;
  return td;
}

async function search() {
  errorBox.hidden = true;
  const q = search_.value.trim();
  const params = new URLSearchParams();
  if (failing.value) params.set("failing", failing.value);
  const queries = [];
  const normal = q.replace(/[\s\-._]/g, "").toUpperCase();
  if (!q) queries.push(params);
  else {
    // One box for both: what could be (the start of) an ID is also searched as one; the rest as a name.
    if (ID_CHARS.test(normal)) queries.push(new URLSearchParams([...params, ["id", normal]]));
    queries.push(new URLSearchParams([...params, ["agent", q]]));
  }
  let found;
  try {
    const answers = await Promise.all(queries.map((p) => api("GET", `/api/preflight/reports?${p}`)));
    const seen = new Map();
    for (const answer of answers) for (const r of answer.reports) seen.set(r.id, r);
    found = [...seen.values()].sort((a, b) => (a.created < b.created ? 1 : -1));
  } catch (e) {
    showError(e);
    return;
  }
  rows.replaceChildren(
    ...found.map((r) => {
      const tr = document.createElement("tr");
      tr.dataset.id = r.id;
      tr.dataset.status = r.overall;
      tr.setAttribute("data-testid", "helpdesk-report-row");
      tr.tabIndex = 0;
      tr.append(
        cell(r.id, "id"),
        cell(r.agent ? r.agent.name : t("helpdesk.anonymous")),
        cell(when(r.finished)),
        cell(r.source),
        statusCell(r.overall),
        cell(r.failing.map(title).join(", ")),
      );
      tr.addEventListener("click", () => openReport(r.id));
      tr.addEventListener("keydown", (event) => {
        if (event.key === "Enter") openReport(r.id);
      });
      return tr;
    }),
  );
  listStatus.textContent = t("helpdesk.found", { count: found.length });
  if (found.length === 1 && normal.length === 6 && found[0].id === normal) await openReport(normal);
}

function valueText(c) {
  if (c.value === null || c.value === undefined) return "–";
  const value = typeof c.value === "number" ? formatNumber(c.value, 0, { max: 2 }) : c.value;
  return `${value} ${c.unit || ""}`.trim();
}

async function openReport(id) {
  errorBox.hidden = true;
  let report;
  try {
    report = await api("GET", `/api/preflight/reports/${encodeURIComponent(id)}`);
  } catch (e) {
    showError(e);
    return;
  }
  openId = report.id;
  for (const tr of rows.querySelectorAll("tr")) tr.classList.toggle("selected", tr.dataset.id === report.id);
  view.dataset.id = report.id;
  view.dataset.status = report.overall;
  document.getElementById("view-id").textContent = report.id;
  const meta = document.getElementById("view-meta");
  const items = [
    ["helpdesk.col_agent", report.agent ? `${report.agent.name} (#${report.agent.id})` : t("helpdesk.anonymous")],
    ["helpdesk.col_source", report.source],
    ["helpdesk.started", when(report.started)],
    ["helpdesk.col_result", t(`preflight.status.${report.overall}`)],
    ["helpdesk.network", report.remote || "–"],
  ];
  meta.replaceChildren(
    ...items.flatMap(([key, value]) => {
      const dt = document.createElement("dt");
      dt.textContent = t(key);
      const dd = document.createElement("dd");
      dd.textContent = value;
      return [dt, dd];
    }),
  );
  document.getElementById("view-rows").replaceChildren(
    ...report.checks.map((c) => {
      const req = reqs.checks.find((r) => r.name === c.name);
      const tr = document.createElement("tr");
      tr.dataset.status = c.status;
      tr.setAttribute("data-testid", `helpdesk-check-${c.name}`);
      const th = document.createElement("th");
      th.scope = "row";
      th.textContent = title(c.name);
      const advice = document.createElement("td");
      advice.className = "advice";
      if (req && (c.status === "warn" || c.status === "fail")) {
        const p = document.createElement("p");
        p.className = "advice-text";
        p.textContent = req.advice[lang()];
        advice.append(p);
      }
      if (c.detail) {
        const p = document.createElement("p");
        p.className = "detail";
        p.textContent = c.detail;
        advice.append(p);
      }
      tr.append(th, statusCell(c.status), cell(valueText(c), "value"), advice);
      return tr;
    }),
  );
  view.hidden = false;
  history.replaceState(null, "", `?id=${report.id}`);
}

if (body.dataset.allowed === "1") {
  try {
    reqs = await api("GET", "/api/preflight/requirements");
    fillFailing();
    document.getElementById("filters").addEventListener("submit", (event) => {
      event.preventDefault();
      search();
    });
    failing.addEventListener("change", search);
    let timer;
    search_.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(search, 300);
    });
    const wanted = new URLSearchParams(location.search).get("id");
    await search();
    if (wanted) await openReport(wanted);
  } catch (e) {
    showError(e);
  }
}
body.dataset.ready = "1";
