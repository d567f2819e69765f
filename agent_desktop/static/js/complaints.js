// The complaints register (supervisors): the list with status and deadline filters (unanswered first, the
// earliest due date first, so overdue complaints lead), one complaint's follow-up form, and the CSV export link.
import { api } from "./api.js";
import { dateField } from "./date_field.js";
import { formatDate } from "./format.js";
import { errorText, loadLang, t } from "./i18n.js";
import { cell } from "./table.js";
import { wireLogout } from "./topbar.js";

const body = document.body;
const langSwitch = document.getElementById("lang-switch");
langSwitch.value = await loadLang(body.dataset.lang);
wireLogout();

const status = document.getElementById("filter-status");
const deadline = document.getElementById("filter-deadline");
const rows = document.getElementById("complaint-rows");
const statusLine = document.getElementById("complaints-status-line");
const exportLink = document.getElementById("complaints-export");
const detail = document.getElementById("complaint-detail");
const form = document.getElementById("complaint-form");
const fields = {
  investigation: document.getElementById("complaint-investigation"),
  action: document.getElementById("complaint-action"),
  outcome: document.getElementById("complaint-outcome"),
  answered_on: dateField(document.getElementById("complaint-answered-on")), // dd/mm/yyyy; .value ISO
};
const formError = document.getElementById("complaint-error");
let openId = null;

function dateText(iso, style = "short") {
  return iso ? formatDate(iso, style) : "";
}

function filters() {
  const params = new URLSearchParams();
  if (status.value) params.set("status", status.value);
  if (deadline.value && deadline.value !== "all") params.set("deadline", deadline.value);
  return params;
}

async function load() {
  const params = filters();
  exportLink.href = `/api/complaints.csv${params.size ? `?${params}` : ""}`;
  let data;
  try {
    data = await api("GET", `/api/complaints?${params}`);
  } catch (e) {
    statusLine.textContent = errorText(e);
    return;
  }
  statusLine.textContent = t("complaint.count", { count: data.complaints.length });
  rows.replaceChildren(
    ...data.complaints.map((c) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "complaint-row";
      tr.dataset.id = String(c.id);
      tr.dataset.status = c.status;
      tr.dataset.overdue = c.overdue ? "1" : "0";
      tr.tabIndex = 0;
      const due = c.status === "answered" ? dateText(c.due) : `${dateText(c.due)} (${c.overdue ? t("complaint.overdue_by", { days: -c.days_left }) : t("complaint.days_left", { days: c.days_left })})`;
      tr.append(
        cell(`#${c.id}`),
        cell(dateText(c.received)),
        cell(due, c.overdue ? "overdue" : ""),
        cell(t(`complaint.kind_${c.kind}`)),
        cell(c.citizen.name || ""),
        cell(t(`complaint.status_${c.status}`)),
      );
      tr.addEventListener("click", () => open(c.id));
      tr.addEventListener("keydown", (event) => event.key === "Enter" && open(c.id));
      if (c.id === openId) tr.setAttribute("aria-selected", "true");
      return tr;
    }),
  );
}

async function open(id) {
  let c;
  try {
    c = await api("GET", `/api/complaints/${id}`);
  } catch (e) {
    statusLine.textContent = errorText(e);
    return;
  }
  openId = id;
  detail.hidden = false;
  document.getElementById("detail-id").textContent = `#${c.id}`;
  const meta = document.getElementById("detail-meta");
  const pairs = [
    ["complaint.col_kind", t(`complaint.kind_${c.kind}`)],
    ["complaint.col_status", t(`complaint.status_${c.status}`)],
    ["complaint.col_received", dateText(c.received, "long")],
    ["complaint.col_due", dateText(c.due, "long")],
    ["escalation.name", c.citizen.name],
    ["escalation.phone", c.citizen.phone],
    ["escalation.email", c.citizen.email],
    ["escalation.address", c.citizen.address],
  ];
  meta.replaceChildren(
    ...pairs
      .filter(([, v]) => v)
      .flatMap(([k, v]) => {
        const dt = document.createElement("dt");
        dt.textContent = t(k);
        const dd = document.createElement("dd");
        dd.textContent = v;
        return [dt, dd];
      }),
  );
  detail.dataset.status = c.status;
  document.getElementById("detail-description").textContent = c.description;
  fields.investigation.value = c.investigation || "";
  fields.action.value = c.action || "";
  fields.outcome.value = c.outcome || "";
  fields.answered_on.value = c.answered_on || "";
  formError.hidden = true;
  for (const tr of rows.querySelectorAll("tr")) tr.setAttribute("aria-selected", tr.dataset.id === String(id) ? "true" : "false");
}

langSwitch.addEventListener("change", async () => {
  await loadLang(langSwitch.value);
  api("PATCH", "/api/me", { lang: langSwitch.value }).catch(() => {});
  if (body.dataset.allowed !== "1") return;
  await load();
  if (openId) await open(openId);
});

if (body.dataset.allowed === "1") {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!openId) return;
    if (!fields.answered_on.check()) return; // the field says why; nothing is sent
    try {
      await api("PATCH", `/api/complaints/${openId}`, {
        investigation: fields.investigation.value,
        action: fields.action.value,
        outcome: fields.outcome.value,
        answered_on: fields.answered_on.value,
      });
      formError.hidden = true;
      await load();
      await open(openId);
    } catch (e) {
      formError.textContent = e.details?.field === "outcome" ? t("complaint.outcome_first") : errorText(e);
      formError.hidden = false;
    }
  });

  status.addEventListener("change", load);
  deadline.addEventListener("change", load);
  await load();
  const wanted = Number(new URLSearchParams(location.search).get("id"));
  if (wanted) await open(wanted);
}
body.dataset.ready = "1";
