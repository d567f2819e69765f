// The supervisor's reports: per queue or agent, per day or hour, a chart drawn by the desk (SVG whose numbers
// and dates this page fills in the agent's locale), the table of the same rows and its CSV; then the recordings
// of the period with a player and the scoring form of the listening sessions.
import { api } from "./api.js";
import { dateField } from "./date_field.js";
import { addDays, formatDate, formatDateTime, formatDuration, formatNumber, formatPercent, formatTime, isoDate } from "./format.js";
import { applyI18n, errorText, setLive, setPlain, setText } from "./i18n.js";
import { queueName, setQueueLabels } from "./queue_name.js";
import { wireLangSwitch, wireLogout } from "./topbar.js";

const body = document.body;
await wireLangSwitch(body.dataset.lang);
wireLogout();

const $ = (id) => document.getElementById(id);
const form = $("report-filters");
const kind = $("report-kind");
const interval = $("report-interval");
// The period's days, typed as the page's locale writes them; `.value` is the ISO day the API takes.
const from = dateField($("report-from"));
const to = dateField($("report-to"));
const nameSelect = $("report-name");
const csv = $("report-csv");
const errorLine = $("report-error");
const chartBox = $("report-chart-box");
const head = $("report-head");
const rowsBody = $("report-rows");
const recRows = $("recording-rows");
const surveyHead = $("survey-head");
const surveyRows = $("survey-rows");
const player = $("recording-player");
const audio = $("recording-audio");
const scoreForm = $("score-form");
const scoreStatus = $("score-status");

// Columns: [key, i18n key, how to show]. "—" for a figure there is no data for yet (a survey average).
const num = (v) => (typeof v === "number" ? formatNumber(v, Number.isInteger(v) ? 0 : 1) : "—");
const pct = (v) => (typeof v === "number" ? formatPercent(v * 100, 1) : "—");
const secs = (v) => (typeof v === "number" ? formatDuration(v) : "—");
const QUEUE_COLUMNS = [
  ["queue", "wall.col_queue", queueName],
  ["start", "report.start", null],
  ["offered", "report.offered", num],
  ["answered", "report.answered", num],
  ["abandoned", "report.abandoned", num],
  ["overflowed", "report.overflowed", num],
  ["callbacks_requested", "report.callbacks", num],
  ["service_level", "report.service_level", pct],
  ["avg_wait_s", "report.avg_wait", secs],
  ["max_wait_s", "report.max_wait", secs],
  ["avg_talk_s", "report.avg_talk", secs],
  ["avg_wrapup_s", "report.avg_wrapup", secs],
  ["escalated", "report.escalated", num],
  ["one_and_done", "report.one_and_done", pct],
  ["complaints", "report.complaints", num],
  ["survey_avg", "report.survey_avg", num],
];
const AGENT_COLUMNS = [
  ["name", "wall.col_agent", (v) => v],
  ["start", "report.start", null],
  ["calls", "report.calls", num],
  ["available", "state.available", secs],
  ["on_call", "state.on_call", secs],
  ["wrap_up", "state.wrap_up", secs],
  ["avg_talk_s", "report.avg_talk", secs],
  ["avg_wrapup_s", "report.avg_wrapup", secs],
  ["escalated", "report.escalated", num],
  ["one_and_done", "report.one_and_done", pct],
  ["complaints", "report.complaints", num],
  ["survey_avg", "report.survey_avg", num],
];

let rows = [];
let agentNames = new Map();
let survey = null; // GET /api/reports/surveys of the period

function params(extra = {}) {
  return new URLSearchParams({ from: from.value, to: to.value, interval: interval.value, ...extra });
}

function startText(start) {
  return interval.value === "hour" ? formatDateTime(start) : formatDate(start.slice(0, 10), "short");
}

// The chart's empty <text> labels, filled in this page's locale (again after a language switch).
function fillChart() {
  const svg = chartBox.querySelector("svg");
  if (!svg) return;
  for (const el of svg.querySelectorAll("[data-num]")) el.textContent = formatNumber(Number(el.dataset.num));
  for (const el of svg.querySelectorAll("[data-pct]")) el.textContent = formatPercent(Number(el.dataset.pct) * 100, 0);
  for (const el of svg.querySelectorAll("[data-date]")) {
    const start = el.dataset.date;
    el.textContent = el.dataset.fmt === "hour" ? formatTime(start) : formatDate(start.slice(0, 10), "short").slice(0, 5);
  }
  applyI18n(svg);
  // The legend's items side by side by their translated widths (the desk only knows the keys).
  let x = 56;
  for (const item of svg.querySelectorAll(".legend-item")) {
    item.setAttribute("transform", `translate(${x} 0)`);
    x += item.getBBox().width + 24;
  }
}

function renderTable() {
  const columns = kind.value === "queues" ? QUEUE_COLUMNS : AGENT_COLUMNS;
  head.replaceChildren(
    ...columns.map(([key, label, show]) => {
      const th = document.createElement("th");
      if (show && key !== "queue" && key !== "name") th.className = "num";
      setText(th, label);
      return th;
    }),
  );
  rowsBody.replaceChildren(
    ...rows.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "report-row";
      for (const [key, , show] of columns) {
        const td = document.createElement("td");
        const value = key in row ? row[key] : row.seconds?.[key];
        if (key === "start") td.textContent = startText(row.start);
        else if (key === "queue") {
          td.textContent = show(value ?? "");
          td.dataset.col = key;
          td.dataset.queue = value ?? "";
        } else if (key === "name") {
          td.textContent = value ?? "";
          td.translate = false;
        } else {
          td.className = "num";
          td.textContent = show(value ?? null);
          td.dataset.col = key;
        }
        tr.append(td);
      }
      return tr;
    }),
  );
}

// The survey per question: one row for all, then per queue and per agent; a question's header is its number,
// its prompt file in the tooltip.
function renderSurvey() {
  if (!survey) return;
  const th = (key, vars, num = true) => {
    const cell = document.createElement("th");
    if (num) cell.className = "num";
    setText(cell, key, vars);
    return cell;
  };
  surveyHead.replaceChildren(
    th(null, {}, false),
    th("report.survey_count"),
    th("report.survey_avg"),
    ...survey.questions.map((file, i) => {
      const cell = th("report.survey_question", { n: i + 1 });
      cell.title = file;
      return cell;
    }),
  );
  const line = (kind, key, label, figures) => {
    const tr = document.createElement("tr");
    tr.dataset.testid = "survey-row";
    tr.dataset.kind = kind;
    tr.dataset.key = key;
    const name = document.createElement("td");
    if (kind === "total") setText(name, "report.survey_total");
    else {
      setPlain(name, label);
      name.translate = false;
    }
    tr.append(name);
    const cells = [["surveys", figures.surveys], ["avg", figures.avg]];
    figures.questions.forEach((v, i) => cells.push([`q${i + 1}`, v]));
    for (const [col, value] of cells) {
      const td = document.createElement("td");
      td.className = "num";
      td.dataset.col = col;
      td.textContent = num(value ?? null);
      tr.append(td);
    }
    return tr;
  };
  surveyRows.replaceChildren(
    line("total", "", "", survey.total),
    ...survey.queues.map((q) => line("queue", q.queue, queueName(q.queue), q)),
    ...survey.agents.map((a) => line("agent", String(a.agent_id), a.name || `#${a.agent_id}`, a)),
  );
}

async function loadSurvey() {
  try {
    survey = await api("GET", `/api/reports/surveys?${new URLSearchParams({ from: from.value, to: to.value })}`);
  } catch (e) {
    survey = null;
    errorLine.hidden = false;
    setPlain(errorLine, errorText(e));
  }
  renderSurvey();
}

async function loadNames() {
  const keep = nameSelect.value;
  let options = [];
  if (kind.value === "queues") {
    const queues = await api("GET", "/api/queues");
    setQueueLabels(queues);
    options = queues.map((q) => [q.name, () => queueName(q.name)]);
  } else {
    options = [["", null], ...[...agentNames].map(([id, name]) => [String(id), name])];
  }
  nameSelect.replaceChildren(
    ...options.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      if (label === null) setText(option, "report.all_agents");
      else if (typeof label === "function") setLive(option, label);
      else setPlain(option, label);
      return option;
    }),
  );
  if ([...nameSelect.options].some((o) => o.value === keep)) nameSelect.value = keep;
}

async function show() {
  if (!from.check() || !to.check()) return; // the field says why in the page's language; nothing is asked
  errorLine.hidden = true;
  const base = kind.value === "queues" ? "/api/reports/queues" : "/api/reports/agents";
  csv.href = `${base}?${params({ format: "csv" })}`;
  try {
    const data = await api("GET", `${base}?${params()}`);
    rows = data.rows;
    if (kind.value === "agents") for (const r of rows) agentNames.set(r.agent_id, r.name);
    renderTable();
    const chartParams = params({ kind: kind.value, name: nameSelect.value });
    const response = await fetch(`/api/reports/chart.svg?${chartParams}`, { credentials: "same-origin" });
    if (!response.ok) throw (await response.json()).error;
    chartBox.innerHTML = await response.text(); // the desk's own SVG: labels come as data, never as markup
    fillChart();
    body.dataset.chart = "1";
  } catch (e) {
    errorLine.hidden = false;
    setPlain(errorLine, errorText(e));
  }
  await loadSurvey();
  loadRecordings();
}

async function loadRecordings() {
  let list = [];
  try {
    list = await api("GET", `/api/recordings?${new URLSearchParams({ from: from.value, to: to.value })}`);
  } catch {
    list = [];
  }
  recRows.replaceChildren(
    ...list.map((rec) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "recording-row";
      tr.dataset.id = rec.id;
      // The start time and the queue's name follow a language switch (live renderers); the other cells are not words.
      const started = document.createElement("td");
      setLive(started, () => formatDateTime(rec.started));
      tr.append(started);
      const queue = document.createElement("td");
      setLive(queue, () => queueName(rec.queue));
      tr.append(queue);
      const cells = [
        agentNames.get(rec.agent_id) || `#${rec.agent_id ?? "—"}`,
        typeof rec.duration_s === "number" ? formatDuration(rec.duration_s) : "—",
      ];
      for (const text of cells) {
        const td = document.createElement("td");
        td.textContent = text;
        tr.append(td);
      }
      const td = document.createElement("td");
      const play = document.createElement("button");
      play.type = "button";
      play.dataset.testid = "recording-play";
      setText(play, "rec.listen");
      play.addEventListener("click", () => open(rec));
      td.append(play);
      tr.append(td);
      return tr;
    }),
  );
}

let current = null;
function open(rec) {
  current = rec;
  player.hidden = false;
  audio.src = `/api/recordings/${encodeURIComponent(rec.id)}/audio`;
  scoreForm.reset();
  setPlain(scoreStatus, "");
}

scoreForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!current) return;
  const scores = {};
  for (const select of scoreForm.querySelectorAll("select")) if (select.value) scores[select.name] = Number(select.value);
  const comment = $("score-comment").value;
  try {
    await api("POST", `/api/recordings/${encodeURIComponent(current.id)}/scores`, { scores, comment });
    setText(scoreStatus, "rec.saved");
  } catch (e) {
    setPlain(scoreStatus, errorText(e));
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  show();
});
kind.addEventListener("change", async () => {
  await loadNames();
  show();
});
document.addEventListener("i18n:changed", () => {
  renderTable();
  renderSurvey();
  fillChart();
});

const today = isoDate(new Date()); // the centre's today
const query = new URLSearchParams(location.search);
from.value = query.get("from") || addDays(today, -6);
to.value = query.get("to") || today;
if (query.get("interval")) interval.value = query.get("interval");
try {
  setQueueLabels(await api("GET", "/api/queues")); // the centre's names of its queues, for rows and recordings
} catch {
  // the ids stand in; the report's own request shows the error
}
await loadNames();
await show();
body.dataset.ready = "1";
