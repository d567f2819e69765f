// The desk page: header (agent, state, language, logout) and the WebSocket; the panels live in their own modules.
import { api, apiPatient } from "./api.js";
import { initCallerOrders } from "./caller_orders.js";
import { errorText, loadLang, setLive, setText, t } from "./i18n.js";
import { initKbPanel } from "./kb_panel.js";
import { initListenPanel } from "./listen_panel.js";
import { initOrdersPanel } from "./orders_panel.js";
import { initPhone } from "./phone.js";
import { initQueuePanel } from "./queue_panel.js";
import { setQueueLabels } from "./queue_name.js";
import { DeskSocket } from "./socket.js";
import { stateReason } from "./state_reason.js";
import { initWrapupPanel } from "./wrapup_panel.js";

const stateSelect = document.getElementById("agent-state");
const stateSince = document.getElementById("state-since");
const stateWhy = document.getElementById("state-reason");
const agentName = document.getElementById("agent-name");
const langSwitch = document.getElementById("lang-switch");
const conn = document.getElementById("conn");
const toastBox = document.getElementById("toast");
let stateSinceAt = null;

function toast(text) {
  toastBox.textContent = text;
  toastBox.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (toastBox.hidden = true), 6000);
}

// Reasons the desk gives for a state it set itself, shown beside it ("Pauze — oproep niet beantwoord"); the
// agent's own choices and the desk's bookkeeping reasons (login, a wrap-up's call id) are not shown.
const SHOWN_REASONS = { break: ["no_answer"] };

function showState(state, since, resume, reason = "") {
  stateSelect.value = state;
  stateSelect.dataset.state = state;
  const why = (SHOWN_REASONS[state] || []).includes(reason) ? reason : "";
  stateWhy.hidden = !why;
  stateWhy.dataset.reason = why;
  setLive(stateWhy, why ? () => `— ${stateReason(why)}` : null);
  stateSinceAt = since ? new Date(since) : new Date();
  tickSince();
  document.dispatchEvent(new CustomEvent("desk:agent-state", { detail: { state, resume } }));
}

function tickSince() {
  if (!stateSinceAt) return;
  const seconds = Math.max(0, Math.floor((Date.now() - stateSinceAt.getTime()) / 1000));
  const mm = String(Math.floor(seconds / 60)).padStart(2, "0");
  const ss = String(seconds % 60).padStart(2, "0");
  stateSince.textContent = `${mm}:${ss}`;
}
setInterval(tickSince, 1000);

// A question in the page (not window.confirm: that one speaks the browser's language, not the agent's).
function confirmInPage(text, yesKey, noKey) {
  const dialog = document.createElement("dialog");
  dialog.dataset.testid = "confirm-dialog";
  dialog.className = "confirm";
  const question = document.createElement("p");
  question.dataset.testid = "confirm-text";
  question.textContent = text;
  const buttons = document.createElement("form");
  buttons.method = "dialog";
  const make = (key, value, testid, primary) => {
    const button = document.createElement("button");
    button.value = value;
    button.dataset.testid = testid;
    button.textContent = t(key);
    if (primary) button.className = "primary";
    return button;
  };
  buttons.append(make(noKey, "no", "confirm-no", true), make(yesKey, "yes", "confirm-yes", false));
  dialog.append(question, buttons);
  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    dialog.showModal();
  });
}

const me = await apiPatient("GET", "/api/me");
await loadLang(me.lang);
langSwitch.value = me.lang;
agentName.textContent = me.name;
showState(me.state);
for (const link of document.querySelectorAll("[data-role]")) link.hidden = !me.roles.includes(link.dataset.role);

const socket = new DeskSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
socket.addEventListener("status", (event) => {
  const { status, code, retryMs } = event.detail;
  conn.dataset.status = status;
  delete conn.dataset.reason;
  setText(conn, `conn.${status}`);
  if (status === "closed" && code === 4001) toast(t("error.session_replaced"));
  if (status === "closed" && code === 1008) {
    // Closed for a flood of messages: say why and when it comes back, or the agent reloads into the same loop.
    const seconds = Math.round(retryMs / 1000);
    conn.dataset.reason = "too_many";
    setText(conn, "conn.too_many", { seconds });
    toast(t("error.too_many_messages", { seconds }));
  }
  if (status === "closed" && code === 4002) location.assign("/");
});
socket.addEventListener("message", (event) => {
  const message = event.detail;
  switch (message.type) {
    case "hello":
      setQueueLabels(message.queue_labels);
      agentName.textContent = message.agent.name;
      showState(message.state, message.since, message.resume, message.reason);
      document.body.dataset.ready = "1";
      document.dispatchEvent(new CustomEvent("desk:hello", { detail: message }));
      break;
    case "agent.state":
      showState(message.state, message.since, message.resume, message.reason);
      break;
    case "error":
      // rate_limited here is the desk refusing this page's actions, not a login attempt: its own words.
      if (message.code === "rate_limited") toast(t("error.ws_rate_limited"));
      else if (message.code !== "session_replaced") toast(errorText(message));
      document.dispatchEvent(new CustomEvent("desk:error", { detail: message }));
      break;
    default:
      document.dispatchEvent(new CustomEvent(`desk:${message.type}`, { detail: message }));
  }
});
const phone = initPhone(socket, toast);
initCallerOrders();
initQueuePanel(socket, toast, phone);
initKbPanel(toast);
const wrapup = initWrapupPanel(toast, socket);
initOrdersPanel(socket, toast, wrapup);
initListenPanel(socket, toast, phone.rtc, me);
socket.start();

stateSelect.addEventListener("change", () => {
  if (!socket.send({ type: "agent.state", state: stateSelect.value, reason: "" })) {
    stateSelect.value = stateSelect.dataset.state; // not sent: show the state the desk still has
    toast(t("error.network"));
  }
});

langSwitch.addEventListener("change", async () => {
  const updated = await api("PATCH", "/api/me", { lang: langSwitch.value });
  await loadLang(updated.lang);
});

document.getElementById("logout").addEventListener("click", async () => {
  let open = [];
  try {
    open = await wrapup.openContacts();
  } catch {
    // the desk does not answer: logging out is still the agent's call
  }
  if (open.length) {
    const ids = open.map((c) => `#${c.id}`).join(", ");
    const text = t(open.length === 1 ? "logout.open_wrapup_one" : "logout.open_wrapup_many", { ids });
    if (!(await confirmInPage(text, "logout.confirm", "logout.cancel"))) return;
  }
  socket.stop();
  try {
    await api("POST", "/api/logout", {});
  } finally {
    location.assign("/");
  }
});

document.addEventListener("keydown", (event) => {
  if (event.key === "/" && document.activeElement?.tagName !== "INPUT" && document.activeElement?.tagName !== "TEXTAREA") {
    event.preventDefault();
    document.getElementById("kb-search").focus();
  }
});
