// The supervisor's live wall: its own receive-only socket (/ws?view=wall, never the desk's), the queues, the
// agents and the alerts, with the durations counting up between messages.
import { api } from "./api.js";
import { dateField } from "./date_field.js";
import { trunkFailureText } from "./dial_failure.js";
import { formatDateTime, formatDuration, formatNumber, formatPercent, formatTime, isoDate, timeZone } from "./format.js";
import { errorText, setLive, setPlain, setText, t } from "./i18n.js";
import { queueName, setQueueLabels } from "./queue_name.js";
import { stateReason } from "./state_reason.js";
import { DeskSocket } from "./socket.js";
import { cell } from "./table.js";
import { wireLangSwitch, wireLogout } from "./topbar.js";
import { applyWall, emptyWall, longestWait, seconds } from "./wall_model.js";

const body = document.body;
await wireLangSwitch(body.dataset.lang);
wireLogout();

let wall = emptyWall();
const queueRows = document.getElementById("wall-queue-rows");
const agentRows = document.getElementById("wall-agent-rows");
const alertList = document.getElementById("wall-alerts");
const connection = document.getElementById("wall-connection");

function percent(fraction) {
  return typeof fraction === "number" ? formatPercent(fraction * 100, 0) : "—";
}

function renderQueues() {
  const names = [...wall.queues.keys()];
  queueRows.replaceChildren(
    ...names.map((name) => {
      const q = wall.queues.get(name);
      const tr = document.createElement("tr");
      tr.dataset.testid = "wall-queue";
      tr.dataset.queue = name;
      tr.dataset.waiting = String(q.waiting ?? 0);
      tr.dataset.open = q.open ? "1" : "0";
      tr.dataset.override = q.override || "auto";
      const open = openingCell(name, q);
      const longest = cell("", "num live-wait");
      const sl = cell(percent(q.service_level), "num");
      if (typeof q.service_level === "number" && q.service_level < q.target) sl.classList.add("bad");
      const agents = cell("", "agent-counts");
      for (const [state, n] of Object.entries(q.agents || {})) {
        if (!n) continue;
        const chip = document.createElement("span");
        chip.className = `chip state-${state}`;
        chip.dataset.state = state;
        setLive(chip, () => `${t(`state.${state}`)} ${formatNumber(n)}`);
        agents.append(chip);
      }
      tr.append(
        cell(queueName(name)),
        open,
        cell(formatNumber(q.waiting ?? 0), "num"),
        longest,
        sl,
        agents,
        cell(formatNumber(q.callbacks_pending ?? 0), "num"),
        cell(formatNumber(q.callbacks_past_due ?? 0), q.callbacks_past_due ? "num bad" : "num"),
      );
      return tr;
    }),
  );
  tick();
}

function renderAgents() {
  const list = [...wall.agents.values()].sort((a, b) => (a.name || "").localeCompare(b.name || "") || a.id - b.id);
  agentRows.replaceChildren(
    ...list.map((a) => {
      const tr = document.createElement("tr");
      tr.dataset.testid = "wall-agent";
      tr.dataset.agentId = String(a.id);
      tr.dataset.state = a.state || "offline";
      const name = cell(a.name || `#${a.id}`);
      name.translate = false;
      const state = cell();
      const chip = document.createElement("span");
      chip.className = `chip state-${a.state}`;
      setText(chip, `state.${a.state}`);
      state.append(chip);
      if (a.reason && a.state === "break") {
        const why = document.createElement("span");
        why.className = "hint";
        setPlain(why, ` ${stateReason(a.reason)}`);
        state.append(why);
      }
      const call = cell();
      if (a.call) setText(call, `phone.state.${a.call.state}`);
      const queues = (a.call ? [a.call.queue] : a.queues || []).map(queueName).join(", ");
      const queue = cell(queues || "—", "queues");
      tr.append(name, state, cell("", "num live-state"), call, cell("", "num live-call"), queue);
      return tr;
    }),
  );
  tick();
}

function renderAlerts() {
  alertList.replaceChildren(
    ...wall.alerts.map((alert) => {
      const li = document.createElement("li");
      li.dataset.testid = "wall-alert";
      li.dataset.kind = alert.kind;
      li.dataset.queue = alert.queue;
      li.className = "alert";
      const vars = {
        queue: () => queueName(alert.queue),
        value: () => (alert.kind === "service_level" ? percent(alert.value) : formatNumber(alert.value)),
        target: () => (alert.kind === "service_level" ? percent(alert.target) : formatNumber(alert.target ?? 0)),
        reason: () => trunkFailureText(alert.reason),
        since: () => (alert.since ? when(alert.since) : ""),
      };
      setText(li, `wall.alert_${alert.kind}`, vars);
      return li;
    }),
  );
  if (!wall.alerts.length) {
    const li = document.createElement("li");
    li.className = "hint";
    setText(li, "wall.no_alerts");
    alertList.append(li);
  }
}

// A moment on the centre's clock: the time alone when it is today, else date and time.
function when(iso) {
  return isoDate(new Date(iso)) === isoDate(new Date()) ? formatTime(iso) : formatDateTime(iso);
}

// The queue's opening now: by its hours, or a supervisor's override (by whom, since when, until when), and the
// buttons that change it (only those that change something).
function openingCell(name, q) {
  const td = cell("", "opening");
  const state = document.createElement("span");
  state.dataset.testid = "wall-queue-state";
  state.dataset.override = q.override || "auto";
  const overridden = q.override === "open" || q.override === "closed";
  if (!overridden) setText(state, q.open ? "wall.open_by_hours" : "wall.closed_by_hours");
  else setText(state, q.override === "open" ? "wall.opened_now" : "wall.closed_now");
  td.append(state);
  if (overridden) {
    const by = document.createElement("span");
    by.className = "override-by";
    by.dataset.testid = "wall-override-by";
    const vars = { name: () => q.override_by_name || `#${q.override_by ?? "?"}`, since: () => when(q.override_set_at) };
    const key = q.override_until ? "wall.override_by_until" : "wall.override_by";
    setText(by, key, { ...vars, until: () => (q.override_until ? when(q.override_until) : "") });
    td.append(by);
  }
  const controls = document.createElement("span");
  controls.className = "override-controls";
  const button = (mode, testid, key) => {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.testid = testid;
    b.dataset.mode = mode;
    setText(b, key);
    b.addEventListener("click", () => askOverride(name, mode));
    controls.append(b);
  };
  if (!q.open) button("open", "wall-override-open", "wall.open_now");
  if (q.open) button("closed", "wall-override-close", "wall.close_now");
  if (overridden) button("auto", "wall-override-auto", "wall.back_to_hours");
  td.append(controls);
  return td;
}

// -- opening now: the confirmation says what callers will hear ---------------------------------------------
const dialog = document.getElementById("override-dialog");
const form = document.getElementById("override-form");
const untilRow = document.getElementById("override-until-row");
const untilInput = dateField(document.getElementById("override-until")); // dd/mm/yyyy hh:mm, the centre's clock
const untilHint = document.getElementById("override-until-hint");
const effectList = document.getElementById("override-effect");
const errorLine = document.getElementById("override-error");
const confirmButton = document.getElementById("override-confirm");
let asked = null; // {name, mode}

// What new callers meet after the change, and what happens to those already waiting (acd/inbound.py: a closed
// queue turns away new calls only; callers in the line stay queued and are answered).
function effects(q, mode) {
  const queue = () => queueName(asked?.name ?? q.name);
  if (mode === "open") {
    const lines = [[q.welcome ? "wall.effect_open_welcome" : "wall.effect_open_music", { queue }]];
    if (q.no_agents === "closed" && !q.logged_in) lines.push(["wall.effect_open_unstaffed", {}]);
    return lines;
  }
  if (mode === "closed") {
    return [
      [`wall.effect_close_${q.when_closed || "busy"}`, { number: q.closed_to || "" }],
      ["wall.effect_close_waiting", { n: () => formatNumber(q.waiting ?? 0) }],
    ];
  }
  return [[q.hours_open ? "wall.effect_auto_open" : "wall.effect_auto_closed", { queue }]];
}

function renderAsked() {
  const q = wall.queues.get(asked.name) || { name: asked.name };
  const queue = () => queueName(asked.name);
  setText(document.getElementById("override-title"), `wall.confirm_${asked.mode}`, { queue });
  const now = document.getElementById("override-now");
  setText(now, q.open ? "wall.now_open" : "wall.now_closed", { queue });
  effectList.replaceChildren(
    ...effects(q, asked.mode).map(([key, vars]) => {
      const li = document.createElement("li");
      li.dataset.effect = key.replace("wall.effect_", "");
      setText(li, key, vars);
      return li;
    }),
  );
  untilRow.hidden = asked.mode === "auto";
  setText(untilHint, asked.mode === "open" ? "wall.until_hint_open" : "wall.until_hint_closed", {
    zone: timeZone() || Intl.DateTimeFormat().resolvedOptions().timeZone,
  });
  setText(confirmButton, `wall.do_${asked.mode}`);
}

function askOverride(name, mode) {
  asked = { name, mode };
  untilInput.value = "";
  errorLine.hidden = true;
  setText(errorLine, null);
  confirmButton.disabled = false;
  dialog.dataset.queue = name;
  dialog.dataset.mode = mode;
  renderAsked();
  dialog.showModal();
}

function overrideError(e) {
  const reason = e?.details?.reason;
  const key = `wall.override_error_${reason}`;
  if (reason && t(key) !== key) return t(key, { max_days: () => formatNumber(e.details.max_days ?? 31) });
  return errorText(e);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!asked) return;
  if (asked.mode !== "auto" && !untilInput.check()) return; // the field says why; nothing is sent
  const body = { mode: asked.mode };
  // The centre's clock (the page's `data-timezone`, named in the hint), without an offset: the desk reads it so.
  if (asked.mode !== "auto" && untilInput.value) body.until = untilInput.value;
  confirmButton.disabled = true;
  try {
    await api("POST", `/api/queues/${encodeURIComponent(asked.name)}/override`, body);
    dialog.close();
    asked = null; // the wall's own update (within a second, for every supervisor) shows the change
  } catch (e) {
    errorLine.hidden = false;
    setLive(errorLine, () => overrideError(e));
    confirmButton.disabled = false;
  }
});
document.getElementById("override-cancel").addEventListener("click", () => {
  asked = null;
  dialog.close();
});

// The counters between two messages: the longest waits, time in state, call durations.
function tick() {
  const now = Date.now();
  for (const tr of queueRows.children) {
    const q = wall.queues.get(tr.dataset.queue);
    if (q) tr.querySelector(".live-wait").textContent = q.waiting ? formatDuration(longestWait(q, now)) : "—";
  }
  for (const tr of agentRows.children) {
    const a = wall.agents.get(Number(tr.dataset.agentId));
    if (!a) continue;
    tr.querySelector(".live-state").textContent = formatDuration(seconds(a.stateAt, now));
    tr.querySelector(".live-call").textContent = a.call ? formatDuration(seconds(a.callAt, now)) : "";
  }
}

function render(message) {
  const next = applyWall(wall, message);
  if (!next) return;
  wall = next;
  if (message.queues) setQueueLabels(message.queues.filter((q) => "label" in q));
  if (message.type === "wall.snapshot" || message.queues) renderQueues();
  if (asked && dialog.open && (message.type === "wall.snapshot" || message.queues)) renderAsked();
  if (message.type === "wall.snapshot" || message.agents || message.gone) renderAgents();
  if (message.type === "wall.snapshot" || message.alerts) renderAlerts();
  body.dataset.updates = String(Number(body.dataset.updates || 0) + 1);
}

const scheme = location.protocol === "https:" ? "wss" : "ws";
const socket = new DeskSocket(`${scheme}://${location.host}/ws?view=wall`);
socket.addEventListener("message", (event) => render(event.detail));
socket.addEventListener("status", (event) => {
  const status = event.detail.status;
  connection.dataset.status = status;
  setText(connection, `wall.connection_${status}`);
  if (event.detail.code === 4002) location.assign("/");
});
document.addEventListener("i18n:changed", () => {
  renderQueues();
  renderAgents();
  renderAlerts();
});
setInterval(tick, 1000);
socket.start();
renderAlerts();
body.dataset.ready = "1";
