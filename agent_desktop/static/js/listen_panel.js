// The supervisor's listen-in panel on its own desk page (DESIGN.md §10: `supervisor.*` go on the desk socket and
// the audio rides the desk's own peer). Which agents are on a call comes from a receive-only wall socket
// (/ws?view=wall, the same feed as /supervisor: it never replaces the desk's socket); the panel lists them with
// a listen button, then whisper and stop for the session, and the session's state as the desk reports it.
import { formatDuration } from "./format.js";
import { setPlain, setText, t } from "./i18n.js";
import { queueName } from "./queue_name.js";
import { DeskSocket } from "./socket.js";
import { applyWall, emptyWall, seconds } from "./wall_model.js";

const ON_CALL = new Set(["connected", "held"]);

export function initListenPanel(socket, toast, rtc, me) {
  const panel = document.getElementById("listen-panel");
  if (!panel || !me.roles.includes("supervisor")) return null;
  const rows = document.getElementById("listen-rows");
  const none = document.getElementById("listen-none");
  const status = document.getElementById("listen-status");
  const whisper = document.getElementById("listen-whisper");
  const stop = document.getElementById("listen-stop");
  let wall = emptyWall();
  // The desk's session: {agentId, callId, whispering} once `supervisor.listening` came, else null.
  let session = null;
  let pending = null; // the agent id asked for, until the desk answers

  function nameOf(id) {
    return wall.agents.get(id)?.name || `#${id}`;
  }

  function renderStatus() {
    status.dataset.state = session ? (session.whispering ? "whispering" : "listening") : pending ? "asking" : "idle";
    status.dataset.agentId = session ? String(session.agentId) : "";
    if (session) {
      const key = session.whispering ? "listen.whispering" : "listen.listening";
      setText(status, key, { name: () => nameOf(session.agentId) });
    } else setText(status, pending ? "listen.asking" : "listen.idle");
    whisper.disabled = !session;
    stop.disabled = !session;
    whisper.setAttribute("aria-pressed", String(Boolean(session?.whispering)));
    setText(whisper, session?.whispering ? "listen.whisper_off" : "listen.whisper_on");
  }

  function renderRows() {
    const onCall = [...wall.agents.values()].filter((a) => a.id !== me.id && a.call && ON_CALL.has(a.call.state));
    onCall.sort((a, b) => (a.name || "").localeCompare(b.name || ""));
    none.hidden = onCall.length > 0;
    rows.replaceChildren(
      ...onCall.map((agent) => {
        const tr = document.createElement("tr");
        tr.dataset.agentId = String(agent.id);
        tr.dataset.listening = session?.agentId === agent.id ? "1" : "0";
        const name = document.createElement("td");
        setPlain(name, agent.name);
        name.translate = false;
        const queue = document.createElement("td");
        setPlain(queue, agent.call.queue ? queueName(agent.call.queue) : "");
        const time = document.createElement("td");
        time.className = "num";
        time.dataset.callAt = String(agent.callAt ?? "");
        time.textContent = formatDuration(seconds(agent.callAt) ?? 0);
        const act = document.createElement("td");
        const button = document.createElement("button");
        button.type = "button";
        button.dataset.testid = "listen-start";
        button.dataset.agentId = String(agent.id);
        button.disabled = session?.agentId === agent.id;
        setText(button, "listen.start");
        button.addEventListener("click", () => {
          pending = agent.id;
          if (!socket.send({ type: "supervisor.listen", agent_id: agent.id })) {
            pending = null;
            toast(t("error.network"));
          }
          renderStatus();
        });
        act.append(button);
        tr.append(name, queue, time, act);
        return tr;
      }),
    );
  }

  whisper.addEventListener("click", () => {
    if (!session) return;
    const on = !session.whispering;
    // The microphone goes on the peer before the desk mixes it in (and comes off after it stops).
    const ready = on ? rtc.setInCall(true) : Promise.resolve();
    ready.then(() => socket.send({ type: "supervisor.whisper", on }));
  });
  stop.addEventListener("click", () => socket.send({ type: "supervisor.stop" }));

  document.addEventListener("desk:supervisor.listening", (event) => {
    const { agent_id: agentId, call_id: callId } = event.detail;
    if (session?.agentId !== agentId) session = { agentId, callId, whispering: false };
    pending = null;
    renderStatus();
    renderRows();
  });
  document.addEventListener("desk:supervisor.whispering", (event) => {
    if (!session) return;
    session.whispering = Boolean(event.detail.on);
    if (!session.whispering) rtc.setInCall(false);
    renderStatus();
  });
  document.addEventListener("desk:supervisor.stopped", (event) => {
    if (session && session.agentId !== event.detail.agent_id) return; // the first of a switch
    if (session?.whispering) rtc.setInCall(false);
    session = null;
    renderStatus();
    renderRows();
  });
  document.addEventListener("desk:error", () => {
    if (pending === null) return;
    pending = null; // the listen was refused (the desk's error is toasted)
    renderStatus();
  });
  document.addEventListener("desk:hello", () => {
    // A new socket (reconnect): the desk ended any session with the old one.
    if (session?.whispering) rtc.setInCall(false);
    session = null;
    pending = null;
    renderStatus();
    renderRows();
  });
  document.addEventListener("i18n:changed", renderRows);

  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const feed = new DeskSocket(`${scheme}://${location.host}/ws?view=wall`);
  feed.addEventListener("message", (event) => {
    const next = applyWall(wall, event.detail);
    if (!next) return;
    wall = next;
    if (event.detail.type === "wall.snapshot" || event.detail.agents || event.detail.gone) renderRows();
  });
  setInterval(() => {
    for (const cell of rows.querySelectorAll("[data-call-at]")) {
      const at = cell.dataset.callAt ? Number(cell.dataset.callAt) : null;
      cell.textContent = formatDuration(seconds(at) ?? 0);
    }
  }, 1000);
  panel.hidden = false;
  renderStatus();
  renderRows();
  feed.start();
  return { stop: () => feed.stop() };
}
