// The supervisor's live wall: its own receive-only socket (/ws?view=wall, never the desk's), the queues, the
// agents and the alerts, with the durations counting up between messages.
import { formatDuration, formatNumber, formatPercent } from "./format.js";
import { storedDialFailureText } from "./dial_failure.js";
import { setLive, setPlain, setText, t } from "./i18n.js";
import { queueName } from "./queue_name.js";
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
      const open = cell();
      setText(open, q.open ? "wall.open" : "wall.closed");
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
        reason: () => storedDialFailureText(alert.reason ?? ""),
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
  if (message.type === "wall.snapshot" || message.queues) renderQueues();
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
